"""What ranks other than 0 of a torchrun launch get as tracker: no MLflow calls, the metric history kept."""

from __future__ import annotations

import pytest

from embedlab.errors import UserError
from embedlab.tracking.other_ranks import OtherRankTracker, tracker_for_this_rank


def test_other_ranks_track_nothing_but_keep_history(monkeypatch):
    monkeypatch.setenv("RANK", "1")  # what torchrun gives rank 1

    class Tracker:
        uri = "sqlite:///x.db"

        def log_params(self, params):
            raise AssertionError("rank 1 must not log")

    tracker = tracker_for_this_rank(Tracker())
    assert isinstance(tracker, OtherRankTracker)
    with tracker.run({}, "name", "dir"):
        tracker.log_params({"a": 1})
        tracker.log_metrics({"val_loss": 1.5}, step=2)
    assert tracker.history == {2: {"val_loss": 1.5}} and tracker.run_id is None and tracker.uri == "sqlite:///x.db"
    with pytest.raises(UserError, match="resume=True is not supported under torchrun"):
        tracker.find_resume_point(True, {})


def test_rank_0_keeps_the_real_tracker():
    tracker = object()
    assert tracker_for_this_rank(tracker) is tracker
