"""The similarity evaluator: sentence-transformers' Spearman correlation, under our stable name `spearman`."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from embedlab.evaluation.similarity import SimilarityEvaluator


def cosine(model, a: list[str], b: list[str]) -> np.ndarray:
    x, y = (np.asarray(model.encode(texts, normalize_embeddings=True)) for texts in (a, b))
    return np.sum(x * y, axis=1)


def test_similarity_is_the_spearman_correlation_of_cosine_with_the_gold_scores(model, sentences, tmp_path):
    first, second = sentences, sentences[1:] + sentences[:1]
    scores = [0.9, 0.1, 0.5, 0.3, 0.7]
    evaluator = SimilarityEvaluator(first, second, scores)
    metrics = evaluator(model, output_path=str(tmp_path), epoch=1, steps=10)
    assert list(metrics) == ["spearman"] and evaluator.primary_metric == "spearman"
    assert metrics["spearman"] == pytest.approx(spearmanr(cosine(model, first, second), scores).statistic, abs=1e-6)
    assert list(tmp_path.iterdir()) == []  # no CSV file next to the run's outputs
