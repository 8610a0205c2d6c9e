"""`python -m train` end to end, as a user runs it: the MLflow record, the best checkpoint, the registry."""

from __future__ import annotations

import json

import pytest

from embedlab_testing import run_train_subprocess, runs, tiny_overrides, train_in


def metric_steps(uri: str, run_id: str, name: str) -> dict[int, float]:
    import mlflow

    history = mlflow.MlflowClient(uri).get_metric_history(run_id, name)
    return {m.step: m.value for m in history}


@pytest.fixture(scope="module")
def tiny_run(tiny_model_path, physics_folder, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny-run")
    result, uri = train_in(
        tmp,
        *tiny_overrides(tiny_model_path, physics_folder),
        "training.max_steps=4",  # evaluated at 0, 2, 4: a checkpoint that is not the last can be kept
        "training.eval_steps=2",
        "tracking.log_model=true",  # the registry's version is checked below
    )
    return result, uri, tmp / "run"


def test_run_is_finished_with_config_params_and_tags(tiny_run):
    result, uri, run_dir = tiny_run
    [run] = runs(uri, "physics")
    assert run.info.status == "FINISHED"
    assert run.data.params["training.batch_size"] == "8"
    assert run.data.params["loss.scale"] == "20"  # 20.0 in conf/loss/mnrl.yaml: numbers are written short
    assert run.data.tags["output_dir"] == str(run_dir)
    assert run.data.tags["git_commit"]
    assert "dataset.path=" in run.data.tags["command"]


def test_metrics_at_step_0_and_at_every_evaluation(tiny_run):
    _, uri, _ = tiny_run
    [run] = runs(uri, "physics")
    for name in ("val_loss", "ndcg_at_10", "mrr_at_10", "acc_at_1"):
        assert sorted(metric_steps(uri, run.info.run_id, name)) == [0, 2, 4], name
    assert run.data.metrics["kept_step"] in (2, 4)
    for name in ("test_ndcg_at_10", "test_mrr_at_10", "test_acc_at_1"):  # the kept model's, at its step
        assert sorted(metric_steps(uri, run.info.run_id, name)) == [0, run.data.metrics["kept_step"]], name


def test_best_checkpoint_is_lowest_val_loss_and_loads(tiny_run):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    result, uri, run_dir = tiny_run
    [run] = runs(uri, "physics")
    val_loss = metric_steps(uri, run.info.run_id, "val_loss")
    best_step = int(run.data.metrics["kept_step"])
    assert val_loss[best_step] == min(v for step, v in val_loss.items() if step > 0)
    assert run.data.metrics["kept_val_loss"] == pytest.approx(val_loss[best_step])
    model = SentenceTransformer(str(run_dir / "best"), device="cpu")
    assert model.encode(["a question"]).shape == (1, 32)
    assert f"best (step {best_step})" in result.stdout
    assert run.info.run_id in result.stdout


def test_a_finished_run_keeps_its_model_and_removes_its_resume_state(tiny_run):
    _, _, run_dir = tiny_run
    assert (run_dir / "best" / "model.safetensors").exists()
    assert not (run_dir / "checkpoints").exists()  # 2 x ~265 MB for MiniLM; training.keep_checkpoints=true keeps it


def test_artifacts_hold_config_overrides_and_fingerprint(tiny_run):
    import mlflow

    _, uri, _ = tiny_run
    [run] = runs(uri, "physics")
    client = mlflow.MlflowClient(uri)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "overrides.txt", "data_fingerprint.json"} <= names
    fingerprint = json.loads(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/data_fingerprint.json"))
    assert len(fingerprint["sha256"]) == 64
    assert fingerprint["rows"]["pairs"]["train"] > 0


def test_best_model_is_registered_and_loads(tiny_run):
    import mlflow

    _, uri, _ = tiny_run
    mlflow.set_tracking_uri(uri)
    [version] = mlflow.MlflowClient(uri).search_model_versions("name='embedlab-physics'")
    [run] = runs(uri, "physics")
    assert version.run_id == run.info.run_id
    model = mlflow.sentence_transformers.load_model(f"models:/embedlab-physics/{version.version}")
    assert model.encode(["x"]).shape == (1, 32)


@pytest.mark.slow
def test_default_experiment_with_the_packaged_minilm(tmp_path):
    """The real default command in its own process (MiniLM, bundled physics), capped at a few steps."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train_subprocess(
        "training.max_steps=3",
        "training.eval_steps=3",
        "training.batch_size=8",
        f"hydra.run.dir={tmp_path / 'run'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs(uri, "physics")
    assert run.info.status == "FINISHED"
    for name in ("val_loss", "ndcg_at_10", "acc_at_1"):
        assert sorted(metric_steps(uri, run.info.run_id, name)) == [0, 3]
    kept = int(run.data.metrics["kept_step"])  # 0 when no checkpoint beat the starting model
    assert sorted(metric_steps(uri, run.info.run_id, "test_ndcg_at_10")) == sorted({0, kept})
    mlflow.set_tracking_uri(uri)
    [logged] = mlflow.MlflowClient(uri).search_logged_models([run.info.experiment_id])
    assert logged.name.startswith("physics-mnrl_steps-3_")  # named after its run: dataset, loss, what changed
    model = mlflow.sentence_transformers.load_model(f"runs:/{run.info.run_id}/{logged.name}")
    assert model.encode(["Resonance"]).shape == (1, 384)
