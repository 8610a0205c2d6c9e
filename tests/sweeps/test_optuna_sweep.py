"""`python -m train -m hparams_search=...`: Optuna studies run by the real command on the tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import mlflow
import pytest

SMALL_SPACE = "hydra.sweeper.params={training.lr: 'tag(log, interval(1e-5, 1e-3))', loss.scale: 'interval(10.0, 40.0)'}"


def states(study) -> list[str]:
    return [t.state.name for t in study.trials]


def test_study_runs_and_resumes_to_the_total(optuna_sweep, study, sweep_runs, optuna_storage):
    first = optuna_sweep(SMALL_SPACE, "hydra.sweeper.n_trials=3")
    assert states(study()) == ["COMPLETE"] * 3
    [reproduce] = [line for line in first.stdout.splitlines() if line.startswith("Reproduce: ")]
    assert reproduce.startswith("Reproduce: python -m train optimized_metric=ndcg_at_10 ")  # what the preset sets
    assert "hparams_search" not in reproduce  # a single run refuses a search space without -m
    (parent,), children = sweep_runs()
    assert len(children) == 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.data.tags["sweep_trial"] for c in children} == {"0", "1", "2"}
    assert all("training.lr=" in c.data.tags["sweep_overrides"] for c in children)
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_complete"] == 3
    assert "best.training.lr" in parent.data.tags

    # A sweeper killed mid-trial leaves it RUNNING: a dead process on this host owns it.
    trial = study().ask()
    trial.set_user_attr("embedlab.host", os.uname().nodename)
    trial.set_user_attr("embedlab.pid", 2**22 + 12345)  # above Linux's pid_max: never alive

    optuna_sweep(SMALL_SPACE, "hydra.sweeper.n_trials=5")
    # n_trials counts COMPLETE and PRUNED trials: the killed one is FAIL, and another runs in its place
    assert states(study()) == ["COMPLETE"] * 3 + ["FAIL"] + ["COMPLETE"] * 2
    trials = study().trials
    assert trials[4].params not in [t.params for t in trials[:3]]  # the resumed sampler does not replay its draws
    (again,), children = sweep_runs()
    assert again.info.run_id == parent.info.run_id  # the same parent run, reopened
    assert len(children) == 5


def test_a_study_whose_trials_all_failed_fails_again_when_run_again(run_sweep, sweep_args, study, sweep_runs, tmp_path):
    """A FAIL does not count towards n_trials: running the command again runs the trials again (and, still
    failing, ends FAILED), instead of calling the study complete and its parent run FINISHED."""
    from embedlab_testing import run_train

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    overrides = [
        *sweep_args,
        "hparams_search=physics",
        f"hydra.sweeper.storage={storage}",
        "++hydra.sweeper.params={loss.scale: 'choice(1e39)'}",  # every loss NaN: each trial fails in training
        "training.epochs=1",
        "training.lr=5e-5",
        "training.batch_size=8",
        "training.max_nonfinite_steps=1",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.reuse_repeats=false",
    ]
    for session in (1, 2):
        result = run_train("-m", *overrides)
        assert result.returncode == 2, result.stderr[-3000:]
        assert "trial(s) failed, more than hydra.sweeper.max_failure_rate=0.5" in result.stderr
        assert states(study()) == ["FAIL"] * 2 * session
        (parent,), _ = sweep_runs()
        assert parent.info.status == "FAILED"


def test_a_launcher_that_cannot_start_is_one_line_and_its_trial_runs_again(optuna_sweep, sweep_args, study, tmp_path):
    from embedlab_testing import run_train

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    common = [*sweep_args, "hparams_search=physics", f"hydra.sweeper.storage={storage}", "hydra.sweeper.n_trials=1"]
    result = run_train("-m", *common, "hydra/launcher=joblib", "hydra.launcher.n_jobs=0")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "could not start trial(s) [0]: ValueError: n_jobs == 0 in Parallel has no meaning" in line
    assert states(study()) == ["FAIL"]
    result = run_train("-m", *common)  # the same study, fixed: its one trial runs now
    assert result.returncode == 0, result.stderr[-3000:]
    assert states(study()) == ["FAIL", "COMPLETE"]


def test_aggressive_pruner_prunes_early_and_the_sweep_goes_on(optuna_sweep, study, sweep_runs, mlflow_uri):
    result = optuna_sweep(
        SMALL_SPACE,
        "hydra.sweeper.n_trials=2",
        "training.max_steps=6",
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.lower=2.0",  # ndcg_at_10 <= 1 < 2: pruned at its first evaluation
    )
    trials = study().trials
    assert [t.state.name for t in trials] == ["PRUNED", "PRUNED"]
    assert all(max(t.intermediate_values) == 16 for t in trials)  # 16 examples seen: step 2 of 6 at batch 8
    _, children = sweep_runs()
    assert len(children) == 2
    for run in children:
        assert run.info.status == "KILLED" and run.data.tags["sweep_state"] == "PRUNED"
        assert "kept_step" not in run.data.metrics  # training never reached its end
        history = mlflow.MlflowClient(mlflow_uri).get_metric_history(run.info.run_id, "ndcg_at_10")
        assert sorted(m.step for m in history) == [0, 2]  # the evaluation that pruned it is in MLflow too
        output_dir = Path(run.data.tags["output_dir"])
        assert not list(output_dir.glob("checkpoints/checkpoint-*"))  # nothing saved for a pruned trial
    assert "no complete trial" in result.stdout


def test_failing_trial_is_fail_and_the_sweep_finishes(optuna_sweep, study, sweep_runs):
    # a scale that overflows float32 makes every loss NaN: a failure only training shows (what the plan can
    # check before work, such as an unlogged metric, stops the sweep before its first trial instead)
    result = optuna_sweep(
        "++hydra.sweeper.params={loss.scale: 'choice(20.0, 1e39)'}",
        "training.epochs=1",  # fixed values take these keys out of the search space
        "training.lr=5e-5",
        "training.max_nonfinite_steps=1",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler._target_=optuna.samplers.BruteForceSampler",
    )
    by_scale = {t.params["loss.scale"]: t.state.name for t in study().trials}
    assert by_scale == {20.0: "COMPLETE", 1e39: "FAIL"}
    _, children = sweep_runs()
    failed = [r for r in children if r.info.status == "FAILED"]
    assert len(failed) == 1 and failed[0].data.tags["sweep_state"] == "FAIL"
    assert "training loss is nan" in failed[0].data.tags["embedlab.error"]
    assert "Best trial" in result.stdout


def test_repeated_parameters_reuse_the_earlier_value_without_a_run(optuna_sweep, study, sweep_runs):
    result = optuna_sweep(
        "++hydra.sweeper.params={loss.scale: 'choice(10.0, 20.0)'}",  # 2 points, 4 trials: at least 2 repeats
        "training.epochs=1",
        "training.lr=5e-5",
        "training.batch_size=8",
        "hydra.sweeper.n_trials=4",
    )
    trials = study().trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    repeats = [t for t in trials if "embedlab.repeat_of" in t.user_attrs]
    assert len(repeats) == 4 - len({t.params["loss.scale"] for t in trials}) >= 2
    for repeat in repeats:
        earlier = trials[repeat.user_attrs["embedlab.repeat_of"]]
        assert earlier.params == repeat.params and earlier.value == repeat.value
    (parent,) = sweep_runs()[0]
    children = sweep_runs()[1]
    assert len(children) == 4 - len(repeats)  # a job (and an MLflow run) only for new parameters
    assert parent.data.metrics["n_repeats_reused"] == len(repeats)
    assert "took an earlier trial's value without a run" in result.stdout


@pytest.mark.parametrize("n_jobs", [2])
def test_joblib_runs_trials_in_parallel_without_losing_runs(optuna_sweep, study, sweep_runs, n_jobs):
    optuna_sweep(
        SMALL_SPACE,
        f"hydra.sweeper.n_trials={n_jobs}",
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={n_jobs}",
        own_process=True,
    )
    assert states(study()) == ["COMPLETE"] * n_jobs
    (parent,), children = sweep_runs()
    assert len(children) == n_jobs and {c.data.tags["sweep_state"] for c in children} == {"COMPLETE"}
    assert len({c.data.tags["pid"] for c in children}) == n_jobs  # separate worker processes
    # both workers were up before either run ended, and the sweeper asked for every trial of the batch before it
    # was told any result. (The runs' own start and end times need not overlap: on the tiny model a run lasts
    # under a second, less than the gap between two workers finishing their imports.)
    worker_started = max(float(c.data.tags["pid_started"]) for c in children)
    assert worker_started * 1000 < min(c.info.end_time for c in children)
    trials = study().trials
    assert max(t.datetime_start for t in trials) < min(t.datetime_complete for t in trials)
