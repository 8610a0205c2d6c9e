"""What a sweep makes of an exception its launcher raised (not a job's: Hydra returns those in the job's result)."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

from embedlab.config import first_line
from embedlab.errors import UserError


def worker_died(exc: BaseException) -> bool:
    """True for a launcher error that means a job's process died (loky's `TerminatedWorkerError` is one)."""
    return isinstance(exc, BrokenProcessPool)


def launcher_could_not_start(exc: BaseException, launcher, jobs: str, after: str) -> UserError:
    """The one line for a launcher that refused to start its jobs (e.g. `hydra.launcher.n_jobs=0`, which joblib
    refuses only when it starts): which launcher, its error, and what happens to the jobs (`after`)."""
    return UserError(
        f"the launcher ({type(launcher).__name__}) could not start {jobs}: {type(exc).__name__}: {first_line(exc)}; "
        f"expected hydra/launcher and hydra.launcher.* it accepts ({after})"
    )
