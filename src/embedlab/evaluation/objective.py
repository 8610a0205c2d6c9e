"""The metric a sweeper optimizes (`optimized_metric`), read from one evaluation's metrics."""

from __future__ import annotations

from embedlab.errors import UserError


def objective(metrics: dict[str, float], name: str) -> float:
    """`metrics[name]`, or one line listing the metrics that were logged."""
    if name not in metrics:
        available = ", ".join(sorted(metrics)) or "none"
        raise UserError(f"optimized_metric={name} is not logged; expected one of those logged: {available}")
    return metrics[name]
