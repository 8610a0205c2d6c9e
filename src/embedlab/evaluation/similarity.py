"""Spearman correlation between cosine similarity and gold scores, for scored or labeled pairs."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator


class SimilarityEvaluator(BaseEvaluator):
    """Spearman rank correlation of cosine(sentence1, sentence2) with the gold score, logged as `spearman`.

    Args:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair.
        scores: gold similarity in [0, 1] (or 0/1 labels).
    """

    def __init__(self, sentences1: list[str], sentences2: list[str], scores: list[float], batch_size: int = 64):
        super().__init__()
        self.sentences1, self.sentences2, self.scores = sentences1, sentences2, scores
        self.batch_size = batch_size
        self.primary_metric = "spearman"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1, *args, **kwargs) -> dict[str, float]:
        a = model.encode(self.sentences1, batch_size=self.batch_size, normalize_embeddings=True)
        b = model.encode(self.sentences2, batch_size=self.batch_size, normalize_embeddings=True)
        cosine = np.sum(np.asarray(a) * np.asarray(b), axis=1)
        return {"spearman": float(spearmanr(cosine, self.scores).statistic)}
