"""A sentence-transformers evaluator under one stable metric name of ours."""

from __future__ import annotations

from typing import Any


class StableMetricName:
    """Put before a library evaluator in the bases: its call then returns `{metric: <its library_metric>}` only.

    Our metric names are the same in every run and are what MLflow, the summary table and `optimized_metric`
    use; the library's names depend on its settings (`spearman_cosine`, `cosine_accuracy`, ...).

    Attributes:
        metric: our name for the number, e.g. ``spearman``.
        library_metric: the library evaluator's key for it, e.g. ``spearman_cosine``.
    """

    metric: str
    library_metric: str

    def __call__(self, model, output_path: str | None = None, epoch: int = -1, steps: int = -1) -> dict[str, float]:
        metrics = super().__call__(model, output_path, epoch, steps)
        self.primary_metric = self.metric  # the library's call sets its own name
        return {self.metric: float(metrics[self.library_metric])}

    def store_metrics_in_model_card_data(self, model, metrics: dict[str, Any], epoch: int = 0, step: int = 0) -> None:
        """Nothing: the metrics go to MLflow under our names, not into the model card under the library's."""
