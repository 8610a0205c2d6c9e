"""One MLflow parent run per sweep, one child run per job: the overrides that nest a job, and the sweep's summary."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedlab.sweeps.search_space import quote
from embedlab.tracking.mlflow_run import default_tracking_uri
from embedlab.tracking.params import redact

log = logging.getLogger(__name__)

SWEEP_TAG = "sweep"  # on the parent and on every child: filter a sweep's runs with tags.sweep = '<name>'
TRIAL_TAG = "sweep_trial"
STATE_TAG = "sweep_state"  # COMPLETE / PRUNED / FAIL, as Optuna records the trial


class SweepGroup:
    """The parent run of a sweep in the same experiment as its jobs.

    Args:
        uri: the jobs' tracking URI (None = the project's mlflow.db).
        experiment: the jobs' experiment name.
        name: the sweep's name (the study name for Optuna), tagged on the parent and each child.
        run_id: an existing parent run to reopen (a resumed study); None or unknown = create one.
    """

    def __init__(self, uri: str | None, experiment: str, name: str, run_id: str | None = None, kind: str = "optuna"):
        from mlflow import MlflowClient

        self.uri = uri or default_tracking_uri()
        self.client = MlflowClient(self.uri)
        self.name = name
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(experiment)
        self.run_id = self._reopen(run_id) or self._create(kind)

    def _reopen(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        try:
            run = self.client.get_run(run_id)
        except Exception:  # another tracking store, or the run was deleted
            return None
        if run.info.experiment_id != self.experiment_id or run.info.lifecycle_stage != "active":
            return None
        self.client.update_run(run_id, status="RUNNING")
        return run_id

    def _create(self, kind: str) -> str:
        tags = {SWEEP_TAG: self.name, "sweep_kind": kind, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        return self.client.create_run(self.experiment_id, run_name=f"sweep-{self.name}", tags=tags).info.run_id

    def job_overrides(self, trial: int | None = None, overrides: list[str] | None = None) -> list[str]:
        """Overrides that nest a job's run under the parent and tag it with the sweep (and trial)."""
        out = [f"tracking.parent_run_id={quote(self.run_id)}", f"++tracking.tags.{SWEEP_TAG}={quote(self.name)}"]
        if trial is not None:
            out.append(f"++tracking.tags.{TRIAL_TAG}={trial}")
        if overrides:
            out.append(f"++tracking.tags.sweep_overrides={quote(' '.join(overrides))}")
        return out

    def children(self) -> list:
        return self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{self.run_id}'", max_results=5000
        )

    def mark_trials(self, states: dict[int, str]) -> list[int]:
        """Tag each trial's child run with its Optuna state (a pruned run ends KILLED); returns trials with no run."""
        by_trial = {r.data.tags.get(TRIAL_TAG): r for r in self.children()}
        missing = []
        for number, state in states.items():
            run = by_trial.get(str(number))
            if run is None:
                missing.append(number)
                continue
            self.client.set_tag(run.info.run_id, STATE_TAG, state)
            if state == "PRUNED" and run.info.status != "KILLED":
                self.client.set_terminated(run.info.run_id, status="KILLED", end_time=run.info.end_time)
        return missing

    def log_summary(self, summary: dict[str, Any]) -> None:
        """Study name, search space, best params and value: params and metrics for the UI, JSON for the rest."""
        self.client.log_text(self.run_id, redact(json.dumps(summary, indent=2, default=str)), "sweep.json")
        for key in ("study_name", "storage", "direction", "optimized_metric", "n_trials"):
            if key in summary:
                self.client.set_tag(self.run_id, f"sweep_{key}", redact(str(summary[key])))
        for key, value in (summary.get("best_params") or {}).items():
            self.client.set_tag(self.run_id, f"best.{key}", str(value))
        for key in ("best_value", "best_trial", "n_complete", "n_pruned", "n_fail", "n_repeats_reused"):
            if summary.get(key) is not None:
                self.client.log_metric(self.run_id, key, float(summary[key]))
        if summary.get("best_command"):
            self.client.set_tag(self.run_id, "best_command", summary["best_command"])

    def log_files(self, folder: Path, artifact_path: str) -> None:
        if any(folder.iterdir()):
            self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)


def log_plots(group: SweepGroup, study) -> list[str]:
    """Optimization history, param importances, parallel coordinates -> `plots/` on the parent run."""
    from embedlab.sweeps.plots import write_plots

    with tempfile.TemporaryDirectory() as tmp:
        notes = write_plots(study, Path(tmp))
        if notes:
            (Path(tmp) / "notes.txt").write_text("\n".join(notes) + "\n", encoding="utf-8")
        group.log_files(Path(tmp), "plots")
    return notes


class GroupedLauncher:
    """Wraps a grid sweep's launcher: every job's run goes under the parent run, tagged with the sweep and with
    `sweep_overrides`, the job's values of the swept keys (`loss=mixed training.lr=1e-05`)."""

    def __init__(self, inner, group: SweepGroup, swept: set[str]) -> None:
        self.inner = inner
        self.group = group
        self.swept = swept

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        jobs = []
        for overrides in job_overrides:
            chosen = [o for o in overrides if o.split("=", 1)[0] in self.swept]
            jobs.append([*overrides, *self.group.job_overrides(overrides=chosen)])
        return self.inner.launch(jobs, initial_job_idx)
