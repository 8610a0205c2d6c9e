"""training/interrupt.py: a stop signal during training waits for the step's end, one during an evaluation's loss
stops at its next batch."""

from __future__ import annotations

import inspect
import signal

import pytest
from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

from embedlab.errors import Interrupted
from embedlab.training.interrupt import GracefulStop


def test_a_signal_during_an_evaluation_stops_at_its_next_batch(tmp_path):
    """A validation loss over 1,814 batches kept a SIGTERM waiting 7.5 minutes for the next training step."""
    stop, args, state = GracefulStop(), TrainingArguments(str(tmp_path)), TrainerState()
    stop.on_train_begin(args, state, TrainerControl())
    stop._handle(signal.SIGTERM, None)  # during training: noted, not raised (a step may be half done)
    with pytest.raises(Interrupted, match="stopped by SIGTERM"):
        stop.on_prediction_step(args, state, TrainerControl())
    # the hook is the one transformers' evaluation loop calls after each batch
    assert "callback_handler.on_prediction_step(" in inspect.getsource(Trainer.evaluation_loop)


def test_without_a_signal_an_evaluation_goes_on(tmp_path):
    control = TrainerControl()
    assert GracefulStop().on_prediction_step(TrainingArguments(str(tmp_path)), TrainerState(), control) is control
