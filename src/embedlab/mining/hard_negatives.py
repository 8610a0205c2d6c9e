"""Mine hard negatives for (query, positive) pairs from a corpus.

This follows sentence-transformers' `mine_hard_negatives` (`sentence_transformers.util.hard_negatives`, 6.3)
step for step, so that with the same model, data and settings both pick the same negatives. We do not call it
because we need three things it does not give:

- the time of each step (encoding, search, re-ranking and filtering), returned rather than printed;
- the statistics (candidates considered, skipped by each filter, queries short of negatives) as values;
- an exact float32 FAISS index on the GPU (the library's is float16), so GPU and CPU give the same result.

The steps, as in the library: the corpus is the given passages plus every positive, de-duplicated; queries
are de-duplicated and a query's positives are all its pairs' positives; the `range_max + max_positives + 1`
nearest passages are the candidates (the one extra leaves room for the query's own text); positives and the
query's own text are removed; a cross-encoder, when given, re-scores the candidates and the positives; the
margin and `max_score` filters remove likely false negatives; of the candidates left, best first, ranks
`range_min` to `range_max` are the window and its first `num_negatives` are the negatives.

sentence-transformers 6.2 searched `range_max + max_positives` candidates, kept a query's own text, and used
the cross-encoder only when a margin or score filter was also set; docs/phases.md says what that changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from embedlab.evaluation.encoding import encode_documents
from embedlab.mining.search import search, uses_gpu


class Reranker(Protocol):
    def predict(self, pairs: list[tuple[str, str]], batch_size: int = ..., **kwargs: Any) -> Any: ...


@dataclass
class MinedNegatives:
    """What mining produced.

    Attributes:
        triplets: rows {"anchor", "positive", "negative", "positive_score", "negative_score"}, one per
            (query, positive, negative), in query order, best negative first.
        stats: counts and mean scores (see `mine_hard_negatives`).
        timings: seconds per step: encode_s, search_s, rerank_s, filter_s, total_s.
    """

    triplets: list[dict[str, Any]]
    stats: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def mine_hard_negatives(
    model,
    pairs: Sequence[tuple[str, str]],
    corpus: Sequence[str],
    num_negatives: int = 1,
    range_min: int = 0,
    range_max: int = 20,
    relative_margin: float | None = None,
    absolute_margin: float | None = None,
    max_score: float | None = None,
    reranker: Reranker | None = None,
    batch_size: int = 32,
    rerank_batch_size: int = 32,
    use_gpu: bool | None = None,
    encode_passages: Callable[[list[str]], np.ndarray] | None = None,
    fill_short: str | None = None,
    seed: int = 0,
) -> MinedNegatives:
    """Find `num_negatives` hard negatives for each query of `pairs` among `corpus`.

    Args:
        model: a SentenceTransformer; encodes queries with `encode_query` and passages with `encode_document`.
        pairs: (query, positive passage) pairs; a query with several positives appears in several pairs.
        corpus: candidate passages (the positives are added).
        num_negatives: negatives per query; the window `range_min`..`range_max` holds them (checked where the
            config is composed: `embedlab.schema.check_window`).
        range_min: skip this many of the best candidates left after filtering.
        range_max: consider at most this many candidates (after removing the positives and the query's text).
        relative_margin: drop a candidate scoring above `pos - |pos| * relative_margin`.
        absolute_margin: drop a candidate scoring above `pos - absolute_margin`.
        max_score: drop a candidate scoring above this.
        reranker: a cross-encoder (`predict(pairs)`); when given, its scores replace the embedding scores
            for the candidates and the positives, and the filters and the order use them.
        batch_size: encoding batch size.
        rerank_batch_size: cross-encoder batch size.
        use_gpu: FAISS on the GPU; None = when faiss-gpu and CUDA are present.
        encode_passages: encodes the passages (the corpus plus the positives, de-duplicated) as
            `embedlab.evaluation.encoding.encode_documents(model, passages, batch_size)` does, e.g. from an
            encoding already made (embedlab.phases.shared_work); None = that call.
        fill_short: None = a query with fewer negatives than asked keeps what it has (with none, its pairs are
            not trained on); "random" = its missing negatives are seeded random passages (not its positives,
            not its own text), so every labeled pair still trains, with an easy negative where the window held
            no safe hard one.
        seed: the seed of those random passages.

    Returns:
        MinedNegatives. `stats` has: queries, corpus, candidates_considered, skipped_absolute_margin,
        skipped_relative_margin, skipped_max_score, queries_short (fewer hard negatives than asked),
        queries_without_negatives (no hard negative), random_negatives (filled by `fill_short`), triplets, mean_positive_score, mean_negative_score, reranked,
        search_on_gpu.
    """
    start = time.perf_counter()
    passages = list(dict.fromkeys([*corpus, *(positive for _, positive in pairs)]))
    position = {text: i for i, text in enumerate(passages)}
    queries = list(dict.fromkeys(query for query, _ in pairs))
    positives: dict[str, list[int]] = {query: [] for query in queries}
    for query, positive in pairs:
        if position[positive] not in positives[query]:
            positives[query].append(position[positive])
    max_positives = max(len(p) for p in positives.values())

    if encode_passages is None:
        corpus_embeddings = encode_documents(model, passages, batch_size, show_progress_bar=False)
    else:
        corpus_embeddings = encode_passages(passages)
    query_embeddings = model.encode_query(
        queries, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    encoded = time.perf_counter()
    k = range_max + max_positives + 1  # + 1: room for the query's own text, removed below
    on_gpu = uses_gpu(k, len(passages), use_gpu)  # decided once: searched with it, and recorded in stats
    scores, indices = search(corpus_embeddings, query_embeddings, k, use_gpu=on_gpu)
    scores = scores.astype(np.float64)
    positive_scores = [
        [float(query_embeddings[q] @ corpus_embeddings[p]) for p in positives[query]] for q, query in enumerate(queries)
    ]
    searched = time.perf_counter()
    if reranker is not None:
        scores, positive_scores = rerank(reranker, queries, passages, indices, positives, rerank_batch_size)
    reranked = time.perf_counter()

    is_positive = np.array([[i in positives[query] for i in row] for query, row in zip(queries, indices)])
    is_query = indices == np.array([position.get(query, -1) for query in queries])[:, None]
    scores[is_positive | is_query | (indices < 0)] = -np.inf
    considered = int(np.isfinite(scores).sum())
    hardest_positive = np.array([min(s) for s in positive_scores])[:, None]
    skipped = {}
    if absolute_margin is not None:
        skipped["absolute_margin"] = drop(scores, scores + absolute_margin > hardest_positive)
    if relative_margin is not None:
        skipped["relative_margin"] = drop(
            scores, scores > hardest_positive - np.abs(hardest_positive) * relative_margin
        )
    if max_score is not None:
        skipped["max_score"] = drop(scores, scores > max_score)

    order = np.argsort(-scores, axis=1, kind="stable")[:, :range_max][:, range_min : range_min + num_negatives]
    triplets, found, filled = [], [], 0
    rng = np.random.default_rng(seed)
    for q, query in enumerate(queries):
        chosen = [(int(indices[q, i]), float(scores[q, i])) for i in order[q] if np.isfinite(scores[q, i])]
        found.append(len(chosen))
        if fill_short == "random" and len(chosen) < num_negatives:
            extra = random_passages(rng, len(passages), {*positives[query], position.get(query, -1), *dict(chosen)})
            chosen += [
                (p, float(query_embeddings[q] @ corpus_embeddings[p])) for p in extra[: num_negatives - len(chosen)]
            ]
            filled += num_negatives - found[-1]
        for p, positive_score in zip(positives[query], positive_scores[q]):
            triplets += [
                {
                    "anchor": query,
                    "positive": passages[p],
                    "negative": passages[negative],
                    "positive_score": positive_score,
                    "negative_score": negative_score,
                }
                for negative, negative_score in chosen
            ]
    done = time.perf_counter()

    stats = {
        "queries": len(queries),
        "corpus": len(passages),
        "candidates_considered": considered,
        **{f"skipped_{name}": skipped.get(name, 0) for name in ("absolute_margin", "relative_margin", "max_score")},
        "queries_short": sum(n < num_negatives for n in found),
        "queries_without_negatives": sum(n == 0 for n in found),
        "random_negatives": filled,
        "triplets": len(triplets),
        "mean_positive_score": float(np.mean([s for row in positive_scores for s in row])),
        "mean_negative_score": float(np.mean([t["negative_score"] for t in triplets])) if triplets else float("nan"),
        "reranked": reranker is not None,
        "search_on_gpu": on_gpu,  # faiss-gpu and a CUDA device present, and k within what GPU indexes return
    }
    timings = {
        "encode_s": encoded - start,
        "search_s": searched - encoded,
        "rerank_s": reranked - searched,
        "filter_s": done - reranked,
        "total_s": done - start,
    }
    return MinedNegatives(triplets, stats, timings)


def random_passages(rng: np.random.Generator, count: int, excluded: set[int]) -> list[int]:
    """Passage indices in a seeded random order, without `excluded` (a query's positives and its own text)."""
    return [int(i) for i in rng.permutation(count) if int(i) not in excluded]


def drop(scores: np.ndarray, mask: np.ndarray) -> int:
    """Set the still-valid candidates under `mask` to -inf; returns how many that was."""
    mask &= np.isfinite(scores)
    scores[mask] = -np.inf
    return int(mask.sum())


def rerank(
    reranker: Reranker,
    queries: list[str],
    passages: list[str],
    indices: np.ndarray,
    positives: dict[str, list[int]],
    batch_size: int,
) -> tuple[np.ndarray, list[list[float]]]:
    """Cross-encoder scores for every (query, candidate) and every (query, positive), in one batched call."""
    candidates = [(q, j, int(i)) for q, row in enumerate(indices) for j, i in enumerate(row) if i >= 0]
    gold = [(q, p) for q, query in enumerate(queries) for p in positives[query]]
    texts = [(queries[q], passages[i]) for q, _, i in candidates] + [(queries[q], passages[p]) for q, p in gold]
    predicted = np.asarray(reranker.predict(texts, batch_size=batch_size, show_progress_bar=False), dtype=np.float64)
    scores = np.full(indices.shape, -np.inf)
    for (q, j, _), score in zip(candidates, predicted[: len(candidates)]):
        scores[q, j] = score
    positive_scores: list[list[float]] = [[] for _ in queries]
    for (q, _), score in zip(gold, predicted[len(candidates) :]):
        positive_scores[q].append(float(score))
    return scores, positive_scores
