"""Runs left RUNNING by a process that died (kill -9, OOM killer, preemption) are closed as FAILED."""

from __future__ import annotations

import os
import socket

import psutil

from embedlab.tracking.unique_keys import retry_unique_key_race

REASON_TAG = "embedlab.failure_reason"


def process_started() -> float:
    """When this process started (seconds since the epoch): with its pid, it names the process."""
    return psutil.Process().create_time()


def process_tags() -> dict[str, str]:
    """Who owns a run: checked by `close_stale_runs` on the next start against the same store."""
    return {"host": socket.gethostname(), "pid": str(os.getpid()), "pid_started": str(process_started())}


def process_alive(pid: int, started: float | None) -> bool:
    """True if `pid` runs and, when its start time was recorded, is the same process (pids are reused).

    The one liveness check of embedlab: stale MLflow runs here, orphaned Optuna trials in `sweeps/study.py`.
    """
    try:
        process = psutil.Process(pid)
        return started is None or abs(process.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


def close_stale_runs(client, experiment_ids: list[str]) -> list[str]:
    """Mark RUNNING runs started on this host by a process that is gone as FAILED, with a reason tag.

    Runs from other hosts are left alone: their process may be alive there.
    """
    host = socket.gethostname()
    closed = []
    for run in client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", max_results=1000):
        tags = run.data.tags
        if tags.get("host") != host or not tags.get("pid", "").isdigit():
            continue
        started = float(tags["pid_started"]) if tags.get("pid_started") else None
        if process_alive(int(tags["pid"]), started):
            continue
        reason = f"process {tags['pid']} on {host} ended without closing the run"
        # two jobs starting together may both close this run: the second finds the tag the first wrote
        retry_unique_key_race(client.set_tag, run.info.run_id, REASON_TAG, reason)
        client.set_terminated(run.info.run_id, status="FAILED")
        closed.append(run.info.run_id)
    return closed
