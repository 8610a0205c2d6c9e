"""Job returns read from MLflow runs after a worker died, through Hydra's public JobReturn API."""

from __future__ import annotations

from types import SimpleNamespace

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus

from embedlab.sweeps.dead_workers import WorkerDied, job_return
from embedlab.sweeps.optuna_sweep import job_error


def finished_run(status: str, metrics: dict[str, float] | None = None):
    return SimpleNamespace(
        info=SimpleNamespace(status=status, run_id="r"),
        data=SimpleNamespace(tags={"optimized_metric": "ndcg_at_10"}, metrics=metrics or {}),
    )


def test_hydra_job_return_raises_what_a_failed_job_raised():
    """What the sweeps rely on: the public setter stores the value, the getter re-raises a failed job's error."""
    ret = JobReturn(status=JobStatus.FAILED)
    ret.return_value = ValueError("bad")
    with pytest.raises(ValueError, match="bad"):
        ret.return_value  # noqa: B018
    ret.status, ret.return_value = JobStatus.COMPLETED, 0.5
    assert ret.return_value == 0.5


def test_a_failed_jobs_error_is_read_without_hydras_stderr_line(capsys):
    ret = JobReturn(status=JobStatus.FAILED, overrides=["a=1"])
    ret.return_value = RuntimeError("out of memory")
    error = job_error(ret)
    assert isinstance(error, RuntimeError) and str(error) == "out of memory"
    assert capsys.readouterr().err == ""


def test_a_finished_run_is_a_completed_job_with_its_kept_value():
    ret = job_return(3, finished_run("FINISHED", {"kept_ndcg_at_10": 0.7}), group=None, reason="pool broke")
    assert ret.status == JobStatus.COMPLETED and ret.return_value == 0.7


def test_a_killed_run_is_a_pruned_trial():
    ret = job_return(3, finished_run("KILLED"), group=None, reason="pool broke")
    assert ret.status == JobStatus.FAILED and isinstance(job_error(ret), optuna.TrialPruned)


def test_a_job_without_a_run_died_with_its_worker():
    error = job_error(job_return(4, None, group=None, reason="SIGKILL"))
    assert isinstance(error, WorkerDied) and "trial 4: its worker process died" in str(error)
