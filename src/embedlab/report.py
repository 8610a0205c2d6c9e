"""The short table printed at the end of a run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # checkpoint.py imports transformers: not at import time
    from embedlab.training.checkpoint import BestCheckpoint

ORDER = ("val_loss", "ndcg_at_10", "mrr_at_10", "acc_at_1", "spearman", "triplet_acc")


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def summary_table(history: dict[int, dict[str, float]], best: BestCheckpoint, final_step: int) -> str:
    """Each evaluated metric for the base model (step 0) next to the best checkpoint (and its test numbers)."""
    base, at_best, final = history.get(0, {}), history.get(best.step, {}), history.get(final_step, {})
    names = [n for n in ORDER if n in base or n in at_best]
    names += sorted(n for n in base if n.startswith("val_loss_"))
    test_names = [f"test_{n}" for n in ORDER if f"test_{n}" in final]
    width = max(len(n) for n in names + test_names + ["metric"]) + 2
    lines = [f"{'metric':<{width}}{'base (step 0)':>15}{f'best (step {best.step})':>20}"]
    lines += [f"{n:<{width}}{_fmt(base.get(n)):>15}{_fmt(at_best.get(n)):>20}" for n in names]
    lines += [f"{n:<{width}}{_fmt(base.get(n)):>15}{_fmt(final.get(n)):>20}" for n in test_names]
    return "\n".join(lines)


def print_summary(history, best: BestCheckpoint, final_step: int, run_id: str, model_uri: str | None, uri: str) -> None:
    print("\n" + summary_table(history, best, final_step))
    print(f"\nbest checkpoint: step {best.step}, val_loss {_fmt(best.val_loss)} (lowest validation loss)")
    print(f"saved to:        {best.path}   (SentenceTransformer('{best.path}'))")
    if model_uri:
        print(f"logged model:    {model_uri}")
    print(f"MLflow run:      {run_id}   store: {uri}")
    print("open the UI:     make mlflow-ui   ->  http://127.0.0.1:5000")
