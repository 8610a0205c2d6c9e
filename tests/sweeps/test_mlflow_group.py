"""Sweeps in the MLflow UI, through MLflow's API: jobs named by their values, one logged model and one registered
version per sweep (alias `champion` only when it beats the holder), a grid parent run with its summary."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow

from embedlab.sweeps.mlflow_group import SweepGroup
from embedlab_testing import linked_versions

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
    assert metrics["best_value"] == max(c.data.metrics["kept_ndcg_at_10"] for c in children)
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
    # the same tags as a single run's version (tests/tracking/test_mlflow_run.py), plus the sweep's name
    assert set(version.tags) >= {"run_id", "dataset", "loss", "base_model", "select_by", "ndcg_at_10"}
    assert version.tags["loss"] == "mnrl" and version.tags["select_by"] == "val_loss"
    assert float(version.tags["ndcg_at_10"]) == metrics["best_value"]
    # one full model per sweep: the best job's, linked to its version; every job keeps its own in its run folder
    [model] = client.search_logged_models([parent.info.experiment_id])
    assert model.source_run_id == best.info.run_id and version.source == f"models:/{model.model_id}"
    assert model.name == f"physics-mnrl_{best.info.run_name.replace(' ', '_').replace('=', '-')}"  # j00 scale=10
    assert linked_versions(model) == [("embedlab-physics", "1")]
    assert all((Path(c.data.tags["kept_model_path"]) / "modules.json").is_file() for c in children)
    assert "fine-tuned on physics (loss mnrl)" in version.description
    assert tags["registered_model"] == "models:/embedlab-physics/1"
    assert tags["champion"] == f"version 1 (ndcg_at_10 {metrics['best_value']:.4f})"
    # the same number has one spelling in every run: 10 and 20 here, 20 in a single run (20.0 in mnrl.yaml)
    assert {c.data.params["loss.scale"] for c in children} == {"10", "20"}


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
    assert {"plots/study_plots.html", "plots/plot_optimization_history.png"} <= plots
    [version] = versions(mlflow_uri)
    assert champion(mlflow_uri).version == version.version
    best = next(c for c in children if c.data.tags["sweep_trial"] == str(study().best_trial.number))
    assert version.run_id == best.info.run_id == parent.data.tags["best_run_id"]
    [model] = mlflow.MlflowClient(mlflow_uri).search_logged_models([parent.info.experiment_id])
    assert model.source_run_id == best.info.run_id and version.source == f"models:/{model.model_id}"
    assert linked_versions(model) == [("embedlab-physics", "1")]


def test_champion_moves_only_to_a_better_model_on_the_same_dataset_and_metric(mlflow_uri):
    group = SweepGroup(mlflow_uri, "physics", "s", kind="grid", registered_model_name="embedlab-physics")
    client, name = group.client, "embedlab-physics"
    client.create_registered_model(name)

    def version(value: float, metric: str = "ndcg_at_10", dataset: str = "physics") -> str:
        number = client.create_model_version(name, "file:///nowhere/model").version
        client.set_model_version_tag(name, number, metric, f"{value:.4f}")
        client.set_model_version_tag(name, number, "dataset", dataset)
        return number

    def move(number: str, metric: str = "ndcg_at_10", dataset: str = "physics") -> tuple[str, str]:
        said = group.move_champion(name, number, metric, "maximize", dataset)
        return said, champion(mlflow_uri).version

    first = version(0.90)
    assert move(first) == ("version 1 (ndcg_at_10 0.9000)", first)
    worse = version(0.80)
    assert move(worse) == ("kept by version 1 (ndcg_at_10 0.9000; this sweep's 0.8000)", first)
    better = version(0.95)
    assert move(better) == ("version 3 from version 1 (ndcg_at_10 0.9500)", better)
    other_metric = version(0.99, metric="mrr_at_10")
    said, holder = move(other_metric, metric="mrr_at_10")
    assert holder == better and "not comparable" in said
    other_data = version(0.99, dataset="quora")
    said, holder = move(other_data, dataset="quora")
    assert holder == better and "not comparable" in said


def test_a_sweep_that_ends_leaves_none_of_its_runs_running(mlflow_uri):
    """A job in another process (joblib, submitit, Ray) torn down by Ctrl-C never ends its own run: the parent's
    end ends it, as the sweep ended (KILLED), or FAILED under a sweep that finished."""
    client = mlflow.MlflowClient(mlflow_uri)
    for status, left in (("KILLED", "KILLED"), ("FINISHED", "FAILED")):
        group = SweepGroup(mlflow_uri, "physics", f"s-{status}")
        tag = {"mlflow.parentRunId": group.run_id}
        running = client.create_run(group.experiment_id, tags=tag).info.run_id
        done = client.create_run(group.experiment_id, tags=tag).info.run_id
        client.set_terminated(done, status="FINISHED")
        group.finish(status)
        assert client.get_run(group.run_id).info.status == status
        assert client.get_run(running).info.status == left
        assert client.get_run(done).info.status == "FINISHED"


def test_two_grids_of_one_name_get_two_names_and_two_sweep_tags(mlflow_uri):
    """Two grids started in the same second, each in a `hydra.sweep.dir` of its own, were both `grid-<time>`: a
    filter on `tags.sweep` showed both grids' jobs as one."""
    first = SweepGroup(mlflow_uri, "physics", "grid-20261207-222342", kind="grid")
    second = SweepGroup(mlflow_uri, "physics", "grid-20261207-222342", kind="grid")
    assert first.name == "grid-20261207-222342"
    assert second.name == f"grid-20261207-222342 {second.run_id[:6]}"
    run = second.client.get_run(second.run_id)
    assert (run.info.run_name, run.data.tags["sweep"]) == (f"sweep-{second.name}", second.name)
    assert f"++tracking.tags.sweep='{second.name}'" in second.job_overrides(job=0)


def test_a_study_made_again_under_its_name_gets_its_own_tag_and_a_resumed_one_keeps_it(mlflow_uri):
    """A study is named by its search space, so deleting optuna.db and running the command again makes a new study
    of the same name: its jobs must not share a `tags.sweep` filter with the old study's. Resuming the new one
    reopens its parent and tags its jobs as before."""
    old = SweepGroup(mlflow_uri, "physics", "physics-1a2b3c4d", kind="optuna")
    new = SweepGroup(mlflow_uri, "physics", "physics-1a2b3c4d", kind="optuna")
    assert (old.name, new.name) == ("physics-1a2b3c4d", f"physics-1a2b3c4d {new.run_id[:6]}")
    resumed = SweepGroup(mlflow_uri, "physics", "physics-1a2b3c4d", new.run_id, kind="optuna")
    assert (resumed.run_id, resumed.name) == (new.run_id, new.name)
    assert f"++tracking.tags.sweep='{new.name}'" in resumed.job_overrides(trial=3)


def test_a_best_trial_whose_run_is_elsewhere_is_not_replaced_by_a_lesser_run(mlflow_uri, caplog):
    """A study resumed into another tracking store has its earlier trials' runs in the old store: the study's best
    trial has no run under the new parent, and its best run there is another trial's, which was registered (or
    nothing was, without a word). A repeat that reused an earlier trial's value has no run either, and that
    earlier run, of the same value, is its best run."""
    group = SweepGroup(mlflow_uri, "physics", "physics-1a2b3c4d", kind="optuna")
    child = group.client.create_run(
        group.experiment_id, tags={"mlflow.parentRunId": group.run_id, "sweep_trial": "5"}
    ).info.run_id
    group.client.log_metric(child, "kept_ndcg_at_10", 0.5)
    group.client.set_terminated(child, status="FINISHED")
    assert group.best_child("ndcg_at_10", "maximize", trial=5, value=0.5).info.run_id == child
    assert group.best_child("ndcg_at_10", "maximize", trial=7, value=0.5).info.run_id == child  # a repeat of 5
    with caplog.at_level("WARNING"):
        assert group.best_child("ndcg_at_10", "maximize", trial=2, value=0.7) is None  # in the old store
    assert "best trial 2 (ndcg_at_10=0.7000) has no run under this sweep's parent run" in caplog.text
    assert group.register_best("ndcg_at_10", "maximize", trial=2, value=0.7) is None
    assert "best_run_id" not in group.client.get_run(group.run_id).data.tags
