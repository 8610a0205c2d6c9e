"""Which process of a torchrun launch this is, and what ranks other than 0 do differently.

Every rank trains (DDP needs them all); rank 0 alone writes the outputs and the one MLflow run. The rank comes
from the environment torchrun sets (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`), so these helpers
answer before any process group exists and without importing torch.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from embedlab.errors import UserError


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def world_size() -> int:
    """Processes in the launch; 1 outside torchrun."""
    return _env_int("WORLD_SIZE", 1)


def rank() -> int:
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's index on its machine: the GPU it uses."""
    return _env_int("LOCAL_RANK", 0)


def local_world_size() -> int:
    """Processes of this launch on this machine: they share its cores."""
    return _env_int("LOCAL_WORLD_SIZE", 1)


def is_main_process() -> bool:
    """True for rank 0, the one process that writes outputs and tracks the run."""
    return rank() == 0


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
        if resume not in (None, False, "false"):  # rank 0 would resume and this rank would not: they would hang
            raise UserError(f"resume={resume} is not supported under torchrun yet; start a new run (resume=false)")
        return None

    @contextlib.contextmanager
    def run(self, *args: Any, **kwargs: Any) -> Iterator[OtherRankTracker]:
        yield self

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self.history.setdefault(step, {}).update(clean)

    def log_model(self, model) -> None:
        return None
