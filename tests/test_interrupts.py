"""Ctrl-C and SIGTERM at any moment of `python -m train`: one line, exit 130 / 143, no MLflow run left RUNNING."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedlab.interrupts import signals_held
from embedlab.training.checkpoint import COMPLETE
from embedlab_testing import REPO, run_train, runs, tiny_overrides

STOPS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
HELD = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the signal mask from /proc")


def start(*overrides: str, uri: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = [sys.executable, "-m", "train", *overrides]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def long_tiny_run(tiny_model: str, data: Path) -> list[str]:
    """`debug=tiny` made long enough to stop in the middle: 60 steps, a checkpoint every 2."""
    return [*tiny_overrides(tiny_model, data), "training.max_steps=60", "training.eval_steps=2"]


def signals_blocked(process: subprocess.Popen) -> bool:
    """Whether the process holds SIGINT and SIGTERM back (src/train.py does while its imports run)."""
    try:
        status = Path(f"/proc/{process.pid}/status").read_text()
    except FileNotFoundError:
        return False
    blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
    return blocked & HELD == HELD


def wait_until(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"ended first: {process.stderr.read()[-3000:]}"
        assert time.monotonic() < deadline, "the moment never came"
        time.sleep(0.005)


def stopped(process: subprocess.Popen, signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr


def one_line(stderr: str) -> str:
    """The only line of stderr (nothing else was written before the signal)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def last_line(stderr: str) -> str:
    """A run's stderr holds its logs and progress bars; the interrupt adds one line, the last, and no traceback."""
    assert "Traceback" not in stderr
    assert sum("interrupted:" in line for line in stderr.splitlines()) == 1, stderr[-3000:]
    return stderr.rstrip().splitlines()[-1]


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_during_the_imports_is_one_line(signum, code, tmp_path):
    process = start(f"hydra.run.dir={tmp_path / 'run'}", uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    wait_until(lambda: signals_blocked(process), process)  # inside src/train.py's imports
    returncode, stderr = stopped(process, signum)
    assert returncode == code
    assert one_line(stderr) == f"interrupted: stopped by {signal.Signals(signum).name}"


def test_a_signal_while_reproduce_looks_the_run_up_is_one_line(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("physics", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "training.max_steps=2", "overrides.txt")
    client.set_terminated(run.info.run_id)
    process = start(f"reproduce={run.info.run_id}", f"tracking.uri={uri}", uri=uri)
    wait_until(lambda: signals_blocked(process), process)
    wait_until(lambda: not signals_blocked(process), process)  # the imports are done: reproduce= starts (MLflow)
    time.sleep(0.2)
    returncode, stderr = stopped(process, signal.SIGINT)
    assert returncode == 130
    assert one_line(stderr) == "interrupted: stopped by SIGINT"
    assert [r.info.status for r in runs(uri)] == ["FINISHED"]


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_while_a_grid_checks_its_points_is_one_line(signum, code, tiny_model_path, physics_folder, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    grid = ["-m", "training.lr=1e-5,2e-5", "seed=1,2,3,4,5,6", f"dataset.path={physics_folder}"]
    process = start(*grid, f"model.name_or_path={tiny_model_path}", f"hydra.sweep.dir={tmp_path / 'grid'}", uri=uri)
    wait_until(lambda: signals_blocked(process), process)
    wait_until(lambda: not signals_blocked(process), process)
    time.sleep(0.5)  # composing the grid, or checking its 12 points
    returncode, stderr = stopped(process, signum)
    assert returncode == code, stderr[-3000:]
    assert one_line(stderr) == f"interrupted: stopped by {signal.Signals(signum).name}"
    assert not [r for r in runs(uri) if r.info.status == "RUNNING"]


@pytest.mark.slow
def test_ctrl_c_in_a_grids_job_says_what_the_grid_kept(tiny_model_path, physics_folder, tmp_path):
    """The stopped job's line said "continue this run with resume=true", which a grid's job does not take."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    grid = ["-m", *long_tiny_run(tiny_model_path, physics_folder), "loss.scale=10,20"]
    process = start(*grid, f"hydra.sweep.dir={tmp_path / 'grid'}", uri=uri)
    wait_until((tmp_path / "grid" / "0" / "checkpoints" / "checkpoint-2" / COMPLETE).exists, process)
    returncode, stderr = stopped(process, signal.SIGINT)
    assert returncode == 130, stderr[-3000:]
    line = last_line(stderr)
    assert line.startswith("interrupted: stopped by SIGINT; grid grid-") and "resume=true" not in line
    assert line.endswith(": 0 of its jobs finished (their runs are kept); the same command runs every job again")
    assert sorted(r.info.status for r in runs(uri)) == ["KILLED", "KILLED"]  # the parent and its first job


# Where a signal lands, a library's cleanup may turn its exception into another on the way out. Each body sends the
# signal to its own process inside such a library function, under what `python -m train` wraps every command in.
CARRIED_AWAY = {
    # OmegaConf's `_set_item_impl`, in short (a grid's check failed so in CI): its `finally` reads a name that its
    # `try` had not bound yet when the signal came, and raises UnboundLocalError instead
    "a finally that raises another exception": """
    try:
        os.kill(os.getpid(), SIGNUM)
        time.sleep(30)
        old = 1
    finally:
        old""",
    # a library that wraps whatever it caught in an error of its own, which reads as the user's mistake
    "an except that makes it a user error": """
    try:
        os.kill(os.getpid(), SIGNUM)
        time.sleep(30)
    except BaseException as exc:
        raise UserError("the config is wrong") from exc""",
    # one that swallows it: the next job must not start
    "an except that swallows it": """
    try:
        os.kill(os.getpid(), SIGNUM)
        time.sleep(30)
    except BaseException:
        pass
    raise_if_stopped()""",
}


@pytest.mark.parametrize("library", CARRIED_AWAY.values(), ids=CARRIED_AWAY.keys())
@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_that_a_library_turns_into_another_exception_is_still_a_stop(signum, code, library):
    program = f"""
import os, signal, time
from embedlab.errors import UserError, raise_if_stopped, user_errors_exit
from embedlab.interrupts import stopped_in_one_line
from embedlab.tracking.status import ended_with_status

SIGNUM = signal.Signals({int(signum)})

def library():{library}

with stopped_in_one_line(), user_errors_exit(), ended_with_status(lambda status: print("run", status)):
    library()
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stderr[-3000:]
    assert one_line(done.stderr) == f"interrupted: stopped by {signal.Signals(signum).name}"
    assert done.stdout.strip() == "run KILLED"  # an MLflow run around it ends KILLED, not FAILED


@pytest.mark.parametrize(("signum", "code"), STOPS)
def test_a_signal_while_the_data_is_read_is_one_line(signum, code, tiny_model_path, physics_folder, tmp_path):
    big = tmp_path / "big"
    shutil.copytree(physics_folder, big)
    rows = "".join(f'{{"anchor": "question {n}", "positive": "passage {n} of many"}}\n' for n in range(300_000))
    (big / "pairs.jsonl").write_text(rows, encoding="utf-8")  # seconds to read, check and split
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = tmp_path / "run"
    process = start(f"model.name_or_path={tiny_model_path}", f"dataset.path={big}", f"hydra.run.dir={run}", uri=uri)
    wait_until((run / ".hydra" / "config.yaml").exists, process)  # Hydra calls the job next: checks, then the data
    time.sleep(1.0)
    returncode, stderr = stopped(process, signum)
    assert returncode == code
    assert last_line(stderr) == f"interrupted: stopped by {signal.Signals(signum).name}"
    assert not (tmp_path / "mlflow.db").exists()  # stopped before the store was opened (after the data): no run


@pytest.mark.slow
@pytest.mark.parametrize("eval_steps", [2, 1])
def test_ctrl_c_in_training_saves_a_checkpoint_and_says_how_to_resume(
    eval_steps, tiny_model_path, physics_folder, tmp_path
):
    """With an evaluation at every step (debug=tiny's), the step a signal lands in used to run into its evaluation,
    stop there and save nothing: now that step is saved before its evaluation would run."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = [*long_tiny_run(tiny_model_path, physics_folder), f"training.eval_steps={eval_steps}"]
    process = start(*run, f"hydra.run.dir={tmp_path / 'run'}", uri=uri)
    wait_until((tmp_path / "run" / "checkpoints" / "checkpoint-2" / COMPLETE).exists, process)
    returncode, stderr = stopped(process, signal.SIGINT)  # during step 3
    assert returncode == 130
    assert (
        last_line(stderr)
        == "interrupted: stopped by SIGINT; checkpoint of step 3 saved; continue this run with resume=true"
    )
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-3" / COMPLETE).exists()
    assert [r.info.status for r in runs(uri)] == ["KILLED"]

    # resumed, the run has the evaluations of one that was not stopped: step 3 too where the schedule has it
    resumed = run_train(*run, f"hydra.run.dir={tmp_path / 'again'}", "resume=true", env={"MLFLOW_TRACKING_URI": uri})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    [run_] = runs(uri)
    assert run_.info.status == "FINISHED"
    import mlflow

    steps = [m.step for m in mlflow.MlflowClient(uri).get_metric_history(run_.info.run_id, "val_loss")]
    assert sorted(steps) == list(range(0, 61, eval_steps))


@pytest.mark.slow
def test_ctrl_c_in_an_optuna_trial_kills_the_sweep_and_says_how_to_continue(tiny_model_path, physics_folder, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start(
        "-m",
        "hparams_search=physics",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
        "hydra.sweeper.n_trials=2",
        *long_tiny_run(tiny_model_path, physics_folder),
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        uri=uri,
    )
    wait_until((tmp_path / "sweep" / "0" / "checkpoints" / "checkpoint-2" / COMPLETE).exists, process)
    returncode, stderr = stopped(process, signal.SIGINT)
    assert returncode == 130
    line = last_line(stderr)
    assert line.startswith("interrupted: stopped by SIGINT; study ")
    assert line.endswith("keeps its finished trials; run the same command to continue it")
    parents = [r for r in runs(uri) if r.info.run_name.startswith("sweep-")]
    trials = [r for r in runs(uri) if not r.info.run_name.startswith("sweep-")]
    assert [r.info.status for r in parents] == ["KILLED"]
    assert [r.info.status for r in trials] == ["KILLED"]  # the trial that was training
    import optuna

    [trial] = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / 'optuna.db'}").trials
    assert trial.state.name == "FAIL" and trial.user_attrs["embedlab.interrupted"]  # not counted: the rerun runs 2


def test_a_signal_while_held_arrives_after_the_block():
    events = []
    # a handler and mask of the test's own: other tests in this worker's process (Ray, launchers, in-process runs)
    # may have left another SIGINT handler or the signal blocked
    previous = signal.signal(signal.SIGINT, lambda signum, frame: events.append("the handler ran"))
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        with signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # Python would run the handler here
            events.append("the block ran to its end")
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, previous)
    assert events == ["the block ran to its end", "the handler ran"]


SWEEP_JOB = """
import signal, sys, time
from embedlab.interrupts import stopped_when_sweeper_dies
signal.signal(signal.SIGTERM, lambda *a: (open(sys.argv[1], "w").write("SIGTERM"), sys.exit(143)))
with stopped_when_sweeper_dies(interval_s=0.1) as watched:
    print(watched, flush=True)
    time.sleep(60)
time.sleep(60)  # an idle worker: exits as soon as its job has
"""


def alive(pid: int) -> bool:
    """Running: a process that exited is gone, or a zombie until whoever adopted it reaps it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def spawn_job(sweeper_pid: str | None, stopped: Path) -> tuple[int, str]:
    """A sweeper process that starts a job (as joblib's worker is started), prints whether the job watches it, and
    then dies at once, as under `kill -9`: it leaves its job behind. Returns the job's pid and what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "EMBEDLAB_SWEEPER_PID"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    sweeper = (
        "import os, subprocess, sys\n"
        + ("" if sweeper_pid is None else f"os.environ['EMBEDLAB_SWEEPER_PID'] = {sweeper_pid!r} or str(os.getpid())\n")
        + "job = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        + "print(job.pid, job.stdout.readline().strip(), flush=True)\n"
        + "os._exit(0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", sweeper, SWEEP_JOB, str(stopped)], env=env, capture_output=True, text=True, timeout=60
    )
    pid, watched = result.stdout.split()
    return int(pid), watched


def test_a_sweep_job_stops_as_on_sigterm_when_its_sweeper_dies(tmp_path):
    """`kill -9` of a joblib sweep left its workers training for minutes, their trials already marked FAIL."""
    stopped = tmp_path / "stopped"
    pid, watched = spawn_job("", stopped)
    assert watched == "True"  # the sweeper's own pid: watched
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stopped.read_text() == "SIGTERM"  # the job stopped as on SIGTERM
    assert not alive(pid)  # and its process exited after it


@pytest.mark.parametrize("sweeper_pid", [None, "1"])  # no sweeper; a sweeper that is not the parent (Ray, SLURM)
def test_a_job_its_sweeper_did_not_start_is_not_watched(sweeper_pid, tmp_path):
    stopped = tmp_path / "stopped"
    pid, watched = spawn_job(sweeper_pid, stopped)
    try:
        assert watched == "False"
        time.sleep(0.5)
        assert not stopped.exists()
    finally:
        os.kill(pid, signal.SIGKILL)
