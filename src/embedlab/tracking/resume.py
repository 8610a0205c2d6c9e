"""Which run `resume=true` or `resume=<run id>` continues, and from which checkpoint."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedlab.errors import UserError
from embedlab.folders import resume_newest, resume_requested
from embedlab.tracking.params import redact
from embedlab.tracking.stale_runs import process_alive

CONFIG_HASH_TAG = "config_hash"


def config_hash(cfg: dict[str, Any]) -> str:
    """Hash of the composed config, without the keys that do not change what is trained."""
    relevant = {key: value for key, value in cfg.items() if key not in ("resume", "sweep")}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class ResumePoint:
    run_id: str
    run_dir: Path  # the original run's output folder, where its checkpoints are
    checkpoint: Path  # the last complete checkpoint


def find_resume_point(
    client, experiment_id: str, resume: Any, digest: str, params: dict[str, str] | None = None
) -> ResumePoint | None:
    """The run to continue: `resume=true` -> the newest unfinished run with the same config; `resume=<id>`, which
    must have been started with the same settings as `params` (the config flattened as a run logs it)."""
    if not resume_requested(resume):
        return None
    from embedlab.training.checkpoint import check_resumable, last_complete_checkpoint  # transformers: not here

    if resume_newest(resume):
        # the newest unfinished run that saved a complete checkpoint: a run stopped before its first one (e.g. in
        # its step-0 evaluation) has nothing to continue, and must not hide an older run that has
        newest = newest_unfinished_run(client, experiment_id, CONFIG_HASH_TAG, digest, "run", params)
        for run in unfinished_runs(client, experiment_id, CONFIG_HASH_TAG, digest):
            run_dir = Path(run.data.tags.get("output_dir", ""))
            checkpoint = last_complete_checkpoint(run_dir / "checkpoints")
            if checkpoint is not None:
                check_resumable(checkpoint, "resume=true")  # before the model loads: the files it restores
                return ResumePoint(run.info.run_id, run_dir, checkpoint)
        run_dir = Path(newest.data.tags.get("output_dir", ""))
        raise UserError(
            f"resume=true: no unfinished run with this config has a complete checkpoint (the newest, "
            f"{newest.info.run_id}, has none under {run_dir}); nothing to resume; expected a run stopped after its "
            "first checkpoint: run the command without resume= to start anew"
        )
    run = run_by_id(client, resume)
    if run.info.status == "FINISHED":
        raise UserError(
            f"resume={resume}: that run is FINISHED; nothing to resume; expected a FAILED or KILLED run (to train "
            f"this one again: reproduce={run.info.run_id})"
        )
    check_owner_gone(run, resume)
    changed = changed_settings(run.data.params, params or {})
    if changed:  # it would train on under settings its record does not show (MLflow refuses changed params)
        raise UserError(
            f"resume={resume}: that run was started with other settings ({shown(changed)}); expected the run's own "
            f"overrides with resume= (its tag `command`), or a new run without it"
        )
    run_dir = Path(run.data.tags.get("output_dir", ""))
    checkpoint = last_complete_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        raise UserError(
            f"resume: run {run.info.run_id} has no complete checkpoint under {run_dir}; nothing to resume; expected "
            "a run that saved one (this one stopped before its first, or its folder moved): run the command anew"
        )
    check_resumable(checkpoint, f"resume={resume}")
    return ResumePoint(run.info.run_id, run_dir, checkpoint)


def changed_settings(logged: dict[str, str], params: dict[str, str]) -> list[str]:
    """`training.batch_size=8, now 32` for each setting logged by a run and given again with another value; where a
    run goes and how it is tracked (`tracking.*`, `resume`, `sweep.*`) may change."""
    return [
        f"{key}={logged[key]}, now {value}"
        for key, value in sorted(params.items())
        if key in logged and logged[key] != value and not key.startswith(("tracking.", "resume", "sweep."))
    ]


def unfinished_runs(client, experiment_id: str, tag: str, digest: str) -> list:
    """Runs tagged `tag` = `digest` that are neither FINISHED nor RUNNING, newest first (at most 20)."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag}` = '{digest}' and attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=20,
    )
    return [run for run in found if run.info.status != "RUNNING"]  # a live run is not ours to take


def check_experiment_to_resume(client, name: str, resume: Any) -> None:
    """`resume=` never creates an experiment: one that the store lacks holds no run to resume (MLflow would create
    it, left empty in the store and the UI, before the refusal)."""
    if client.get_experiment_by_name(name) is not None:
        return
    store = redact(client.tracking_uri)
    if resume_newest(resume):
        raise UserError(
            f"resume=true: {store} has no experiment {name}, so no unfinished run of this config; expected the "
            "store and experiment the run was logged to (tracking.uri, tracking.experiment), or the command "
            "without resume= to start anew"
        )
    run = run_by_id(client, resume)  # one line when no run has that id
    logged = client.get_experiment(run.info.experiment_id).name
    raise UserError(
        f"resume={resume}: that run is in experiment {logged}, and this command's experiment {name} is not in "
        f"{store}; expected the run's own overrides with resume= (its tag `command`)"
    )


def newest_unfinished_run(
    client, experiment_id: str, tag: str, digest: str, what: str, params: dict[str, str] | None = None
):
    """The newest run tagged `tag` = `digest` that is neither FINISHED nor RUNNING, for `resume=true`. When there
    is none and `params` (this command's settings, as a run logs them) are given, the line names what differs from
    the newest unfinished run of the experiment: a user who changed one setting (`hardware.threads` on another
    machine) learns which."""
    found = unfinished_runs(client, experiment_id, tag, digest)
    if not found:
        check_none_running(client, experiment_id, tag, digest, what)
        experiment = client.get_experiment(experiment_id).name
        raise UserError(
            f"resume=true: no unfinished {what} with this config in experiment {experiment} of "
            f"{redact(client.tracking_uri)}{closest_unfinished(client, experiment_id, params)}; expected a "
            f"FAILED or KILLED {what} started with the same config (tag {tag}) in that store, or resume=<run id>"
        )
    return found[0]


def closest_unfinished(client, experiment_id: str, params: dict[str, str] | None) -> str:
    """`; the newest unfinished run, <id> (<name>), was started with <what differs>`, or nothing."""
    if params is None:
        return ""
    found = client.search_runs(
        [experiment_id],
        filter_string="attributes.status != 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=5,
    )
    for run in (r for r in found if r.info.status != "RUNNING"):
        changed = changed_settings(run.data.params, params)
        if changed:
            return f"; the newest unfinished run, {run.info.run_id} ({run.info.run_name}), was started with {shown(changed)}"
    return ""


def shown(changed: list[str]) -> str:
    """The first three of `changed_settings`, and how many more."""
    return ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def check_none_running(client, experiment_id: str, tag: str, digest: str, what: str) -> None:
    """One line for `resume=true` when the run with this config is still RUNNING (`MlflowTracker.connect` closed
    those whose process is gone): it is there, and not ours to take."""
    live = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag}` = '{digest}' and attributes.status = 'RUNNING'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if live:
        tags, run_id = live[0].data.tags, live[0].info.run_id
        raise UserError(
            f"resume=true: the {what} with this config, {run_id}, is still RUNNING (process {tags.get('pid', '?')} "
            f"on host {tags.get('host', 'unknown')}); expected a {what} whose process has ended: wait for it, or "
            "stop it (Ctrl-C) and resume then"
        )


def check_owner_gone(run, resume: Any) -> None:
    """One line if `run` is RUNNING in a process that is alive, or on another host (whose processes this one
    cannot see): two processes would train into one folder and one MLflow run. A RUNNING run of a process of
    this host that is gone (kill -9) may be resumed; `MlflowTracker.connect` marks those FAILED anyway."""
    if run.info.status != "RUNNING":
        return
    tags = run.data.tags
    host, pid = tags.get("host"), tags.get("pid", "")
    if host == socket.gethostname() and pid.isdigit():
        started = float(tags["pid_started"]) if tags.get("pid_started") else None
        if not process_alive(int(pid), started):
            return
        raise UserError(
            f"resume={resume}: that run is still RUNNING in process {pid} on this host; expected a run whose "
            "process has ended: wait for it, or stop it (Ctrl-C) and resume then"
        )
    raise UserError(
        f"resume={resume}: that run is RUNNING on host {host or 'unknown'}, whose processes this host cannot see; "
        f"expected a run that has ended (a run started on {host or 'that host'} marks it FAILED if its process is gone)"
    )


RUN_ID_PREFIX = 8  # the shortest run-id prefix `resume=` and `reproduce=` take, as git takes a commit's
RUN_ID = re.compile(r"[0-9A-Za-z-]+")  # MLflow's ids are 32 hex digits; a plugin store's may differ


def typed_resume(value: Any, overrides: list[str]) -> Any:
    """`resume` as the user typed it: Hydra reads `resume=5790e106` as the number 5.79e+109 and `resume=0123` as
    123, so a run id (or its prefix) that looks like a number is taken from the override's text instead."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    typed = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("resume=")]
    text = typed[-1].strip() if typed else str(value)
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" else text


def run_by_id(client, typed: Any, key: str = "resume"):
    """The MLflow run `<key>=<typed>` names: its full id, or a unique prefix of at least RUN_ID_PREFIX characters
    (as git takes a commit's); one line when none or several runs of the store match."""
    text, store = str(typed), redact(client.tracking_uri)
    expected = (
        f"expected {'true (the newest unfinished run of this config) or ' if key == 'resume' else ''}the id of a run "
        f"in that store, or its first {RUN_ID_PREFIX} or more characters (the store: tracking.uri= or "
        "$MLFLOW_TRACKING_URI)"
    )
    if not RUN_ID.fullmatch(text):
        raise UserError(f"{key}={text} is not an MLflow run id (store {store}); {expected}")
    try:
        return client.get_run(text)
    except Exception:  # MLflow raises its own exception type for an unknown id
        pass
    if len(text) < RUN_ID_PREFIX:
        short = f" ({len(text)} characters: too few to look it up as the start of one)"
        raise UserError(f"{key}={text}: no MLflow run in {store} has that id{short}; {expected}")
    from mlflow.entities import ViewType

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    like = f"attributes.run_id LIKE '{text.lower()}%'"
    found = client.search_runs(experiments, like, run_view_type=ViewType.ALL, max_results=6) if experiments else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"{key}={text}: no MLflow run in {store} has an id starting with {text}; {expected}")
    shown = ", ".join(
        f"{r.info.run_id} ({r.info.run_name}, {r.info.status})" for r in sorted(found[:5], key=lambda r: r.info.run_id)
    )
    more = " and more" if len(found) > 5 else ""
    raise UserError(f"{key}={text} matches several MLflow runs: {shown}{more}; expected more characters of one id")
