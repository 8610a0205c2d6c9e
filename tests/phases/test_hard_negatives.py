"""phase=hard_negatives: the cache, the triplet split, and errors that come before any encoding."""

from __future__ import annotations

import json
import logging
import shutil
import sys

import pytest

from embedlab.config import build
from embedlab.data.physics import load_physics
from embedlab.errors import UserError
from embedlab.phases import StartingModel


@pytest.fixture
def phase_config(compose_config):
    """`phase_config(*overrides)`: the composed config of `phase=hard_negatives` with `overrides`."""
    return lambda *overrides: compose_config("phase=hard_negatives", *overrides)


@pytest.fixture
def tiny_model(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    return SentenceTransformer(tiny_model_path, device="cpu")


@pytest.fixture
def make_phase(phase_config):
    """`make_phase(cache_dir, **settings)`: the phase built from its config (no margin), with `settings` set."""

    def make(cache_dir, **settings):
        cfg = phase_config(f"phase.cache_dir={cache_dir}", "phase.relative_margin=null")
        phase = build(cfg.phase, where="phase")
        for key, value in settings.items():
            setattr(phase, key, value)
        return phase

    return make


def test_cache_hits_on_the_second_run_and_misses_after_the_corpus_changes(
    tiny_model, physics_folder, tmp_path, tracker, caplog, cli, make_phase
):
    caplog.set_level(logging.INFO, logger="embedlab")  # the console shows embedlab's INFO and up (train.log too)
    phase = make_phase(tmp_path / "cache")
    data = load_physics(path=str(physics_folder))
    first = phase.prepare(data, tiny_model, StartingModel(), tracker, tmp_path)
    assert tracker.metrics["mining_cache_hit"] == 0.0
    assert "mined now" in caplog.text
    caplog.clear()

    second = phase.prepare(load_physics(path=str(physics_folder)), tiny_model, StartingModel(), tracker, tmp_path)
    assert tracker.metrics["mining_cache_hit"] == 1.0
    assert "reusing cached triplets" in caplog.text
    assert second.parts["hard_negatives"].splits == first.parts["hard_negatives"].splits

    changed = tmp_path / "physics-changed"
    shutil.copytree(physics_folder, changed)
    corpus = [json.loads(line) for line in (changed / "corpus.jsonl").read_text().splitlines()]
    corpus[0]["text"] += " Edited."
    cli.write_jsonl(changed / "corpus.jsonl", corpus)
    phase.prepare(load_physics(path=str(changed)), tiny_model, StartingModel(), tracker, tmp_path)
    assert tracker.metrics["mining_cache_hit"] == 0.0
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2


def test_phase2_validates_on_the_datasets_held_out_queries(tiny_model, physics_folder, tmp_path, tracker, make_phase):
    data = load_physics(path=str(physics_folder))
    mined = make_phase(tmp_path / "cache", num_negatives=2, range_max=5).prepare(
        data, tiny_model, StartingModel(), tracker, tmp_path
    )

    part = mined.parts["hard_negatives"]
    assert part.kind == "triplets"
    train, validation = part.splits["train"], part.splits["validation"]
    assert validation and not part.splits["test"]
    assert len(train) + len(validation) == tracker.metrics["mining_triplets"]
    # phase 1 trained on the training split's pairs; phase 2 trains on its queries' triplets only, and
    # validates on the validation split's queries, which neither phase trained on
    phase1_train = {text for row in data.parts["pairs"].splits["train"] for text in (row["anchor"], row["positive"])}
    assert {r["anchor"] for r in train} <= set(data.retrieval["train"].queries.values())
    assert {r["anchor"] for r in validation} == set(data.retrieval["validation"].queries.values())
    assert not {r["anchor"] for r in validation} & (phase1_train | {r["anchor"] for r in train})
    assert mined.retrieval["validation"] is data.retrieval["validation"]
    assert mined.retrieval["test"] is data.retrieval["test"]
    assert mined.corpus == data.corpus
    assert [type(e).__name__ for e in mined.evaluators("validation")] == [
        "RetrievalEvaluator",
        "TripletAccuracyEvaluator",
    ]
    logged = tracker.artifacts["hard_negatives/triplets.jsonl"].splitlines()
    assert len(logged) == tracker.metrics["mining_triplets"]
    assert set(json.loads(logged[0])) == {"anchor", "positive", "negative", "positive_score", "negative_score"}
    stats = tracker.artifacts["hard_negatives/stats.json"]["stats"]
    assert {"candidates_considered", "skipped_relative_margin", "queries_short", "mean_negative_score"} <= set(stats)
    assert stats["search_on_gpu"] is False  # CPU: no faiss-gpu build, no CUDA device


@pytest.mark.parametrize("negatives", ["rows", "batches"])
def test_with_train_on_validation_the_validation_queries_train_and_still_validate(
    negatives, tiny_model, physics_folder, tmp_path, tracker, make_phase
):
    """`dataset.train_on_validation` (the recipe's last round): mining mines for the validation queries as
    training queries, and they keep their place in validation; test queries never train."""
    data = load_physics(path=str(physics_folder)).with_validation_training()
    phase = make_phase(tmp_path / "cache", num_negatives=2, range_max=5, negatives=negatives)
    part = phase.prepare(data, tiny_model, StartingModel(), tracker, tmp_path).parts["hard_negatives"]
    validation = set(data.retrieval["validation"].queries.values())
    trained = {row["anchor"] for row in part.splits["train"]}
    assert validation <= trained and validation == {row["anchor"] for row in part.splits["validation"]}
    assert not trained & set(data.retrieval["test"].queries.values()) and not part.splits["test"]


def test_a_missing_reranker_path_is_one_line_when_the_config_is_built(phase_config):
    cfg = phase_config("phase.reranker.model=/no/such/cross-encoder")
    with pytest.raises(UserError, match=r"phase.reranker.model=/no/such/cross-encoder does not exist"):
        build(cfg.phase, where="phase")


def test_a_missing_reranker_path_fails_the_command_before_any_encoding(
    tiny_model_path, physics_folder, mlflow_uri, cli, tmp_path
):
    result = cli.run_train(
        "phase=hard_negatives",
        "phase.reranker.model=./no/such/cross-encoder",
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "hardware=cpu",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: phase.reranker.model=./no/such/cross-encoder does not exist or is not a model folder "
        "(expected config.json inside); give a cross-encoder folder, a hub id, or null"
    ]
    assert cli.runs(mlflow_uri) == []  # nothing was started, so nothing was encoded


def test_a_window_that_cannot_hold_the_negatives_is_one_line_before_the_phase_is_built(phase_config):
    from embedlab.schema import check_config

    cfg = phase_config("phase.num_negatives=3", "phase.range_min=18")
    with pytest.raises(UserError, match="num_negatives=3 does not fit the window phase.range_min=18, range_max=20"):
        check_config(cfg)  # the schema's rule; the phase trusts it


def test_without_faiss_the_phase_fails_when_built_naming_the_extras_to_install(monkeypatch, phase_config):
    monkeypatch.setitem(sys.modules, "faiss", None)  # what `import faiss` meets where neither extra is installed
    cfg = phase_config()
    with pytest.raises(UserError, match=r"FAISS cannot be imported .*pip install -e '\.\[cpu\]', or '\.\[gpu\]'"):
        build(cfg.phase, where="phase")


def test_mine_with_mines_with_that_model_and_keys_the_cache_by_its_weights(
    tiny_model, tiny_model_path, physics_folder, tmp_path, tracker, phase_config, make_phase
):
    import copy

    import torch

    data = load_physics(path=str(physics_folder))
    make_phase(tmp_path / "own").prepare(data, tiny_model, StartingModel(), tracker, tmp_path)
    by_the_tiny_model = tracker.artifacts["hard_negatives/triplets.jsonl"]

    trained = copy.deepcopy(tiny_model)  # stands in for phase 1's model: other weights, other negatives
    torch.manual_seed(0)
    with torch.no_grad():
        for weights in trained.parameters():
            weights.add_(torch.randn_like(weights) * 0.5)
    make_phase(tmp_path / "trained").prepare(data, trained, StartingModel(), tracker, tmp_path)
    assert tracker.artifacts["hard_negatives/triplets.jsonl"] != by_the_tiny_model

    cfg = phase_config(f"phase.cache_dir={tmp_path / 'trained'}", "phase.relative_margin=null")
    cfg.phase.mine_with = tiny_model_path
    build(cfg.phase, where="phase").prepare(data, trained, StartingModel(), tracker, tmp_path)
    assert tracker.metrics["mining_cache_hit"] == 0.0  # the key is the mining model's weights, not the phase's
    assert tracker.artifacts["hard_negatives/triplets.jsonl"] == by_the_tiny_model
    assert tracker.artifacts["mine_with.json"]["path"] == tiny_model_path


def test_a_missing_mine_with_folder_is_one_line_when_the_config_is_built(phase_config):
    cfg = phase_config("phase.mine_with=/no/such/model")
    with pytest.raises(UserError, match=r"^phase.mine_with=/no/such/model is not a folder; expected a model folder"):
        build(cfg.phase, where="phase")


def test_a_mine_with_folder_that_holds_no_model_is_one_line_when_the_config_is_built(tmp_path, phase_config):
    cfg = phase_config(f"phase.mine_with={tmp_path}")
    with pytest.raises(UserError, match=r"^phase.mine_with=.* does not exist or is not a model folder"):
        build(cfg.phase, where="phase")


def test_without_init_from_the_phase_keeps_the_configured_model(tmp_path, make_phase):
    assert make_phase(tmp_path / "cache").starting_model() == StartingModel()


def test_a_local_init_from_is_the_models_path_and_what_the_run_records(tiny_model_path, tmp_path, make_phase):
    phase = make_phase(tmp_path / "cache", init_from=tiny_model_path)
    start = phase.starting_model()
    assert start.overrides == {"name_or_path": tiny_model_path}
    assert start.source == {"init_from": tiny_model_path, "path": tiny_model_path}


def test_prepare_records_the_start_it_is_given(
    tiny_model, tiny_model_path, physics_folder, tmp_path, tracker, make_phase
):
    """What prepare logs comes from its argument: no earlier call on the phase has to have set anything."""
    start = StartingModel({"name_or_path": tiny_model_path}, {"init_from": "runs:/abc/best_model", "path": "x"})
    data = load_physics(path=str(physics_folder))
    make_phase(tmp_path / "cache").prepare(data, tiny_model, start, tracker, tmp_path)
    assert tracker.artifacts["init_from.json"] == start.source
    [cached] = (tmp_path / "cache").glob("*.json")
    assert json.loads(cached.read_text())["started_from"] == start.source

    make_phase(tmp_path / "other").prepare(data, tiny_model, StartingModel(), tracker.__class__(), tmp_path)
    [cached] = (tmp_path / "other").glob("*.json")
    assert json.loads(cached.read_text())["started_from"] == {}
