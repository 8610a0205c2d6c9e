"""Checkpoints: which ones are complete, and the best one by validation loss."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from embedlab.errors import UserError

COMPLETE = "embedlab_complete"  # written last, by rename: a checkpoint without it is partial


@dataclass
class BestCheckpoint:
    step: int
    val_loss: float
    checkpoint: str | None  # the trainer's checkpoint folder it came from
    path: Path  # <run dir>/best, a complete SentenceTransformer folder


def _step(path: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", path.name)
    return int(match.group(1)) if match else -1


def mark_complete(checkpoint: Path) -> None:
    """Write the completion marker atomically (temporary file, then rename)."""
    partial = checkpoint / f".{COMPLETE}.tmp"
    partial.write_text("ok\n")
    os.replace(partial, checkpoint / COMPLETE)


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The highest-step checkpoint whose save finished; partial ones (killed mid-save) are skipped."""
    if not folder.is_dir():
        return None
    done = [p for p in folder.iterdir() if _step(p) >= 0 and (p / COMPLETE).exists()]
    return max(done, key=_step, default=None)


class CompleteCheckpointCallback(TrainerCallback):
    """Marks each checkpoint complete once the trainer has written all of it (model, optimizer, RNG, state)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            mark_complete(Path(args.output_dir) / f"checkpoint-{state.global_step}")


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
    try:
        trainer.model.save(str(partial))
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise UserError(f"saving the best model to {destination} failed: {exc.strerror or exc}") from None
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    return BestCheckpoint(step=step, val_loss=float(val_loss), checkpoint=checkpoint, path=destination)
