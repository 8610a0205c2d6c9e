"""Ctrl-C and SIGTERM during training: finish the current step, save a checkpoint, end the run KILLED, exit 130 / 143.

Outside training the handler of `embedlab.interrupts` stops at once; this one takes over while the trainer runs.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

from transformers import TrainerCallback

from embedlab.errors import Interrupted, stop_signal
from embedlab.training.checkpoint import last_complete_checkpoint


class GracefulStop(TrainerCallback):
    """Turns SIGINT/SIGTERM during training into: save a checkpoint at the end of this step, then stop.

    A signal during a training step skips that step's evaluation (transformers evaluates before it saves, and the
    evaluation could take minutes), so the checkpoint is written at once. One during an evaluation's loss stops at
    its next batch, keeping the checkpoints already written; one after the loss (the evaluators' encodes) lets the
    evaluation end and saves that step. A second signal stops at once; outside `trainer.train()` a signal stops at
    once too.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.training = False
        self.saved_step: int | None = None  # the step whose checkpoint the signal asked for

    def _handle(self, signum, frame) -> None:
        if self.training and self.signum is None:
            self.signum = signum
            return
        raise stop_signal(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def on_train_begin(self, args, state, control, **kwargs):
        self.training = True

    def on_step_end(self, args, state, control, **kwargs):
        if self.signum is not None:
            control.should_evaluate = False  # runs before the save: the checkpoint first, at once
            self._save_and_stop(state, control)
        return control

    def on_prediction_step(self, args, state, control, **kwargs):
        """A signal during an evaluation (the loss over the validation split, one batch at a time) stops at the
        next batch: waiting for the evaluation's end, and the save after it, could take minutes. (The last step is
        evaluated even after a signal during it, `TrainLogCallback`; its checkpoint is saved after that.)"""
        if self.signum is not None and self.saved_step != state.global_step:
            kept = last_complete_checkpoint(Path(args.output_dir))
            raise stop_signal(self.signum, self._next_step(state.global_step, kept))
        return control

    def on_evaluate(self, args, state, control, **kwargs):
        """A signal that came after the evaluation's loss (during the evaluators' encodes): this step is evaluated,
        so it is saved, and training stops (step 0's evaluation has no checkpoint: step 1 saves)."""
        if self.signum is not None and state.global_step > 0:
            self._save_and_stop(state, control)
        return control

    def _save_and_stop(self, state, control) -> None:
        control.should_save = True
        control.should_training_stop = True
        self.saved_step = state.global_step

    @staticmethod
    def _next_step(step: int, kept: Path | None) -> str:
        if kept is None:
            return f"during the evaluation of step {step}, before any checkpoint; nothing to resume (run it again)"
        return f"during the evaluation of step {step}; {kept.name} kept; continue this run with resume=true"

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def raise_if_stopped(self) -> None:
        if self.signum is not None:
            saved = f"checkpoint of step {self.saved_step} saved; " if self.saved_step is not None else ""
            raise Interrupted(self.signum, f"{saved}continue this run with resume=true")
