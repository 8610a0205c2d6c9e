"""Run folders: each run its own, whatever the clock says; an earlier run's model never replaced; one process each."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from embedlab.errors import UserError
from embedlab.folders import (
    check_new_run_folder,
    claim_folder,
    held_run_folder,
    launch_stamp,
    register_run_folders,
    resume_newest,
    resume_requested,
)
from embedlab_testing import REPO, run_train, runs, tiny_overrides


def tiny_run(tiny_model_path: str, physics_folder: Path, *overrides: str) -> list[str]:
    return [*tiny_overrides(tiny_model_path, physics_folder), *overrides]


def test_many_processes_claiming_one_name_get_one_folder_each(tmp_path):
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        folders = pool.map(claim_folder, [str(tmp_path / "09-30-15")] * 6)
    assert sorted(Path(f).name for f in folders) == ["09-30-15", *(f"09-30-15-{n}" for n in range(1, 6))]


def run_folder(mode: str = "run") -> str:
    """What Hydra reads as `hydra.<mode>.dir` for a command composed now (read twice, as Hydra may)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    first = OmegaConf.select(cfg, f"hydra.{mode}.dir")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        again = OmegaConf.select(compose("train", return_hydra_config=True), f"hydra.{mode}.dir")
    assert again == first  # the same command asking again: the same folder
    return first


@pytest.mark.parametrize(("mode", "top"), [("run", "outputs"), ("sweep", "multirun")])
def test_commands_started_in_the_same_second_get_their_own_folders(frozen_clock, mode, top):
    folders = []
    for _ in range(3):
        register_run_folders()  # what each `python -m train` does as it starts
        folders.append(run_folder(mode))
    day = f"{top}/2026-12-06"
    assert folders == [f"{day}/09-30-15", f"{day}/09-30-15-1", f"{day}/09-30-15-2"]
    assert all(Path(folder).is_dir() for folder in folders)


@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_commands_started_in_the_same_second_get_their_own_names(frozen_clock, mode):
    """MLflow's runs table shows names, not folders: a name ends with the launch stamp, whose `-N` is the folder's."""
    from embedlab.run import run_name

    names = []
    for _ in range(3):
        register_run_folders()
        run_folder(mode)
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            names.append(run_name(compose("train")))
        assert names[-1].endswith(" " + launch_stamp())
    assert [name.rsplit(" ", 1)[1] for name in names] == ["1206-093015", "1206-093015-1", "1206-093015-2"]


def test_a_stamp_asked_for_one_folder_takes_that_folders_suffix(frozen_clock):
    """A grid names its sweep after its sweep folder, whichever other folder the process claimed."""
    register_run_folders()
    run_folder("run")  # an earlier command this second: outputs/.../09-30-15
    register_run_folders()
    assert run_folder("run").endswith("09-30-15-1")  # this one's run folder is the second's second
    sweep = run_folder("sweep")  # and its sweep folder the second's first
    assert sweep.endswith("09-30-15")
    assert (launch_stamp(), launch_stamp(folder=sweep)) == ("1206-093015-1", "1206-093015")
    assert launch_stamp(folder="multirun/elsewhere") != "1206-093015"  # not claimed here: the clock now


def test_a_process_that_claimed_no_folder_names_by_the_clock_now(frozen_clock):
    """A launcher's worker gets its job's folder with the config and runs many jobs: its launch time (here the
    frozen second) is its first job's, so a name made there reads the clock instead."""
    register_run_folders()
    assert launch_stamp() != "1206-093015"
    run_folder("run")
    assert launch_stamp() == "1206-093015"


@pytest.mark.slow
def test_real_runs_started_together_write_their_own_folders(tiny_model_path, physics_folder, tmp_path):
    """Four tiny runs at once on one fresh SQLite store, all asking for the same folder name (as four runs started
    in the same second do): four FINISHED runs in four folders, and the store they created together works."""
    same = f"hydra.run.dir=${{unique_folder:{tmp_path / 'same'}}}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # not there yet: the four create it together
    processes = []
    for _ in range(4):
        command = [
            sys.executable,
            "-m",
            "train",
            *tiny_run(tiny_model_path, physics_folder, same, f"tracking.uri={uri}"),
        ]
        processes.append(subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    finished = runs(uri)
    assert [run.info.status for run in finished] == ["FINISHED"] * 4
    folders = {run.data.tags["output_dir"] for run in finished}
    assert folders == {str(tmp_path / name) for name in ("same", "same-1", "same-2", "same-3")}
    assert len({run.info.run_name for run in finished}) == 4  # started in one second or not, four names
    assert all((Path(folder) / "best").is_dir() for folder in folders)


def test_a_run_refused_before_work_leaves_no_folder_unless_the_user_named_it(tmp_path):
    """Each refused command left outputs/<date>/<time>/ with Hydra's .hydra/ and train.log: 50 in a session."""
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    mistakes = [
        "training.lr=abc",
        f"dataset=local dataset.path={tmp_path / 'missing.jsonl'}",
        f"resume=true {store}",  # refused once the store is open: no run with this config to continue
    ]
    (tmp_path / "mlflow.db").write_bytes(b"")  # an empty store, created on first use
    for mistake in mistakes:
        assert run_train(*mistake.split(), cwd=tmp_path).returncode == 2
    assert not (tmp_path / "outputs").exists()  # nor outputs/<date>/ left empty (claim_folder makes it again)
    named = tmp_path / "mine"
    assert run_train("training.lr=abc", f"hydra.run.dir={named}", cwd=tmp_path).returncode == 2
    assert "error: training.lr=abc is not a number" in (named / "train.log").read_text()


def test_a_sweep_refused_before_its_first_job_leaves_no_folder(tmp_path):
    """A refused `-m` left an empty multirun/<date>/<time>/ behind (39 of 81 folders in a tester's session): the
    grid's check (a Hydra callback), the study's (the sweeper) and the schema's of the sweeper's settings."""
    store = f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"
    mistakes = [
        "-m loss=mnrl,cosent",  # the grid's point 1 cannot run
        "-m hparams_search=physics training.batch_size=choice(1,8)",  # the study's value 1 cannot run
        "-m hparams_search=physics hydra.sweeper.storage=sqlite://",  # an in-memory study: the schema
    ]
    for mistake in mistakes:
        assert run_train(*mistake.split(), store, cwd=tmp_path).returncode == 2, mistake
    assert not (tmp_path / "multirun").exists()  # nor multirun/<date>/ left empty


@pytest.mark.parametrize("flag", ["--cfg job", "--help", "--info"])
def test_printing_the_config_or_help_makes_no_folder(tmp_path, flag):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "train", *flag.split()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_refuses_a_folder_where_an_earlier_run_kept_its_model(
    tiny_model_path, physics_folder, tmp_path, mlflow_uri
):
    overrides = tiny_run(tiny_model_path, physics_folder, f"hydra.run.dir={tmp_path / 'run'}")
    first = run_train(*overrides)
    assert first.returncode == 0, first.stderr[-3000:]
    kept = {path: path.stat().st_mtime_ns for path in (tmp_path / "run").rglob("*")}
    assert any(path.parent.name == "best" for path in kept) and (tmp_path / "run" / ".hydra" / "config.yaml") in kept

    again = run_train(*overrides)
    assert again.returncode == 2
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert lines == [lines[-1]] and lines[0].startswith(f"error: the run folder {tmp_path / 'run'} already holds")
    assert "resume=true" in lines[0] and "another hydra.run.dir" in lines[0]
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "run").rglob("*")} == kept  # not even .hydra/
    assert len(runs(mlflow_uri)) == 1  # refused before a second run was started


def test_a_folder_held_by_a_live_process_is_refused_and_free_once_it_is_killed(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from embedlab.folders import held_run_folder\n"
            f"with held_run_folder(Path({str(tmp_path)!r})):\n    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=rf"the run folder {tmp_path} is in use by process {holder.pid} on "):
        with held_run_folder(tmp_path):
            pass
    holder.send_signal(signal.SIGKILL)  # no chance to let go: the system drops the lock with the process
    holder.wait()
    with held_run_folder(tmp_path):
        with pytest.raises(UserError, match="is in use by process"):  # one process, one hold
            with held_run_folder(tmp_path):
                pass


def test_a_chain_checks_each_stage_folder_and_a_resume_none(tmp_path):
    (tmp_path / "phase2" / "best").mkdir(parents=True)
    (tmp_path / "phase2" / "best" / "model.safetensors").write_bytes(b"")
    chain = OmegaConf.create({"resume": False, "phase": {"stages": {"phase1": {}, "phase2": {}}}})
    with pytest.raises(UserError, match=f"the run folder {tmp_path / 'phase2'} already holds an earlier run's best/;"):
        check_new_run_folder(tmp_path, chain)
    check_new_run_folder(tmp_path, OmegaConf.merge(chain, {"resume": True}))  # continues where it stopped
    check_new_run_folder(tmp_path / "other", chain)


def test_a_run_into_a_folder_a_live_run_holds_is_refused_before_its_record_is_touched(tiny_model_path, tmp_path):
    folder = tmp_path / "run"
    (folder / ".hydra").mkdir(parents=True)
    record = folder / ".hydra" / "config.yaml"
    record.write_text("seed: 1\n", encoding="utf-8")  # what the live run's Hydra wrote
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from pathlib import Path; from embedlab.folders import held_run_folder\n"
            f"with held_run_folder(Path({str(folder)!r})):\n    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_train(f"model.name_or_path={tiny_model_path}", "seed=2", f"hydra.run.dir={folder}")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: the run folder {folder} is in use by process {holder.pid} on {os.uname().nodename}; "
                     "expected that run to end first (or another folder for a new run)"]  # fmt: skip
    assert record.read_text(encoding="utf-8") == "seed: 1\n"  # Hydra did not rewrite the live run's record


@pytest.mark.parametrize("kind", ["a file", "inside a file"])
def test_a_run_folder_that_cannot_be_made_is_one_line(kind, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    folder = blocker if kind == "a file" else blocker / "run"
    result = run_train(f"hydra.run.dir={folder}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: hydra.run.dir={folder} cannot be used as a run folder")
    assert "Traceback" not in result.stderr


@pytest.fixture
def read_only_folder(tmp_path):
    """An existing folder that takes no file: mode 0o500, or as root (who writes through modes) immutable."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        yield folder
        folder.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root, and this file system has no immutable flag: no folder root cannot write")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_an_existing_folder_that_takes_no_file_is_one_line(key, read_only_folder):
    """It passed the check (the folder exists), and Hydra's log or multirun.yaml failed with a trace."""
    sweep = ["-m", "training.lr=1e-4,2e-4"] if "sweep" in key else []
    result = run_train(*sweep, f"{key}={read_only_folder}")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}={read_only_folder} cannot be used as a ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("given", "requested", "newest"),
    [
        (None, False, False),
        (False, False, False),
        ("false", False, False),
        (True, True, True),
        ("true", True, True),
        ("True", True, True),
        ("0123abcd", True, False),
    ],
)
def test_resume_values_read_one_way_everywhere(given, requested, newest):
    # `resume=true` (Hydra's bool, or the quoted string) asks for the newest unfinished run; any other value is an id
    assert (resume_requested(given), resume_newest(given)) == (requested, newest)
