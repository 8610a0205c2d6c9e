"""The one exception type for user mistakes, and the one way a command ends on one: a line, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn


class UserError(Exception):
    """Bad input from the user: what was wrong, where, and what was expected, in one line."""


class Interrupted(Exception):
    """Training stopped on Ctrl-C or SIGTERM; the exit status is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum


def exit_with_error(error: UserError | str) -> NoReturn:
    """`error: <what was wrong>` on a line of its own on stderr (after any progress bar), and exit status 2."""
    print(f"\nerror: {error}", file=sys.stderr)
    sys.exit(2)


@contextmanager
def user_errors_exit() -> Iterator[None]:
    """Around a command's work (a run, a sweep, `reproduce=`): a `UserError` ends it with `exit_with_error`."""
    try:
        yield
    except UserError as exc:
        exit_with_error(exc)
