"""What ranks other than 0 of a torchrun launch track: nothing, so that rank 0 owns the one MLflow run."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedlab.errors import UserError
from embedlab.hardware.ranks import is_main_process
from embedlab.tracking.tracker import Tracker

if TYPE_CHECKING:
    from embedlab.tracking.model_card import KeptModel
    from embedlab.tracking.resume import ResumePoint


def tracker_for_this_rank(tracker: Tracker) -> Tracker:
    """The tracker on rank 0; on the other ranks a stand-in that keeps metric history and logs nothing."""
    return tracker if is_main_process() else OtherRankTracker(tracker)


class OtherRankTracker(Tracker):
    """What ranks 1..N-1 of a torchrun launch get instead of the MLflow tracker: a `Tracker` that logs nothing.

    Rank 0 owns the one MLflow run; the other ranks must not open a second one. Metrics are kept in `history`
    (as the real tracker does) and every other call does nothing, so code that tracks runs unchanged on every
    rank. The settings (`uri`, `experiment_id`, `parent_run_id`, `run_name`) are the real tracker's.

    Args:
        tracker: the tracker built from `conf/tracking/`, used only for its settings.
    """

    def __init__(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self.run_id: str | None = None
        self.history: dict[int, dict[str, float]] = {}

    @property
    def uri(self) -> str:
        return self._tracker.uri

    @property
    def experiment_id(self) -> str | None:
        return self._tracker.experiment_id

    @property
    def parent_run_id(self) -> str | None:
        return self._tracker.parent_run_id

    @property
    def run_name(self) -> str | None:
        return self._tracker.run_name

    def connect(self, resume: Any = False) -> None:
        return None  # rank 0 opens the store

    def find_resume_point(self, resume: Any, cfg: dict[str, Any]) -> ResumePoint | None:
        from embedlab.folders import resume_requested

        if resume_requested(resume):  # rank 0 would resume and this rank would not: they would hang
            raise UserError(f"resume={resume} is not supported under torchrun yet; start a new run (resume=false)")
        return None

    @contextlib.contextmanager
    def run(
        self,
        cfg: dict[str, Any],
        run_name: str,
        run_dir: Path,
        tags: dict[str, str] | None = None,
        resume: ResumePoint | None = None,
    ) -> Iterator[OtherRankTracker]:
        yield self

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self.history.setdefault(step, {}).update(clean)

    def log_params(self, params: dict[str, Any]) -> None:
        return None

    def log_artifact_text(self, text: str, path: str) -> None:
        return None

    def log_dict(self, data: dict[str, Any], path: str) -> None:
        return None

    def log_datasets(self, data) -> None:
        return None

    def set_tags(self, tags: dict[str, Any]) -> None:
        return None

    def log_model(self, model, kept: KeptModel) -> str | None:
        return None
