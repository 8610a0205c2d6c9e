"""bench/recipe.py: the held-out splits it carves from one qrels file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.recipe import carve, earlier_plain, spread, table, training_qrels

from embedlab.errors import UserError
from embedlab_testing import write_physics_folder


def qrels(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        query, doc, _ = line.split("\t")
        out.setdefault(query, set()).add(doc)
    return out


def test_each_seed_holds_out_a_fifth_of_the_queries_and_trains_on_the_rest(tmp_path):
    folder = write_physics_folder(tmp_path / "beir", copies=5)  # 30 queries in qrels.tsv
    given = qrels(training_qrels(folder))
    held_out = []
    for seed in range(3):
        view, n_train, n_test = carve(folder, seed, tmp_path / f"split{seed}")
        train, test = qrels(view / "qrels" / "train.tsv"), qrels(view / "qrels" / "test.tsv")
        assert (n_train, n_test) == (24, 6) == (len(train), len(test))
        assert not set(train) & set(test)
        assert {**train, **test} == given  # every query once, with all its relevant documents
        assert (view / "corpus.jsonl").read_text() == (folder / "corpus.jsonl").read_text()
        held_out.append(frozenset(test))
    assert len(set(held_out)) == 3  # another seed, another split


def test_the_spread_over_splits():
    assert spread([0.01, 0.03, -0.01]) == {"mean": 0.01, "sd": 0.02, "min": -0.01, "max": 0.03}


def test_rows_from_several_processes_make_one_table_with_the_mean_and_spread():
    rows = [
        {
            "seed": s,
            "test_queries": 177,
            "plain_ndcg_at_10": 0.90,
            "recipe_ndcg_at_10": 0.90 + g,
            "gain": g,
            "plain_wall_s": 250.0,
            "recipe_wall_s": 250.0 * r,
            "wall_ratio": r,
        }
        for s, g, r in ((1, 0.03, 1.5), (0, 0.01, 2.5))
    ]
    lines = table(rows).splitlines()
    assert lines[2].startswith("| 0 | 177 | - | - | 0.9000 | 0.9100 | +0.0100 | 250 | 625 | 2.50 |")  # by seed
    rows[0]["tfidf_ndcg_at_10"] = 0.95  # the lexical reference, where the row has it
    assert "| 1 | 177 | 0.9500 | - | 0.9000 |" in table(rows)
    assert "gain: mean +0.0200" in table(rows) and "wall_ratio: mean +2.0000" in table(rows)


def test_the_scored_model_is_the_last_stage_of_however_many_the_chain_has(tmp_path):
    from bench.quality import kept_model

    (tmp_path / ".hydra").mkdir()
    config = tmp_path / ".hydra" / "config.yaml"
    config.write_text("phase:\n  stages:\n    phase1: {}\n    phase2: {}\n    phase3: {}\n")
    assert kept_model(tmp_path) == tmp_path / "phase3" / "best"  # a third round, not phase2's model
    config.write_text("phase:\n  name: contrastive\n")
    assert kept_model(tmp_path) == tmp_path / "best"


def test_a_variant_takes_the_plain_side_of_the_same_split_of_the_same_data_from_earlier_rows(tmp_path):
    """`--plain-from`: the plain script's score and time of split k, from the earlier run of the same folder whose
    carve had the same counts; anything else is refused before a recipe trains."""
    data, other = tmp_path / "sciq", tmp_path / "scifact"
    for folder, seed, score in ((other, 3, 0.69), (data, 2, 0.94), (data, 3, 0.90)):
        row = {"seed": seed, "data": str(folder), "train_queries": 710, "test_queries": 177}
        row.update(plain_ndcg_at_10=score, plain_wall_s=250.0, recipe_ndcg_at_10=0.0)
        path = tmp_path / "rows" / folder.name / "recipe" / "20261207-030000" / f"split{seed}" / "row.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(row))
    found = earlier_plain(tmp_path / "rows", data, 3, 710, 177)
    assert (found["plain_ndcg_at_10"], found["plain_wall_s"]) == (0.90, 250.0)
    assert "/sciq/" in found["plain_from"] and found["plain_from"].endswith("split3/row.json")
    with pytest.raises(UserError, match="no split3/row.json of .* with 709 training"):
        earlier_plain(tmp_path / "rows", data, 3, 709, 178)  # another carve
    with pytest.raises(UserError, match="no split4/row.json"):
        earlier_plain(tmp_path / "rows", data, 4, 710, 177)
    rows = [{**found, "seed": 3, "test_queries": 177, "recipe_ndcg_at_10": 0.91, "gain": 0.01, "recipe_wall_s": 300.0}]
    rows[0]["wall_ratio"] = 1.2
    assert "| 250 ¹ |" in table(rows) and "--plain-from" in table(rows)  # the reused time is marked
