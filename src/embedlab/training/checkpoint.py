"""Checkpoints: which ones are complete, and the best one by the selection measure (`training.select_by`)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from embedlab.errors import UserError, weights_written

COMPLETE = "embedlab_complete"  # written last, by rename: a checkpoint without it is partial


@dataclass
class Selection:
    """Which model a run keeps: `training.select_by` and `training.base_is_candidate`.

    Args:
        select_by: `val_loss` (lowest wins; also `val_loss_<part>`) or a validation metric such as
            `ndcg_at_10` (highest wins).
        base_is_candidate: the starting model (step 0) competes with the checkpoints; when none beats it,
            the starting model is kept, and the summary and the tag `best_is_base` say so.
    """

    select_by: str = "val_loss"
    base_is_candidate: bool = True

    @property
    def lower_is_better(self) -> bool:
        return self.select_by.startswith("val_loss")

    @property
    def trainer_metric(self) -> str:
        """The name the trainer's evaluation gives it: `val_loss` -> `eval_loss`, `val_loss_a` -> `eval_a_loss`."""
        if self.select_by == "val_loss":
            return "eval_loss"
        if self.select_by.startswith("val_loss_"):
            return f"eval_{self.select_by.removeprefix('val_loss_')}_loss"
        return f"eval_{self.select_by}"

    def beats(self, value: float, other: float) -> bool:
        return value < other if self.lower_is_better else value > other


def check_selection_metric(selection: Selection, metrics: dict[str, float]) -> None:
    """One line when `training.select_by` names a metric the evaluation (`metrics`, the trainer's names) lacks."""
    if selection.trainer_metric not in metrics:
        skipped = ("runtime", "per_second", "sequential_score")  # the trainer's timings and its evaluators' wrapper
        names = sorted(k.removeprefix("eval_") for k in metrics if not k.endswith(skipped))
        raise UserError(
            f"training.select_by={selection.select_by} is not logged; expected one of those logged: {', '.join(names)}"
        )


@dataclass
class BestCheckpoint:
    step: int
    val_loss: float
    checkpoint: str | None  # the trainer's checkpoint folder it came from; None when the starting model is kept
    path: Path  # <run dir>/best, a complete SentenceTransformer folder
    select_by: str = "val_loss"
    value: float = math.nan  # select_by at the kept step
    kept_base: bool = False  # no checkpoint beat the starting model on select_by: the starting model is kept
    base_value: float = math.nan  # select_by of the starting model (step 0)


def _step(path: Path) -> int:
    match = re.fullmatch(r"checkpoint-(\d+)", path.name)
    return int(match.group(1)) if match else -1


def mark_complete(checkpoint: Path) -> None:
    """Write the completion marker atomically (temporary file, then rename)."""
    partial = checkpoint / f".{COMPLETE}.tmp"
    partial.write_text("ok\n")
    os.replace(partial, checkpoint / COMPLETE)


def last_complete_checkpoint(folder: Path, before: int | None = None) -> Path | None:
    """The highest-step checkpoint whose save finished (below step `before`, if given); partial ones (killed
    mid-save) are skipped."""
    if not folder.is_dir():
        return None
    below = before if before is not None else math.inf
    done = [p for p in folder.iterdir() if 0 <= _step(p) < below and (p / COMPLETE).exists()]
    return max(done, key=_step, default=None)


# What the trainer restores besides the weights (docs/faults.md): without them a resume would go on with a fresh
# optimizer and a restarted learning-rate schedule, in silence.
RESTORED_STATE = ("trainer_state.json", "optimizer.pt", "scheduler.pt")


def checkpoint_problem(checkpoint: Path) -> str | None:
    """What makes a complete-marked checkpoint unfit to resume from (a file missing, empty, truncated or not
    parsing), read from headers only, as `embedlab.models.folder` checks a model folder; None when fit."""
    from embedlab.models.folder import WEIGHT_FILES, safetensors_problem, transformer_folders

    for module in transformer_folders(checkpoint):
        if not any((module / name).is_file() for name in WEIGHT_FILES):
            where = "it" if module == checkpoint else f"{module.relative_to(checkpoint)}/"
            return f"{where} has no weights (model.safetensors)"
        for weights in sorted(module.glob("*.safetensors")):
            problem = safetensors_problem(weights)
            if problem:
                return f"{weights.relative_to(checkpoint)}: {problem}"
    for name in RESTORED_STATE:
        path = checkpoint / name
        if not path.is_file() or path.stat().st_size == 0:
            return f"{name} is {'empty' if path.is_file() else 'missing'}"
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"trainer_state.json does not parse ({str(exc).splitlines()[0][:80]})"
    return None


def check_resumable(checkpoint: Path, key: str = "resume") -> None:
    """One line, before the model loads, when the checkpoint a resume would continue from is damaged: which file,
    and what to do (delete it to resume from the checkpoint before, if there is one)."""
    problem = checkpoint_problem(checkpoint)
    if problem is None:
        return
    before = last_complete_checkpoint(checkpoint.parent, before=_step(checkpoint))
    then = f"to resume from {before.name}" if before else "and start a new run: it is the run's only checkpoint"
    raise UserError(
        f"{key}: checkpoint {checkpoint} is damaged: {problem}; expected a complete checkpoint "
        f"(model, optimizer.pt, scheduler.pt, trainer_state.json): delete {checkpoint} {then}"
    )


class CompleteCheckpointCallback(TrainerCallback):
    """Marks each checkpoint complete once the trainer has written all of it (model, optimizer, RNG, state)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            mark_complete(Path(args.output_dir) / f"checkpoint-{state.global_step}")


def trained_to_the_end(checkpoint: Path) -> bool:
    """The checkpoint is of the run's last step (a run stopped after it, in its test evaluation or while its model
    was logged). Resumed from it, transformers would train one more step, at learning rate 0, and evaluate it."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return state.get("global_step", 0) >= state.get("max_steps", math.inf) > 0


def unevaluated_step(checkpoint: Path, eval_steps: int) -> int | None:
    """The checkpoint's step when the schedule evaluates it (every `eval_steps`) but it was saved unevaluated: a
    signal during that step's training saves it before its evaluation (`GracefulStop`). Read from the checkpoint's
    own trainer state (its log of evaluations), the same on every torchrun rank. None when it was evaluated, or
    is not on the schedule."""
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    step = int(state.get("global_step", 0))
    evaluated = any(
        entry.get("step") == step and any(key.startswith("eval_") for key in entry)
        for entry in state.get("log_history", [])
    )
    return step if step > 0 and step % eval_steps == 0 and not evaluated else None


def restore_the_end(trainer, checkpoint: Path) -> None:
    """What `trainer.train()` leaves at its end, from a checkpoint of the last step: its state (the evaluations,
    the best checkpoint), and the best checkpoint's weights in the model (load_best_model_at_end)."""
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from transformers import TrainerState

    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))
    best = trainer.state.best_model_checkpoint or str(checkpoint)
    trainer.model.load_state_dict(SentenceTransformer(best, device="cpu").state_dict())


def removed_when_finished(folder: Path):
    """An exit callback for `ExitStack.push`: once the run's context exits without an error (the run is FINISHED),
    remove `folder` (its checkpoints: resume state a FINISHED run cannot use); after an error, keep it for resume."""

    def remove(exc_type, exc, traceback) -> None:
        if exc_type is None:
            shutil.rmtree(folder, ignore_errors=True)

    return remove


def starting_weights(model) -> dict:
    """A CPU copy of the starting model's weights, to fall back on when no checkpoint beats it (~90 MB for MiniLM)."""
    return {key: tensor.detach().to("cpu", copy=True) for key, tensor in model.state_dict().items()}


def select_best_checkpoint(
    trainer,
    destination: Path,
    selection: Selection | None = None,
    history: dict[int, dict[str, float]] | None = None,
    base_weights: dict | None = None,
) -> BestCheckpoint:
    """The trainer loaded the best checkpoint on `selection.select_by` at the end (load_best_model_at_end);
    if the starting model (step 0 of `history`) is at least as good and is a candidate, restore it. Save the kept one.

    Written to a temporary folder first and renamed, so `destination` is either complete or absent.
    """
    selection = selection or Selection()
    history = history or {}
    state = trainer.state
    checkpoint = state.best_model_checkpoint
    step = int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else state.global_step
    value = float(state.best_metric) if state.best_metric is not None else math.nan
    base_value = float(history.get(0, {}).get(selection.select_by, math.nan))
    kept_base = (
        selection.base_is_candidate
        and base_weights is not None
        and math.isfinite(base_value)
        and not (math.isfinite(value) and selection.beats(value, base_value))
    )
    if kept_base:
        trainer.model.load_state_dict(base_weights)
        step, value, checkpoint = 0, base_value, None
    partial = destination.with_name(destination.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with weights_written(f"saving the best model to {destination}", lambda: shutil.rmtree(partial, ignore_errors=True)):
        trainer.model.save(str(partial))
    shutil.rmtree(destination, ignore_errors=True)
    partial.rename(destination)
    val_loss = history.get(step, {}).get("val_loss", value if selection.select_by == "val_loss" else math.nan)
    return BestCheckpoint(
        step=step,
        val_loss=float(val_loss),
        checkpoint=checkpoint,
        path=destination,
        select_by=selection.select_by,
        value=value,
        kept_base=kept_base,
        base_value=base_value,
    )
