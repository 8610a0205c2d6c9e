"""Triplet accuracy: how often the anchor is closer to its positive than to its negative."""

from __future__ import annotations

from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

from embedlab.evaluation.stable_names import StableMetricName


class TripletAccuracyEvaluator(StableMetricName, TripletEvaluator):
    """sentence-transformers' `TripletEvaluator` on cosine similarity, logged as `triplet_acc`.

    The share of (anchor, positive, negative) triplets with cos(anchor, positive) > cos(anchor, negative). The
    library's evaluator computes it; this class fixes its settings (cosine, no margin, no CSV file) and gives it
    our stable name, the same in every run (the library's is `cosine_accuracy`).

    Args:
        anchors: the anchor of each triplet (encoded as a query).
        positives: its positive (encoded as a document).
        negatives: its negative (encoded as a document).
        batch_size: sentences per encoding batch.
    """

    metric = "triplet_acc"
    library_metric = "cosine_accuracy"

    def __init__(self, anchors: list[str], positives: list[str], negatives: list[str], batch_size: int = 64):
        super().__init__(
            anchors, positives, negatives, main_similarity_function="cosine", batch_size=batch_size, write_csv=False
        )
        self.primary_metric = self.metric
