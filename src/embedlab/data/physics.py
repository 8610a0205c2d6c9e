"""`dataset=physics`: NCERT class 11-12 physics, written for embedlab.

Folder layout (the bundled set, or your own via `dataset.path=`):
    pairs.jsonl    {"anchor": concept or question, "positive": explanation}
    corpus.jsonl   {"_id", "title", "text"}   textbook-style passages
    queries.jsonl  {"_id", "text"}            student questions
    qrels.tsv      query-id, corpus-id, score  (the gold passage of each question)

Training pairs are the concept pairs plus (question, gold passage). Rows are split by shared text, so a
question's gold passage never serves as a training positive when that question is evaluated.
"""

from __future__ import annotations

from pathlib import Path

from embedlab.data.bundle import DataBundle, Part, retrieval_splits
from embedlab.data.readers import clean_text, read_beir, read_rows, require_columns
from embedlab.data.splits import SPLITS, drop_exact_duplicates, split_by_components

BUNDLED = Path(__file__).parent / "bundled" / "physics"


def load_physics(
    name: str = "physics",
    path: str | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 42,
) -> DataBundle:
    folder = Path(path).expanduser() if path else BUNDLED
    pairs_file = folder / "pairs.jsonl"
    raw = read_rows(pairs_file)
    require_columns(raw, ["anchor", "positive"], str(pairs_file))
    rows = [
        {
            "anchor": clean_text(row["anchor"], str(pairs_file), i, "anchor"),
            "positive": clean_text(row["positive"], str(pairs_file), i, "positive"),
        }
        for i, row in enumerate(raw, start=1)
    ]
    corpus, queries, qrels = read_beir(folder, use_title=False)
    for query_id in sorted(qrels):
        for doc_id in sorted(qrels[query_id]):
            rows.append({"anchor": queries[query_id], "positive": corpus[doc_id], "query_id": query_id})

    rows = drop_exact_duplicates(rows, lambda r: (r["anchor"], r["positive"]))
    splits = split_by_components(rows, lambda r: (r["anchor"], r["positive"]), fractions, seed, "dataset")
    pairs = Part("pairs", {s: [{"anchor": r["anchor"], "positive": r["positive"]} for r in splits[s]] for s in SPLITS})
    bundle = DataBundle(name, str(folder), {"pairs": pairs}, corpus, retrieval_splits(splits, queries, qrels))
    bundle.check_disjoint()
    return bundle
