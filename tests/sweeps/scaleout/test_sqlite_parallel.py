"""Four parallel trials on the SQLite defaults: one file each for MLflow and Optuna, four writers on each."""

from __future__ import annotations

import pytest

from embedlab_testing import run_train_subprocess, sweep_failures

pytestmark = pytest.mark.scaleout


def test_four_joblib_workers_on_sqlite_lose_nothing(
    four_workers_args, mlflow_uri, tmp_path, study_and_runs, assert_study_matches_runs
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = run_train_subprocess(
        *four_workers_args,
        f"hydra.sweeper.storage={storage}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "4 parallel jobs writing to SQLite" in result.stderr + result.stdout  # the warning names the server
    study, parent, children = study_and_runs(storage, mlflow_uri)
    assert_study_matches_runs(study, parent, children, n_trials=8, why=sweep_failures(result.stdout + result.stderr))
    assert len({c.data.tags["pid"] for c in children}) == 4
