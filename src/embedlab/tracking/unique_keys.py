"""MLflow writes that parallel jobs race on: a store call that looks a row up, then inserts it.

Two jobs that both find the row missing both insert it; the second insert breaks the table's unique key and
the whole call is rolled back. Tried again, the lookup finds the first job's row and the call goes through.
MLflow's `log_input` (the `datasets` table), `set_experiment_tag` and `set_tag` (`session.merge`) work this way:
a sweep's first batch of jobs starts together and makes these writes on rows that do not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
TRIES = 3  # each retry follows a row another job wrote; a third failure is no race

# What a broken unique key says: SQLite's and PostgreSQL's words, as MLflow passes them on (also over REST)
UNIQUE_KEY_BROKEN = ("UNIQUE constraint failed", "duplicate key value violates unique constraint")


def retry_unique_key_race(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)`, tried again (up to TRIES in all) while it fails because another job inserted the
    same row a moment before."""
    from mlflow.exceptions import MlflowException

    for _ in range(TRIES - 1):
        try:
            return call(*args, **kwargs)
        except MlflowException as exc:
            if not any(words in str(exc) for words in UNIQUE_KEY_BROKEN):
                raise
    return call(*args, **kwargs)  # the last try: its error, whatever it says, is the caller's
