"""Ctrl-C and SIGTERM during training: finish the current step, save a checkpoint, end the run KILLED, exit 130 / 143.

Outside training the handler of `embedlab.interrupts` stops at once; this one takes over while the trainer runs.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

from transformers import TrainerCallback

from embedlab.errors import Interrupted, stop_signal


class GracefulStop(TrainerCallback):
    """Turns SIGINT/SIGTERM during training into: save a checkpoint at the end of this step, then stop.

    A second signal stops at once; so does one during an evaluation's loss, at its next batch. Outside
    `trainer.train()` a signal stops at once too.
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
            control.should_save = True
            control.should_training_stop = True
            self.saved_step = state.global_step
        return control

    def on_prediction_step(self, args, state, control, **kwargs):
        """A signal during an evaluation (the loss over the validation split, one batch at a time) stops at the
        next batch: the evaluation saves nothing, and waiting for the step after it could take minutes."""
        if self.signum is not None:
            raise stop_signal(self.signum)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.training = False

    def raise_if_stopped(self) -> None:
        if self.signum is not None:
            saved = f"checkpoint of step {self.saved_step} saved; " if self.saved_step is not None else ""
            raise Interrupted(self.signum, f"{saved}continue this run with resume=true")
