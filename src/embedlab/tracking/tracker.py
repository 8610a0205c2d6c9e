"""`Tracker`: what a run uses of its tracker, written down once.

`MlflowTracker` (rank 0, or a single process) and `OtherRankTracker` (ranks 1..N-1 of a torchrun launch)
implement it; tests/tracking/test_tracker.py checks that both have every member with the same signature.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from embedlab.tracking.model_card import KeptModel
    from embedlab.tracking.resume import ResumePoint


@runtime_checkable
class Tracker(Protocol):
    """One training run's record: its settings, its metrics per step, its artifacts and its kept model.

    Attributes:
        uri: the tracking URI.
        experiment_id: the experiment's id once `connect()` ran (None before, and on ranks other than 0).
        parent_run_id: the run this one is nested under (a sweep's or a chain's parent run), or None.
        run_name: the run's name as configured; None = the run picks one.
        run_id: the run's id inside `run()`; None before (and on ranks other than 0).
        history: step -> metrics logged at that step (a resumed run starts with its earlier ones).
    """

    uri: str
    experiment_id: str | None
    parent_run_id: str | None
    run_name: str | None
    run_id: str | None
    history: dict[int, dict[str, float]]

    def connect(self, resume: Any = False) -> None:
        """Open the store and the experiment; one line within seconds when it cannot be used. With `resume=`
        requested, an experiment missing from the store is one line, not created (nothing in it to resume)."""

    def find_resume_point(self, resume: Any, cfg: dict[str, Any]) -> ResumePoint | None:
        """The unfinished run `resume=true|<run id>` continues, or None for a new run."""

    def run(
        self,
        cfg: dict[str, Any],
        run_name: str,
        run_dir: Path,
        tags: dict[str, str] | None = None,
        resume: ResumePoint | None = None,
    ) -> contextlib.AbstractContextManager[Tracker]:
        """The run, new or continued from `resume` (what `find_resume_point` returned); it ends with a status."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_artifact_text(self, text: str, path: str) -> None: ...

    def log_dict(self, data: dict[str, Any], path: str) -> None: ...

    def log_datasets(self, data) -> None: ...

    def set_tags(self, tags: dict[str, Any]) -> None: ...

    def log_model(self, model, kept: KeptModel) -> str | None:
        """Log (and register) the kept model; returns its URI, or None when nothing was logged."""
