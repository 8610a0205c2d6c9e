"""The exceptions that end a run with one line instead of a traceback: a user's mistake, a stop signal."""

from __future__ import annotations


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
