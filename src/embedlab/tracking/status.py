"""How a tracked run ends, decided in one place: FINISHED, FAILED on an error, KILLED when stopped.

Every MLflow run embedlab opens (a training run, a chain's parent run, a sweep's parent run) ends through
`ended_with_status`, so the rule is written once:

* FINISHED: the block ran to its end;
* KILLED: Ctrl-C or SIGTERM (`Interrupted`, a `KeyboardInterrupt`, or any exception once a stop signal came:
  a library may have turned the signal's exception into another), or a sweep's pruner (`optuna.TrialPruned`);
* FAILED: any other exception.

A stop signal that comes while the run is being closed waits until it is closed (`signals_held`), so a second
Ctrl-C cannot leave the run RUNNING.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

from embedlab.errors import as_stop
from embedlab.interrupts import signals_held


def status_for(exc: BaseException | None) -> str:
    """The MLflow status of a run that ended with `exc` (None: it ended normally)."""
    if exc is None:
        return "FINISHED"
    if as_stop(exc) is not None or _is_pruned(exc):
        return "KILLED"
    return "FAILED"


def _is_pruned(exc: BaseException) -> bool:
    optuna = sys.modules.get("optuna")  # a TrialPruned can only exist once optuna is imported: no import here
    return optuna is not None and isinstance(exc, optuna.TrialPruned)


@contextlib.contextmanager
def ended_with_status(
    end: Callable[[str], None], on_error: Callable[[BaseException], None] | None = None
) -> Iterator[None]:
    """Run the block, then call `end(status)` with the status `status_for` gives; exceptions propagate.

    Args:
        end: closes the run with a status, e.g. ``lambda status: mlflow.end_run(status=status)``.
        on_error: called with the exception before the run is closed (e.g. to record it as a tag).
    """
    try:
        yield
    except BaseException as exc:
        with signals_held():
            try:
                if on_error is not None:
                    on_error(exc)
            finally:
                end(status_for(exc))
        raise
    with signals_held():
        end("FINISHED")
