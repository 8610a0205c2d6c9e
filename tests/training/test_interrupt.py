"""training/interrupt.py: a stop signal during training waits for the step's end, one during an evaluation's loss
stops at its next batch."""

from __future__ import annotations

import inspect
import signal

import pytest
from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

from embedlab.errors import Interrupted
from embedlab.training.checkpoint import mark_complete
from embedlab.training.interrupt import GracefulStop


def signalled(tmp_path, step: int) -> tuple[GracefulStop, TrainingArguments, TrainerState]:
    stop, args, state = GracefulStop(), TrainingArguments(str(tmp_path)), TrainerState(global_step=step)
    stop.on_train_begin(args, state, TrainerControl())
    stop._handle(signal.SIGTERM, None)  # during training: noted, not raised (a step may be half done)
    return stop, args, state


def test_a_signal_during_a_training_step_saves_it_before_its_evaluation(tmp_path):
    """transformers evaluates a step before it saves it: a signal during the step used to run into the evaluation,
    stop there, and leave no checkpoint of the step (every step under debug=tiny, which evaluates each)."""
    stop, args, state = signalled(tmp_path, step=3)
    control = stop.on_step_end(args, state, TrainerControl(should_evaluate=True))
    assert (control.should_evaluate, control.should_save, control.should_training_stop) == (False, True, True)
    with pytest.raises(Interrupted, match="stopped by SIGTERM; checkpoint of step 3 saved; continue this run with"):
        stop.raise_if_stopped()


def test_a_signal_during_an_evaluation_stops_at_its_next_batch_naming_the_checkpoint_kept(tmp_path):
    """A validation loss over 1,814 batches kept a SIGTERM waiting 7.5 minutes for the next training step."""
    stop, args, state = signalled(tmp_path, step=4)
    with pytest.raises(Interrupted) as exc:
        stop.on_prediction_step(args, state, TrainerControl())
    assert str(exc.value).endswith(
        "during the evaluation of step 4, before any checkpoint; nothing to resume (run it again)"
    )
    for step in (1, 2):
        (tmp_path / f"checkpoint-{step}").mkdir()
    mark_complete(tmp_path / "checkpoint-1")  # checkpoint-2 is partial: resume would not take it
    with pytest.raises(Interrupted) as exc:
        stop.on_prediction_step(args, state, TrainerControl())
    assert str(exc.value) == (
        "stopped by SIGTERM; during the evaluation of step 4; checkpoint-1 kept; continue this run with resume=true"
    )
    # the hook is the one transformers' evaluation loop calls after each batch
    assert "callback_handler.on_prediction_step(" in inspect.getsource(Trainer.evaluation_loop)


def test_a_signal_after_an_evaluations_loss_saves_the_evaluated_step(tmp_path):
    stop, args, state = signalled(tmp_path, step=6)
    control = stop.on_evaluate(args, state, TrainerControl())
    assert (control.should_save, control.should_training_stop) == (True, True)
    at_start = stop.on_evaluate(args, TrainerState(global_step=0), TrainerControl())
    assert not at_start.should_save  # step 0 has no checkpoint: step 1 saves


def test_transformers_evaluates_a_step_before_it_saves_it():
    """The order the first test relies on: `should_evaluate` set to False in on_step_end is read before the save."""
    source = inspect.getsource(Trainer._maybe_log_save_evaluate)
    assert source.index("self.control.should_evaluate") < source.index("self.control.should_save:")


def test_without_a_signal_an_evaluation_goes_on(tmp_path):
    control = TrainerControl()
    assert GracefulStop().on_prediction_step(TrainingArguments(str(tmp_path)), TrainerState(), control) is control
