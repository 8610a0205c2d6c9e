"""Pick the checkpoint with the lowest validation loss and write it where SentenceTransformer(path) loads it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass
class BestCheckpoint:
    step: int
    val_loss: float
    checkpoint: str | None  # the trainer's checkpoint folder it came from
    path: Path  # <run dir>/best, a complete SentenceTransformer folder


def select_best_checkpoint(trainer, destination: Path) -> BestCheckpoint:
    """The trainer loaded the lowest-`val_loss` checkpoint at the end (load_best_model_at_end); save it.

    Written to a temporary folder first and renamed, so `destination` is either complete or absent.
    """
    state = trainer.state
    checkpoint = state.best_model_checkpoint
    step = int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else state.global_step
    val_loss = state.best_metric if state.best_metric is not None else float("nan")
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    trainer.model.save(str(partial))
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    return BestCheckpoint(step=step, val_loss=float(val_loss), checkpoint=checkpoint, path=destination)
