"""One MLflow parent run per sweep, one child run per job: the overrides that nest a job, and the sweep's summary."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus

from embedlab.config import quote
from embedlab.errors import UserError, stopped_by_signal
from embedlab.sweeps.launcher_errors import launcher_could_not_start, worker_died
from embedlab.tracking.kept import KEPT_MODEL_PATH_TAG, KEPT_RUN_TAG, kept
from embedlab.tracking.mlflow_run import describe_version, log_kept_model
from embedlab.tracking.model_card import kept_model_of
from embedlab.tracking.params import param_value, redact
from embedlab.tracking.store import default_tracking_uri, open_experiment, prepare_tracking_store
from embedlab.tracking.store_checks import check_store_reachable
from embedlab.tracking.values import unique_run_name, values_name

log = logging.getLogger(__name__)

SWEEP_TAG = "sweep"  # on the parent and on every child: filter a sweep's runs with tags.sweep = '<name>'
TRIAL_TAG = "sweep_trial"
STATE_TAG = "sweep_state"  # COMPLETE / PRUNED / FAIL, as Optuna records the trial
CHAMPION = "champion"  # the registry alias: the best version on its dataset and metric that any sweep registered


class SweepGroup:
    """The parent run of a sweep in the same experiment as its jobs.

    Args:
        uri: the jobs' tracking URI (None = the project's mlflow.db).
        experiment: the jobs' experiment name.
        name: the sweep's name (the study name for Optuna), tagged on the parent and each child; the start of
            the parent's run id is added where another parent of the experiment has that name.
        run_id: an existing parent run to reopen (a resumed study); None or unknown = create one.
        kind: `optuna` or `grid`, tagged `sweep_kind`.
        registered_model_name: the jobs' registered model; the sweep registers its best job's model there
            (alias `champion` when it beats the holder) and the jobs themselves register nothing. None = no
            registering.
        log_model: whether models are logged at all (`tracking.log_model`).
        sweep_models: `best` = jobs keep their model in their run folder and the sweep logs the best job's model
            at the end (one full model per sweep); `all` = every job logs its own (`tracking.sweep_models`).
    """

    def __init__(
        self,
        uri: str | None,
        experiment: str,
        name: str,
        run_id: str | None = None,
        kind: str = "optuna",
        registered_model_name: str | None = None,
        log_model: bool = True,
        sweep_models: str = "best",
    ):
        from mlflow import MlflowClient

        self.uri = uri or default_tracking_uri()
        check_store_reachable(self.uri)  # a server that never answers: one line in seconds, not MLflow's minute
        prepare_tracking_store(self.uri)
        self.client = MlflowClient(self.uri)
        self.name = name
        self.kind = kind
        self.registered_model_name = registered_model_name
        self.log_model = log_model
        self.log_best_only = log_model and sweep_models == "best"
        self.experiment_id = open_experiment(self.client, self.uri, experiment)
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
        self.name = run.data.tags.get(SWEEP_TAG, self.name)  # the tag it was given, which a clash may have made longer
        return run_id

    def _create(self, kind: str) -> str:
        tags = {SWEEP_TAG: self.name, "sweep_kind": kind, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        run = self.client.create_run(self.experiment_id, run_name=f"sweep-{self.name}", tags=tags)
        # Two grids of one second in two named folders, or a study made again under its name in a new storage
        # (optuna.db deleted): two names, two `sweep` tags. A resumed study reopens its parent and keeps its tag.
        name = unique_run_name(self.client, run).removeprefix("sweep-")
        if name != self.name:
            self.name = name
            self.client.set_tag(run.info.run_id, SWEEP_TAG, name)
        return run.info.run_id

    def job_overrides(
        self, trial: int | None = None, overrides: list[str] | None = None, job: int | None = None
    ) -> list[str]:
        """Overrides that nest a job's run under the parent, tag it with the sweep (and trial), name it by its
        values (`t07 bs=32 scale=14.7 lr=4.82e-5`, `j03 lr=1e-4 scale=10`) and leave registering (and, with
        `sweep_models=best`, logging the model) to the sweep."""
        out = [f"tracking.parent_run_id={quote(self.run_id)}", f"++tracking.tags.{SWEEP_TAG}={quote(self.name)}"]
        out.append("++tracking.register=false")
        if self.log_best_only:
            out.append("++tracking.log_model=false")
        if trial is not None:
            out.append(f"++tracking.tags.{TRIAL_TAG}={trial}")
        if overrides:
            out.append(f"++tracking.tags.sweep_overrides={quote(' '.join(overrides))}")
        number = f"t{trial:02d}" if trial is not None else f"j{job:02d}" if job is not None else ""
        name = " ".join(part for part in (number, values_name(overrides or [])) if part)
        if name:
            out.append(f"++tracking.run_name={quote(name)}")
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
            self.client.set_tag(
                self.run_id, f"best.{key}", param_value(value)
            )  # as params write it; exact: best_command
        for key in ("best_value", "best_trial", "n_complete", "n_pruned", "n_fail", "n_repeats_reused"):
            if summary.get(key) is not None:
                self.client.log_metric(self.run_id, key, float(summary[key]))
        if summary.get("best_command"):
            self.client.set_tag(self.run_id, "best_command", summary["best_command"])
        if summary.get("optimized_metric"):
            self.register_best(
                summary["optimized_metric"],
                summary.get("direction", "maximize"),
                summary.get("best_trial"),
                summary.get("best_value"),
            )

    def best_child(self, metric: str, direction: str, trial: int | None = None, value: float | None = None):
        """The FINISHED job run of Optuna's best `trial`, else the one with the best `kept_<metric>` (the objective
        each job logs), or None. A study's best trial with no run here (a repeat that reused an earlier trial's
        value has none) is that best run only when its value is the trial's: a study resumed into another
        tracking store has its earlier trials' runs in the old one, and a lesser run here is not the study's best."""
        key = kept(metric)
        done = [r for r in self.children() if r.info.status == "FINISHED" and key in r.data.metrics]
        by_trial = [r for r in done if trial is not None and r.data.tags.get(TRIAL_TAG) == str(trial)]
        if by_trial:
            return by_trial[0]
        pick = max if direction == "maximize" else min
        best = pick(done, key=lambda r: r.data.metrics[key]) if done else None
        if trial is not None and value is not None and (best is None or best.data.metrics[key] != value):
            log.warning(
                f"best trial {trial} ({metric}={value:.4f}) has no run under this sweep's parent run in "
                f"{redact(self.uri)} (it ran in another tracking store or under another parent run): its model is "
                "not logged or registered here"
            )
            return None
        return best

    def register_best(
        self, metric: str, direction: str, trial: int | None = None, value: float | None = None
    ) -> str | None:
        """Log the best job's model (the sweep's one full model) and register it as one version; returns its
        models:/ URI. The alias `champion` moves to it only when it beats the holder (see `move_champion`).

        Every version is linked to its logged model and described (base model, dataset, kept step, scores); its
        tags: its run, the sweep, the objective and its value, and the dataset (experiment).
        """
        best = self.best_child(metric, direction, trial, value)
        if best is None:
            return None
        self.client.set_tag(self.run_id, "best_run_id", best.info.run_id)
        kept_run = best.data.tags.get(KEPT_RUN_TAG)  # a job that is a chain keeps its last stage's model
        source = self.client.get_run(kept_run) if kept_run else best
        model_id = self.best_model_id(source)
        if model_id is None or not self.registered_model_name:
            return None
        name, kept_model = self.registered_model_name, kept_model_of(self.client, source)
        version = self.register(model_id, name)
        describe_version(self.client, name, version, source.info.run_id, kept_model, {SWEEP_TAG: self.name})
        self.client.set_tag(self.run_id, "registered_model", f"models:/{name}/{version}")
        moved = self.move_champion(name, version, metric, direction, kept_model.dataset)
        self.client.set_tag(self.run_id, CHAMPION, moved)
        return f"models:/{name}/{version}"

    def best_model_id(self, best) -> str | None:
        """The best job's logged model; with `sweep_models=best` logged now from the job's run folder."""
        found = self.client.search_logged_models(
            experiment_ids=[self.experiment_id], filter_string=f"source_run_id = '{best.info.run_id}'"
        )
        if found:
            return found[0].model_id
        if not self.log_best_only:
            log.info(f"best run {best.info.run_id} has no logged model (tracking.log_model=false): nothing registered")
            return None
        path = Path(best.data.tags.get(KEPT_MODEL_PATH_TAG, ""))
        if not (path / "modules.json").is_file():  # e.g. a job on a cluster node whose folder this host cannot read
            log.warning(
                f"best run {best.info.run_id}: its kept model {path} cannot be read here, so it is not logged; "
                "tracking.sweep_models=all logs every job's model from the job itself"
            )
            return None
        import mlflow
        from sentence_transformers import SentenceTransformer

        mlflow.set_tracking_uri(self.uri)  # the fluent log_model writes to the global store
        model = SentenceTransformer(str(path), device="cpu")
        info = log_kept_model(model, kept_model_of(self.client, best), run_id=best.info.run_id)
        return info.model_id

    def register(self, model_id: str, name: str) -> str:
        """A version of `name` for logged model `model_id`, linked to it (the logged model's page says which
        version it is); a model registered before keeps its version."""
        import mlflow

        source = f"models:/{model_id}"
        try:
            for version in self.client.search_model_versions(f"name = '{name}'"):
                if version.source == source:
                    return version.version
        except Exception:  # MLflow raises RestException for a name not registered yet
            pass
        mlflow.set_tracking_uri(self.uri)  # register_model's registry: the tracking store, as for single runs
        return mlflow.register_model(source, name).version

    def move_champion(self, name: str, version: str, metric: str, direction: str, dataset: str) -> str:
        """Give `version` the alias `champion` when no version holds it, or when it beats the holder on the same
        dataset and metric; returns what happened, in words (the parent run's `champion` tag)."""
        try:
            holder = self.client.get_model_version_by_alias(name, CHAMPION)
        except Exception:  # no version holds the alias yet
            holder = None
        value = float(self.client.get_model_version(name, version).tags[metric])
        if holder is not None and holder.version != str(version):
            held = holder.tags.get(metric)
            if held is None or holder.tags.get("dataset") != dataset:
                return f"kept by version {holder.version}: not scored on {dataset} {metric}, so not comparable"
            better = value > float(held) if direction == "maximize" else value < float(held)
            if not better:
                return f"kept by version {holder.version} ({metric} {float(held):.4f}; this sweep's {value:.4f})"
        self.client.set_registered_model_alias(name, CHAMPION, version)
        taken = f" from version {holder.version}" if holder is not None and holder.version != str(version) else ""
        return f"version {version}{taken} ({metric} {value:.4f})"

    def log_files(self, folder: Path, artifact_path: str) -> None:
        if any(folder.iterdir()):
            self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        """End the parent run, and first every job's run still RUNNING under it: a job in another process (joblib,
        submitit, Ray) that a Ctrl-C or SIGTERM tore down never ended its own run. They end as the sweep does
        (KILLED, FAILED), or FAILED under a sweep that finished, since each of its jobs had returned."""
        left = "FAILED" if status == "FINISHED" else status
        for run in self.children():
            if run.info.status == "RUNNING":
                log.warning(f"Run {run.info.run_id} ({run.info.run_name}) of this sweep was still RUNNING: {left}")
                self.client.set_terminated(run.info.run_id, status=left)
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
        for number, overrides in enumerate(job_overrides, start=initial_job_idx):
            chosen = [o for o in overrides if o.split("=", 1)[0] in self.swept]
            jobs.append([*overrides, *self.group.job_overrides(overrides=chosen, job=number)])
        try:
            results = self.inner.launch(jobs, initial_job_idx)
        except Exception as exc:  # the launcher's own (a job's failure is in its result): not a stop, not a dead worker
            if isinstance(exc, UserError) or stopped_by_signal() is not None or worker_died(exc):
                raise
            raise launcher_could_not_start(
                exc, self.inner, f"the grid's jobs {initial_job_idx}-{initial_job_idx + len(jobs) - 1}", "none ran"
            ) from exc
        for number, ret in enumerate(results, start=initial_job_idx):
            named_failure(ret, number, [o for o in ret.overrides or [] if o.split("=", 1)[0] in self.swept])
        return results


class NamedFailure(JobReturn):
    """A failed grid job's result: Hydra's sweeper reads `return_value`, which re-raises the job's error after
    writing `Error executing job with overrides: [<every override, the sweep's own too>]` to stderr. Here the
    error itself names the job by its swept values, and nothing else is written: one `error:` line."""

    @property
    def return_value(self) -> Any:
        if self.status == JobStatus.COMPLETED:
            return self._return_value
        raise self._return_value

    @return_value.setter
    def return_value(self, value: Any) -> None:
        self._return_value = value


def named_failure(ret: JobReturn, number: int, chosen: list[str]) -> None:
    """A failed job's result as a `NamedFailure`, its user error (`UserError`) prefixed with the job."""
    if ret.status != JobStatus.FAILED:
        return
    if isinstance(ret._return_value, UserError):
        ret._return_value = UserError(f"grid job {number} ({' '.join(chosen)}) failed: {ret._return_value}")
    ret.__class__ = NamedFailure


def grid_summary(group: SweepGroup, metric: str, fixed: list[str], swept: list[str]) -> dict[str, Any]:
    """What a grid's parent run shows, as the Optuna parent does: the best job, its value and command, the swept
    keys, and the objective per point (`grid.csv`, `plots/objective_per_point.png`)."""
    from embedlab.sweeps.search_space import command

    direction = "minimize" if "loss" in metric else "maximize"
    key = kept(metric)
    rows = sorted((r for r in group.children() if key in r.data.metrics), key=lambda r: r.info.start_time)
    summary: dict[str, Any] = {
        "sweep": group.name,
        "optimized_metric": metric,
        "direction": direction,
        "swept_keys": swept,
        "fixed_overrides": fixed,
        "n_jobs": len(group.children()),
        "n_complete": len(rows),
        "points": [
            {"run": r.info.run_name, "overrides": r.data.tags.get("sweep_overrides", ""), metric: r.data.metrics[key]}
            for r in rows
        ],
    }
    best = group.best_child(metric, direction)
    if best is not None:
        overrides = best.data.tags.get("sweep_overrides", "").split()
        summary.update(
            best_run_id=best.info.run_id,
            best_run_name=best.info.run_name,
            best_value=best.data.metrics[key],
            best_overrides=" ".join(overrides),
            best_command=command([*fixed, *overrides]),
        )
    return summary


def log_grid_summary(group: SweepGroup, metric: str, fixed: list[str], swept: list[str]) -> dict[str, Any]:
    """Log `grid_summary` on the parent run: tags, metrics, `sweep.json`, `grid.csv` and a plot; registers the best."""
    summary = grid_summary(group, metric, fixed, swept)
    group.client.set_tag(group.run_id, "sweep_swept_keys", " ".join(swept))
    for name in ("best_run_name", "best_overrides"):
        if summary.get(name):
            group.client.set_tag(group.run_id, name, summary[name])
    group.log_summary(summary)  # sweep.json, best_value, best_command; registers the best job's model
    lines = [f"run,overrides,{metric}"] + [
        f'"{p["run"]}","{p["overrides"]}",{p[metric]:.6f}' for p in summary["points"]
    ]
    group.client.log_text(group.run_id, "\n".join(lines) + "\n", "grid.csv")
    if summary["points"]:
        with tempfile.TemporaryDirectory() as tmp:
            from embedlab.sweeps.plots import plot_points

            plot_points(
                [p["run"] for p in summary["points"]],
                [p[metric] for p in summary["points"]],
                metric,
                Path(tmp) / "objective_per_point.png",
            )
            group.log_files(Path(tmp), "plots")
    return summary
