"""The exceptions that end a run with one line instead of a traceback: a user's mistake, a stop signal; and the
one way a command ends on a user's mistake."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
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


# The stop signals whose handler raised in this command, first first: `stopped_by_signal` reads it.
_SIGNALLED: list[int] = []


def write_failure(exc: Exception) -> str | None:
    """Why a write of weights failed, when it is the disk's doing: an OSError (a full disk, no permission), or
    safetensors' own error, which is no OSError ("Error while serializing: I/O error: No space left on device
    (os error 28)"). None for anything else, which is a bug to show with its traceback."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if type(exc).__name__ == "SafetensorError" and "I/O error" in str(exc):
        return str(exc).split("I/O error: ", 1)[-1]
    return None


@contextmanager
def weights_written(what: str, undo: Callable[[], None] | None = None, expected: str = "") -> Iterator[None]:
    """A write of weights (`what`: "saving checkpoint <folder>") that the disk refuses (`write_failure`) is one line,
    `<what> failed: <why>[; <expected>]`, after `undo` (removing a partial folder); anything else propagates."""
    try:
        yield
    except Exception as exc:
        reason = write_failure(exc)
        if reason is None:
            raise
        if undo is not None:
            undo()
        raise UserError(f"{what} failed: {reason}{'; ' + expected if expected else ''}") from None


def stop_signal(signum: int, next_step: str = "") -> Interrupted:
    """The `Interrupted` a signal handler raises for a stop signal, recorded: from then on, whatever exception ends
    the command (or a run) is that stop, not an error (`stopped_by_signal`, `raise_if_stopped`)."""
    _SIGNALLED.append(int(signum))
    return Interrupted(signum, next_step)


def stopped_by_signal() -> int | None:
    """The first stop signal this command raised, or None.

    A handler's exception is raised at whatever line the program is on, also inside a library's `try/finally`
    that turns it into another exception on the way out: OmegaConf's `_set_item_impl` then raises
    UnboundLocalError from its `finally`, and Hydra or a sweeper may wrap that again. So "is this exception a stop"
    is asked of the record, not of the exception's type."""
    return _SIGNALLED[0] if _SIGNALLED else None


def raise_if_stopped(cause: BaseException | None = None) -> None:
    """Raise the stop as `Interrupted` if a stop signal came: called by whoever would otherwise report `cause` as
    an error (an `error:` line, a traceback, a FAILED trial) or go on working after a library swallowed it."""
    signum = stopped_by_signal()
    if signum is not None:
        raise Interrupted(signum) from cause


def as_stop(exc: BaseException) -> Interrupted | None:
    """The stop `exc` ends the command with, or None when it is no stop: an `Interrupted` is itself; any exception
    after a stop signal came is that signal's (`stopped_by_signal`); another `KeyboardInterrupt` is SIGINT's."""
    import signal

    signum = stopped_by_signal()
    if isinstance(exc, Interrupted):
        return exc
    if signum is not None:
        return Interrupted(signum)
    return Interrupted(signal.SIGINT) if isinstance(exc, KeyboardInterrupt) else None


def forget_stop_signals() -> None:
    """A new command starts with no stop recorded (tests run several in one process)."""
    _SIGNALLED.clear()


def exit_with_error(error: UserError | str, log: logging.Logger | None = None) -> NoReturn:
    """`error: <what was wrong>` on a line of its own on stderr (after any progress bar), and exit status 2.

    Inside a job, pass its `log` (an `embedlab.*` logger): the line then also lands in the job log, and reaches
    stderr unadorned through conf/hydra/job_logging/embedlab.yaml. Elsewhere (composing, a sweeper) it is printed.
    """
    raise_if_stopped()  # a stop that a library turned into an error is a stop: `interrupted:`, not `error:`
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
