"""An Optuna sweep sent through Ray (a local instance) and through submitit's local executor (SLURM's code path)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from embedlab_testing import run_train_subprocess, sweep_failures

pytestmark = pytest.mark.scaleout

# Values are reported against training examples seen (8 a step). Trials of 2 steps report once, at 16 examples,
# inside the pruner's warm-up: COMPLETE. Trials of 6 steps report at 32 examples (step 4), past it, and
# ndcg_at_10 <= 1 < 2 prunes them there.
PRUNE_LONG_TRIALS = [
    "++hydra.sweeper.params={training.max_steps: 'choice(2, 6)'}",
    "hydra/sweeper/pruner=none",
    "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
    "+hydra.sweeper.pruner.lower=2.0",
    "+hydra.sweeper.pruner.n_warmup_steps=24",
    "hydra.sweeper.n_trials=3",
    "hydra.sweeper.n_jobs=2",  # two trials at once
]


def check_three_trials(study, parent, children, assert_study_matches_runs, why: str) -> None:
    """`why`: what to show when a trial ended otherwise (the sweep's warnings, the jobs' own logs)."""
    assert_study_matches_runs(study, parent, children, n_trials=3, why=why)
    for trial in study.trials:
        expected = "PRUNED" if trial.params["training.max_steps"] == 6 else "COMPLETE"
        assert trial.state.name == expected, (trial.number, trial.params, trial.state, why)
    assert {t.state.name for t in study.trials} == {"COMPLETE", "PRUNED"}  # the seeded draws hold both lengths
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert all(max(t.intermediate_values) == 32 for t in pruned)  # stopped at step 4 of 6


def test_optuna_sweep_through_a_local_ray(
    scaleout_args, mlflow_uri, tmp_path, study_and_runs, assert_study_matches_runs
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    # Ray's session folder, short (its socket paths must stay under 108 bytes): how this test finds its processes
    ray_dir = Path(tempfile.mkdtemp(prefix="ray-"))
    result = run_train_subprocess(
        "-m",
        *scaleout_args,
        *PRUNE_LONG_TRIALS,
        f"hydra.sweeper.storage={storage}",
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",  # the local instance the sweeper starts, and stops when it exits
        f"+hydra.launcher.ray.init._temp_dir={ray_dir}",
        "+hydra.launcher.ray.init.include_dashboard=false",
        "hydra.launcher.ray.remote.num_cpus=1",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "Initializing ray" in result.stderr + result.stdout
    check_three_trials(
        *study_and_runs(storage, mlflow_uri), assert_study_matches_runs, sweep_failures(result.stdout + result.stderr)
    )
    left = [p.pid for p in psutil.process_iter(["cmdline"]) if str(ray_dir) in " ".join(p.info["cmdline"] or [])]
    assert not left, f"Ray processes left running: {left}"
    shutil.rmtree(ray_dir, ignore_errors=True)


def test_optuna_sweep_through_submitit_local(
    scaleout_args, mlflow_uri, tmp_path, study_and_runs, assert_study_matches_runs
):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = run_train_subprocess(
        "-m",
        *scaleout_args,
        *PRUNE_LONG_TRIALS,
        f"hydra.sweeper.storage={storage}",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    job_errors = "".join(p.read_text()[-3000:] for p in (tmp_path / "multirun" / ".submitit").glob("*/*_log.err"))
    why = sweep_failures(result.stdout + result.stderr) + "\n" + job_errors
    check_three_trials(*study_and_runs(storage, mlflow_uri), assert_study_matches_runs, why)
    logs = list((tmp_path / "multirun" / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 3  # each trial was a submitit job with its own folder and log
