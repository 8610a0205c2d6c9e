"""A job whose worker process died (SIGKILL, the OOM killer) ends its trial, not the sweep.

joblib's process pool raises `TerminatedWorkerError` for the whole batch when one worker dies, and stops the
batch's other workers with it. The jobs' MLflow runs say what each got to: a FINISHED run logged its objective
(`kept_<optimized_metric>`), a KILLED one was stopped by the pruner, and one still RUNNING was cut short. The
sweeper turns that into the batch's job returns and tells the study as usual: no finished work is lost, a cut job
is FAIL in Optuna and FAILED in MLflow (tag `embedlab.error`), and the next batch gets a fresh pool.
"""

from __future__ import annotations

import logging
import math

from hydra.core.utils import JobReturn, JobStatus

from embedlab.sweeps.mlflow_group import TRIAL_TAG, SweepGroup
from embedlab.tracking.kept import kept

log = logging.getLogger(__name__)


class WorkerDied(RuntimeError):
    """The job's process ended before it returned (killed by a signal, or stopped with a dying pool)."""


def returns_after_dead_worker(trials: list, group: SweepGroup, exc: BaseException) -> list[JobReturn]:
    """One job return per trial of the broken batch, read from its MLflow run; cut runs are ended FAILED."""
    runs = {run.data.tags.get(TRIAL_TAG): run for run in group.children()}
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.warning(f"A worker process died ({reason}); reading the batch's {len(trials)} jobs from their MLflow runs")
    return [job_return(trial.number, runs.get(str(trial.number)), group, reason) for trial in trials]


def job_return(number: int, run, group: SweepGroup, reason: str) -> JobReturn:
    ret = JobReturn(status=JobStatus.FAILED)
    if run is not None and run.info.status == "FINISHED":
        metric = run.data.tags.get("optimized_metric")
        value = run.data.metrics.get(kept(metric))
        if value is not None and math.isfinite(value):
            ret.status, ret.return_value = JobStatus.COMPLETED, value
            return ret
    if run is not None and run.info.status == "KILLED":
        import optuna

        ret.return_value = optuna.TrialPruned(f"trial {number}: its run ended KILLED before the pool broke")
        return ret
    message = f"trial {number}: its worker process died before the job returned ({reason})"
    if run is not None and run.info.status == "RUNNING":
        group.client.set_tag(run.info.run_id, "embedlab.error", message)
        group.client.set_terminated(run.info.run_id, status="FAILED")
    ret.return_value = WorkerDied(message)
    return ret
