"""Parallel jobs writing the same new row at once (a sweep's first batch starts together) all get through.

Each test starts real processes that wait at one start line, then make one MLflow write that looks a row up and
inserts it: all find it missing, all insert it. Without `retry_unique_key_race`, all but one fail
with "UNIQUE constraint failed" (SQLite; PostgreSQL says "duplicate key value violates unique constraint").
"""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest

from embedlab_testing import REPO

# argv: the store's URI, and the file descriptor of the start line. Each snippet prepares, then calls wait(): it
# says it is ready and blocks reading the start line, which returns in every process at once when the test closes
# its other end (a barrier, released by one event rather than by a moment on the clock).
WAIT = """
import os, sys
uri, start_line = sys.argv[1], int(sys.argv[2])
def wait():
    print("ready", flush=True)
    os.read(start_line, 1)
"""

LOG_DATASET = """
import mlflow, pandas as pd
from embedlab.tracking.datasets import log_input
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("sweep")
dataset = mlflow.data.from_pandas(pd.DataFrame({"query": ["a", "b"]}), name="physics-train")
with mlflow.start_run():
    wait()
    log_input(dataset, context="train")
"""

CONNECT = """
import os
from embedlab.tracking.mlflow_run import MlflowTracker
MlflowTracker(uri=uri, experiment=f"warm-up-{os.getpid()}", log_model=False).connect()  # imports, store opened
tracker = MlflowTracker(uri=uri, experiment="sweep", log_model=False)
wait()
tracker.connect()
"""

CLOSE_STALE = """
import mlflow
from embedlab.tracking.stale_runs import close_stale_runs
client = mlflow.MlflowClient(uri)
experiment_id = client.get_experiment_by_name("sweep").experiment_id
client.search_runs([experiment_id])  # the store opened before the moment
wait()
print(close_stale_runs(client, [experiment_id]))
"""


def race(uri: str, snippet: str, processes: int) -> None:
    """Runs `snippet` in `processes` processes that make their write at the same moment; all must succeed."""
    start_line, go = os.pipe()  # the processes get the read end only: closing `go` is the one signal to all
    command = [sys.executable, "-c", WAIT + snippet, uri, str(start_line)]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(start_line,))
    try:
        jobs = [subprocess.Popen(command, cwd=REPO, **pipes) for _ in range(processes)]
        ready = [job.stdout.readline().strip() == "ready" for job in jobs]  # imported MLflow, done their setup
    finally:
        os.close(start_line)
        os.close(go)  # every process waiting on the start line goes on now
    outputs = [job.communicate(timeout=120) for job in jobs]  # a hang guard
    assert [job.returncode for job in jobs] == [0] * processes, [err[-2000:] for _, err in outputs]
    assert all(ready)


def new_store(tmp_path) -> tuple[str, mlflow.MlflowClient]:
    """A SQLite store with the experiment the sweeper made before its jobs started."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    client.create_experiment("sweep")
    return uri, client


def test_two_trials_logging_one_new_dataset_at_once_both_get_it(tmp_path):
    uri, client = new_store(tmp_path)
    race(uri, LOG_DATASET, processes=2)

    runs = client.search_runs([client.get_experiment_by_name("sweep").experiment_id])
    assert len(runs) == 2 and all(run.info.status == "FINISHED" for run in runs)
    logged = [[d.dataset for d in run.inputs.dataset_inputs] for run in runs]
    assert [[d.name for d in datasets] for datasets in logged] == [["physics-train"], ["physics-train"]]
    assert logged[0][0].digest == logged[1][0].digest  # one dataset row, linked to both runs


def test_four_trials_connecting_at_once_all_connect(tmp_path):
    """connect() writes an experiment tag (a read-only store fails there): four new jobs write it at once."""
    uri, client = new_store(tmp_path)
    race(uri, CONNECT, processes=4)

    assert "embedlab.last_connected" in client.get_experiment_by_name("sweep").tags


def test_four_jobs_closing_one_stale_run_at_once_all_go_on(tmp_path):
    uri, client = new_store(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    from embedlab.tracking.stale_runs import REASON_TAG, process_tags

    tags = {**process_tags(), "pid": dead.stdout.strip(), "pid_started": "0"}  # a process that is gone
    run = client.create_run(client.get_experiment_by_name("sweep").experiment_id, tags=tags)
    race(uri, CLOSE_STALE, processes=4)

    closed = client.get_run(run.info.run_id)
    assert closed.info.status == "FAILED"
    assert "ended without closing the run" in closed.data.tags[REASON_TAG]


# What a job got from `mlflow server` on PostgreSQL when four connected at once (seen before the retry existed)
POSTGRES_OVER_REST = (
    'BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique constraint "experiment_tag_pk"'
)


def test_postgresql_words_over_rest_are_retried_and_other_errors_are_not():
    from mlflow.exceptions import MlflowException

    from embedlab.tracking.unique_keys import retry_unique_key_race

    calls = []

    def write(error: str | None) -> str:
        calls.append(error)
        if len(calls) == 1:
            raise MlflowException(error)
        return "written"

    assert retry_unique_key_race(write, POSTGRES_OVER_REST) == "written" and len(calls) == 2
    calls.clear()
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        retry_unique_key_race(write, "RESOURCE_DOES_NOT_EXIST: no experiment 7")
    assert len(calls) == 1
