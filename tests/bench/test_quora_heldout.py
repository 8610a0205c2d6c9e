"""`python -m bench.quora_heldout`: held-out Quora questions the run never trains on, plus STS-B, per model."""

from __future__ import annotations

import json

from bench.quora_heldout import heldout_retrieval

from embedlab_testing import QUORA_HEADER, run_bench, write_tsv


def quora_rows(clusters: int = 60) -> list[list[str]]:
    """Release-layout rows: per topic two duplicate pairs and two near-miss non-duplicates, ids per question."""
    rows = []
    for k in range(clusters):
        a, b, c = (
            f"how do I learn topic {k}?",
            f"what is the best way to learn topic {k}?",
            f"learning topic {k}: tips?",
        )
        other = f"why is topic {k} hard to teach?"
        qid = {text: str(10 * k + i) for i, text in enumerate((a, b, c, other), start=1)}
        for first, second, label in ((a, b, 1), (a, c, 1), (b, other, 0), (c, other, 0)):
            rows.append([str(len(rows)), qid[first], qid[second], first, second, str(label)])
    return rows


def test_held_out_queries_and_docs_share_no_question_with_the_training_rows(tmp_path):
    tsv = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    corpus, queries, relevant, train_pairs = heldout_retrieval(tsv, pairs=None)
    trained = {text for pair in train_pairs for text in pair}
    assert queries and train_pairs
    assert not trained & set(queries.values())
    assert not trained & {corpus[d] for docs in relevant.values() for d in docs}


def test_every_question_adds_the_training_questions_as_distractors_only(tmp_path):
    tsv = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    held_out, queries, relevant, train_pairs = heldout_retrieval(tsv, pairs=None)
    every, same_queries, same_relevant, _ = heldout_retrieval(tsv, pairs=None, every_question=True)
    trained = {text for pair in train_pairs for text in pair}
    assert (same_queries, same_relevant) == (queries, relevant)
    assert set(every.items()) > set(held_out.items())
    assert trained <= set(every.values())
    assert not set(queries.values()) & set(every.values())  # a query is never its own distractor


def test_base_and_plain_scored_on_quora_and_stsb(tiny_model_path, tmp_path):
    tsv = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    stsb = tmp_path / "stsb.jsonl"
    pairs = [
        ("a cat sits", "a cat is sitting", 0.9),
        ("a dog runs", "stocks fell", 0.0),
        ("it rains", "rain falls", 0.7),
    ]
    stsb.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in pairs))
    data = ["--data", str(tsv), "--stsb", str(stsb)]
    result = run_bench(
        "bench.quora_heldout", *data, "--model", tiny_model_path, "--plain", "--out", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| base | " in result.stdout and "| plain | " in result.stdout
    report = json.loads(next((tmp_path / "out").glob("*/quora_heldout.json")).read_text())
    assert report["per_query"]["plain"]["wall_s"] > 0
    assert -1 <= report["per_query"]["base"]["stsb_dev_spearman"] <= 1
    reports = map(str, (tmp_path / "out").glob("*/quora_heldout.json"))
    merged = run_bench("bench.quora_heldout", *data, "--merge", *reports, "--names", "start", "mnrl")
    assert merged.returncode == 0, merged.stderr[-3000:]
    assert "| start | " in merged.stdout and "| mnrl | " in merged.stdout and "| base | " not in merged.stdout
