"""Retrieval metrics: identical to sentence-transformers' evaluator, and leak-free when queries sit in the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.evaluation.retrieval import RetrievalEvaluator


def test_metrics_on_a_known_ranking():
    corpus = {"a": "alpha", "b": "beta", "c": "gamma"}
    queries = {"q1": "x", "q2": "y"}
    relevant = {"q1": {"a"}, "q2": {"c"}}
    evaluator = RetrievalEvaluator(queries, corpus, relevant)
    # q1 ranks a first (hit at 1); q2 ranks c second (hit at 2)
    similarity = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.5]])
    metrics = evaluator.score(similarity)
    assert metrics["acc_at_1"] == pytest.approx(0.5)
    assert metrics["mrr_at_10"] == pytest.approx((1 + 0.5) / 2)
    assert metrics["ndcg_at_10"] == pytest.approx((1 + 1 / np.log2(3)) / 2)


def test_queries_in_the_corpus_do_not_find_themselves(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    # Quora-style: every query is also a corpus document; its duplicate is the relevant one.
    topics = ["how do I learn python programming", "best recipe for chocolate cake", "why is the sky blue today"]
    texts = {f"d{2 * i + j}": f"{topic} {'please' if j else 'now'}" for i, topic in enumerate(topics) for j in (0, 1)}
    duplicates = {"d0": "d1", "d1": "d0", "d2": "d3", "d3": "d2", "d4": "d5", "d5": "d4"}
    queries = dict(texts)
    relevant = {q: {d} for q, d in duplicates.items()}
    model = SentenceTransformer(tiny_model_path, device="cpu")

    ours = RetrievalEvaluator(queries, texts, relevant)(model)
    assert ours["acc_at_1"] > 0.0  # without the exclusion every query ranks itself first: Acc@1 = 0

    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    theirs = InformationRetrievalEvaluator(queries, texts, relevant, write_csv=False)(model)
    assert theirs["cosine_accuracy@1"] == 0.0


def test_same_numbers_as_sentence_transformers_without_self_matches(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    corpus = {f"c{i}": f"passage {i} on {'light heat sound force'.split()[i % 4]}" for i in range(12)}
    queries = {f"q{i}": f"what about {'light heat sound force'.split()[i % 4]} {i}?" for i in range(8)}
    relevant = {f"q{i}": {f"c{i}", f"c{i + 4}"} for i in range(8)}
    model = SentenceTransformer(tiny_model_path, device="cpu")
    ours = RetrievalEvaluator(queries, corpus, relevant)(model)
    theirs = InformationRetrievalEvaluator(queries, corpus, relevant, write_csv=False)(model)
    assert ours["ndcg_at_10"] == pytest.approx(theirs["cosine_ndcg@10"], abs=1e-6)
    assert ours["mrr_at_10"] == pytest.approx(theirs["cosine_mrr@10"], abs=1e-6)
    assert ours["acc_at_1"] == pytest.approx(theirs["cosine_accuracy@1"], abs=1e-6)


def _corpus_and_queries():
    corpus = {f"d{i:03d}": f"passage number {i}" for i in range(200)}
    queries = {f"q{i}": f"question {i}" for i in range(10)}
    relevant = {f"q{i}": {f"d{i * 7:03d}", f"d{i * 7 + 1:03d}"} for i in range(10)}
    return queries, corpus, relevant


def test_a_corpus_sample_keeps_every_relevant_doc_and_the_same_seeded_distractors():
    queries, corpus, relevant = _corpus_and_queries()
    full = RetrievalEvaluator(queries, corpus, relevant)
    sampled = full.sampled(30, seed=1)
    gold = {d for docs in relevant.values() for d in docs}
    assert gold <= set(sampled.corpus_ids)
    assert len(sampled.corpus_ids) == len(gold) + 30
    assert sampled.corpus_ids == RetrievalEvaluator(queries, corpus, relevant, corpus_sample=30, seed=1).corpus_ids
    assert sampled.corpus_ids != full.sampled(30, seed=2).corpus_ids
    assert full.sampled(10_000).corpus_ids == full.corpus_ids  # asking for more than there is: the whole corpus


def test_a_sample_as_large_as_the_corpus_gives_the_full_metrics(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    queries, corpus, relevant = _corpus_and_queries()
    model = SentenceTransformer(tiny_model_path, device="cpu")
    full = RetrievalEvaluator(queries, corpus, relevant)
    assert full.sampled(len(corpus))(model) == full(model)
    small = full.sampled(20)(model)
    assert small["ndcg_at_10"] >= full(model)["ndcg_at_10"]  # fewer distractors can only move gold docs up


def test_the_validation_sample_reaches_the_trainers_evaluator(tiny_model_path, tmp_path, compose_config):
    from datasets import Dataset
    from sentence_transformers.base.evaluation.sequential import SequentialEvaluator
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embedlab.config import build
    from embedlab.training.sampling import Sampling
    from embedlab.training.trainer import EmbeddingTrainer

    class NoTracker:
        def log_metrics(self, metrics, step):
            pass

    queries, corpus, relevant = _corpus_and_queries()
    model = SentenceTransformer(tiny_model_path, device="cpu")
    cfg = compose_config("debug=tiny", "training.validation_corpus_sample=5")  # as a user sets it
    hardware = build(cfg.hardware, where="hardware")
    args = build(cfg.training, where="training", output_dir=tmp_path, hardware=hardware, sampling=Sampling())
    evaluator = SequentialEvaluator([RetrievalEvaluator(queries, corpus, relevant)])
    rows = Dataset.from_dict({"anchor": ["a", "b"], "positive": ["c", "d"]})
    trainer = EmbeddingTrainer(
        model=model,
        args=args,
        loss=MultipleNegativesRankingLoss(model),
        train_dataset=rows,
        eval_dataset=rows,
        evaluator=evaluator,
        tracker=NoTracker(),
    )
    [inner] = trainer.evaluator.evaluators
    assert len(inner.corpus_ids) == 20 + 5


def test_a_relevant_doc_is_ranked_even_with_the_querys_id_or_text():
    # queries and passages numbered apart, each query's gold passage under its own number ("1" -> "1"), and a gold
    # passage that repeats its query word for word: before, both were removed as self-matches and scored 0
    corpus = {"1": "light travels at a fixed speed", "2": "sound needs a medium", "3": "what is heat"}
    queries = {"1": "how fast is light", "2": "can sound cross a vacuum", "3": "what is heat"}
    relevant = {"1": {"1"}, "2": {"2"}, "3": {"3"}}
    evaluator = RetrievalEvaluator(queries, corpus, relevant)
    similarity = np.eye(3) + 0.1
    assert evaluator.score(similarity) == {"ndcg_at_10": 1.0, "mrr_at_10": 1.0, "acc_at_1": 1.0}


def test_an_unlabeled_entry_with_the_querys_text_is_still_left_out():
    corpus = {"d1": "what is heat", "d2": "heat is energy in transit", "d3": "sound needs a medium"}
    evaluator = RetrievalEvaluator({"q": "what is heat"}, corpus, {"q": {"d2"}})
    # the query's own text ranks first; left out, the gold passage is first
    assert evaluator.score(np.array([[0.99, 0.5, 0.1]]))["acc_at_1"] == 1.0
