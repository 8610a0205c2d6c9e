"""The exceptions that end a run with one line instead of a traceback: a user's mistake, a stop signal; and the
one way a command ends on a user's mistake."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


class UserError(Exception):
    """Bad input from the user: what was wrong, where, and what was expected, in one line."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: the exit status is 128 + the signal number.

    A KeyboardInterrupt, so that no `except Exception` on the way (a library's, Hydra's job runner) takes it for
    an error: it reaches `embedlab.interrupts.stopped_in_one_line`, which prints it as one line. Whoever knows
    what the user can do next (the trainer saved a checkpoint, a study keeps its trials) says so in `next_step`.
    """

    def __init__(self, signum: int, next_step: str = "") -> None:
        import signal

        self.signum = int(signum)
        self.exit_code = 128 + self.signum
        self.next_step = next_step
        name = signal.Signals(self.signum).name
        super().__init__(f"stopped by {name}" + (f"; {next_step}" if next_step else ""))

    def __reduce__(self):  # pickled across processes (a joblib worker's job) with its arguments
        return type(self), (self.signum, self.next_step)


def exit_with_error(error: UserError | str, log: logging.Logger | None = None) -> NoReturn:
    """`error: <what was wrong>` on a line of its own on stderr (after any progress bar), and exit status 2.

    Inside a job, pass its `log` (an `embedlab.*` logger): the line then also lands in the job log, and reaches
    stderr unadorned through conf/hydra/job_logging/embedlab.yaml. Elsewhere (composing, a sweeper) it is printed.
    """
    if log is not None:
        log.error(f"\nerror: {error}")
    else:
        print(f"\nerror: {error}", file=sys.stderr)
    sys.exit(2)


@contextmanager
def user_errors_exit() -> Iterator[None]:
    """Around a command's work (a run, a sweep, `reproduce=`): a `UserError` ends it with `exit_with_error`."""
    try:
        yield
    except UserError as exc:
        exit_with_error(exc)
