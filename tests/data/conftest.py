"""Tiny data files in each real format: tables, a BEIR folder, and a Quora release TSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

# Duplicate clusters as in the Quora release: three ways to ask one question, and a related question that
# is not a duplicate. Each cluster gets qids 10k+1 .. 10k+4.
QUORA_CLUSTERS = [
    (
        "How do I learn Python quickly?",
        "What is the fastest way to learn Python?",
        "How can I learn Python in a short time?",
        "Is Python harder to learn than Java?",
    ),
    (
        "What is the best way to lose weight?",
        "How can I lose weight fast?",
        "What should I do to reduce my weight?",
        "Why do people gain weight in winter?",
    ),
    (
        "How do I get a job at Google?",
        "What does it take to be hired by Google?",
        "How can I join Google as an engineer?",
        "What is it like to work at Microsoft?",
    ),
    (
        "Why is the sky blue?",
        "What makes the sky look blue?",
        "Why does the sky appear blue during the day?",
        "Why are sunsets red?",
    ),
    (
        "How can I improve my English speaking?",
        "What are ways to speak English fluently?",
        "How do I become fluent in spoken English?",
        "Which English novels should I read first?",
    ),
    (
        "What is the meaning of life?",
        "What is the purpose of human life?",
        "Why are we alive?",
        "What is the meaning of the word 'life' in biology?",
    ),
    (
        "How do I start a startup?",
        "What are the first steps to start a company?",
        "How should I begin building a startup?",
        "Why do most startups fail?",
    ),
    (
        "How does a black hole form?",
        "What causes black holes to form?",
        "How are black holes created?",
        "What is inside a black hole?",
    ),
]
QUORA_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]


def quora_rows() -> list[list[str]]:
    """Rows in the release layout: per cluster two duplicate pairs and two non-duplicate pairs."""
    rows = []
    for k, (a, b, c, other) in enumerate(QUORA_CLUSTERS):
        qid = {text: str(10 * k + i) for i, text in enumerate((a, b, c, other), start=1)}
        for first, second, label in ((a, b, 1), (a, c, 1), (b, other, 0), (c, other, 0)):
            rows.append([str(len(rows)), qid[first], qid[second], first, second, str(label)])
    return rows


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def quora_tsv(tmp_path) -> Path:
    """A Quora release TSV of 32 rows: 8 duplicate clusters of 3 questions, each with a non-duplicate."""
    return write_tsv(tmp_path / "quora_duplicate_questions.tsv", QUORA_HEADER, quora_rows())


@pytest.fixture
def write_table(tmp_path):
    """write_table(name, rows) -> path: rows written in the format of the name's extension."""

    def write(name: str, rows: list[dict]) -> Path:
        path = tmp_path / name
        suffix = path.suffix
        if suffix == ".jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        elif suffix == ".json":
            path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        elif suffix in (".csv", ".tsv"):
            with path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="," if suffix == ".csv" else "\t")
                writer.writeheader()
                writer.writerows(rows)
        elif suffix == ".parquet":
            import pandas as pd

            pd.DataFrame(rows).to_parquet(path)
        else:
            path.write_text("\n".join(map(str, rows)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def rows_of():
    """rows_of(kind, n) -> `n` distinct rows of `kind` with our column names."""
    return table_rows


def table_rows(kind: str, n: int = 20) -> list[dict]:
    rows = []
    for i in range(n):
        first, second, third = f"question number {i}", f"answer to question {i}", f"unrelated remark {i}"
        rows.append(
            {
                "pairs": {"anchor": first, "positive": second},
                "triplets": {"anchor": first, "positive": second, "negative": third},
                "scored_pairs": {"sentence1": first, "sentence2": second, "score": round(i / (n - 1), 3)},
                "labeled_pairs": {"sentence1": first, "sentence2": second, "label": i % 2},
            }[kind]
        )
    return rows


def write_beir(folder: Path, n: int = 10) -> Path:
    """A BEIR folder: n queries, each with one relevant doc, plus two distractor docs."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = [{"_id": f"d{i}", "title": f"Topic {i}", "text": f"Passage about topic {i}."} for i in range(n + 2)]
    queries = [{"_id": f"q{i}", "text": f"What does the passage say about topic {i}?"} for i in range(n)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    qrels = ["query-id\tcorpus-id\tscore", *(f"q{i}\td{i}\t1" for i in range(n))]
    (folder / "qrels.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def beir_folder(tmp_path) -> Path:
    return write_beir(tmp_path / "beir")
