"""`experiment=retrieval` on a BEIR folder with its own splits: one command, two phases, held-out validation."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="module")
def beir_with_splits(physics_folder, tmp_path_factory):
    """The physics-shaped retrieval set as a BEIR folder with qrels/{train,dev,test}.tsv (no pairs.jsonl)."""
    folder = tmp_path_factory.mktemp("beir-splits")
    for name in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(physics_folder / name, folder / name)
    header, *lines = (physics_folder / "qrels.tsv").read_text().splitlines()
    (folder / "qrels").mkdir()
    for name, chunk in (
        ("train", lines[: len(lines) // 2]),
        ("dev", lines[len(lines) // 2 : -6]),
        ("test", lines[-6:]),
    ):
        (folder / "qrels" / f"{name}.tsv").write_text("\n".join([header, *chunk]) + "\n")
    return folder, {
        name: [line.split("\t")[0] for line in chunk] for name, chunk in (("dev", lines[len(lines) // 2 : -6]),)
    }


@pytest.fixture(scope="module")
def recipe(cli, tiny_model_path, beir_with_splits, tmp_path_factory):
    folder, _ = beir_with_splits
    out = tmp_path_factory.mktemp("recipe")
    result, uri = cli.train_in(out, "experiment=retrieval", *cli.tiny_chain_overrides(tiny_model_path, out, folder))
    return result, {run.data.tags.get("embedlab.stage", "parent"): run for run in cli.runs(uri)}


def test_both_phases_use_the_folders_own_splits_and_say_so(recipe, beir_with_splits):
    result, runs = recipe
    assert set(runs) == {"parent", "phase1", "phase2"}
    for stage in ("phase1", "phase2"):
        params = runs[stage].data.params
        assert params["dataset.splits_source"] == "train=given,validation=given,test=given"
        assert params["eval.test_queries"] == "6"
        assert params["eval.validation_queries"] == str(len(beir_with_splits[1]["dev"]))
        assert runs[stage].info.status == "FINISHED"
    assert "warning: validation" in result.stdout and "(fewer than 200)" in result.stdout


def test_phase2_mines_with_phase1s_model_and_validates_on_dev(recipe):
    _, runs = recipe
    phase2 = runs["phase2"]
    assert phase2.data.params["phase.init_from"].endswith("phase1/best")
    assert phase2.data.params["phase.num_negatives"] == "3"  # the recipe's choice (bench/README.md)
    assert phase2.data.metrics["mining_triplets"] > phase2.data.metrics["mining_queries"]  # more than 1 a query
    assert {"val_loss", "ndcg_at_10", "triplet_acc"} <= set(phase2.data.metrics)
