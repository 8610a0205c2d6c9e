"""Sweeps in the MLflow UI, through MLflow's API: jobs named by their values, one registered version (alias
`champion`) per sweep, a grid parent run with its summary."""

from __future__ import annotations

import re

import mlflow

SMALL_SPACE = "hydra.sweeper.params={training.lr: 'tag(log, interval(1e-5, 1e-3))', loss.scale: 'interval(10.0, 40.0)'}"


def versions(uri: str) -> list:
    return mlflow.MlflowClient(uri).search_model_versions("name='embedlab-physics'")


def champion(uri: str):
    return mlflow.MlflowClient(uri).get_model_version_by_alias("embedlab-physics", "champion")


def test_grid_jobs_named_by_values_parent_summary_one_champion(run_sweep, sweep_runs, mlflow_uri):
    result = run_sweep("hydra/sweeper=embedlab_grid", "loss.scale=10,20", "tracking.log_model=true")
    (parent,), children = sweep_runs()
    assert sorted(c.info.run_name for c in children) == ["j00 scale=10", "j01 scale=20"]
    tags, metrics = parent.data.tags, parent.data.metrics
    assert tags["sweep_swept_keys"] == "loss.scale"
    best = next(c for c in children if c.info.run_id == tags["best_run_id"])
    assert metrics["best_value"] == max(c.data.metrics["best_ndcg_at_10"] for c in children)
    assert (
        tags["best_command"].startswith("python -m train ")
        and best.data.tags["sweep_overrides"] in tags["best_command"]
    )
    assert f"Reproduce: {tags['best_command']}" in result.stdout
    client = mlflow.MlflowClient(mlflow_uri)
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"grid.csv", "sweep.json", "plots"} <= names
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "plots")] == ["plots/objective_per_point.png"]
    csv = mlflow.artifacts.load_text(f"{parent.info.artifact_uri}/grid.csv").splitlines()
    assert csv[0] == "run,overrides,ndcg_at_10" and len(csv) == 3

    [version] = versions(mlflow_uri)  # the jobs register nothing; the sweep registers its best job once
    assert version.run_id == best.info.run_id
    assert champion(mlflow_uri).version == version.version
    assert version.tags["sweep"] == tags["sweep"] and version.tags["dataset"] == "physics"
    assert float(version.tags["ndcg_at_10"]) == metrics["best_value"]


def test_optuna_trials_named_by_values_and_the_best_is_champion(optuna_sweep, study, sweep_runs, mlflow_uri):
    optuna_sweep(SMALL_SPACE, "hydra.sweeper.n_trials=2", "tracking.log_model=true")
    (parent,), children = sweep_runs()
    for child in children:
        trial = study().trials[int(child.data.tags["sweep_trial"])]
        assert re.fullmatch(r"t0[01]( \w+=\S+)+", child.info.run_name), child.info.run_name
        assert " scale=" in child.info.run_name and " lr=" in child.info.run_name
        lr = child.info.run_name.split(" lr=")[1].split()[0]
        assert float(lr) == float(f"{trial.params['training.lr']:.3g}")
        assert child.data.tags["value.training.lr"] == lr  # the exponent stays visible in a tags column
    plots = {a.path for a in mlflow.MlflowClient(mlflow_uri).list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/plot_optimization_history.html", "plots/plot_optimization_history.png"} <= plots
    [version] = versions(mlflow_uri)
    assert champion(mlflow_uri).version == version.version
    best = next(c for c in children if c.data.tags["sweep_trial"] == str(study().best_trial.number))
    assert version.run_id == best.info.run_id == parent.data.tags["best_run_id"]
