"""A joblib worker killed by the OS in the middle of a trial (SIGKILL, as the OOM killer sends it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from embedlab_testing import REPO, run_train_subprocess, sweep_failures

pytestmark = pytest.mark.scaleout


def kill_first_training_job(sweep: subprocess.Popen, uri: str, timeout: float = 600) -> tuple[str, int]:
    """SIGKILL the process of the first child run that has logged its step-0 evaluation; (run id, trial)."""
    client = mlflow.MlflowClient(uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sweep.poll() is None:
        experiment = client.get_experiment_by_name("physics")
        runs = client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'") if experiment else []
        for run in runs:
            if "mlflow.parentRunId" in run.data.tags and "ndcg_at_10" in run.data.metrics:
                os.kill(int(run.data.tags["pid"]), signal.SIGKILL)
                return run.info.run_id, int(run.data.tags["sweep_trial"])
        time.sleep(0.2)
    pytest.fail(f"no trial was seen training (sweep exit code {sweep.poll()})")


def test_sigkilled_worker_fails_its_trial_and_the_sweep_goes_on(
    scaleout_args, mlflow_uri, tmp_path, study_and_runs, assert_study_matches_runs
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = [
        "-m",
        *scaleout_args,
        f"hydra.sweeper.storage={storage}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra/sweeper/pruner=none",
        "training.max_steps=60",  # a few seconds per trial: time to see one training and kill it
        "training.eval_steps=30",
    ]
    command = [sys.executable, "-m", "train", *args, "hydra.sweeper.n_trials=4"]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as sweep:
        killed_run, killed_trial = kill_first_training_job(sweep, mlflow_uri)
        output, _ = sweep.communicate(timeout=900)
    assert sweep.returncode == 0, output[-5000:]
    assert "A worker process died" in output

    study, parent, children = study_and_runs(storage, mlflow_uri)
    assert killed_trial in (0, 1) and study.trials[killed_trial].state.name == "FAIL"  # in the first batch
    killed = mlflow.MlflowClient(mlflow_uri).get_run(killed_run)
    assert killed.info.status == "FAILED" and "worker process died" in killed.data.tags["embedlab.error"]
    # joblib stops the whole pool when a worker dies: the other trial of that batch is FAIL too, with no run if
    # its worker had not started one yet. Every trial is told, no run is left RUNNING, the counts agree.
    batch = {killed_trial, killed_trial ^ 1}
    assert all(study.trials[n].state.name == "FAIL" for n in batch)
    assert_study_matches_runs(
        study, parent, children, n_trials=4, without_run=frozenset(batch), why=sweep_failures(output)
    )
    # the batches after the kill ran, two more trials in place of the two FAIL ones (a FAIL does not count)
    assert [t.state.name for t in study.trials[2:]] == ["COMPLETE"] * 4

    again = run_train_subprocess(*args, "hydra.sweeper.n_trials=6")  # the same study, resumed to 6 in all
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-5000:]
    study, parent_again, children = study_and_runs(storage, mlflow_uri)
    assert parent_again.info.run_id == parent.info.run_id
    assert_study_matches_runs(
        study,
        parent_again,
        children,
        n_trials=6,
        without_run=frozenset(batch),
        why=sweep_failures(again.stdout + again.stderr),
    )
    assert [t.state.name for t in study.trials[6:]] == ["COMPLETE", "COMPLETE"]
