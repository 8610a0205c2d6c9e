"""DataBundle: what every `dataset=` option returns, checked and split before any model is loaded."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from embedlab.data.splits import SPLITS, check_disjoint

# Columns of each kind of training part, in the order the losses read them.
KIND_COLUMNS = {
    "pairs": ("anchor", "positive"),
    "triplets": ("anchor", "positive", "negative"),
    "scored_pairs": ("sentence1", "sentence2", "score"),
    "labeled_pairs": ("sentence1", "sentence2", "label"),
}
# Below this many queries an evaluation's ndcg@10 moves by more than 0.005 per query: `size_warning` says so.
MIN_EVALUATION_QUERIES = 200
# What a RetrievalEvaluator (k=10, as `evaluators` builds it) returns.
RETRIEVAL_METRICS = ("ndcg_at_10", "mrr_at_10", "acc_at_1")
TEXT_COLUMNS = {
    kind: tuple(c for c in columns if c not in ("score", "label")) for kind, columns in KIND_COLUMNS.items()
}


@dataclass
class Part:
    """One training part: rows of one kind, split into train / validation / test.

    Attributes:
        kind: one of KIND_COLUMNS.
        splits: split name -> rows.
        disjoint: the columns no split may share; None = every text column. A BEIR dataset's own splits share
            the corpus, so only their queries (``("anchor",)``) must be disjoint.
    """

    kind: str
    splits: dict[str, list[dict[str, Any]]]
    disjoint: tuple[str, ...] | None = None

    def texts(self, row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(row[column] for column in self.disjoint or TEXT_COLUMNS[self.kind])


@dataclass
class RetrievalSplit:
    queries: dict[str, str]
    relevant: dict[str, set[str]]


def retrieval_splits(
    splits: dict[str, list[dict[str, Any]]], queries: dict[str, str], relevant: dict[str, set[str]] | None = None
) -> dict[str, RetrievalSplit]:
    """Each split's retrieval set: the queries whose rows (those with a `query_id`) fell into that split.

    Args:
        splits: split name -> rows; a row of a query carries `query_id` (and `doc_id` when `relevant` is None).
        queries: query id -> text.
        relevant: query id -> its relevant doc ids, whatever split they fell into; None = the `doc_id`s of the
            query's rows in the same split.
    """
    result = {}
    for split in SPLITS:
        found: dict[str, set[str]] = {}
        for row in splits[split]:
            if "query_id" in row:
                docs = relevant[row["query_id"]] if relevant is not None else {row["doc_id"]}
                found.setdefault(row["query_id"], set()).update(docs)
        result[split] = RetrievalSplit({q: queries[q] for q in sorted(found)}, found)
    return result


@dataclass
class DataBundle:
    """A dataset ready for training: named parts, an optional retrieval corpus, and its provenance.

    Attributes:
        name: the dataset's name (also the default MLflow experiment).
        source: where the rows came from (bundled path, user file, hub id).
        parts: training parts by name; a loss config with several parts uses the same names.
        corpus: retrieval corpus (doc id -> text), shared by all splits.
        retrieval: retrieval queries and relevant docs per split; derived from `pairs` when absent.
        split_sources: split name -> ``"given"`` (the dataset's own split or a `validation_path` / `test_path`
            file) or ``"made"`` (dealt out by embedlab); logged as the param `dataset.splits_source`.
        validation_trains: the validation split's rows (and retrieval queries) also train
            (`dataset.train_on_validation`, `with_validation_training`): validation then measures fit.
    """

    name: str
    source: str
    parts: dict[str, Part]
    corpus: dict[str, str] = field(default_factory=dict)
    retrieval: dict[str, RetrievalSplit] = field(default_factory=dict)
    split_sources: dict[str, str] = field(default_factory=lambda: {split: "made" for split in SPLITS})
    validation_trains: bool = False

    def check_disjoint(self) -> None:
        """No text of a training part, or of a retrieval query, may sit in two splits (train and validation
        may share theirs when validation also trains, but test is apart from both)."""
        queries = {split: list(r.queries.values()) for split, r in self.retrieval.items()}
        checks = [(f"part '{name}'", part.splits, part.texts) for name, part in self.parts.items()]
        checks.append(("retrieval queries", queries, lambda text: (text,)))
        apart = [("validation",), ("train",)] if self.validation_trains else [()]
        for what, splits, texts in checks:
            for left_out in apart:
                kept = {split: rows for split, rows in splits.items() if split not in left_out}
                check_disjoint(kept, texts, f"dataset={self.name} {what}")

    def with_validation_training(self) -> DataBundle:
        """This bundle with the validation split's rows added to train, and its retrieval queries to the train
        queries (what mining mines for): the model learns from every labeled pair outside test, and validation,
        evaluated as before, then measures how well the model fits data it trained on, not held-out quality."""
        parts = {
            name: replace(part, splits={**part.splits, "train": part.splits["train"] + part.splits["validation"]})
            for name, part in self.parts.items()
        }
        retrieval = dict(self.retrieval)
        if "train" in retrieval and "validation" in retrieval:
            train, validation = retrieval["train"], retrieval["validation"]
            retrieval["train"] = RetrievalSplit(
                {**train.queries, **validation.queries}, {**train.relevant, **validation.relevant}
            )
        # test was apart from train and from validation (check_disjoint when the splits were made), so it is apart
        # from their union: nothing to check again
        return replace(self, parts=parts, retrieval=retrieval, validation_trains=True)

    def fingerprint(self) -> dict[str, Any]:
        """Content hash and row counts per split: what MLflow records about the data."""
        digest = hashlib.sha256()
        counts: dict[str, dict[str, int]] = {}
        for name in sorted(self.parts):
            part = self.parts[name]
            counts[name] = {split: len(part.splits[split]) for split in SPLITS}
            for split in SPLITS:
                for row in part.splits[split]:
                    digest.update(json.dumps([name, split, row], sort_keys=True).encode())
        for doc_id in sorted(self.corpus):
            digest.update(json.dumps(["corpus", doc_id, self.corpus[doc_id]]).encode())
        for split, r in sorted(self.retrieval.items()):
            counts.setdefault("retrieval_queries", {})[split] = len(r.queries)
            for query_id in sorted(r.queries):
                digest.update(json.dumps([split, query_id, r.queries[query_id], sorted(r.relevant[query_id])]).encode())
        if self.corpus:
            counts["corpus"] = {"all": len(self.corpus)}
        found = {"dataset": self.name, "source": self.source, "sha256": digest.hexdigest(), "rows": counts}
        return found | ({"validation_trains": True} if self.validation_trains else {})

    def evaluation_sizes(self) -> dict[str, tuple[int, str]]:
        """Per evaluation split: how many queries its retrieval evaluation ranks (else rows of its first part)."""
        sizes = {}
        for split in ("validation", "test"):
            retrieval = self.retrieval_split(split)
            if retrieval is not None:
                sizes[split] = (sum(1 for q in retrieval[1].queries if retrieval[1].relevant.get(q)), "queries")
            else:
                sizes[split] = (max((len(p.splits[split]) for p in self.parts.values()), default=0), "rows")
        return sizes

    def params(self) -> dict[str, Any]:
        """Where each split came from (`none`: the run has no such split) and how large each evaluation is: MLflow
        params of the run."""
        sizes = self.evaluation_sizes()
        sources = {s: "none" if s in sizes and not sizes[s][0] else self.split_sources[s] for s in SPLITS}
        if self.validation_trains and sources["validation"] != "none":
            sources["validation"] += "+trained"  # dataset.train_on_validation: it measures fit
        params: dict[str, Any] = {"dataset.splits_source": ",".join(f"{s}={sources[s]}" for s in SPLITS)}
        for split, (count, unit) in sizes.items():
            if count:
                params[f"eval.{split}_{unit}"] = count
        return params

    def size_warning(self, minimum: int = MIN_EVALUATION_QUERIES) -> str | None:
        """One line when validation or test is too small for its numbers to rank two models, else None."""
        sizes = self.evaluation_sizes()
        small = [f"{split} {n} {unit}" for split, (n, unit) in sizes.items() if 0 < n < minimum]
        if not small:
            return None
        fewest, unit = min((n, unit) for n, unit in sizes.values() if n > 0)
        moves = (  # a query's ndcg@10 is between 0 and 1; a row's share of a correlation has no such bound
            f"one query can move ndcg@10 by up to {1 / fewest:.3f}"
            if unit == "queries"
            else f"each score is measured on {fewest} rows"
        )
        where = " (or qrels/dev.tsv, qrels/test.tsv in a BEIR folder)" if unit == "queries" else ""
        return (
            f"warning: {' and '.join(small)} (fewer than {minimum}): {moves}, so small differences may be noise; "
            f"give more with dataset.validation_path= / dataset.test_path={where}"
        )

    def retrieval_split(self, split: str) -> tuple[dict[str, str], RetrievalSplit] | None:
        """Corpus and queries to rank for `split`; a pairs part stands in for a missing retrieval set."""
        if split in self.retrieval and self.retrieval[split].queries:
            return self.corpus, self.retrieval[split]
        pairs = next((p for p in self.parts.values() if p.kind in ("pairs", "triplets")), None)
        if pairs is None or not pairs.splits[split]:
            return None
        corpus, queries, relevant = {}, {}, {}
        doc_ids: dict[str, str] = {}
        for i, row in enumerate(pairs.splits[split]):
            doc_id = doc_ids.setdefault(row["positive"], f"d{len(doc_ids)}")
            corpus[doc_id] = row["positive"]
            query_id = f"q{i}"
            queries[query_id] = row["anchor"]
            relevant.setdefault(query_id, set()).add(doc_id)
        return corpus, RetrievalSplit(queries, relevant)

    def datasets(self, split: str, parts: list[str]):
        """Hugging Face Datasets of `parts` for `split`: one Dataset for a single part, else a dict by name."""
        from datasets import Dataset

        built = {
            name: Dataset.from_dict(
                {c: [row[c] for row in self.parts[name].splits[split]] for c in KIND_COLUMNS[self.parts[name].kind]}
            )
            for name in parts
            if self.parts[name].splits[split]
        }
        return next(iter(built.values())) if len(parts) == 1 and built else built

    def metric_names(self, split: str) -> list[str]:
        """The names of the metrics `evaluators(split)` return, known without building them (no torch)."""
        names = list(RETRIEVAL_METRICS) if self.retrieval_split(split) is not None else []
        kinds = {part.kind for part in self.parts.values() if part.splits[split]}
        if kinds & {"scored_pairs", "labeled_pairs"}:
            names.append("spearman")  # SimilarityEvaluator.metric
        if "triplets" in kinds:
            names.append("triplet_acc")  # TripletAccuracyEvaluator.metric
        return names

    def evaluators(self, split: str) -> list:
        """The evaluators this data supports on `split`: retrieval, scored pairs, triplets."""
        from embedlab.evaluation.retrieval import RetrievalEvaluator
        from embedlab.evaluation.similarity import SimilarityEvaluator
        from embedlab.evaluation.triplets import TripletAccuracyEvaluator

        evaluators = []
        retrieval = self.retrieval_split(split)
        if retrieval is not None:
            corpus, r = retrieval
            evaluators.append(RetrievalEvaluator(r.queries, corpus, r.relevant))
        for part in self.parts.values():
            rows = part.splits[split]
            if part.kind in ("scored_pairs", "labeled_pairs") and rows:
                score = "score" if part.kind == "scored_pairs" else "label"
                evaluators.append(
                    SimilarityEvaluator(
                        [r["sentence1"] for r in rows],
                        [r["sentence2"] for r in rows],
                        [r[score] for r in rows],
                    )
                )
            if part.kind == "triplets" and rows:
                evaluators.append(
                    TripletAccuracyEvaluator(
                        [r["anchor"] for r in rows],
                        [r["positive"] for r in rows],
                        [r["negative"] for r in rows],
                    )
                )
        return evaluators
