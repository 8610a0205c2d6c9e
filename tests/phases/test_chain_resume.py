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


def chain_overrides(cli, tiny_model_path, physics_folder, tmp_path, stage: str, max_steps: int) -> list[str]:
    """The tiny physics chain, with `stage` long enough (evaluated every 2 steps) to be stopped in."""
    return [
        "experiment=physics_two_phase",
        *cli.tiny_chain_overrides(tiny_model_path, tmp_path, physics_folder),
        f"++phase.stages.{stage}.training.max_steps={max_steps}",
        f"++phase.stages.{stage}.training.eval_steps=2",
    ]


def stopped_chain(cli, tmp_path, overrides: list[str], stage: str) -> tuple[str, dict]:
    """Start the chain in `tmp_path/first`, SIGTERM it once `stage` has a complete checkpoint 2; the store's URI
    and its runs by stage (`parent` for the chain's own)."""
    marker = f"{stage}/checkpoints/checkpoint-2/{COMPLETE}"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first_dir = tmp_path / "first"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = [sys.executable, "-m", "train", *overrides, f"hydra.run.dir={first_dir}"]
    with subprocess.Popen(command, cwd=cli.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as chain:
        deadline = time.monotonic() + 600
        while not (first_dir / marker).exists():
            assert chain.poll() is None and time.monotonic() < deadline, chain.stderr.read()[-3000:]
            time.sleep(0.05)
        chain.send_signal(signal.SIGTERM)  # checkpoint at the end of the step, runs KILLED
        chain.communicate(timeout=300)
    assert chain.returncode == 143
    return uri, {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}


def resumed_chain(cli, tmp_path, overrides: list[str], uri: str):
    """`resume=true` from a folder of its own (`tmp_path/again`), as a new command gets from Hydra."""
    again = cli.run_train(
        *overrides, f"hydra.run.dir={tmp_path / 'again'}", "resume=true", env={"MLFLOW_TRACKING_URI": uri}
    )
    assert again.returncode == 0, again.stderr[-3000:]
    return again


@pytest.mark.slow
def test_a_chain_stopped_in_phase2_resumes_into_the_same_runs(cli, tiny_model_path, physics_folder, tmp_path):
    overrides = chain_overrides(cli, tiny_model_path, physics_folder, tmp_path, "phase2", max_steps=40)
    uri, before = stopped_chain(cli, tmp_path, overrides, "phase2")
    assert before["parent"].info.status == before["phase2"].info.status == "KILLED"
    assert before["phase1"].info.status == "FINISHED"

    again = resumed_chain(cli, tmp_path, overrides, uri)
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


@pytest.mark.slow
def test_a_chain_stopped_in_phase1_goes_on_in_its_first_folder(cli, tiny_model_path, physics_folder, tmp_path):
    # the resuming command has a folder of its own (Hydra's); the stages, and the chain's train.log, are the first's
    overrides = chain_overrides(cli, tiny_model_path, physics_folder, tmp_path, "phase1", max_steps=8)
    uri, before = stopped_chain(cli, tmp_path, overrides, "phase1")
    assert before["phase1"].info.status == "KILLED" and "phase2" not in before

    resumed_chain(cli, tmp_path, overrides, uri)
    by_stage = {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}
    assert by_stage["phase1"].info.run_id == before["phase1"].info.run_id
    assert by_stage["phase2"].data.tags["output_dir"] == str(tmp_path / "first" / "phase2")
    assert (tmp_path / "first" / "phase2" / "best").is_dir() and not (tmp_path / "again" / "phase2").exists()
    chain_log = (tmp_path / "first" / "train.log").read_text()
    assert chain_log.count(f"resuming chain run {before['parent'].info.run_id}") == 1
    resumed = chain_log.split("resuming chain run")[1].splitlines()  # phase 1's resumed run logs there too
    assert "=== stage phase2 (hard_negatives) ===" in resumed
    assert not [a for a, b in zip(resumed, resumed[1:], strict=False) if a.strip() and a == b]  # each line once
