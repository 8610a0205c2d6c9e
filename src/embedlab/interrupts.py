"""Ctrl-C and SIGTERM, from the first line of `python -m train` to its last: one line, exit 130 / 143.

`stopped_in_one_line()` is the one place that turns a stop signal into the line `interrupted: stopped by SIGINT`
(with what to do next, where that is known) and the exit status 128 + the signal's number. It wraps everything
`python -m train` does; inside it both signals raise `Interrupted` wherever the program is: composition,
`reproduce=`, a grid's check, reading data, loading the model, logging it, a sweep between its jobs. Every MLflow
run on the way ends KILLED (`tracking/status.py`). During training the trainer finishes its step and saves a
checkpoint first (`training/interrupt.py`); a sweep says how to continue its study (`sweeps/optuna_sweep.py`).

`src/train.py` holds both signals back while its own imports run, before this module can be imported; a signal
sent then is delivered when `stopped_in_one_line()` starts, and ends the run there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from hydra.experimental.callback import Callback

from embedlab.errors import Interrupted, as_stop, forget_stop_signals, stop_signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def raise_interrupted(signum: int, frame) -> None:
    """The signal handler of `python -m train` outside training."""
    raise stop_signal(signum)


@contextlib.contextmanager
def stopped_in_one_line() -> Iterator[None]:
    """Around all of `python -m train`: a stop signal, or an `Interrupted` or `KeyboardInterrupt` that reaches
    this block, ends the process with one line on stderr and exit status 128 + the signal's number.

    So does any other exception once a stop signal has come: a library's cleanup may have turned the signal's
    `Interrupted` into another exception on its way here (`embedlab.errors.stopped_by_signal`)."""
    forget_stop_signals()
    previous = {s: signal.signal(s, raise_interrupted) for s in STOP_SIGNALS}
    stopped: Interrupted | None = None
    try:
        if hasattr(signal, "pthread_sigmask"):  # what src/train.py held back during its imports arrives now
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        yield
    except BaseException as exc:
        stopped = as_stop(exc)  # also the stop carried here as another exception
        if stopped is None:
            raise
    finally:  # stopped: the runs are closed and the line follows, so exiting is not interrupted again
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if stopped else handler)
    if stopped is not None:
        print(f"\ninterrupted: {stopped}", file=sys.stderr)  # on a line of its own, after any progress bar
        sys.exit(stopped.exit_code)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then take effect as they would have: for what must not be
    cut in half, such as closing an MLflow run with its status. If the block raises, the held signal is dropped
    (the program is already stopping). Outside the main thread, where Python runs no signal handler, it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if held:
        signal.raise_signal(held[0])  # now, to the handler that was there before


SWEEPER_PID = "EMBEDLAB_SWEEPER_PID"  # set by a sweeper process for the jobs its launcher starts
_watching = False
_in_job = threading.Event()


class MarkSweeperProcess(Callback):
    """`on_multirun_start` (conf/train.yaml): the sweeper's pid in the environment, which the processes a launcher
    starts (joblib's workers, submitit's local jobs) inherit, so that a job in one can tell that its sweeper died
    (`stopped_when_sweeper_dies`)."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        os.environ[SWEEPER_PID] = str(os.getpid())


@contextlib.contextmanager
def stopped_when_sweeper_dies(interval_s: float = 1.0) -> Iterator[bool]:
    """Around a sweep job run by a process its sweeper started (a joblib worker): once the sweeper is gone (`kill
    -9`), the job stops as on SIGTERM (the trainer saves a checkpoint, the run ends KILLED), and the process exits
    when the job has. A killed sweeper's workers went on training, their trials already marked FAIL by the command
    run again, competing with it for the cores.

    Watches the parent process id, which changes when the sweeper dies. Nothing is watched in the sweeper's own
    process (the basic launcher) or in one it did not start (Ray, SLURM). One watcher per process, however many
    jobs it runs; a worker idle between jobs exits at once. Yields whether this process is watched."""
    global _watching
    sweeper = os.environ.get(SWEEPER_PID, "")
    watched = sweeper.isdigit() and int(sweeper) != os.getpid() and os.getppid() == int(sweeper)
    if watched and not _watching:
        _watching = True

        def watch() -> None:
            while os.getppid() == int(sweeper):
                time.sleep(interval_s)
            if _in_job.is_set():
                os.kill(os.getpid(), signal.SIGTERM)
                while _in_job.is_set():
                    time.sleep(interval_s)
            os._exit(128 + signal.SIGTERM)

        threading.Thread(target=watch, name="embedlab-sweeper-watch", daemon=True).start()
    _in_job.set()
    try:
        yield watched
    finally:
        _in_job.clear()
