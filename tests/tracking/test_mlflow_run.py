"""What the MLflow UI shows for one run, asserted through MLflow's API: the logged model's metrics are the kept
step's, artifacts sit beside the store, the summary names the store, and which model is kept (select_by)."""

from __future__ import annotations

import pytest

from embedlab.tracking.mlflow_run import logged_model_name
from embedlab.tracking.model_card import KeptModel
from embedlab_testing import linked_versions, run_train, runs


def tiny(tiny_model_path, physics_folder, run_dir, *extra):
    return (
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "training.max_steps=4",
        "training.eval_steps=2",
        "training.batch_size=8",
        "hardware.threads=1",
        f"hydra.run.dir={run_dir}",
        *extra,
    )


def step_metrics(client, run_id: str, step: int) -> dict[str, float]:
    out = {}
    for key in client.get_run(run_id).data.metrics:
        out.update({m.key: m.value for m in client.get_metric_history(run_id, key) if m.step == step})
    return out


@pytest.fixture(scope="module")
def elsewhere_run(tiny_model_path, physics_folder, tmp_path_factory):
    """A run started from a folder that is neither the repository nor the store's folder."""
    store, cwd = tmp_path_factory.mktemp("store"), tmp_path_factory.mktemp("cwd")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    result = run_train(*tiny(tiny_model_path, physics_folder, store / "run"), cwd=cwd, env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr[-3000:]
    return result, uri, store, cwd


def test_logged_model_has_the_kept_steps_metrics(elsewhere_run):
    import mlflow

    _, uri, _, _ = elsewhere_run
    client = mlflow.MlflowClient(uri)
    [run] = runs(uri, "physics")
    best_step = int(run.data.metrics["kept_step"])
    [model] = client.search_logged_models([run.info.experiment_id])
    assert model.source_run_id == run.info.run_id
    [output] = client.get_run(run.info.run_id).outputs.model_outputs
    assert output.step == best_step
    linked = {m.key: m.value for m in client.get_logged_model(model.model_id).metrics}
    expected = step_metrics(client, run.info.run_id, best_step)
    for name in ("val_loss", "ndcg_at_10", "test_ndcg_at_10", "test_acc_at_1"):
        assert linked[name] == pytest.approx(expected[name]), name
    assert linked["val_loss"] == pytest.approx(run.data.metrics["kept_val_loss"])


@pytest.mark.parametrize(
    ("run_name", "expected"),
    [
        ("physics-mnrl bs=16 scale=14.7 1206-101500", "physics-mnrl_bs-16_scale-14p7_1206-101500"),
        ("physics-mnrl-hard_negatives lr=4.82e-5 1206-101500", "physics-mnrl-hard_negatives_lr-4p82e-5_1206-101500"),
        ("j00 scale=10", "physics-mnrl_j00_scale-10"),  # a sweep job's name: the dataset and loss come first
        ("phase1: a/b 'x' 50%, \"é\"", "physics-mnrl_phase1_a_b_x_50_"),
        (None, "physics-mnrl"),
    ],
)
def test_logged_model_names_are_valid_in_mlflow_and_as_an_unquoted_override(run_name, expected):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from mlflow.utils.validation import _validate_logged_model_name

    name = logged_model_name(run_name, KeptModel("physics", "mnrl", "tiny", 2, "ndcg_at_10"))
    assert name == expected
    _validate_logged_model_name(name)  # what log_model(name=...) checks: no / : . % " '
    [override] = OverridesParser.create().parse_overrides([f"phase.init_from=runs:/0abc/{name}"])
    assert override.value() == f"runs:/0abc/{name}"


def test_two_runs_log_models_named_after_them(tiny_model_path, physics_folder, tmp_path):
    """Models tab: the models of two runs with different losses and settings have different, telling names, and
    each loads by `runs:/<run id>/<its name>` as by `models:/<model id>`."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for i, extra in enumerate(["loss=cached_mnrl", "loss.scale=10"]):
        result = run_train(
            *tiny(tiny_model_path, physics_folder, tmp_path / f"run{i}", extra), env={"MLFLOW_TRACKING_URI": uri}
        )
        assert result.returncode == 0, result.stderr[-3000:]
    by_run = {r.info.run_id: r for r in runs(uri, "physics")}
    experiment_id = next(iter(by_run.values())).info.experiment_id
    models = mlflow.MlflowClient(uri).search_logged_models([experiment_id])
    assert sorted(m.name.split("_")[0] for m in models) == ["physics-cached", "physics-mnrl"], [m.name for m in models]
    assert any("_scale-10_" in m.name for m in models), [m.name for m in models]  # what the overrides change
    mlflow.set_tracking_uri(uri)
    for model in models:
        run = by_run[model.source_run_id]
        assert model.name == run.info.run_name.replace(" ", "_").replace("=", "-")
        by_name = mlflow.sentence_transformers.load_model(f"runs:/{run.info.run_id}/{model.name}")
        by_id = mlflow.sentence_transformers.load_model(f"models:/{model.model_id}")
        assert (by_name.encode(["x"]) == by_id.encode(["x"])).all()


def test_artifacts_beside_the_store_and_nothing_in_the_working_folder(elsewhere_run):
    import mlflow

    _, uri, store, cwd = elsewhere_run
    experiment = mlflow.MlflowClient(uri).get_experiment_by_name("physics")
    assert experiment.artifact_location == (store / "mlartifacts" / "physics").as_uri()
    [run] = runs(uri, "physics")
    assert run.info.artifact_uri.startswith(experiment.artifact_location)
    assert (store / "mlartifacts" / "physics" / run.info.run_id / "artifacts" / "config.yaml").is_file()
    assert list(cwd.iterdir()) == []  # no mlruns/ where the command was started


def test_summary_names_the_store_used_and_config_yaml_is_resolved(elsewhere_run):
    import mlflow

    result, uri, _, _ = elsewhere_run
    assert f"mlflow ui --port 5000 --backend-store-uri {uri}" in result.stdout
    [run] = runs(uri, "physics")  # the address lands on the runs table, not MLflow's GenAI view
    assert f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs?workflowType=machine_learning" in (
        result.stdout
    )
    assert "make mlflow-ui" not in result.stdout
    [run] = runs(uri, "physics")
    counts = {split: int(run.data.params[f"eval.{split}_queries"]) for split in ("validation", "test")}
    assert all(n > 0 for n in counts.values())
    assert (
        f"evaluated on:    validation {counts['validation']} queries (carved from the training data; chose the kept "
        f"step), test {counts['test']} queries (carved from the training data; held out from every choice)"
    ) in result.stdout
    [run] = runs(uri, "physics")
    text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/config.yaml")
    assert "${" not in text and "select_by: val_loss" in text


def test_registered_version_is_tagged_with_run_objective_and_dataset(elsewhere_run):
    import mlflow

    _, uri, _, _ = elsewhere_run
    [run] = runs(uri, "physics")
    [version] = mlflow.MlflowClient(uri).search_model_versions("name='embedlab-physics'")
    assert version.tags["run_id"] == run.info.run_id
    assert version.tags["dataset"] == "physics"
    assert {k: version.tags[k] for k in ("loss", "select_by")} == {"loss": "mnrl", "select_by": "val_loss"}
    assert version.tags["base_model"].endswith("model")  # the tiny test model's folder (no hub id is known)
    assert float(version.tags["ndcg_at_10"]) == pytest.approx(run.data.metrics["kept_ndcg_at_10"], abs=1e-4)
    # linked to its logged model (whose page then says "registered"), and described; MLflow's SQL registry keeps
    # no `model_id` field, the link is the version's source and the logged model's tag that the UI reads
    client = mlflow.MlflowClient(uri)
    [model] = client.search_logged_models([run.info.experiment_id])
    assert version.source == f"models:/{model.model_id}"
    assert linked_versions(model) == [("embedlab-physics", "1")]
    assert "fine-tuned on physics (loss mnrl)" in version.description
    assert f"test ndcg_at_10 {run.data.metrics['test_ndcg_at_10']:.4f}" in version.description
    assert run.data.params["training.select_by"] == "val_loss"
    assert run.data.params["training.base_is_candidate"] == "True"


@pytest.mark.parametrize("base_is_candidate", [True, False])
def test_starting_model_is_kept_when_no_checkpoint_beats_it(
    base_is_candidate, tiny_model_path, physics_folder, mlflow_uri, tmp_path
):
    """On the tiny set every step has validation ndcg_at_10 1.0: no checkpoint beats the starting model."""
    import mlflow

    result = run_train(
        *tiny(tiny_model_path, physics_folder, tmp_path / "run"),
        "training.select_by=ndcg_at_10",
        f"training.base_is_candidate={str(base_is_candidate).lower()}",
        "tracking.log_model=false",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs(mlflow_uri, "physics")
    ndcg = {m.step: m.value for m in mlflow.MlflowClient(mlflow_uri).get_metric_history(run.info.run_id, "ndcg_at_10")}
    assert set(ndcg.values()) == {1.0}
    assert run.data.tags["best_is_base"] == str(base_is_candidate).lower()
    if base_is_candidate:
        assert run.data.metrics["kept_step"] == 0
        assert "kept the starting model: no checkpoint beat its ndcg_at_10 1.0000" in result.stdout
    else:
        assert run.data.metrics["kept_step"] in (2, 4)
        assert "note: it does not beat the starting model" in result.stdout


def test_select_by_an_unlogged_metric_is_one_line(tiny_model_path, physics_folder, mlflow_uri, tmp_path):
    result = run_train(
        *tiny(tiny_model_path, physics_folder, tmp_path / "run"),
        "training.select_by=ndcg_at_100",
        "tracking.log_model=false",
    )
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert (
        "training.select_by=ndcg_at_100 is not logged; expected one of those logged:" in line and "ndcg_at_10" in line
    )


def test_each_split_is_a_dataset_input_with_its_context(elsewhere_run):
    import mlflow

    _, uri, _, _ = elsewhere_run
    [run] = runs(uri, "physics")
    inputs = mlflow.MlflowClient(uri).get_run(run.info.run_id).inputs.dataset_inputs
    found = {i.dataset.name: {t.key: t.value for t in i.tags}["mlflow.data.context"] for i in inputs}
    assert found == {"physics-train": "train", "physics-validation": "validation", "physics-test": "test"}
    digests = {i.dataset.digest for i in inputs}
    assert len(digests) == 3 and all(digests)
    assert all(i.dataset.source for i in inputs)


def test_reproduce_rebuilds_the_identical_composed_config(elsewhere_run):
    import json

    import mlflow
    import yaml

    _, uri, _, cwd = elsewhere_run
    [run] = runs(uri, "physics")
    result = run_train(
        f"reproduce={run.info.run_id}", "--cfg", "job", "--resolve", cwd=cwd, env={"MLFLOW_TRACKING_URI": uri}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first, _, composed = result.stdout.partition("\n")
    assert first.startswith(f"reproducing MLflow run {run.info.run_id}: python -m train model.name_or_path=")
    logged = json.loads(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/config.json"))
    logged["tracking"]["tags"]["reproduces"] = run.info.run_id  # the one key a reproduction adds: its source
    assert yaml.safe_load(composed) == logged


def test_a_reproduction_is_tagged_and_named_with_its_source(elsewhere_run):
    _, uri, _, cwd = elsewhere_run
    source = next(r for r in runs(uri, "physics") if "reproduces" not in r.data.tags)
    result = run_train(
        f"reproduce={source.info.run_id}",
        "training.max_steps=2",
        "tracking.log_model=false",
        f"hydra.run.dir={cwd.parent / 'repro'}",
        cwd=cwd,
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [copy] = [r for r in runs(uri, "physics") if r.data.tags.get("reproduces") == source.info.run_id]
    assert f"repro-of-{source.info.run_id[:8]}" in copy.info.run_name
    # names carry what the overrides change: the source ran 4 steps, the reproduction 2
    assert source.info.run_name.startswith("physics-mnrl ") and " steps=4 " in source.info.run_name
    assert " steps=2 " in copy.info.run_name


def test_reproduce_refuses_other_code_in_one_line_unless_forced(tiny_model_path, physics_folder, mlflow_uri, tmp_path):
    import mlflow

    client = mlflow.MlflowClient(mlflow_uri)
    run = client.create_run(
        client.create_experiment("old", artifact_location=(tmp_path / "art").as_uri()),
        tags={"git_commit": "0123456789abcdef"},
    )
    client.log_text(
        run.info.run_id, f"model.name_or_path={tiny_model_path}\ndataset.path={physics_folder}", "overrides.txt"
    )
    refused = run_train(f"reproduce={run.info.run_id}", "--cfg", "job")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: reproduce={run.info.run_id}: the run was made with git commit 0123456789ab")
    assert "reproduce_force=true" in line
    forced = run_train(f"reproduce={run.info.run_id}", "reproduce_force=true", "--cfg", "job")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert f"path: {physics_folder}" in forced.stdout
    assert "reproduce_forced: git commit 0123456789ab, now " in forced.stdout  # the tag the run would carry
    unknown = run_train("reproduce=0000", "--cfg", "job")
    assert unknown.returncode == 2 and unknown.stderr.strip().startswith(
        f"error: reproduce=0000: no MLflow run in {mlflow_uri} has that id (4 characters: too few to look it up as "
        "the start of one); expected the id of a run in that store"
    )


def test_a_run_that_fails_while_its_config_is_written_ends_failed_not_finished(tmp_path, monkeypatch):
    """Everything after the run is started is inside its status guard: an artifact folder that refuses the
    config (an immutable mlartifacts/, a full disk) leaves the run FAILED, not FINISHED as if it had trained."""
    import mlflow

    from embedlab.tracking.mlflow_run import MlflowTracker

    def refuse(*args, **kwargs):
        raise PermissionError("Operation not permitted: mlartifacts/physics")

    tracker = MlflowTracker(uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="physics", register=False)
    monkeypatch.setattr(mlflow, "log_text", refuse)
    with pytest.raises(PermissionError), tracker.run({"training": {"lr": 1e-4}}, "a run", tmp_path / "run"):
        pass
    [run] = runs(tracker.uri, "physics")
    assert run.info.status == "FAILED"


def test_a_full_disk_while_logging_the_model_is_one_line(tiny_model_path, physics_folder, tmp_path, monkeypatch):
    """mlflow's copy of the weights into mlartifacts/ raising ENOSPC was a traceback after training: one line, as
    for a checkpoint, and the run FAILED."""
    import errno

    from embedlab.tracking import mlflow_run

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mlflow_run, "log_kept_model", disk_full)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(*tiny(tiny_model_path, physics_folder, tmp_path / "run"), env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "logging the kept model to MLflow (sqlite:" in line and "failed: No space left on device" in line
    assert [r.info.status for r in runs(uri, "physics")] == ["FAILED"]


def test_a_resumed_run_moves_its_earlier_failure_to_resumed_after(tmp_path):
    """A filter on `tags.embedlab.error` finds runs whose latest attempt failed: a run that failed (or was closed
    after kill -9) and then finished after `resume=` carries why it stopped as `embedlab.resumed_after` only."""
    import mlflow

    from embedlab.tracking.mlflow_run import MlflowTracker
    from embedlab.tracking.resume import ResumePoint

    tracker = MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="e", log_model=False)
    with pytest.raises(KeyboardInterrupt), tracker.run({"a": 1}, "first", tmp_path):
        raise KeyboardInterrupt("stopped by SIGINT")
    client = mlflow.MlflowClient(tracker.uri)
    run_id = tracker.run_id
    client.set_tag(run_id, "embedlab.failure_reason", "process 12 on h ended without closing the run")
    point = ResumePoint(run_id=run_id, run_dir=tmp_path, checkpoint=tmp_path / "checkpoint-1")
    with tracker.run({"a": 1}, "ignored", tmp_path, resume=point):
        pass
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert "embedlab.error" not in run.data.tags and "embedlab.failure_reason" not in run.data.tags
    assert run.data.tags["embedlab.resumed_after"] == (
        "stopped by SIGINT; process 12 on h ended without closing the run"
    )
    with pytest.raises(RuntimeError), tracker.run({"a": 1}, "ignored", tmp_path, resume=point):
        raise RuntimeError("out of memory")  # a resume that fails again: its own error, the earlier kept
    tags = client.get_run(run_id).data.tags
    assert tags["embedlab.error"] == "out of memory"
    assert tags["embedlab.resumed_after"].startswith("stopped by SIGINT;")
