"""Spearman correlation between cosine similarity and gold scores, for scored or labeled pairs."""

from __future__ import annotations

from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

from embedlab.evaluation.stable_names import StableMetricName


class SimilarityEvaluator(StableMetricName, EmbeddingSimilarityEvaluator):
    """sentence-transformers' `EmbeddingSimilarityEvaluator` on cosine similarity, logged as `spearman` alone.

    The library's evaluator computes the metric; this class fixes its settings (cosine, no CSV file) and gives
    it our stable name, the same in every run (the library's is `spearman_cosine`, next to a Pearson
    correlation we do not log).

    Args:
        sentences1: first sentence of each pair.
        sentences2: second sentence of each pair.
        scores: gold similarity in [0, 1] (or 0/1 labels).
        batch_size: sentences per encoding batch.
    """

    metric = "spearman"
    library_metric = "spearman_cosine"

    def __init__(self, sentences1: list[str], sentences2: list[str], scores: list[float], batch_size: int = 64):
        super().__init__(
            sentences1, sentences2, scores, batch_size=batch_size, main_similarity="cosine", write_csv=False
        )
        self.primary_metric = self.metric
