"""The short table printed at the end of a run."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from embedlab.tracking.store import ui_command

if TYPE_CHECKING:  # checkpoint.py imports transformers: not at import time
    from embedlab.training.checkpoint import BestCheckpoint

log = logging.getLogger(__name__)

ORDER = ("val_loss", "ndcg_at_10", "mrr_at_10", "acc_at_1", "spearman", "triplet_acc")


def _fmt(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def format_table(corner: str, headers: list[str], widths: list[int], rows: list[tuple[str, list[str]]]) -> str:
    """A table of named rows: names left-aligned under `corner`, each cell right-aligned to its column's width."""
    width = max(len(name) for name in [corner, *(name for name, _ in rows)]) + 2
    lines = [f"{corner:<{width}}" + "".join(f"{h:>{w}}" for h, w in zip(headers, widths, strict=True))]
    lines += [f"{n:<{width}}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)) for n, cells in rows]
    return "\n".join(lines)


def summary_table(history: dict[int, dict[str, float]], best: BestCheckpoint, final_step: int) -> str:
    """Each evaluated metric for the base model (step 0) next to the kept model; test metrics sit at its step."""
    base, at_best = history.get(0, {}), history.get(best.step, {})
    names = [n for n in ORDER if n in base or n in at_best]
    names += sorted(n for n in base if n.startswith("val_loss_"))
    test_names = [f"test_{n}" for n in ORDER if f"test_{n}" in at_best or f"test_{n}" in base]
    rows = [(n, [_fmt(base.get(n)), _fmt(at_best.get(n))]) for n in names]
    rows += [(n, [_fmt(base.get(n)), _fmt(at_best.get(n, base.get(n)))]) for n in test_names]
    return format_table("metric", ["base (step 0)", f"best (step {best.step})"], [15, 20], rows)


def selection_line(best: BestCheckpoint, history: dict[int, dict[str, float]] | None = None) -> str:
    """`best checkpoint: step 4, val_loss 0.3078 (lowest validation loss)`, or that the starting model was kept,
    naming the checkpoints it was compared with (their steps in `history`)."""
    rule = "lowest validation loss" if best.select_by == "val_loss" else f"training.select_by={best.select_by}"
    if best.kept_base:
        return f"kept the starting model: {_compared(best, history or {}, f'{rule}; {KEEP_CHECKPOINT}')}"
    line = f"best checkpoint: step {best.step}, {best.select_by} {_fmt(best.value)} ({rule})"
    lower = best.select_by.startswith("val_loss")
    if math.isfinite(best.base_value) and math.isfinite(best.value):
        if (best.value >= best.base_value) if lower else (best.value <= best.base_value):
            line += f"\nnote: it does not beat the starting model ({best.select_by} {_fmt(best.base_value)} at step 0)"
    return line


KEEP_CHECKPOINT = "training.base_is_candidate=false keeps the best checkpoint instead"


def _compared(best: BestCheckpoint, history: dict[int, dict[str, float]], rule: str) -> str:
    """What the starting model was compared with: the checkpoints evaluated on `select_by`, and the best of them."""
    values = {step: m[best.select_by] for step, m in history.items() if step > 0 and best.select_by in m}
    values = {step: value for step, value in values.items() if math.isfinite(value)}
    if not values:
        return f"no checkpoint has a {best.select_by} to compare with its {_fmt(best.base_value)} ({rule})"
    top = (min if best.select_by.startswith("val_loss") else max)(values, key=lambda step: values[step])
    count = f"{len(values)} checkpoint{'s' if len(values) > 1 else ''} evaluated"
    return (
        f"no checkpoint beat its {best.select_by} {_fmt(best.base_value)} "
        f"({count}, the best is step {top} at {_fmt(values[top])}; {rule})"
    )


def worse_than_start_line(
    history: dict[int, dict[str, float]], best: BestCheckpoint, metric: str, validation_trains: bool = False
) -> str | None:
    """One plain line when the kept model scores below the starting model on the optimized metric, else None.

    Selection by validation loss can keep a checkpoint whose retrieval got worse (the seed's Quora recipe did).
    With `validation_trains` the kept model's number measures fit (the starting model had not trained on those
    pairs), and the line says so: lower even there, near a ceiling of 1.0 it is often one query.
    """
    base, kept = history.get(0, {}).get(metric), history.get(best.step, {}).get(metric)
    if best.step == 0 or base is None or kept is None or not (math.isfinite(base) and math.isfinite(kept)):
        return None
    lower = metric.startswith("val_loss")
    if (kept <= base) if lower else (kept >= base):
        return None
    trained = "; its number is on pairs it trained on (dataset.train_on_validation): fit" if validation_trains else ""
    return (
        f"warning: the kept model is worse than the starting model on {metric} (the optimized metric, validation): "
        f"{_fmt(base)} at step 0, {_fmt(kept)} at step {best.step}{trained}"
    )


ROLES = {"validation": "chose the kept step", "test": "held out from every choice"}
SOURCES = {"given": "yours", "made": "carved from the training data"}


NO_CHOICE = "chose nothing: one candidate checkpoint"
TRAINED_ON = "also trained on (dataset.train_on_validation): it measures fit, not held-out quality"


def candidate_count(history: dict[int, dict[str, float]], select_by: str, base_is_candidate: bool) -> int:
    """How many models the kept one was chosen from: the trained checkpoints evaluated on `select_by`, and the
    starting model (step 0) when it competes."""
    trained = sum(1 for step, metrics in history.items() if step > 0 and select_by in metrics)
    return trained + int(base_is_candidate)


def evaluated_on_line(
    sizes: dict[str, tuple[int, str]], sources: dict[str, str], candidates: int = 2, validation_trains: bool = False
) -> str:
    """`validation 60 queries (carved from the training data; chose the kept step), test 47 queries (...)`: what
    each estimate was measured on, and whether a choice also used it (validation picks the kept step among the
    `candidates` it could keep, and a sweep's best job; test is read by nothing that chooses). With one candidate
    (`experiment=retrieval`'s rounds: the starting model out, one trained checkpoint) validation chose nothing;
    with `dataset.train_on_validation` (the recipe's last round) it also trained, so it measures fit."""
    parts = []
    for split, (count, unit) in sizes.items():
        if not count:  # e.g. dataset.fractions=[0.9,0.1,0.0]: nothing was kept out of every choice
            parts.append(f"no {split} split")
            continue
        role = NO_CHOICE if split == "validation" and candidates < 2 else ROLES.get(split)
        trained = TRAINED_ON if split == "validation" and validation_trains else None
        notes = [note for note in (SOURCES.get(sources.get(split, "")), trained, role) if note]
        parts.append(f"{split} {count} {unit}" + (f" ({'; '.join(notes)})" if notes else ""))
    return ", ".join(parts)


def print_summary(
    history,
    best: BestCheckpoint,
    final_step: int,
    run_id: str,
    model_uri: str | None,
    uri: str,
    evaluated_on=None,
    optimized_metric: str | None = None,
    experiment_id: str | None = None,
    split_sources: dict[str, str] | None = None,
    base_is_candidate: bool = True,
    validation_trains: bool = False,
) -> None:
    log.info("\n" + summary_table(history, best, final_step))
    if evaluated_on:  # how far one query moves a metric, where the queries came from, what they decided
        candidates = candidate_count(history, best.select_by, base_is_candidate)
        line = evaluated_on_line(evaluated_on, split_sources or {}, candidates, validation_trains)
        log.info("evaluated on:    " + line)
    log.info(f"\n{selection_line(best, history)}")
    worse = worse_than_start_line(history, best, optimized_metric, validation_trains) if optimized_metric else None
    if worse:
        log.warning(worse)
    log.info(f"saved to:        {best.path}   (SentenceTransformer('{best.path}'))")
    if model_uri:
        log.info(f"logged model:    {model_uri}")
    log.info(f"MLflow run:      {run_id}   store: {uri}")
    log.info(f"open the UI:     {ui_command(uri, experiment_id)}")
