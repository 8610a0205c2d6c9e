"""The checkpoint a resume continues from is checked before the model loads: weights, optimizer, scheduler and
trainer state present and readable; a damaged one is one line naming it, the file, and what to do."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.training.checkpoint import COMPLETE, check_resumable, removed_when_finished, unevaluated_step
from embedlab_testing import write_checkpoint


def damage_weights(checkpoint: Path) -> None:
    weights = checkpoint / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4])


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (damage_weights, "model.safetensors: the weights file is truncated or not safetensors (73 bytes)"),
        (lambda c: (c / "trainer_state.json").write_text("{"), "trainer_state.json does not parse (Expecting"),
        (lambda c: (c / "optimizer.pt").write_bytes(b""), "optimizer.pt is empty"),
        (lambda c: (c / "scheduler.pt").unlink(), "scheduler.pt is missing"),
        (lambda c: (c / "model.safetensors").unlink(), "it has no weights (model.safetensors)"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_naming_it_the_file_and_the_one_before(tmp_path, damage, problem):
    earlier = write_checkpoint(tmp_path / "checkpoint-1")
    last = write_checkpoint(tmp_path / "checkpoint-2")
    check_resumable(last)  # complete: nothing to say
    damage(last)
    with pytest.raises(UserError) as refused:
        check_resumable(last, "resume=true")
    line = str(refused.value)
    assert line.startswith(f"resume=true: checkpoint {last} is damaged: {problem}")
    assert line.endswith(
        "expected a complete checkpoint (model, optimizer.pt, scheduler.pt, trainer_state.json): "
        f"delete {last} to resume from checkpoint-1"
    )
    damage(earlier)
    (earlier / COMPLETE).unlink()  # no earlier complete checkpoint: a new run is the way on
    with pytest.raises(UserError, match="and start a new run: it is the run's only checkpoint$"):
        check_resumable(last)


def test_checkpoints_go_when_the_run_finishes_and_stay_when_it_fails(tmp_path):
    for fails in (True, False):
        checkpoints = tmp_path / ("failed" if fails else "finished") / "checkpoints"
        checkpoint = write_checkpoint(checkpoints / "checkpoint-2")
        with contextlib.suppress(RuntimeError), contextlib.ExitStack() as stack:
            stack.push(removed_when_finished(checkpoints))
            if fails:  # e.g. MLflow could not mark the run FINISHED: resume= still has its checkpoint
                raise RuntimeError("the run failed")
        assert checkpoint.exists() is fails


@pytest.mark.parametrize(
    "step, eval_steps, logged, expected",
    [
        (4, 2, [{"step": 4, "loss": 1.0}], 4),  # on the schedule, saved before its evaluation: evaluate it first
        (4, 2, [{"step": 4, "eval_loss": 0.5}], None),  # evaluated before it was saved
        (4, 2, [{"step": 4, "eval_pairs_loss": 0.5}], None),  # loss=mixed logs each part's
        (3, 2, [{"step": 3, "loss": 1.0}], None),  # a signal's checkpoint between evaluations: none was due
        (4, 2, [{"step": 2, "eval_loss": 0.5}], 4),  # an earlier step's evaluation is not this one's
    ],
)
def test_a_checkpoint_saved_before_its_scheduled_evaluation_is_found(tmp_path, step, eval_steps, logged, expected):
    checkpoint = tmp_path / f"checkpoint-{step}"
    checkpoint.mkdir()
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": logged}))
    assert unevaluated_step(checkpoint, eval_steps) == expected
