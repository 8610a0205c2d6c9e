"""Tiny data files in each real format: tables, a BEIR folder, and a Quora release TSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from embedlab_testing import QUORA_HEADER, quora_rows, write_tsv


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
