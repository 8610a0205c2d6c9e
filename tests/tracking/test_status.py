"""One rule for how runs end (tracking/status.py), used by single runs, chains and sweeps alike."""

from __future__ import annotations

import optuna
import pytest
from transformers import TrainerCallback

from embedlab.errors import Interrupted
from embedlab.job import run_job
from embedlab.tracking.status import ended_with_status, status_for
from embedlab_testing import runs, tiny_overrides


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (None, "FINISHED"),
        (KeyboardInterrupt(), "KILLED"),
        (Interrupted(15), "KILLED"),
        (optuna.TrialPruned(), "KILLED"),
        (RuntimeError("out of memory"), "FAILED"),
        (SystemExit(2), "FAILED"),
    ],
)
def test_status_for_each_way_a_run_ends(exc, status):
    assert status_for(exc) == status


def test_ended_with_status_records_the_error_then_closes_and_reraises():
    calls = []
    with pytest.raises(optuna.TrialPruned):
        with ended_with_status(lambda s: calls.append(("end", s)), on_error=lambda e: calls.append(("error", e))):
            raise optuna.TrialPruned("pruned at step 1")
    assert [c[0] for c in calls] == ["error", "end"] and calls[1] == ("end", "KILLED")
    with ended_with_status(lambda s: calls.append(("end", s))):
        pass
    assert calls[-1] == ("end", "FINISHED")


class PruneAtFirstEvaluation(TrainerCallback):
    """What a sweep's pruner does to a trial: raise TrialPruned after an evaluation past step 0."""

    def on_evaluate(self, args, state, control, **kwargs):
        if state.global_step > 0:
            raise optuna.TrialPruned(f"pruned at step {state.global_step}")


def test_a_pruned_chain_trial_ends_its_stage_and_parent_runs_killed(
    tiny_model_path, physics_folder, tmp_path, compose_config
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        "experiment=physics_two_phase",
        *tiny_overrides(tiny_model_path, physics_folder),
        f"tracking.uri={uri}",
    ]
    cfg = compose_config(*overrides)
    with pytest.raises(optuna.TrialPruned):
        run_job(cfg, tmp_path / "out", overrides, callbacks=[PruneAtFirstEvaluation()])
    by_stage = {run.data.tags.get("embedlab.stage", "parent"): run for run in runs(uri)}
    assert set(by_stage) == {"parent", "phase1"}  # phase 2 never started
    assert by_stage["phase1"].info.status == "KILLED"
    assert by_stage["parent"].info.status == "KILLED"
    assert "pruned at step 1" in by_stage["phase1"].data.tags["embedlab.error"]


def test_any_exception_after_a_stop_signal_ends_the_run_killed():
    from embedlab.errors import forget_stop_signals, stop_signal

    stop_signal(15)  # what the signal handler records before it raises; a library then raised something else
    try:
        assert status_for(RuntimeError("raised by a library's cleanup")) == "KILLED"
    finally:
        forget_stop_signals()
    assert status_for(RuntimeError("out of memory")) == "FAILED"
