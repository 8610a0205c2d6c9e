"""Names of the metrics a run logs for the model it keeps, in one place for the run and every reader.

`kept_<metric>` is the metric's value at the kept checkpoint (chosen by `training.select_by`, by default the lowest
validation loss), not the best value the metric reached: `kept_ndcg_at_10` can be below the run's highest
`ndcg_at_10` when another step had the lower validation loss.
"""

from __future__ import annotations

KEPT_PREFIX = "kept_"
KEPT_STEP = "kept_step"  # the step of the kept checkpoint; 0 = the starting model was kept
KEPT_RUN_TAG = "embedlab.kept_run_id"  # on a chain's parent run: its last stage's run, whose model it keeps
KEPT_MODEL_PATH_TAG = "kept_model_path"  # the kept model's folder: `SentenceTransformer(<path>)`, logged or not
# "true" on a run (and a chain's parent) whose validation pairs also trained (dataset.train_on_validation): its
# kept_* metrics measure fit, not held-out quality
VALIDATION_TRAINS_TAG = "validation_trains"


def kept(metric: str) -> str:
    """`ndcg_at_10` -> `kept_ndcg_at_10`: the metric name at the kept checkpoint, as runs log it at their end."""
    return f"{KEPT_PREFIX}{metric}"
