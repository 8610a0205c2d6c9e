"""Sweep fixtures: tiny, fast jobs, an isolated Optuna storage, MLflow store and sweep folder per test."""

from __future__ import annotations

import pytest

from embedlab_testing import run_train, run_train_subprocess, runs


@pytest.fixture
def optuna_storage(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'optuna.db'}"


@pytest.fixture
def sweep_args(tiny_model_path, physics_folder, mlflow_uri, tmp_path) -> list[str]:
    """Overrides that make each trial 4 steps of the tiny model, everything written under tmp_path."""
    return [
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "training.max_steps=4",
        "training.eval_steps=2",
        "training.batch_size=8",
        "tracking.log_model=false",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]


@pytest.fixture
def run_sweep(sweep_args):
    """`python -m train -m <sweep_args> <overrides>`; fails the test with the output's tail on a non-zero exit.
    `own_process=True` runs it as a subprocess: joblib keeps its worker processes for the next call in the same
    process, with the environment (the test's MLflow store) they were started with."""

    def run(*overrides: str, own_process: bool = False):
        result = (run_train_subprocess if own_process else run_train)("-m", *sweep_args, *overrides)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        return result

    return run


@pytest.fixture
def optuna_sweep(run_sweep, optuna_storage):
    """`python -m train -m hparams_search=physics <tiny overrides> <overrides>` with the test's study storage."""
    return lambda *overrides, **kwargs: run_sweep(
        "hparams_search=physics", f"hydra.sweeper.storage={optuna_storage}", *overrides, **kwargs
    )


@pytest.fixture
def study(optuna_storage):
    """Loads the one study in the test's storage."""
    import optuna

    def load():
        (summary,) = optuna.get_all_study_summaries(optuna_storage)
        return optuna.load_study(study_name=summary.study_name, storage=optuna_storage)

    return load


@pytest.fixture
def sweep_runs(mlflow_uri):
    """Returns (parent runs, child runs) in the test's MLflow store."""

    def load() -> tuple[list, list]:
        every = runs(mlflow_uri)
        parents = [r for r in every if "sweep_kind" in r.data.tags]
        children = [r for r in every if "mlflow.parentRunId" in r.data.tags]
        return parents, children

    return load
