"""`experiment=physics_two_phase` end to end with the tiny model: two linked runs, phase 2 from phase 1's best."""

from __future__ import annotations

import json

import pytest

from embedlab.phases.hard_negatives import resolve_init_from


@pytest.fixture(scope="module")
def two_phase(cli, tiny_model_path, physics_folder, tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-phase")
    result, uri = cli.train_in(
        folder,
        "experiment=physics_two_phase",
        *cli.tiny_chain_overrides(tiny_model_path, folder, physics_folder),
        "tracking.log_model=true",  # phase 1's logged model and registered version start phase 2 below
        run_dir="out",
    )
    by_name = {}
    for run in cli.runs(uri):
        by_name[run.data.tags.get("embedlab.stage", "parent")] = run
    return result, uri, by_name, folder


def test_two_runs_nested_under_the_chain(two_phase):
    _, _, runs, _ = two_phase
    assert set(runs) == {"parent", "phase1", "phase2"}
    parent = runs["parent"].info.run_id
    for stage in ("phase1", "phase2"):
        assert runs[stage].data.tags["mlflow.parentRunId"] == parent
        assert runs[stage].info.status == "FINISHED"
    assert runs["parent"].info.status == "FINISHED"
    assert runs["phase1"].data.tags["phase"] == "contrastive"
    assert runs["phase2"].data.tags["phase"] == "hard_negatives"


def test_phase2_records_the_run_and_checkpoint_it_started_from(two_phase):
    _, _, runs, folder = two_phase
    tags, params = runs["phase2"].data.tags, runs["phase2"].data.params
    assert tags["embedlab.init_from_run_id"] == runs["phase1"].info.run_id
    assert tags["embedlab.init_from_checkpoint"].startswith(str(folder / "out" / "phase1" / "checkpoints"))
    assert tags["embedlab.init_from_step"] == str(int(runs["phase1"].data.metrics["kept_step"]))
    assert params["phase.init_from"] == str(folder / "out" / "phase1" / "best")
    assert params["training.epochs"] == "3"  # the stage's own setting; phase 1 keeps the preset's 10
    assert runs["phase1"].data.params["training.epochs"] == "10"


def test_phase2_trains_on_mined_triplets_and_validates_on_them(two_phase):
    _, uri, runs, _ = two_phase
    import mlflow

    metrics = runs["phase2"].data.metrics
    assert metrics["mining_triplets"] > 0 and metrics["mining_cache_hit"] == 0
    assert {"triplet_acc", "acc_at_1", "ndcg_at_10", "mrr_at_10", "val_loss"} <= set(metrics)
    path = mlflow.artifacts.download_artifacts(
        run_id=runs["phase2"].info.run_id, artifact_path="hard_negatives/triplets.jsonl", tracking_uri=uri
    )
    rows = [json.loads(line) for line in open(path, encoding="utf-8")]
    assert len(rows) == metrics["mining_triplets"]


def test_base_phase1_phase2_in_one_table(two_phase):
    result, _, runs, _ = two_phase
    table = result.stdout[result.stdout.index("test split") :].splitlines()
    assert table[0].split() == ["test", "split", "base", "phase1", "phase2"]
    assert [line.split()[0] for line in table[1:4]] == ["test_ndcg_at_10", "test_mrr_at_10", "test_acc_at_1"]
    parent = runs["parent"].data.metrics
    assert {"base_test_acc_at_1", "phase1_test_acc_at_1", "phase2_test_acc_at_1"} <= set(parent)
    assert parent["phase2_test_acc_at_1"] == runs["phase2"].data.metrics["test_acc_at_1"]


def test_phase2_from_an_earlier_run(two_phase, cli, tiny_model_path, physics_folder):
    """`phase=hard_negatives phase.init_from=runs:/<id>/<model name>` starts from that run's logged model."""
    import mlflow

    _, uri, runs, folder = two_phase
    phase1 = runs["phase1"].info
    [model] = mlflow.MlflowClient(uri).search_logged_models(
        [phase1.experiment_id], filter_string=f"source_run_id = '{phase1.run_id}'"
    )
    assert model.name.startswith("physics-mnrl_"), model.name  # named after its run, not `best_model`
    source = f"runs:/{phase1.run_id}/{model.name}"
    result, _ = cli.train_in(
        folder,
        *cli.tiny_overrides(tiny_model_path, physics_folder),
        "phase=hard_negatives",
        f"phase.init_from={source}",
        "training.max_steps=1",
        "phase.relative_margin=null",
        f"phase.cache_dir={folder / 'cache'}",
        "tracking.experiment=from-run",
        run_dir="again",
    )
    # the same weights, data and settings as phase 2 of the chain: the mined triplets come from the cache
    assert "reusing cached triplets" in result.stdout
    (run,) = cli.runs(uri, "from-run")
    assert run.data.params["phase.init_from"] == source
    assert run.data.metrics["mining_cache_hit"] == 1.0


def test_the_chain_registers_its_last_stage_model_alone(two_phase):
    """Phase 1's model is logged (phase 2 starts from it) but is not a version: the chain's result is one version."""
    _, uri, runs, _ = two_phase
    import mlflow

    client = mlflow.MlflowClient(uri)
    [version] = client.search_model_versions("name='embedlab-physics'")
    assert version.tags["run_id"] == runs["phase2"].info.run_id
    assert runs["parent"].data.tags["registered_model"] == f"models:/embedlab-physics/{version.version}"
    assert client.search_logged_models(  # logged all the same
        [runs["phase1"].info.experiment_id], filter_string=f"source_run_id = '{runs['phase1'].info.run_id}'"
    )


def test_init_from_a_registered_model_version(two_phase):
    _, uri, runs, _ = two_phase
    import mlflow

    mlflow.set_tracking_uri(uri)  # as train() has done (tracker.connect) before it resolves phase.init_from
    resolved = resolve_init_from("models:/embedlab-physics/1")
    from sentence_transformers.sentence_transformer import SentenceTransformer

    assert SentenceTransformer(resolved["path"], device="cpu").get_embedding_dimension() == 32


def test_a_chain_without_a_test_split_says_so_instead_of_an_empty_table(tmp_path):
    from embedlab.phases.chain import chain_table
    from embedlab.run import RunResult
    from embedlab.training.checkpoint import BestCheckpoint

    def stage(name: str, test: dict[str, float]) -> RunResult:
        best = BestCheckpoint(step=16, val_loss=0.1, checkpoint=None, path=tmp_path / name / "best")
        return RunResult(objective=0.9, run_id=f"{name}-id", best=best, model_uri=None, test_start=test, test_best=test)

    lines = chain_table({"phase1": stage("phase1", {}), "phase2": stage("phase2", {})}).splitlines()
    assert lines[0] == "test split: none"
    assert lines[1:] == [f"{n} run: {n}-id  best: {tmp_path / n / 'best'}" for n in ("phase1", "phase2")]
    with_test = chain_table({"phase1": stage("phase1", {"test_ndcg_at_10": 0.5})})
    assert with_test.splitlines()[0].startswith("test split") and "0.5000" in with_test
