"""Triplet accuracy: how often the anchor is closer to its positive than to its negative."""

from __future__ import annotations

from typing import Any

from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator


class TripletAccuracyEvaluator(TripletEvaluator):
    """sentence-transformers' `TripletEvaluator` on cosine similarity, logged as `triplet_acc`.

    The share of (anchor, positive, negative) triplets with cos(anchor, positive) > cos(anchor, negative). The
    library's evaluator computes it; this class fixes its settings (cosine, no margin, no CSV file) and gives it
    our stable name, the same in every run (the library's would be `cosine_accuracy`).

    Args:
        anchors: the anchor of each triplet (encoded as a query).
        positives: its positive (encoded as a document).
        negatives: its negative (encoded as a document).
        batch_size: sentences per encoding batch.
    """

    def __init__(self, anchors: list[str], positives: list[str], negatives: list[str], batch_size: int = 64):
        super().__init__(
            anchors, positives, negatives, main_similarity_function="cosine", batch_size=batch_size, write_csv=False
        )
        self.primary_metric = "triplet_acc"

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        metrics = super().__call__(model, output_path, epoch, steps)
        self.primary_metric = "triplet_acc"  # the library's call sets its own name
        return {"triplet_acc": float(metrics["cosine_accuracy"])}

    def store_metrics_in_model_card_data(self, model, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Nothing: the metrics go to MLflow under our names, not into the model card under the library's."""
