"""The one exception type for user mistakes: printed as a single line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: what was wrong, where, and what was expected, in one line."""


class Interrupted(Exception):
    """Training stopped on Ctrl-C or SIGTERM; the exit status is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.exit_code = 128 + signum
