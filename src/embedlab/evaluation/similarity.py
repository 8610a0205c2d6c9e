"""Spearman correlation between cosine similarity and gold scores, for scored or labeled pairs."""

from __future__ import annotations

from typing import Any

from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator


class SimilarityEvaluator(EmbeddingSimilarityEvaluator):
    """sentence-transformers' `EmbeddingSimilarityEvaluator` on cosine similarity, logged as `spearman` alone.

    The library's evaluator computes the metric; this class fixes its settings (cosine, no CSV file) and gives
    it our stable name, the same in every run (the library's would be `spearman_cosine`, next to a Pearson
    correlation we do not log).

    Args:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair.
        scores: gold similarity in [0, 1] (or 0/1 labels).
        batch_size: sentences per encoding batch.
    """

    def __init__(self, sentences1: list[str], sentences2: list[str], scores: list[float], batch_size: int = 64):
        super().__init__(
            sentences1, sentences2, scores, batch_size=batch_size, main_similarity="cosine", write_csv=False
        )
        self.primary_metric = "spearman"

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        metrics = super().__call__(model, output_path, epoch, steps)
        self.primary_metric = "spearman"  # the library's call sets its own name
        return {"spearman": float(metrics["spearman_cosine"])}

    def store_metrics_in_model_card_data(self, model, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Nothing: the metrics go to MLflow under our names, not into the model card under the library's."""
