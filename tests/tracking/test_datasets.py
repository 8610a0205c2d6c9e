"""Dataset inputs when parallel trials log the same new dataset at once (two submitit jobs start together)."""

from __future__ import annotations

import subprocess
import sys
import time

import mlflow

from embedlab_testing import REPO

# Each process opens a run, waits for the same wall-clock moment, then logs one dataset that its experiment does
# not have yet: both look it up, both find it missing, both insert it. MLflow's own log_input fails one of them.
ONE_TRIAL = """
import sys, time
import mlflow, pandas as pd
from embedlab.tracking.datasets import log_input
uri, go = sys.argv[1], float(sys.argv[2])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("sweep")
dataset = mlflow.data.from_pandas(pd.DataFrame({"query": ["a", "b"]}), name="physics-train")
with mlflow.start_run():
    while time.time() < go:
        time.sleep(0.001)
    log_input(dataset, context="train")
"""


def test_two_trials_logging_one_new_dataset_at_once_both_get_it(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(uri).create_experiment("sweep")  # the sweeper made the store and the experiment
    go = time.time() + 15  # after both processes have imported mlflow and opened their runs
    command = [sys.executable, "-c", ONE_TRIAL, uri, str(go)]
    trials = [subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [trial.communicate(timeout=120)[1] for trial in trials]
    assert [trial.returncode for trial in trials] == [0, 0], errors

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("sweep")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2 and all(run.info.status == "FINISHED" for run in runs)
    logged = [[d.dataset for d in run.inputs.dataset_inputs] for run in runs]
    assert [[d.name for d in datasets] for datasets in logged] == [["physics-train"], ["physics-train"]]
    assert logged[0][0].digest == logged[1][0].digest  # one dataset row, linked to both runs
