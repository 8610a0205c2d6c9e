"""The metric a sweeper optimizes, read from one evaluation: its value, or one line listing what was logged."""

from __future__ import annotations

import pytest

from embedlab.errors import UserError
from embedlab.evaluation.objective import objective


def test_the_objective_is_the_named_metric():
    assert objective({"ndcg_at_10": 0.5, "val_loss": 1.25}, "val_loss") == 1.25


@pytest.mark.parametrize(
    ("metrics", "available"), [({"val_loss": 1.0, "mrr_at_10": 0.2}, "mrr_at_10, val_loss"), ({}, "none")]
)
def test_a_metric_that_was_not_logged_is_one_line_listing_those_that_were(metrics, available):
    with pytest.raises(UserError) as error:
        objective(metrics, "ndcg@10")
    assert str(error.value) == f"optimized_metric=ndcg@10 is not logged; expected one of those logged: {available}"
