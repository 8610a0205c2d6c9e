"""Parallel trials on PostgreSQL-backed stores: the study in PostgreSQL, the runs through `mlflow server` on it."""

from __future__ import annotations

import pytest

from embedlab_testing import run_train_subprocess, sweep_failures

pytestmark = pytest.mark.scaleout


def test_four_joblib_workers_on_postgresql_lose_nothing(
    postgres, mlflow_server, four_workers_args, study_and_runs, assert_study_matches_runs
):
    storage = postgres.database("optuna_joblib")
    result = run_train_subprocess(
        *four_workers_args,
        f"hydra.sweeper.storage={storage}",
        "tracking.experiment=pg-joblib",
        env={"MLFLOW_TRACKING_URI": mlflow_server},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    study, parent, children = study_and_runs(storage, mlflow_server, "pg-joblib")
    assert_study_matches_runs(study, parent, children, n_trials=8, why=sweep_failures(result.stdout + result.stderr))
    assert len({c.data.tags["pid"] for c in children}) == 4  # four worker processes wrote to the stores
    assert "sqlite" not in result.stderr.lower()  # no warning about SQLite writers: nothing ran on SQLite
