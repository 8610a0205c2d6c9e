"""`reproduce=<run id>` rebuilds a run's own command: what a sweep or an earlier reproduction added is left out,
what the user typed is kept (`tracking.log_model=true` included)."""

from __future__ import annotations

from embedlab.sweeps.mlflow_group import SweepGroup
from embedlab.tracking.reproduce import own_overrides


def test_a_sweep_jobs_added_overrides_are_left_out(tmp_path):
    group = SweepGroup(f"sqlite:///{tmp_path / 'mlflow.db'}", "physics", "physics-1")  # sweep_models=best
    added = group.job_overrides(trial=3, overrides=["loss.scale=20"])  # what the sweep adds to each job
    assert "++tracking.log_model=false" in added and "++tracking.register=false" in added
    typed = ["loss.scale=20", "training.max_steps=4"]
    job = [*typed, "++sweep.storage=sqlite:///x.db", "++sweep.study=s", "++sweep.trial=3", *added, "resume=true"]
    assert own_overrides(job) == typed


def test_a_single_runs_typed_tracking_settings_are_kept():
    typed = ["debug=tiny", "tracking.log_model=true", "tracking.register=false"]
    assert own_overrides([*typed, "tracking.run_name=mine", "++tracking.tags.reproduces=abc"]) == typed


def test_reproduce_takes_a_unique_prefix_of_a_run_id(tiny_model_path, physics_folder, mlflow_uri, tmp_path):
    import mlflow

    from embedlab_testing import run_train

    client = mlflow.MlflowClient(mlflow_uri)
    run = client.create_run(client.create_experiment("old", artifact_location=(tmp_path / "art").as_uri()))
    client.log_text(
        run.info.run_id, f"model.name_or_path={tiny_model_path}\ndataset.path={physics_folder}", "overrides.txt"
    )
    result = run_train(f"reproduce={run.info.run_id[:8]}", "reproduce_force=true", "--cfg", "job")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"reproducing MLflow run {run.info.run_id}: python -m train model.name_or_path=")
    assert f"reproduces: {run.info.run_id}" in result.stdout


def test_reproduce_of_a_sweeps_parent_run_names_its_best_job(mlflow_uri, tmp_path):
    import mlflow

    from embedlab_testing import run_train

    client = mlflow.MlflowClient(mlflow_uri)
    experiment = client.create_experiment("physics", artifact_location=(tmp_path / "art").as_uri())
    best = client.create_run(experiment, tags={"sweep": "grid-1206-101500"}).info.run_id
    tags = {"sweep": "grid-1206-101500", "sweep_kind": "grid", "best_run_id": best, "best_command": "python -m train"}
    parent = client.create_run(experiment, run_name="sweep-grid-1206-101500", tags=tags).info.run_id
    result = run_train(f"reproduce={parent}", "--cfg", "job")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: reproduce={parent}: run {parent} is a sweep's parent run (grid sweep grid-1206-101500), which trains "
        f"nothing itself; expected one of its jobs, e.g. its best: reproduce={best}"
    ]


def test_reproduce_of_a_chains_parent_run_names_a_stage(mlflow_uri, tmp_path):
    import mlflow

    from embedlab_testing import run_train

    client = mlflow.MlflowClient(mlflow_uri)
    experiment = client.create_experiment("retrieval", artifact_location=(tmp_path / "art").as_uri())
    chain = client.create_run(experiment, run_name="retrieval-neighbour_rounds 1207-101500").info.run_id
    stage = client.create_run(experiment, tags={"mlflow.parentRunId": chain, "embedlab.stage": "phase1"}).info.run_id
    result = run_train(f"reproduce={chain}", "--cfg", "job")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: reproduce={chain}: the run has no overrides.txt artifact to rebuild it from; expected one of its "
        f"stages' runs, which runs the whole chain again: reproduce={stage}"
    ]


def test_reproduce_with_a_plus_says_to_drop_it():
    from embedlab_testing import run_train

    for typed in ("+reproduce=5790e106", "++reproduce_force=true"):
        result = run_train(typed, "--cfg", "job")
        assert result.returncode == 2
        plain, plus = typed.lstrip("+"), typed[: len(typed) - len(typed.lstrip("+"))]
        assert result.stderr.strip().splitlines() == [
            f"error: {typed}: reproduce= and reproduce_force= are read before Hydra composes the config, not config "
            f"keys; expected {plain} without the {plus}"
        ]


def test_reproduce_force_that_is_not_a_flag_is_one_line():
    from embedlab_testing import run_train

    result = run_train("reproduce=5790e106", "reproduce_force=yes", "--cfg", "job")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: reproduce_force=yes is not true or false; expected reproduce_force=true to run despite a difference"
    ]


def test_reproduce_force_without_reproduce_is_one_line():
    """Hydra called it no key of the config and advised +reproduce_force=true, which is refused in turn."""
    from embedlab_testing import run_train

    for typed in ("reproduce_force=true", "reproduce_force=yes"):
        result = run_train(typed, "--cfg", "job")
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"error: {typed} without reproduce=<run id>: it lets a reproduction run despite a difference; expected "
            f"reproduce=<run id> {typed}, or no reproduce_force= for a new run"
        ]


def test_reproduce_refuses_overrides_that_compose_other_settings_today(tiny_model_path, physics_folder, mlflow_uri):
    """Same commit, but conf/ edited since the run and not committed: its overrides would train something else."""
    import json

    import mlflow
    from mlflow.entities import Param

    from embedlab.config import to_container
    from embedlab.tracking.mlflow_run import git_commit
    from embedlab.tracking.params import flatten
    from embedlab.tracking.reproduce import composed, data_digest
    from embedlab.tracking.store import open_experiment
    from embedlab_testing import run_train

    overrides = [f"model.name_or_path={tiny_model_path}", f"dataset.path={physics_folder}"]
    cfg = composed(overrides)
    client = mlflow.MlflowClient(mlflow_uri)

    def logged_run(params: dict[str, str]) -> str:
        experiment = open_experiment(client, mlflow_uri, f"e{len(params)}{params['training.weight_decay']}")
        run_id = client.create_run(experiment).info.run_id  # artifacts beside the store, as a run's
        items = [Param(k, v) for k, v in params.items()]
        for start in range(0, len(items), 100):
            client.log_batch(run_id, params=items[start : start + 100])
        client.set_tag(run_id, "git_commit", git_commit())
        client.log_text(run_id, "\n".join(overrides), "overrides.txt")
        client.log_text(run_id, json.dumps({"sha256": data_digest(cfg)}), "data_fingerprint.json")
        return run_id

    params = flatten(to_container(cfg))
    same = logged_run(params)
    assert run_train(f"reproduce={same}", "--cfg", "job").returncode == 0
    edited = logged_run({**params, "training.weight_decay": "0.5"})  # conf/ said 0.5 when it ran
    result = run_train(f"reproduce={edited}", "--cfg", "job")
    assert result.returncode == 2
    assert (
        f"error: reproduce={edited}: its overrides compose other settings today (training.weight_decay=0.5, now "
        f"{params['training.weight_decay']}: conf/ changed since the run, uncommitted)" in result.stderr
    )
    forced = run_train(f"reproduce={edited}", "reproduce_force=true", "--cfg", "job")
    assert forced.returncode == 0  # and the run would say so: no faithful copy, and of what
    differs = f"settings training.weight_decay=0.5, now {params['training.weight_decay']}"
    assert f"reproduce_force=true: running despite {differs}" in forced.stdout
    assert f"reproduce_forced: {differs}" in forced.stdout  # the run's tag, in the config it composes
    assert "reproduce_forced" not in run_train(f"reproduce={same}", "reproduce_force=true", "--cfg", "job").stdout
