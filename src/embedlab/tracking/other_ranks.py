"""What ranks other than 0 of a torchrun launch track: nothing, so that rank 0 owns the one MLflow run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from embedlab.errors import UserError
from embedlab.hardware.ranks import is_main_process


def tracker_for_this_rank(tracker):
    """The tracker on rank 0; on the other ranks a stand-in that keeps metric history and logs nothing."""
    return tracker if is_main_process() else OtherRankTracker(tracker)


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


class OtherRankTracker:
    """What ranks 1..N-1 of a torchrun launch get instead of the MLflow tracker.

    Rank 0 owns the one MLflow run; the other ranks must not open a second one. Metrics are kept in `history`
    (as the real tracker does) and every other call is a no-op, so code that tracks runs unchanged on every
    rank. Attributes such as `uri` and `experiment` are read from the real tracker.

    Args:
        tracker: the tracker built from `conf/tracking/`, used only for its settings.
    """

    def __init__(self, tracker) -> None:
        self._tracker = tracker
        self.run_id: str | None = None
        self.history: dict[int, dict[str, float]] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._tracker, name)
        return _ignore if callable(value) else value

    def find_resume_point(self, resume: Any, cfg: dict[str, Any]) -> None:
        from embedlab.tracking.resume import resume_requested  # it loads transformers; embedlab.run must not yet

        if resume_requested(resume):  # rank 0 would resume and this rank would not: they would hang
            raise UserError(f"resume={resume} is not supported under torchrun yet; start a new run (resume=false)")
        return None

    @contextlib.contextmanager
    def run(self, *args: Any, **kwargs: Any) -> Iterator[OtherRankTracker]:
        yield self

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self.history.setdefault(step, {}).update(clean)
