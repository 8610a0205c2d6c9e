"""`dataset=quora`: Quora duplicate questions, split by question id so that no question leaks.

Sources, in this order:
    `path`  the original release, quora_duplicate_questions.tsv (id, qid1, qid2, question1, question2,
            is_duplicate), from https://qim.fs.quoracdn.net/quora_duplicate_questions.tsv
    `hub`   sentence-transformers/quora-duplicates: subset `pair` (duplicates) and `pair-class` (labeled),
            from the hub or the local datasets cache. It has no question ids; the text stands in for them.

Parts:
    pairs     (anchor, positive): duplicate questions, for MNRL.
    labeled   (sentence1, sentence2, label 0/1): duplicates and non-duplicates, for CosineSimilarityLoss.
    retrieval (validation, test): one question of each held-out duplicate cluster is the query, the rest of
              its cluster the relevant docs, ranked in a corpus of held-out questions.

Rows are split by connected components of question ids (and texts): a question in a training row is
never an evaluation query nor one of its relevant docs. Public Quora recipes leak here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedlab.data.bundle import DataBundle, Part, RetrievalSplit
from embedlab.data.readers import clean_label, read_hub, read_rows
from embedlab.data.splits import (
    SPLITS,
    connected_components,
    drop_exact_duplicates,
    split_by_components,
)
from embedlab.errors import UserError

HUB_ID = "sentence-transformers/quora-duplicates"
RELEASE_URL = "https://qim.fs.quoracdn.net/quora_duplicate_questions.tsv"
RELEASE_COLUMNS = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
HOW_TO_PROVIDE = (
    f"; expected the release's file: download {RELEASE_URL} and pass "
    "dataset.path=/path/to/quora_duplicate_questions.tsv"
)
EVAL_SPLITS = ("validation", "test")

log = logging.getLogger(__name__)


def load_quora(
    name: str = "quora",
    path: str | None = None,
    hub: str = HUB_ID,
    pairs: int | None = 6700,
    labeled: int | None = 18000,
    queries: int | None = 300,
    corpus: int | None = 5000,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 42,
) -> DataBundle:
    """Quora duplicates as positive pairs, labeled pairs and a held-out retrieval set.

    Args:
        name: the dataset's name.
        path: the release TSV; null reads `hub` instead.
        hub: the hub dataset id, read when `path` is null.
        pairs: positive pairs to train on (validation and test get their share by `fractions`); null = all.
        labeled: labeled pairs to train on, likewise.
        queries: retrieval queries per evaluation split; null = all held-out duplicate clusters.
        corpus: questions in the retrieval corpus (relevant docs first, then held-out distractors); null = all.
        fractions: train / validation / test shares of the rows.
        seed: seed of the split and of the samples.
    """
    if path:
        rows, source = _read_release(Path(path).expanduser()), str(Path(path).expanduser())
    else:
        rows, source = _read_hub(hub), f"hub:{hub}"
    rows = drop_exact_duplicates(rows, lambda r: tuple(sorted((r["text1"], r["text2"]))))
    splits = split_by_components(rows, _question_keys, fractions, seed, "dataset")

    positives = {s: [r for r in splits[s] if r["label"] == 1.0] for s in SPLITS}
    pair_rows = _sample_splits(positives, _sizes(pairs, fractions), f"{seed}-pairs")
    labeled_rows = _sample_splits(splits, _sizes(labeled, fractions), f"{seed}-labeled")
    parts = {
        "pairs": Part(
            "pairs", {s: [{"anchor": r["text1"], "positive": r["text2"]} for r in pair_rows[s]] for s in SPLITS}
        ),
        "labeled": Part(
            "labeled_pairs",
            {
                s: [{"sentence1": r["text1"], "sentence2": r["text2"], "label": r["label"]} for r in labeled_rows[s]]
                for s in SPLITS
            },
        ),
    }
    docs, retrieval = _retrieval_sets(splits, queries, corpus, seed)
    bundle = DataBundle(name, source, parts, docs, retrieval)
    bundle.check_disjoint()
    return bundle


def _read_release(path: Path) -> list[dict[str, Any]]:
    raw = read_rows(path)
    missing = [column for column in RELEASE_COLUMNS[1:] if column not in raw[0]]
    if missing:
        raise UserError(
            f"{path}: no column '{missing[0]}'; expected the Quora release layout ({', '.join(RELEASE_COLUMNS)})"
        )
    rows = []
    for number, row in enumerate(raw, start=1):
        label = clean_label(row["is_duplicate"], str(path), number, "is_duplicate")
        rows.append(_question_pair(row["qid1"], row["qid2"], row["question1"], row["question2"], label))
    return _drop_unusable(rows, str(path))


def _read_hub(hub: str) -> list[dict[str, Any]]:
    duplicates = read_hub(hub, "pair", "train", hint=HOW_TO_PROVIDE)
    labeled = read_hub(hub, "pair-class", "train", hint=HOW_TO_PROVIDE)
    rows = [_question_pair(None, None, r["anchor"], r["positive"], 1.0) for r in duplicates]
    for number, r in enumerate(labeled, start=1):
        label = clean_label(r["label"], f"{hub} (pair-class)", number, "label")
        rows.append(_question_pair(None, None, r["sentence1"], r["sentence2"], label))
    return _drop_unusable(rows, hub)


def _question_pair(qid1: Any, qid2: Any, text1: Any, text2: Any, label: float) -> dict[str, Any]:
    def clean(value: Any) -> str:
        return "" if value is None else str(value).strip()

    qids = [clean(q) or None for q in (qid1, qid2)]
    return {"qid1": qids[0], "qid2": qids[1], "text1": clean(text1), "text2": clean(text2), "label": label}


def _drop_unusable(rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Drop rows with an empty question (the release has a few) and pairs of a question with itself."""
    empty = sum(1 for r in rows if not r["text1"] or not r["text2"])
    if empty:
        log.warning("%s: skipped %d rows with an empty question", where, empty)
    kept = [r for r in rows if r["text1"] and r["text2"] and r["text1"] != r["text2"]]
    if not kept:
        raise UserError(f"{where}: no row has two different, non-empty questions; expected Quora question pairs")
    return kept


def _question_keys(row: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies the row's two questions: their ids (when known) and their texts."""
    ids = tuple(("qid", q) for q in (row["qid1"], row["qid2"]) if q is not None)
    return (*ids, row["text1"], row["text2"])


def _sizes(train_size: int | None, fractions: Sequence[float]) -> dict[str, int | None]:
    """Rows per split: `train_size` for train, and the evaluation splits' share of it by `fractions`."""
    if train_size is None or fractions[0] == 0:
        return {s: train_size for s in SPLITS}
    return {s: round(train_size * f / fractions[0]) for s, f in zip(SPLITS, fractions)}


def _sample(rows: list[Any], size: int | None, rng: random.Random) -> list[Any]:
    if size is None or len(rows) <= size:
        return rows
    return [rows[i] for i in sorted(rng.sample(range(len(rows)), size))]


def _sample_splits(splits: dict[str, list[Any]], sizes: dict[str, int | None], seed: str) -> dict[str, list[Any]]:
    rng = random.Random(seed)
    return {s: _sample(splits[s], sizes[s], rng) for s in SPLITS}


def _retrieval_sets(
    splits: dict[str, list[dict[str, Any]]], queries: int | None, corpus: int | None, seed: int
) -> tuple[dict[str, str], dict[str, RetrievalSplit]]:
    """Held-out queries with their duplicates as relevant docs, and one corpus of held-out questions."""
    rng = random.Random(f"{seed}-retrieval")
    ids = _question_ids([r for s in EVAL_SPLITS for r in splits[s]])  # only held-out questions need ids
    docs: dict[str, str] = {}
    retrieval: dict[str, RetrievalSplit] = {}
    for split in EVAL_SPLITS:
        positives = [r for r in splits[split] if r["label"] == 1.0]
        clusters = [
            sorted({t for i in members for t in (positives[i]["text1"], positives[i]["text2"])})
            for members in connected_components(positives, _question_keys)
        ]
        chosen: dict[str, str] = {}
        relevant: dict[str, set[str]] = {}
        for cluster in _sample(clusters, queries, rng):
            query = rng.choice(cluster)
            chosen[ids[query]] = query
            relevant[ids[query]] = {ids[text] for text in cluster if text != query}
            docs.update({ids[text]: text for text in cluster if text != query})
        retrieval[split] = RetrievalSplit(chosen, relevant)
    asked = {text for r in retrieval.values() for text in r.queries.values()}
    held_out = sorted({t for s in EVAL_SPLITS for r in splits[s] for t in (r["text1"], r["text2"])} - asked)
    distractors = [t for t in held_out if ids[t] not in docs]
    room = None if corpus is None else max(corpus - len(docs), 0)
    docs.update({ids[text]: text for text in _sample(distractors, room, rng)})
    return docs, retrieval


def _question_ids(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Question text -> id: `q<qid>` from the release, else `h<n>` in order of appearance."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for row in rows:
        for qid, text in ((row["qid1"], row["text1"]), (row["qid2"], row["text2"])):
            if text not in ids:
                key = f"q{qid}" if qid is not None and f"q{qid}" not in used else f"h{len(ids)}"
                ids[text] = key
                used.add(key)
    return ids
