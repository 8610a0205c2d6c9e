"""Runs survive faults: kill -9 then resume, SIGTERM, stale runs, partial checkpoints, NaN losses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embedlab.training.checkpoint import COMPLETE, last_complete_checkpoint, mark_complete
from embedlab_testing import REPO, run_train, runs, tiny_overrides

# A resumed run replays the same batches with the restored optimizer, scheduler and RNG states; what is left
# is float summation order, so the final metrics agree to well within this (README: "Resuming").
RESUME_TOLERANCE = 1e-4


def fault_run(tiny_model_path: str, physics_folder: Path, run_dir: Path, steps: int = 10) -> list[str]:
    """`debug=tiny` for `steps` steps, a checkpoint every 2, all of them kept (resume chooses among them)."""
    return [
        *tiny_overrides(tiny_model_path, physics_folder),
        f"training.max_steps={steps}",
        "training.eval_steps=2",
        "training.save_total_limit=10",
        f"hydra.run.dir={run_dir}",
    ]


def start_train(overrides: list[str], uri: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    cmd = [sys.executable, "-m", "train", *overrides]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"training ended before {path} appeared: {process.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def history(uri: str, run_id: str, name: str) -> list[int]:
    import mlflow

    return [m.step for m in mlflow.MlflowClient(uri).get_metric_history(run_id, name)]


@pytest.mark.slow
def test_kill_9_then_resume_is_one_finished_run_matching_an_uninterrupted_one(
    tiny_model_path, physics_folder, tmp_path
):
    uri = f"sqlite:///{tmp_path / 'killed.db'}"
    overrides = fault_run(tiny_model_path, physics_folder, tmp_path / "run")
    process = start_train(overrides, uri)
    wait_for(tmp_path / "run" / "checkpoints" / "checkpoint-4" / COMPLETE, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    [killed] = runs(uri)
    assert killed.info.status == "RUNNING"  # what kill -9 leaves behind

    resumed = run_train(
        *overrides[:-1], f"hydra.run.dir={tmp_path / 'again'}", "resume=true", env={"MLFLOW_TRACKING_URI": uri}
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    [run] = runs(uri)
    assert run.info.run_id == killed.info.run_id
    assert run.info.status == "FINISHED"
    steps = history(uri, run.info.run_id, "val_loss")
    assert steps == sorted(set(steps)) == [0, 2, 4, 6, 8, 10]  # continuous, no step logged twice
    # the run's own train.log goes on where the killed process left it, as well as the resume command's
    for folder in (tmp_path / "run", tmp_path / "again"):
        assert f"saved to:        {tmp_path / 'run' / 'best'}" in (folder / "train.log").read_text(), folder

    clean_uri = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = run_train(
        *fault_run(tiny_model_path, physics_folder, tmp_path / "clean"), env={"MLFLOW_TRACKING_URI": clean_uri}
    )
    assert clean.returncode == 0, clean.stderr[-3000:]
    [reference] = runs(clean_uri)
    for name in ("val_loss", "test_ndcg_at_10", "kept_val_loss"):
        assert run.data.metrics[name] == pytest.approx(reference.data.metrics[name], abs=RESUME_TOLERANCE), name


@pytest.mark.slow
def test_a_run_stopped_after_its_last_checkpoint_resumes_without_training_a_step_more(
    tiny_model_path, physics_folder, tmp_path
):
    from safetensors.torch import load_file

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        *fault_run(tiny_model_path, physics_folder, tmp_path / "run", steps=4),
        "training.keep_checkpoints=true",
        "training.base_is_candidate=false",
    ]
    assert run_train(*overrides, env={"MLFLOW_TRACKING_URI": uri}).returncode == 0
    [run] = runs(uri)  # as if stopped in its test evaluation, after checkpoint-4 (the last) was saved
    import mlflow

    mlflow.MlflowClient(uri).set_terminated(run.info.run_id, "KILLED")
    resumed = run_train(
        *overrides[:-3],
        "training.keep_checkpoints=true",
        "training.base_is_candidate=false",
        f"hydra.run.dir={tmp_path / 'again'}",
        "resume=true",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    [run] = runs(uri)
    assert run.info.status == "FINISHED"
    # transformers resumed at the last step trains one more, at learning rate 0, and evaluates it as step 5
    assert sorted(set(history(uri, run.info.run_id, "val_loss"))) == [0, 2, 4]
    assert not (tmp_path / "run" / "checkpoints" / "checkpoint-5").exists()
    kept = int(run.data.metrics["kept_step"])
    best = load_file(tmp_path / "run" / "best" / "model.safetensors")  # the kept checkpoint's weights, reloaded
    source = load_file(tmp_path / "run" / "checkpoints" / f"checkpoint-{kept}" / "model.safetensors")
    assert all((best[name] == source[name]).all() for name in source)


@pytest.mark.slow
def test_sigterm_saves_a_loadable_checkpoint_and_ends_killed(tiny_model_path, physics_folder, tmp_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = start_train(fault_run(tiny_model_path, physics_folder, tmp_path / "run", steps=60), uri)
    wait_for(tmp_path / "run" / "checkpoints" / "checkpoint-2" / COMPLETE, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143
    assert "Traceback" not in stderr
    [run] = runs(uri)
    assert run.info.status == "KILLED"
    checkpoint = last_complete_checkpoint(tmp_path / "run" / "checkpoints")
    assert int(checkpoint.name.split("-")[1]) > 2  # saved on the signal, not only on schedule
    assert SentenceTransformer(str(checkpoint), device="cpu").encode(["x"]).shape == (1, 32)


def test_stale_running_run_is_marked_failed_on_next_start(tiny_model_path, physics_folder, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    experiment = client.create_experiment("physics", artifact_location=(tmp_path / "mlartifacts").as_uri())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = client.create_run(experiment, tags={"host": socket.gethostname(), "pid": str(dead.pid)})
    result = run_train(
        *fault_run(tiny_model_path, physics_folder, tmp_path / "run", steps=2), env={"MLFLOW_TRACKING_URI": uri}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = client.get_run(stale.info.run_id)
    assert run.info.status == "FAILED"
    assert str(dead.pid) in run.data.tags["embedlab.failure_reason"]
    assert f"marked MLflow run {stale.info.run_id} FAILED" in result.stdout


def test_partial_checkpoint_is_skipped_by_resume(tmp_path):
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"x")
    mark_complete(tmp_path / "checkpoint-2")  # checkpoint-4 was being written when the process died
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    mark_complete(tmp_path / "checkpoint-4")
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-4"


def test_nan_loss_stops_the_run_with_one_line(tiny_model_path, physics_folder, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(
        *fault_run(tiny_model_path, physics_folder, tmp_path / "run"),
        "loss.scale=1e39",  # the similarities times inf in float32: the loss is NaN from the first step (the schema caps training.lr at 1)
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 2
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "training loss is nan at step" in line
    assert "training.max_nonfinite_steps=3" in line
    assert [run.info.status for run in runs(uri)] == ["FAILED"]


def test_resume_with_nothing_to_resume_says_so(tiny_model_path, physics_folder, tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(uri).create_experiment("physics")  # a store with the experiment, and no run in it
    result = run_train(
        *fault_run(tiny_model_path, physics_folder, tmp_path / "run"),
        "resume=true",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: resume=true: no unfinished run with this config in experiment physics of {uri}; expected a FAILED "
        "or KILLED run started with the same config (tag config_hash) in that store, or resume=<run id>"
    )
    assert runs(uri) == []
