"""mine_hard_negatives: the window, the false-negative filters, the re-ranker, and agreement with sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest
from bench.library_faiss import library_faiss_is_exact

from embedlab.mining.hard_negatives import mine_hard_negatives


def negatives(mined) -> list[str]:
    return [t["negative"] for t in mined.triplets]


def test_takes_the_best_candidates_in_the_window(planted):
    model, pairs, corpus = planted
    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_min=1, range_max=5)
    # ranked without the gold: paraphrase 0.95, close 0.85, near 0.80, far 0.60; range_min=1 skips the first
    assert negatives(mined) == ["close", "near"]
    assert all(t["anchor"] == "query" and t["positive"] == "gold" for t in mined.triplets)
    assert mined.stats["candidates_considered"] == 5
    assert mined.stats["queries_short"] == 0


def test_relative_margin_removes_the_planted_false_negative(planted):
    model, pairs, corpus = planted
    unfiltered = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_max=5)
    assert negatives(unfiltered)[0] == "paraphrase of gold"

    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_max=5, relative_margin=0.05)
    # 0.90 - 0.05 * 0.90 = 0.855: the paraphrase (0.95) goes, "close" (0.85) stays
    assert negatives(mined) == ["close", "near"]
    assert mined.stats["skipped_relative_margin"] == 1
    assert mined.stats["mean_positive_score"] == pytest.approx(0.90, abs=1e-5)
    assert mined.stats["mean_negative_score"] == pytest.approx(0.825, abs=1e-5)


def test_absolute_margin_and_max_score_are_counted_separately(planted):
    model, pairs, corpus = planted
    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=1, range_max=5, absolute_margin=0.07)
    assert negatives(mined) == ["near"]  # 0.95 and 0.85 are within 0.07 of 0.90
    assert mined.stats["skipped_absolute_margin"] == 2

    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=1, range_max=5, max_score=0.7)
    assert negatives(mined) == ["far"]
    assert mined.stats["skipped_max_score"] == 3


def test_queries_short_of_negatives_are_reported(planted):
    model, pairs, corpus = planted
    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=3, range_max=5, max_score=0.7)
    assert negatives(mined) == ["far", "farthest"]
    assert mined.stats["queries_short"] == 1
    assert mined.stats["queries_without_negatives"] == 0


def test_fill_short_random_keeps_every_pair_with_passages_that_are_neither_gold_nor_mined(planted):
    model, pairs, corpus = planted
    dropped = mine_hard_negatives(model, pairs, corpus, num_negatives=3, range_max=5, max_score=0.2)
    assert dropped.triplets == [] and dropped.stats["queries_without_negatives"] == 1  # the pair is not trained on

    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=3, range_max=5, max_score=0.7, fill_short="random")
    assert negatives(mined)[:2] == ["far", "farthest"]  # the hard ones first, as without filling
    assert negatives(mined)[2] not in {"far", "farthest", "gold"} and mined.stats["random_negatives"] == 1
    filled = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_max=5, max_score=0.2, fill_short="random")
    assert len(set(negatives(filled))) == 2 and "gold" not in negatives(filled)
    assert filled.stats["queries_without_negatives"] == 1 and filled.stats["random_negatives"] == 2
    again = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_max=5, max_score=0.2, fill_short="random")
    assert negatives(again) == negatives(filled)  # seeded


class ReversingReranker:
    """Scores a passage higher the farther it is in the embedding space: the opposite order."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, pairs, batch_size=32, **kwargs):
        self.calls += 1
        order = ["gold", "paraphrase of gold", "close", "near", "far", "farthest"]
        return [{"gold": 0.5}.get(p, 0.1 * order.index(p)) for _, p in pairs]


def test_reranker_scores_candidates_without_any_margin(planted):
    model, pairs, corpus = planted
    reranker = ReversingReranker()
    mined = mine_hard_negatives(model, pairs, corpus, num_negatives=2, range_max=5, reranker=reranker)
    assert reranker.calls == 1
    assert negatives(mined) == ["farthest", "far"]
    assert [t["negative_score"] for t in mined.triplets] == pytest.approx([0.5, 0.4])
    assert mined.stats["reranked"] is True


def test_reranker_scores_drive_the_margin(planted):
    model, pairs, corpus = planted
    mined = mine_hard_negatives(
        model, pairs, corpus, num_negatives=2, range_max=5, absolute_margin=0.05, reranker=ReversingReranker()
    )
    # cross-encoder scores: gold 0.5, farthest 0.5, far 0.4, near 0.3: only farthest is within 0.05 of the gold
    assert negatives(mined) == ["far", "near"]
    assert mined.stats["skipped_absolute_margin"] == 1


def test_every_step_is_timed(planted):
    model, pairs, corpus = planted
    timings = mine_hard_negatives(model, pairs, corpus, range_max=5).timings
    assert set(timings) == {"encode_s", "search_s", "rerank_s", "filter_s", "total_s"}
    assert timings["total_s"] >= timings["encode_s"] + timings["search_s"]


def test_the_query_text_in_the_corpus_is_never_a_negative_and_takes_no_place(planted):
    """As sentence-transformers 6.3: a query's own text is removed from its candidates, and one more candidate
    is searched so that the window still holds `range_max` others."""
    model, pairs, corpus = planted
    mined = mine_hard_negatives(model, pairs, [*corpus, "query"], num_negatives=5, range_max=5)
    # the query (1.0) and its gold (0.90) are removed; the five others are all found
    assert negatives(mined) == ["paraphrase of gold", "close", "near", "far", "farthest"]
    assert mined.stats["queries_short"] == 0
    assert mined.stats["candidates_considered"] == 5


def library_and_ours(model, data, reranker=None, **settings) -> tuple[set, set]:
    """(anchor, positive, negative) triplets from sentence-transformers' `mine_hard_negatives` and from ours."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives as library_mine

    queries, relevant = data.retrieval["train"].queries, data.retrieval["train"].relevant
    pairs = [(queries[q], data.corpus[d]) for q in queries for d in sorted(relevant[q])]
    corpus = list(data.corpus.values())
    ours = mine_hard_negatives(model, pairs, corpus, reranker=reranker, **settings)
    theirs = library_mine(
        Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]}),
        model,
        corpus=corpus,
        cross_encoder=reranker,
        use_faiss=library_faiss_is_exact(),
        verbose=False,
        output_format="triplet",
        **settings,
    )
    ours_set = {(t["anchor"], t["positive"], t["negative"]) for t in ours.triplets}
    assert len(ours_set) == len(ours.triplets) > 0
    return ours_set, set(zip(theirs["anchor"], theirs["positive"], theirs["negative"]))


@pytest.fixture
def tiny_encoder(tiny_model_path):
    import sentence_transformers
    from packaging.version import Version
    from sentence_transformers.sentence_transformer import SentenceTransformer

    installed = sentence_transformers.__version__
    assert Version(installed) >= Version("6.3"), f"sentence-transformers {installed}; pyproject.toml asks >=6.3"
    return SentenceTransformer(tiny_model_path, device="cpu")


def test_same_negatives_as_sentence_transformers(tiny_encoder, physics_folder):
    """Same model, corpus, queries, window and margin: the library and we pick exactly the same triplets.
    The library searches with FAISS too, except with the faiss-gpu build (see `library_faiss_is_exact`)."""
    from embedlab.data.physics import load_physics

    settings = {"num_negatives": 3, "range_min": 1, "range_max": 8, "relative_margin": 0.01}
    ours, theirs = library_and_ours(tiny_encoder, load_physics(path=str(physics_folder)), **settings)
    assert ours == theirs


class HashingCrossEncoder:
    """A stand-in cross-encoder whose score for a (query, passage) pair is fixed by its text and spread over
    [0, 1), so no two candidates tie (a tiny random CrossEncoder scores them all within 1e-5 of each other, where
    batch padding alone could swap two). Answers `predict` as CrossEncoder does, for the library and for us."""

    def predict(self, pairs, batch_size=32, convert_to_tensor=False, **kwargs):
        import hashlib

        import torch

        scores = [int(hashlib.sha256(f"{q}\t{p}".encode()).hexdigest()[:8], 16) / 2**32 for q, p in pairs]
        return torch.tensor(scores) if convert_to_tensor else np.asarray(scores, dtype=np.float32)


def test_same_negatives_as_sentence_transformers_with_a_cross_encoder(tiny_encoder, physics_folder):
    """With a cross-encoder and no margin both re-score every candidate (sentence-transformers 6.2 did not)."""
    from embedlab.data.physics import load_physics

    settings = {"num_negatives": 2, "range_min": 0, "range_max": 6}
    data = load_physics(path=str(physics_folder))
    ours, theirs = library_and_ours(tiny_encoder, data, reranker=HashingCrossEncoder(), **settings)
    assert ours == theirs
    embedding_only, _ = library_and_ours(tiny_encoder, data, **settings)
    assert embedding_only != ours  # the cross-encoder's scores did choose
