"""MlflowTracker: the run's config, metrics per evaluation, checkpoints and model, in one MLflow run."""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from embedlab.config import REPO_ROOT
from embedlab.errors import UserError, weights_written
from embedlab.folders import resume_requested
from embedlab.interrupts import signals_held
from embedlab.tracking.model_card import KeptModel
from embedlab.tracking.params import flatten, redact
from embedlab.tracking.resume import (
    CONFIG_HASH_TAG,
    ResumePoint,
    check_experiment_to_resume,
    config_hash,
    find_resume_point,
)
from embedlab.tracking.stale_runs import REASON_TAG, close_stale_runs, process_tags
from embedlab.tracking.status import ended_with_status
from embedlab.tracking.store import default_tracking_uri, open_experiment, prepare_tracking_store
from embedlab.tracking.store_checks import bounded_http_retries, check_store_reachable
from embedlab.tracking.tracker import Tracker
from embedlab.tracking.unique_keys import retry_unique_key_race
from embedlab.tracking.values import short_value_tags, unique_run_name

log = logging.getLogger(__name__)


def credentials_to_env(uri: str) -> str:
    """`http://user:secret@host` -> `http://host`, the user and secret handed to MLflow as MLFLOW_TRACKING_USERNAME
    and MLFLOW_TRACKING_PASSWORD (unless already set): MLflow then never prints them ("View run at: <url>")
    nor puts them in an error message."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.password is None:
        return uri
    os.environ.setdefault("MLFLOW_TRACKING_USERNAME", urllib.parse.unquote(parts.username or ""))
    os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", urllib.parse.unquote(parts.password))
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


ERROR_TAG = "embedlab.error"  # why the run's latest attempt failed
RESUMED_AFTER_TAG = "embedlab.resumed_after"  # why its earlier attempts ended, once it is resumed


def record_error(exc: BaseException) -> None:
    """The error that ended the active run, as its tag `embedlab.error` (credentials removed)."""
    import mlflow

    mlflow.set_tag(ERROR_TAG, redact(str(exc))[:5000] or type(exc).__name__)


def move_failure_tags(client, run_id: str) -> None:
    """A resumed run's earlier failure (`embedlab.error`, `embedlab.failure_reason`) moves to the tag
    `embedlab.resumed_after`: those two describe how the run's latest attempt ended, so a filter on them finds runs
    that failed, not one that finished after a resume. A resume that fails again sets them anew."""
    tags = client.get_run(run_id).data.tags
    earlier = [tags[key] for key in (ERROR_TAG, REASON_TAG) if tags.get(key)]
    if not earlier:
        return
    client.set_tag(
        run_id, RESUMED_AFTER_TAG, "; ".join([*filter(None, [tags.get(RESUMED_AFTER_TAG)]), *earlier])[-5000:]
    )
    for key in (ERROR_TAG, REASON_TAG):
        if key in tags:
            client.delete_tag(run_id, key)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


NOTE_TAG = "mlflow.note.content"  # what the MLflow UI shows as a run's or a logged model's description
LOGGED_MODEL_OTHER_CHARS = re.compile(r"[^\w-]+", re.ASCII)


def logged_model_name(run_name: str | None, kept: KeptModel) -> str:
    """The kept model's name in the Models tab: `<dataset>-<loss>` and its run's name, so the models of different
    runs can be told apart (`physics-mnrl bs=16 scale=14.7 1206-101500` -> `physics-mnrl_bs-16_scale-14p7_1206-101500`,
    a sweep job `j00 scale=10` -> `physics-mnrl_j00_scale-10`).

    Letters, digits, `_` and `-` only: MLflow forbids `/ : . % " '` in these names, and `runs:/<run id>/<name>`
    must pass as `phase.init_from=` without quotes (Hydra reads `=` and `,` in a value as syntax). So `=` becomes
    `-`, a decimal point `p`, and any other run of characters (spaces) one `_`.
    """
    prefix = f"{kept.dataset}-{kept.loss}"
    name = (run_name or "").strip()
    name = name if name.startswith(prefix) else f"{prefix} {name}".strip()
    name = LOGGED_MODEL_OTHER_CHARS.sub("_", name.replace("=", "-").replace(".", "p"))
    return name[:250]


@contextlib.contextmanager
def log_kept_until_it_opens(name: str = "mlflow") -> Iterator[None]:
    """MLflow's own log lines while a store is opened: shown once it opens, dropped when it does not, where the one
    error line says why (`tracking.uri=databricks` printed a WARNING about its SDK's credentials before it)."""
    logger = logging.getLogger(name)
    handlers, propagate = logger.handlers[:], logger.propagate
    kept = logging.handlers.BufferingHandler(capacity=10_000)
    logger.handlers, logger.propagate = [kept], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = handlers, propagate
    for record in kept.buffer:  # it opened
        logger.handle(record)


class MlflowTracker(Tracker):
    """Tracks one run in MLflow (an `embedlab.tracking.tracker.Tracker`).

    Args:
        uri: tracking URI; None = `sqlite:///<repo root>/mlflow.db`. A server: `http://127.0.0.1:5000`.
        experiment: experiment name (default: the dataset's name).
        registered_model_name: the registered model that `register` adds versions to; None = never register.
        log_model: log the best model with MLflow's sentence-transformers flavour.
        register: register the logged model as a new version of `registered_model_name`. Sweeps set it to
            false in their jobs and register only their best job's model (alias `champion`).
        run_name: the run's name; None = `<dataset>-<loss>-<phase>-<time>` (sweeps name jobs by their values).
        parent_run_id: nest this run under another (a sweep's parent run, a two-phase chain).
        tags: extra tags for the run (e.g. a sweep's name and trial number).
        sweep_models: read by the sweeps, not by the run: `best` = a sweep's jobs keep their model in their run
            folder and the sweep logs the best job's model alone; `all` = every job logs its own.
    """

    def __init__(
        self,
        uri: str | None = None,
        experiment: str = "embedlab",
        registered_model_name: str | None = None,
        log_model: bool = True,
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        register: bool = True,
        run_name: str | None = None,
        sweep_models: str = "best",
    ) -> None:
        self.uri = uri or default_tracking_uri()
        self.experiment = experiment
        self.registered_model_name = registered_model_name
        self.should_log_model = log_model
        self.register = register
        self.run_name = run_name
        self.parent_run_id = parent_run_id
        self.tags = dict(tags or {})
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.logged_steps: dict[str, int] = {}
        self.history: dict[int, dict[str, float]] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------
    def connect(self, resume: Any = False) -> None:
        """Open the store and the experiment (once); one line within seconds if the URI cannot be used. With
        `resume=` requested, an experiment the store lacks is one line, not created (check_experiment_to_resume).

        Checked before any model loads (the registered model's name is the schema's): that a server answers (no retries, a
        short timeout), that a SQLite store's folder and file can be written, and one write to the store.
        """
        if self.experiment_id is not None:
            return
        import mlflow

        self.uri = credentials_to_env(self.uri)
        check_store_reachable(self.uri, self.experiment)  # as `python -m train` did before the data
        prepare_tracking_store(self.uri)  # created or migrated under a lock, renamed into place when complete
        mlflow.set_tracking_uri(self.uri)
        if resume_requested(resume):
            with bounded_http_retries():
                check_experiment_to_resume(mlflow.MlflowClient(), self.experiment, resume)
        try:  # a new experiment on a SQLite store keeps its artifacts beside the store, not in ./mlruns
            with bounded_http_retries(), log_kept_until_it_opens():
                experiment = mlflow.set_experiment(
                    experiment_id=open_experiment(mlflow.MlflowClient(), self.uri, self.experiment)
                )
                # a write: a read-only store fails here, not after training (parallel jobs race on the new tag)
                retry_unique_key_race(
                    mlflow.MlflowClient().set_experiment_tag,
                    experiment.experiment_id,
                    "embedlab.last_connected",
                    time.strftime("%Y-%m-%dT%H:%M:%S"),
                )
        except Exception as exc:  # MLflow raises many types for an unreachable or broken store
            reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            raise UserError(
                f"tracking.uri={redact(self.uri)} cannot be opened: {reason[:200]}; expected an MLflow store this "
                "process can read and write (sqlite:///<absolute path>, or a tracking server's http(s) address)"
            ) from None
        self.experiment_id = experiment.experiment_id
        for run_id in close_stale_runs(mlflow.MlflowClient(), [self.experiment_id]):
            log.warning(f"marked MLflow run {run_id} FAILED: its process ended without closing it (kill -9?)")

    def find_resume_point(self, resume: Any, cfg: dict[str, Any]) -> ResumePoint | None:
        """The unfinished run `resume=true|<run id>` continues, or None for a new run; pass it to `run()`."""
        import mlflow

        return find_resume_point(mlflow.MlflowClient(), self.experiment_id, resume, config_hash(cfg), flatten(cfg))

    @contextlib.contextmanager
    def run(
        self,
        cfg: dict[str, Any],
        run_name: str,
        run_dir: Path,
        tags: dict[str, str] | None = None,
        resume: ResumePoint | None = None,
    ) -> Iterator[MlflowTracker]:
        """Start the MLflow run, or continue `resume`'s (from `find_resume_point`); it ends FINISHED, FAILED on an
        exception, KILLED on Ctrl-C or SIGTERM."""
        import mlflow

        self.connect()
        run_tags = {**self._tags(run_dir, tags or {}), CONFIG_HASH_TAG: config_hash(cfg)}
        if resume is not None:
            run = mlflow.start_run(run_id=resume.run_id)
        else:
            run = mlflow.start_run(experiment_id=self.experiment_id, run_name=run_name, tags=run_tags)
        self.run_id = run.info.run_id
        # from here on the run ends FAILED/KILLED on any error, also one while its params or config are written
        with ended_with_status(lambda status: mlflow.end_run(status=status), on_error=record_error):
            if resume is not None:
                mlflow.set_tags({**run_tags, "resumed_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
                move_failure_tags(mlflow.MlflowClient(), run.info.run_id)
                self.logged_steps = self._logged_steps(run.info.run_id)
            else:
                if self.run_name is None:  # a name embedlab made (a sweep names its jobs; a user's name is kept)
                    unique_run_name(mlflow.MlflowClient(), run)  # two commands of one second in two named folders
                mlflow.log_params(flatten(cfg))
                mlflow.log_text(redact(json.dumps(cfg, indent=2)), "config.json")
            yield self

    def _logged_steps(self, run_id: str) -> dict[str, int]:
        """The last step of every metric a resumed run already has (no step is logged twice); fills `history`."""
        import mlflow

        client = mlflow.MlflowClient()
        last: dict[str, int] = {}
        for key in client.get_run(run_id).data.metrics:
            for metric in client.get_metric_history(run_id, key):
                self.history.setdefault(metric.step, {})[key] = metric.value
                last[key] = max(last.get(key, -1), metric.step)
        return last

    def _tags(self, run_dir: Path, extra: dict[str, str]) -> dict[str, str]:
        return {
            "git_commit": git_commit(),
            "command": redact(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]])),
            "output_dir": str(run_dir),
            **process_tags(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **({"mlflow.parentRunId": self.parent_run_id} if self.parent_run_id else {}),
            **{k: redact(str(v)) for k, v in {**self.tags, **extra}.items()},
            **short_value_tags(str(self.tags.get("sweep_overrides", ""))),
        }

    # -- logging -----------------------------------------------------------------------------------------
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        import mlflow

        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        self.history.setdefault(step, {}).update(clean)
        new = {k: v for k, v in clean.items() if step > self.logged_steps.get(k, -1)}  # resumed: skip replays
        if new:
            mlflow.log_metrics(new, step=step)

    def log_params(self, params: dict[str, Any]) -> None:
        """Params resolved at run time (device, precision, batch sizes), next to the config's; credentials removed."""
        import mlflow

        mlflow.log_params(flatten(params))

    def log_artifact_text(self, text: str, path: str) -> None:
        import mlflow

        mlflow.log_text(redact(text), path)

    def log_dict(self, data: dict[str, Any], path: str) -> None:
        self.log_artifact_text(json.dumps(data, indent=2, sort_keys=True), path)

    def log_datasets(self, data) -> None:
        """Each split's rows as an MLflow dataset input (name, digest, source; context train/validation/test)."""
        from embedlab.tracking.datasets import log_input, split_datasets

        for dataset, context in split_datasets(data):
            log_input(dataset, context=context)

    def set_tags(self, tags: dict[str, Any]) -> None:
        import mlflow

        mlflow.set_tags({k: redact(str(v)) for k, v in tags.items()})

    def log_model(self, model, kept: KeptModel) -> str | None:
        """Log the kept model with the sentence-transformers flavour and register it; returns its models:/ URI.

        Args:
            model: the SentenceTransformer to log (the kept checkpoint's weights).
            kept: what the model is (base model, dataset, kept step and its metrics): its card and its registered
                version's description. MLflow links the kept step's metrics to the logged model, so the Models
                tab shows the kept checkpoint's numbers (not the base model's at step 0).
        """
        if not self.should_log_model:
            return None
        import mlflow

        name = self.registered_model_name if self.register else None
        # Ctrl-C / SIGTERM wait: the model is logged, registered and described whole, or not at all
        with signals_held():
            with weights_written(  # a full disk in mlartifacts/, as for a checkpoint: one line
                f"logging the kept model to MLflow ({redact(self.uri)})",
                expected="expected room for it beside the store (the run folder's best/ holds the model)",
            ):
                info = log_kept_model(model, kept, registered_model_name=name)
            if name and info.registered_model_version:
                version = info.registered_model_version
                describe_version(mlflow.MlflowClient(), name, version, self.run_id, kept)
                return f"models:/{name}/{version}"
        return info.model_uri


def log_kept_model(model, kept: KeptModel, run_id: str | None = None, registered_model_name: str | None = None):
    """`mlflow.sentence_transformers.log_model` of the kept model at its step (its card as `fill_card` left it);
    returns the ModelInfo. `run_id`: the run it belongs to (default: the active run); its name names the model
    (`logged_model_name`)."""
    import mlflow
    import sentence_transformers
    import torch
    import transformers

    requirements = [
        f"sentence-transformers=={sentence_transformers.__version__}",
        f"transformers=={transformers.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
    ]
    run = mlflow.MlflowClient().get_run(run_id or mlflow.active_run().info.run_id)
    info = mlflow.sentence_transformers.log_model(
        model,
        name=logged_model_name(run.info.run_name, kept),
        registered_model_name=registered_model_name,
        pip_requirements=requirements,
        step=kept.step,
        tags={
            "dataset": kept.dataset,
            "loss": kept.loss,
            "base_model": kept.base_model,
        },
        **({"run_id": run_id} if run_id else {}),
    )
    # the logged model page's Description; set after registering, which copies the model's tags to the version
    mlflow.MlflowClient().set_logged_model_tags(info.model_id, {NOTE_TAG: kept.description()})
    return info


def describe_version(
    client, name: str, version: str | int, run_id: str, kept: KeptModel, tags: dict[str, Any] | None = None
) -> None:
    """A registered version's description (base model, dataset, kept step, validation and test score) and tags
    (its run, `KeptModel.version_tags`, and `tags`, e.g. a sweep's name), so versions can be told apart."""
    client.update_model_version(name, str(version), description=kept.description())
    for key, value in {"run_id": run_id, **kept.version_tags(), **(tags or {})}.items():
        client.set_model_version_tag(name, str(version), key, redact(str(value)))
