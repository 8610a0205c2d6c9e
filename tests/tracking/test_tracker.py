"""The Tracker protocol: both trackers a run can get implement every member of it, with the same signatures."""

from __future__ import annotations

import inspect

import pytest

from embedlab.tracking.mlflow_run import MlflowTracker
from embedlab.tracking.other_ranks import OtherRankTracker
from embedlab.tracking.tracker import Tracker

METHODS = sorted(
    name for name, value in vars(Tracker).items() if inspect.isfunction(value) and not name.startswith("_")
)
ATTRIBUTES = sorted(name for name in Tracker.__annotations__)


def parameters(function) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_the_protocol_names_what_a_run_uses():
    assert {"run", "find_resume_point", "log_metrics", "log_model", "connect"} <= set(METHODS)
    assert {"uri", "experiment_id", "run_id", "history"} <= set(ATTRIBUTES)


@pytest.mark.parametrize("cls", [MlflowTracker, OtherRankTracker])
@pytest.mark.parametrize("name", METHODS)
def test_both_trackers_have_every_method_with_its_signature(cls, name):
    assert name in vars(cls), f"{cls.__name__}.{name} is inherited from the protocol, not implemented"
    method = inspect.unwrap(vars(cls)[name])  # run() is a contextmanager
    assert parameters(method) == parameters(vars(Tracker)[name])


def test_both_trackers_are_trackers_with_their_attributes(tmp_path):
    real = MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="e", parent_run_id="p", run_name="n")
    other = OtherRankTracker(real)
    for tracker in (real, other):
        assert isinstance(tracker, Tracker)
        assert {name: getattr(tracker, name) for name in ("uri", "experiment_id", "parent_run_id", "run_name")} == {
            "uri": real.uri,
            "experiment_id": None,
            "parent_run_id": "p",
            "run_name": "n",
        }
        assert tracker.run_id is None and tracker.history == {}
    assert "__getattr__" not in vars(OtherRankTracker)  # every member is written out, none forwarded blindly


def test_run_continues_the_resume_point_it_is_given(tmp_path):
    """The resume point is a value passed to `run()`: finding one leaves nothing behind that a later run reads."""
    from embedlab.tracking.resume import ResumePoint

    tracker = MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="e", log_model=False)
    with tracker.run({"a": 1}, "first", tmp_path) as run:
        run.log_metrics({"val_loss": 2.0}, step=1)
        first = run.run_id
    assert tracker.find_resume_point(False, {"a": 1}) is None
    with tracker.run({"a": 1}, "second", tmp_path) as run:  # no resume given: a new run
        assert run.run_id != first
    point = ResumePoint(run_id=first, run_dir=tmp_path, checkpoint=tmp_path / "checkpoint-1")
    with tracker.run({"a": 1}, "ignored", tmp_path, resume=point) as run:
        assert run.run_id == first and run.history[1] == {"val_loss": 2.0}
