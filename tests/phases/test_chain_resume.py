"""`resume=true` for `experiment=physics_two_phase`: one parent run, phase 1 not run again, phase 2 continued."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from embedlab.training.checkpoint import COMPLETE


@pytest.mark.slow
def test_a_chain_stopped_in_phase2_resumes_into_the_same_runs(cli, tiny_model_path, physics_folder, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        "experiment=physics_two_phase",
        *cli.tiny_chain_overrides(tiny_model_path, tmp_path, physics_folder),
        "++phase.stages.phase2.training.max_steps=40",
        "++phase.stages.phase2.training.eval_steps=2",
    ]
    first_dir = tmp_path / "first"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = [sys.executable, "-m", "train", *overrides, f"hydra.run.dir={first_dir}"]
    with subprocess.Popen(command, cwd=cli.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as chain:
        marker = first_dir / "phase2" / "checkpoints" / "checkpoint-2" / COMPLETE
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert chain.poll() is None and time.monotonic() < deadline, chain.stderr.read()[-3000:]
            time.sleep(0.05)
        chain.send_signal(signal.SIGTERM)  # checkpoint at the end of the step, runs KILLED
        chain.communicate(timeout=300)
    assert chain.returncode == 143
    before = {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}
    assert before["parent"].info.status == before["phase2"].info.status == "KILLED"
    assert before["phase1"].info.status == "FINISHED"

    again = cli.run_train(
        *overrides, f"hydra.run.dir={tmp_path / 'again'}", "resume=true", env={"MLFLOW_TRACKING_URI": uri}
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"stage phase1: FINISHED in run {before['phase1'].info.run_id}, not run again" in again.stdout
    after = cli.runs(uri)
    assert len(after) == 3  # no new parent, no second phase-1 or phase-2 run
    by_stage = {run.data.tags.get("embedlab.stage", "parent"): run for run in after}
    for name in ("parent", "phase1", "phase2"):
        assert by_stage[name].info.run_id == before[name].info.run_id
        assert by_stage[name].info.status == "FINISHED", name
    steps = [m.step for m in mlflow.MlflowClient(uri).get_metric_history(by_stage["phase2"].info.run_id, "val_loss")]
    assert steps == sorted(set(steps)) and steps[-1] == 40  # continued from its checkpoint, no step logged twice
    assert "phase1_test_ndcg_at_10" in by_stage["parent"].data.metrics  # the chain table, phase 1 rebuilt from MLflow
    assert by_stage["parent"].data.tags["embedlab.phase2_run_id"] == before["phase2"].info.run_id
