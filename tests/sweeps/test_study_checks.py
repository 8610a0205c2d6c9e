"""An Optuna study is checked before its first trial: the plan of every value of each choice, the direction
against the metric, and a stored study's direction and search space against the command's."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution

from embedlab_testing import run_train

CUDA = __import__("torch").cuda.is_available()


def refused(result, expected: str) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model.max_seq_length=choice(128,1024)"], "params.model.max_seq_length: the value 1024 cannot run"),
        (["loss=choice(mnrl,triplet)"], "params.loss: the value triplet cannot run: loss=triplet needs triplets"),
        (["training.batch_size=choice(1,8)"], "the value 1 cannot run: training.batch_size=1 is too small"),
        (["optimized_metric=spearman"], "optimized_metric=spearman is not logged"),
        (["hydra.sweeper.direction=minimize"], "hydra.sweeper.direction=minimize with optimized_metric=ndcg_at_10"),
        (["optimized_metric=val_loss"], "expected hydra.sweeper.direction=minimize"),
        (["hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler: Error in call to target"),
        (["hydra.sweeper.pruner.n_startup_trials=-1"], "hydra.sweeper.pruner: Error in call to target"),
        (["experiment=retrieval"], "phase.stages.phase2.dataset.train_on_validation=true in a sweep"),
        (  # a study maximized val_loss as if it were ndcg_at_10 and called the worst trial the best
            ["optimized_metric=choice(ndcg_at_10,val_loss)"],
            "a sweep compares its jobs by one optimized_metric, in one direction",
        ),
        pytest.param(  # was: every trial FAIL, and a line pointing at trial runs that did not exist
            ["hardware=choice(cpu,cuda)"],
            "params.hardware: the value cuda cannot run: hardware.device=cuda but torch sees no CUDA device",
            marks=pytest.mark.skipif(CUDA, reason="this machine has a GPU"),
        ),
        (["hydra.sweeper.storage=sqlite://"], "hydra.sweeper.storage=sqlite:// is an in-memory database"),
    ],
)
def test_a_study_that_cannot_run_is_one_line_before_any_trial(
    overrides, expected, sweep_args, optuna_storage, sweep_runs
):
    storage = ["hparams_search=physics", f"hydra.sweeper.storage={optuna_storage}"]
    refused(run_train("-m", *sweep_args, *storage, *overrides), expected)
    assert optuna.get_all_study_summaries(optuna_storage) == []  # no study, no trial
    assert sweep_runs() == ([], [])


@pytest.fixture
def stored_study(optuna_storage):
    """A study named `kept` that maximized, with one trial of training.batch_size in choice(16, 32, 64)."""
    study = optuna.create_study(study_name="kept", storage=optuna_storage, direction="maximize")
    distribution = CategoricalDistribution([16, 32, 64])
    study.add_trial(
        optuna.trial.create_trial(
            params={"training.batch_size": 32}, distributions={"training.batch_size": distribution}, value=0.5
        )
    )
    return study


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["optimized_metric=val_loss", "hydra.sweeper.direction=minimize"],
            "hydra.sweeper.study_name=kept (in sqlite:",
        ),
        (
            ["training.batch_size=choice(8,16)"],
            "searched training.batch_size in CategoricalDistribution(choices=(16, 32, 64))",
        ),
        (  # the earlier trials ran at the default warmup; a new parameter would be judged against them
            ["training.batch_size=choice(16,32,64)", "training.warmup_ratio=interval(0.0,0.3)"],
            "searched training.batch_size, and this command adds loss.scale, training.epochs, training.lr, "
            "training.warmup_ratio; expected the study's own search space",
        ),
    ],
)
def test_a_stored_study_resumes_only_as_it_was_made(
    overrides, expected, stored_study, sweep_args, optuna_storage, sweep_runs
):
    storage = ["hparams_search=physics", f"hydra.sweeper.storage={optuna_storage}", "hydra.sweeper.study_name=kept"]
    line = refused(run_train("-m", *sweep_args, *storage, *overrides), expected)
    assert "or another hydra.sweeper.study_name" in line
    assert len(optuna.load_study(study_name="kept", storage=optuna_storage).trials) == 1  # nothing asked
    assert sweep_runs() == ([], [])


def test_a_stored_study_resumes_only_with_its_metric_and_fixed_overrides(sweep_args, optuna_storage, sweep_runs):
    """A trial's value depends on the fixed overrides and the metric too: a study reopened by name with others
    would mix two settings' values (and reuse one's value for the other's repeated point)."""
    study = ["hparams_search=physics", f"hydra.sweeper.storage={optuna_storage}", "hydra.sweeper.study_name=kept"]
    first = run_train("-m", *sweep_args, *study, "hydra.sweeper.n_trials=1")
    assert first.returncode == 0, first.stderr[-3000:]
    other_steps = [a.replace("training.max_steps=4", "training.max_steps=2") for a in sweep_args]
    line = refused(
        run_train("-m", *other_steps, *study, "hydra.sweeper.n_trials=2"),
        "ran its trials with other fixed overrides: this command adds training.max_steps=2 and drops "
        "training.max_steps=4; expected the study's own settings",
    )
    assert "or another hydra.sweeper.study_name" in line
    refused(
        run_train("-m", *sweep_args, *study, "optimized_metric=mrr_at_10", "hydra.sweeper.n_trials=2"),
        "optimized ndcg_at_10, and this command optimizes mrr_at_10",
    )
    assert len(optuna.load_study(study_name="kept", storage=optuna_storage).trials) == 1  # nothing asked
    resumed = run_train("-m", *sweep_args, *study, "hydra.sweeper.n_trials=2", "hardware.threads=1")  # may change
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(optuna.load_study(study_name="kept", storage=optuna_storage).trials) == 2


def test_one_sweeper_per_study_in_a_sqlite_storage(sweep_args, optuna_storage, sweep_runs):
    """Two sweepers of one study each ran n_trials (the same points) under two parent runs; the second is
    refused while the first holds the study's lock (the OS releases it when its process ends)."""
    import os

    from embedlab.sweeps.study import one_sweeper

    study = ["hparams_search=physics", f"hydra.sweeper.storage={optuna_storage}", "hydra.sweeper.study_name=busy"]
    with one_sweeper(optuna_storage, "busy"):  # another sweeper, running
        line = refused(run_train("-m", *sweep_args, *study), "hydra.sweeper.study_name=busy (in sqlite:")
    assert f"is being run by sweeper pid {os.getpid()} on " in line and "expected one sweeper per study" in line
    assert optuna.get_all_study_summaries(optuna_storage) == [] and sweep_runs() == ([], [])
    done = run_train("-m", *sweep_args, *study, "hydra.sweeper.n_trials=1")  # the lock is free again
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_study_storage_named_at_the_mlflow_store_is_refused_before_either_is_made(sweep_args, mlflow_uri):
    """One file for both: the sweeper made it Optuna's storage, then refused it as MLflow's store, and left it so
    that every later run on that store was refused too."""
    from embedlab.tracking.sqlite_store import sqlite_file

    database = sqlite_file(mlflow_uri)
    line = refused(
        run_train("-m", *sweep_args, "hparams_search=physics", f"hydra.sweeper.storage={mlflow_uri}"),
        f"hydra.sweeper.storage={mlflow_uri} is the file of the MLflow store tracking.uri={mlflow_uri}",
    )
    assert f"expected a file of its own for each: Optuna's study storage (e.g. sqlite:///{database.parent}" in line
    assert not database.exists()
