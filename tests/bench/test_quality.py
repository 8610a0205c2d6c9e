"""`python -m bench.quality`: sides trained on qrels/train.tsv, scored on qrels/test.tsv with bootstrap intervals;
`--score` scores models trained elsewhere."""

from __future__ import annotations

import json
import shutil

import numpy as np
from bench.quality import bootstrap, lexical_scores

from embedlab_testing import run_bench


def test_plain_script_against_the_base_model_on_a_held_out_split(tiny_model_path, physics_folder, tmp_path):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(physics_folder / name, folder / name)
    header, *lines = (physics_folder / "qrels.tsv").read_text().splitlines()
    (folder / "qrels" / "train.tsv").write_text("\n".join([header, *lines[:-8]]) + "\n")
    (folder / "qrels" / "test.tsv").write_text("\n".join([header, *lines[-8:]]) + "\n")
    command = ["--data", str(folder), "--model", tiny_model_path, "--sides", "base", "plain"]
    result = run_bench("bench.quality", *command, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "scored on: " in result.stdout and "8 queries" in result.stdout
    assert "| base | " in result.stdout and "| plain | " in result.stdout
    report = json.loads(next((tmp_path / "out").glob("*/quality.json")).read_text())
    assert set(report["per_query"]["plain"]["queries"]) == {line.split("\t")[0] for line in lines[-8:]}
    for side in ("base", "plain"):
        ndcg = report["summary"][side]["ndcg_at_10"]
        assert ndcg["ci95"][0] <= ndcg["mean"] <= ndcg["ci95"][1]
    assert "delta_ndcg_vs_plain" in report["summary"]["base"]

    # --score: models trained elsewhere, scored alone, the Δ column against the first one named
    plain_model = report["per_query"]["plain"]["model"]
    scored = run_bench(
        "bench.quality", "--data", str(folder), "--score", f"again={plain_model}", f"base={tiny_model_path}",
        "--out", str(tmp_path / "scored"),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stdout[-3000:] + scored.stderr[-3000:]
    assert "Δ ndcg@10 vs again" in scored.stdout
    rescored = json.loads(next((tmp_path / "scored").glob("*/quality.json")).read_text())
    assert rescored["summary"]["again"]["ndcg_at_10"] == report["summary"]["plain"]["ndcg_at_10"]
    base_delta = report["summary"]["base"]["ndcg_at_10"]["mean"] - report["summary"]["plain"]["ndcg_at_10"]["mean"]
    assert abs(rescored["summary"]["base"]["delta_ndcg_vs_again"]["mean"] - base_delta) < 1e-9


def test_the_lexical_reference_ranks_the_passage_sharing_the_query_words_first():
    corpus = {
        "d1": "Mitochondria are the powerhouse of the cell and make ATP.",
        "d2": "Photosynthesis in chloroplasts turns light into sugar.",
        "d3": "Tectonic plates move slowly over the mantle.",
        "q2": "Which organelle turns light into sugar?",  # a corpus entry with a query's id: skipped, not a hit
    }
    queries = {"q1": "What makes ATP in the cell?", "q2": "Which organelle turns light into sugar?"}
    relevant = {"q1": {"d1"}, "q2": {"d3"}}  # q2's gold shares none of its words
    scores = lexical_scores(corpus, queries, relevant)
    assert scores["q1"]["acc_at_1"] == 1.0 and scores["q1"]["ndcg_at_10"] == 1.0
    assert scores["q2"]["acc_at_1"] == 0.0 and 0 < scores["q2"]["ndcg_at_10"] < 1  # below d2, above nothing


def test_bootstrap_interval_narrows_with_more_queries():
    rng = np.random.default_rng(1)
    few, many = rng.random(20), rng.random(2000)
    (low_few, high_few), (low_many, high_many) = bootstrap(few), bootstrap(many)
    assert low_few < few.mean() < high_few and low_many < many.mean() < high_many
    assert high_many - low_many < (high_few - low_few) / 4


def test_the_embedlab_sides_train_on_a_view_without_the_held_out_split(physics_folder, tmp_path):
    from bench.quality import training_view

    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(physics_folder / name, folder / name)
    for name in ("train.tsv", "test.tsv"):
        shutil.copy(physics_folder / "qrels.tsv", folder / "qrels" / name)
    view = training_view(folder, tmp_path / "out")
    assert sorted(p.relative_to(view).as_posix() for p in view.rglob("*") if p.is_file()) == [
        "corpus.jsonl",
        "qrels/train.tsv",
        "queries.jsonl",
    ]


def test_a_slip_in_what_to_score_is_one_line(physics_folder, tmp_path):
    slips = {
        "nonsense": "is not NAME=MODEL",
        f"a={tmp_path / 'none'}": "is no folder",
        f"a={tmp_path}": "lacks qrels/dev.tsv",  # a real folder, but no such split
    }
    for argument, expected in slips.items():
        result = run_bench("bench.quality", "--data", str(physics_folder), "--split", "dev", "--score", argument)
        assert result.returncode == 2
        assert expected in result.stderr and "Traceback" not in result.stderr
