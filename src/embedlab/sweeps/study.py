"""The Optuna study behind a sweep: where it is stored, how it resumes, how a job reopens its trial."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import optuna
from optuna.trial import TrialState

from embedlab.config import REPO_ROOT, build, first_line
from embedlab.errors import UserError
from embedlab.folders import take_lock_or_refuse
from embedlab.sweeps.storage import prepare_storage, rdb_storage
from embedlab.tracking.params import redact
from embedlab.tracking.sqlite_store import sqlite_file
from embedlab.tracking.stale_runs import process_alive, process_started

log = logging.getLogger(__name__)

OWNER_HOST = "embedlab.host"  # user attrs of a trial: which sweeper process asked for it
OWNER_PID = "embedlab.pid"
OWNER_STARTED = "embedlab.pid_started"  # with the pid, names the process (pids are reused); absent in old studies
PRUNER_ATTR = "embedlab.pruner"  # study user attr: the pruner's config, rebuilt by each job
PARENT_RUN_ATTR = "embedlab.mlflow_parent_run_id"
JOBS_ATTR = "embedlab.jobs"  # study user attr: the jobs' optimized_metric and fixed overrides (`jobs_settings`)
# fixed overrides a study may resume with changed: where runs are recorded and what runs them, not what they train
RESUMABLE_WITH_OTHER = ("tracking.", "hardware.")
RDB = "expected an Optuna RDB storage URL this process can open (sqlite:///<absolute path>, or a database server's)"


def default_storage() -> str:
    """`sqlite:///<repo root>/optuna.db`, next to mlflow.db: stable across days and sweep folders."""
    return f"sqlite:///{REPO_ROOT / 'optuna.db'}"


def jobs_settings(metric: str, fixed: list[str]) -> dict[str, Any]:
    """What a trial's value depends on besides its sampled parameters: the metric and the fixed overrides."""
    return {"optimized_metric": metric, "fixed": sorted(o for o in fixed if not o.startswith(RESUMABLE_WITH_OTHER))}


@contextlib.contextmanager
def one_sweeper(storage: str, name: str) -> Iterator[None]:
    """One sweeper process per study in a SQLite storage: an exclusive `flock` on `<db>.locks/<hash of name>.lock`,
    held while the study runs and released by the OS if the process dies. Two sweepers of one study would each
    run `n_trials` (the same points: the same seed and trial count seed both samplers) under two parent runs.
    Trials side by side are `hydra.sweeper.n_jobs` or a parallel launcher. A server storage (PostgreSQL) has no
    such lock: one command per study there is the user's to keep."""
    database = sqlite_file(storage)
    if database is None:
        yield
        return
    import fcntl

    prepare_storage(storage)  # MLflow's store named here, or a missing folder: one line, and no lock left beside it
    folder = database.parent / f"{database.name}.locks"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    with open(folder / f"{digest}.lock", "a+", encoding="utf-8") as lock:
        take_lock_or_refuse(
            lock,
            lambda owner: (
                f"hydra.sweeper.study_name={name} (in {redact(storage)}) is being run by {owner}; "
                "expected one sweeper per study: wait for it to end, or run trials side by side in one command with "
                "hydra.sweeper.n_jobs or a parallel launcher (hydra/launcher=joblib)"
            ),
        )
        lock.seek(0)
        lock.truncate()
        lock.write(f"sweeper pid {os.getpid()} on {socket.gethostname()}\n")
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def open_study(
    name: str,
    storage: str,
    direction: str,
    sampler_cfg: dict[str, Any] | None,
    space: dict | None = None,
    jobs: dict[str, Any] | None = None,
) -> optuna.Study:
    """Create the study, or load it to resume; trials of dead sweeper processes are marked FAIL. A stored study
    must have the `direction`, search `space` and `jobs` settings (`jobs_settings`) asked for now (see
    `check_same_study`).

    A resumed study's sampler gets `seed + number of trials so far`: with the same seed it would replay the first
    session's random draws and propose the points it has already tried.
    """
    sampler = build(sampler_cfg, where="hydra.sweeper.sampler") if sampler_cfg else None  # before it is stored
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its INFO lines say what the sweep's own log says
    try:
        study = optuna.create_study(
            study_name=name, storage=rdb_storage(storage), direction=direction, load_if_exists=True
        )
    except (ValueError, ImportError, optuna.exceptions.OptunaError) as exc:
        raise UserError(f"hydra.sweeper.storage={redact(storage)} cannot be opened: {first_line(exc)}; {RDB}") from None
    except Exception as exc:  # SQLAlchemy's OperationalError & co: a missing folder, a server that refuses
        if type(exc).__module__.split(".")[0] != "sqlalchemy":
            raise
        raise UserError(f"hydra.sweeper.storage={redact(storage)} cannot be opened: {first_line(exc)}; {RDB}") from None
    check_same_study(study, direction, space or {}, storage)
    if jobs is not None:
        check_same_jobs(study, jobs, storage)
    if sampler_cfg:
        so_far = len(study.get_trials(deepcopy=False))
        if sampler_cfg.get("seed") is not None and so_far:  # resumed: built again with the seed moved on
            sampler = build({**sampler_cfg, "seed": int(sampler_cfg["seed"]) + so_far}, where="hydra.sweeper.sampler")
        study.sampler = sampler
    fail_orphaned_trials(study)
    return study


def check_same_study(study: optuna.Study, direction: str, space: dict, storage: str) -> None:
    """A stored study resumed under its name keeps its direction, its parameters and their distributions: Optuna
    would otherwise keep the old direction without a word, fail with a traceback at the first `ask`, or (a
    parameter added) compare new trials with earlier ones that ran at another setting of it."""
    where = f"hydra.sweeper.study_name={study.study_name} (in {redact(storage)})"
    stored = study.direction.name.lower()
    if stored != direction:
        raise UserError(
            f"{where} was created to {stored}, and this command asks to {direction}; expected "
            f"hydra.sweeper.direction={stored} to resume it, or another hydra.sweeper.study_name for a new study"
        )
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        for key, distribution in trial.distributions.items():
            if key in space and space[key] != distribution:
                raise UserError(
                    f"{where} searched {key} in {distribution!r} (trial {trial.number}), and this command searches "
                    f"it in {space[key]!r}; expected the study's own search space to resume it, or another "
                    "hydra.sweeper.study_name for a new study"
                )
    searched = {key for trial in trials for key in trial.distributions}
    if searched and searched != set(space):  # a parameter added or dropped: the earlier trials ran other settings
        changes = [f"adds {', '.join(sorted(set(space) - searched))}"] if set(space) - searched else []
        changes += [f"drops {', '.join(sorted(searched - set(space)))}"] if searched - set(space) else []
        raise UserError(
            f"{where} searched {', '.join(sorted(searched))}, and this command {' and '.join(changes)}; expected the "
            "study's own search space to resume it, or another hydra.sweeper.study_name for a new study"
        )


def check_same_jobs(study: optuna.Study, jobs: dict[str, Any], storage: str) -> None:
    """A stored study resumed under its name runs its trials as before: the same metric and fixed overrides
    (`jobs_settings`), or its trials' values would mix two settings, and a value reused for repeated parameters
    (or the best trial's command) would be another setting's. A study stored before this check takes `jobs`."""
    stored = study.user_attrs.get(JOBS_ATTR)
    if stored is None:
        study.set_user_attr(JOBS_ATTR, jobs)
        return
    if stored == jobs:
        return
    where = f"hydra.sweeper.study_name={study.study_name} (in {redact(storage)})"
    if stored["optimized_metric"] != jobs["optimized_metric"]:
        change = f"optimized {stored['optimized_metric']}, and this command optimizes {jobs['optimized_metric']}"
    else:
        added = [o for o in jobs["fixed"] if o not in stored["fixed"]]
        dropped = [o for o in stored["fixed"] if o not in jobs["fixed"]]
        change = "ran its trials with other fixed overrides: this command " + " and ".join(
            part
            for part in (f"adds {' '.join(added)}" if added else "", f"drops {' '.join(dropped)}" if dropped else "")
            if part
        )
    raise UserError(
        f"{where} {change}; expected the study's own settings to resume it (tracking.* and hardware.* may change), "
        "or another hydra.sweeper.study_name for a new study"
    )


def fail_orphaned_trials(study: optuna.Study) -> int:
    """RUNNING trials whose sweeper process on this host is gone (killed, crashed) -> FAIL.

    Trials asked by another host are left alone: that sweep may still be running (a shared PostgreSQL study).
    """
    host = socket.gethostname()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner_host = trial.user_attrs.get(OWNER_HOST)
        if owner_host not in (None, host) or owner_alive(trial):
            continue
        study.tell(trial.number, state=TrialState.FAIL)
        failed += 1
    if failed:
        log.warning(f"Marked {failed} trial(s) FAIL that an interrupted sweep left RUNNING")
    return failed


def owner_alive(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether the sweeper process that asked for `trial` still runs (on this host)."""
    pid = trial.user_attrs.get(OWNER_PID)
    if pid is None or int(pid) == os.getpid():
        return False  # the process that asks now cannot own an earlier, unfinished trial
    return process_alive(int(pid), trial.user_attrs.get(OWNER_STARTED))


def ask(study: optuna.Study, space: dict) -> optuna.Trial:
    """A new trial with its parameters sampled and its owner recorded."""
    trial = study.ask(space)
    trial.set_user_attr(OWNER_HOST, socket.gethostname())
    trial.set_user_attr(OWNER_PID, os.getpid())
    trial.set_user_attr(OWNER_STARTED, process_started())
    return trial


def reopen_trial(storage: str, study_name: str, number: int, pruner: Any) -> optuna.Trial:
    """The trial with this number, reopened in a job process (also a joblib worker) to report and prune.

    Optuna has no public call that reopens a running trial by its number: `study.ask()` makes a new one, and a
    `FrozenTrial` cannot report or prune. `optuna.trial.Trial(study, trial_id)` is the class Optuna's own
    `ask()` builds; its docs advise against calling it directly, so this is the one place that does, and
    tests/sweeps/test_study.py fails when its signature or behaviour changes."""
    ids = rdb_storage(storage)  # what create_study makes of a URL; its id lookups are public
    study = optuna.load_study(study_name=study_name, storage=ids, pruner=pruner)
    trial_id = ids.get_trial_id_from_study_id_trial_number(ids.get_study_id_from_name(study_name), number)
    return optuna.trial.Trial(study, trial_id)
