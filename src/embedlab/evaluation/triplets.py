"""Triplet accuracy: how often the anchor is closer to its positive than to its negative."""

from __future__ import annotations

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator


class TripletAccuracyEvaluator(BaseEvaluator):
    """Share of (anchor, positive, negative) triplets with cos(anchor, positive) > cos(anchor, negative).

    Logged as `triplet_acc`.
    """

    def __init__(self, anchors: list[str], positives: list[str], negatives: list[str], batch_size: int = 64):
        super().__init__()
        self.anchors, self.positives, self.negatives = anchors, positives, negatives
        self.batch_size = batch_size
        self.primary_metric = "triplet_acc"

    def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1, *args, **kwargs) -> dict[str, float]:
        a, p, n = (
            np.asarray(model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True))
            for texts in (self.anchors, self.positives, self.negatives)
        )
        return {"triplet_acc": float(np.mean(np.sum(a * p, axis=1) > np.sum(a * n, axis=1)))}
