"""An Optuna study run through a Hydra launcher: ask a batch of trials, launch them as jobs, tell the results.

Each job gets the trial's sampled overrides, the fixed overrides, and where to find its trial (`+sweep.*`), so
the job can report the objective at each evaluation and be pruned (see `embedlab.sweeps.trial`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from embedlab.config import build, quote, to_container
from embedlab.errors import Interrupted, UserError, as_stop, raise_if_stopped
from embedlab.plan import check_direction
from embedlab.sweeps import study as studies
from embedlab.sweeps.dead_workers import returns_after_dead_worker
from embedlab.sweeps.launcher_errors import launcher_could_not_start, worker_died
from embedlab.sweeps.mlflow_group import SweepGroup, log_plots
from embedlab.sweeps.search_space import command, default_study_name, parse_search_space, trial_overrides
from embedlab.sweeps.storage import check_apart_from_tracking
from embedlab.tracking.params import redact
from embedlab.tracking.status import ended_with_status
from embedlab.tracking.store import default_tracking_uri

log = logging.getLogger(__name__)
REPEAT_OF_ATTR = "embedlab.repeat_of"  # trial user attr: the earlier trial whose value a repeat reused
INTERRUPTED_ATTR = "embedlab.interrupted"  # trial user attr: stopped by Ctrl-C / SIGTERM (FAIL)


@dataclass
class OptunaSettings:
    """`hydra.sweeper.*` as the sweeper plugin receives it (see conf/hydra/sweeper/embedlab_optuna.yaml)."""

    direction: str = "maximize"
    n_trials: int = 20
    n_jobs: int | None = None
    study_name: str | None = None
    storage: str | None = None
    max_failure_rate: float = 0.5
    reuse_repeats: bool = True
    sampler: Any = None
    pruner: Any = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def checked(cls, settings: dict[str, Any]) -> OptunaSettings:
        """The settings after the schema's check of `hydra.sweeper.*` (types, ranges, choices, storage URL)."""
        from embedlab.schema import check_sweeper

        plain = {key: to_container(value) for key, value in settings.items()}
        check_sweeper(plain)
        unknown = sorted(set(plain) - set(cls.__dataclass_fields__))
        if unknown:
            raise UserError(
                f"hydra.sweeper.{unknown[0]} is not a setting of the Optuna sweeper; expected one of "
                f"{', '.join(cls.__dataclass_fields__)}"
            )
        return cls(**plain)


def run_study(settings: OptunaSettings, config: DictConfig, launcher, load_job_config, arguments: list[str]) -> None:
    """Run (or resume) the study until it holds `n_trials` COMPLETE or PRUNED trials."""
    space, fixed = parse_search_space(dict(settings.params or {}), arguments)
    if not space:
        raise UserError(
            "hydra.sweeper.params is empty: nothing to search (e.g. training.lr='tag(log, interval(1e-5,1e-4))')"
        )
    preset = OmegaConf.select(config, "hydra.runtime.choices.hparams_search")
    name = settings.study_name or default_study_name(
        preset, space, fixed, {"direction": settings.direction, "metric": config.optimized_metric}
    )
    storage = settings.storage or studies.default_storage()
    job_cfg = load_job_config(fixed)
    check_apart_from_tracking(storage, job_cfg.tracking.get("uri") or default_tracking_uri())  # before either is made
    check_direction(settings.direction, job_cfg.optimized_metric)  # a study maximizing val_loss picks the worst
    check_job_configs(job_cfg, space, fixed, load_job_config)  # the fixed values, every choice, each end of a range
    pruner_cfg = to_container(settings.pruner)
    if pruner_cfg:
        build(pruner_cfg, where="hydra.sweeper.pruner")  # a bad pruner fails here, before the study is stored
    with studies.one_sweeper(storage, name):
        jobs = studies.jobs_settings(job_cfg.optimized_metric, fixed)
        study = studies.open_study(name, storage, settings.direction, to_container(settings.sampler), space, jobs)
        study.set_user_attr(studies.PRUNER_ATTR, pruner_cfg)

        registered = job_cfg.tracking.get("registered_model_name") if job_cfg.tracking.get("register", True) else None
        group = SweepGroup(
            job_cfg.tracking.get("uri"),
            job_cfg.tracking.experiment,
            name,
            study.user_attrs.get(studies.PARENT_RUN_ATTR),
            registered_model_name=registered,
            log_model=job_cfg.tracking.get("log_model", True),
            sweep_models=job_cfg.tracking.get("sweep_models", "best"),
        )
        study.set_user_attr(studies.PARENT_RUN_ATTR, group.run_id)
        n_jobs = concurrent_trials(settings.n_jobs, config)
        warn_if_unsafe_for_parallel(group.uri, storage, n_jobs)
        done = finished_trials(study)
        if len(done) >= settings.n_trials:
            log.info(
                f"Study {name} is complete: {len(done)} of hydra.sweeper.n_trials={settings.n_trials} trials ended"
            )
        log.info(
            f"Study {name} in {redact(storage)}: {len(done)} complete or pruned, "
            f"running {max(0, settings.n_trials - len(done))} more"
        )
        log.info(f"MLflow parent run {group.run_id} in {group.uri} (filter runs with tags.sweep = '{group.name}')")
        summary: dict[str, Any] = {"study_name": name, "storage": redact(storage), "direction": settings.direction}
        try:
            with ended_with_status(group.finish):  # Ctrl-C / SIGTERM: KILLED
                try:
                    run_trials(study, storage, space, fixed, settings, launcher, group, n_jobs)
                finally:  # what the study has, even when it stopped early
                    summary.update(describe(study, space, fixed, settings, config.optimized_metric))
                    group.log_summary(summary)
                    notes = log_plots(group, study)
                    for note in notes:
                        log.info(note)
                    sweep_dir = Path(config.hydra.sweep.dir)
                    sweep_dir.mkdir(parents=True, exist_ok=True)  # no job ran (a complete study): Hydra made no folder
                    OmegaConf.save(OmegaConf.create(summary), sweep_dir / "optimization_results.yaml")
        except BaseException as exc:  # a study goes on where it stopped when its command runs again
            stop = as_stop(exc)  # also a stop that a library turned into another exception
            if stop is None:
                raise
            raise Interrupted(
                stop.signum, f"study {name} keeps its finished trials; run the same command to continue it"
            ) from None
        print_best(summary)


def check_job_configs(job_cfg: DictConfig, space: dict, fixed: list[str], load_job_config) -> None:
    """The plan (embedlab.plan) of the jobs' config, of every value of each choice and of each end of every
    searched range, and the direction against the metric: before the first trial."""
    from optuna.distributions import CategoricalDistribution

    from embedlab.plan import Seen, plan_run

    seen = Seen()
    plan_run(*without_hydra(job_cfg), seen, sweep=True)
    for key, distribution in space.items():
        if isinstance(distribution, CategoricalDistribution):
            values = list(distribution.choices)
        else:
            values = [distribution.low, distribution.high]
        for value in values:
            try:
                plan_run(*without_hydra(load_job_config([*fixed, *trial_overrides({key: value})])), seen, sweep=True)
            except UserError as exc:
                raise UserError(f"hydra.sweeper.params.{key}: the value {value} cannot run: {exc}") from None


def without_hydra(cfg: DictConfig) -> tuple[DictConfig, dict[str, Any]]:
    """A job's config less its `hydra` node, and the option chosen for each group (for messages and presets)."""
    plain = OmegaConf.to_container(cfg, resolve=False)
    hydra = plain.pop("hydra", None) or {}
    return OmegaConf.create(plain), dict((hydra.get("runtime") or {}).get("choices") or {})


def run_trials(
    study, storage: str, space, fixed, settings: OptunaSettings, launcher, group: SweepGroup, n_jobs: int
) -> None:
    """Ask, launch and tell in batches of `n_jobs` until `n_trials` trials are COMPLETE or PRUNED.

    A FAIL does not count (as in Optuna's `MaxTrialsCallback`): the sweep runs another in its place, up to
    `max_failure_rate`, and a study whose trials failed, or were stopped or killed, runs them again when its
    command runs again."""
    to_run = max(0, settings.n_trials - len(finished_trials(study)))
    budget = math.floor(settings.max_failure_rate * to_run)
    failures = 0
    while to_run > 0:
        trials = [studies.ask(study, space) for _ in range(min(n_jobs, to_run))]
        if settings.reuse_repeats:  # same parameters as a COMPLETE trial: the same (seeded) run, so no job
            repeats = [trial for trial in trials if reuse_value_of_repeat(study, trial)]
            to_run -= len(repeats)
            trials = [trial for trial in trials if trial not in repeats]
            if not trials:
                continue
        jobs = [job_overrides(storage, study.study_name, trial, fixed, group) for trial in trials]
        try:
            # job folders <sweep dir>/<n> from the trial numbers: a study run again into the same hydra.sweep.dir
            # writes new folders, not over its earlier trials' models
            returns = launcher.launch(jobs, initial_job_idx=trials[0].number)
            raise_if_stopped()  # a job that failed because a stop signal came is a stop, not a FAIL to go on from
        except BaseException as exc:
            if not worker_died(exc):
                stopped = as_stop(exc) is not None
                for trial in trials:  # a crashed launcher or Ctrl-C: these trials did not finish
                    if stopped:
                        trial.set_user_attr(INTERRUPTED_ATTR, True)
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                if stopped or isinstance(exc, UserError):
                    raise
                raise launcher_could_not_start(  # e.g. hydra.launcher.n_jobs=0
                    exc,
                    launcher,
                    f"trial(s) {[t.number for t in trials]}",
                    "the trials are FAIL and run again when the command runs again",
                ) from exc
            returns = returns_after_dead_worker(trials, group, exc)  # a killed worker ends its trial, not the sweep
        outcomes = {trial.number: tell(study, trial, ret) for trial, ret in zip(trials, returns, strict=True)}
        states = {number: state for number, (state, _) in outcomes.items()}
        missing = group.mark_trials(states)
        if missing:
            log.warning(f"No MLflow run found for trial(s) {missing}: check the tracking store ({group.uri})")
        failed = sum(state == "FAIL" for state in states.values())
        failures += failed
        to_run -= len(trials) - failed
        if failures > budget:
            raise UserError(
                f"{failures} trial(s) failed, more than hydra.sweeper.max_failure_rate={settings.max_failure_rate} "
                f"allows; see the FAIL trials' MLflow runs (tag embedlab.error)"
            )
        if any(exhausted for _, exhausted in outcomes.values()):
            log.info("The sampler has tried every point of the search space; stopping")
            return


def reuse_value_of_repeat(study, trial) -> bool:
    """Tell `trial` the value of an earlier COMPLETE trial with the same parameters; False if there is none.

    Samplers draw discrete values with replacement (TPE on `choice(...)` often repeats a point), and a run is
    fixed by its config and seed, so a repeat would spend a whole training to reproduce a known value (this is
    the recipe in Optuna's FAQ). `hydra.sweeper.reuse_repeats=false` runs repeats, e.g. to measure noise.
    """
    for earlier in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if earlier.number != trial.number and earlier.params == trial.params:
            trial.set_user_attr(REPEAT_OF_ATTR, earlier.number)
            log.info(f"Trial {trial.number}: same parameters as trial {earlier.number}, its value reused (no job)")
            tell_and_check_exhausted(study, trial, earlier.value, TrialState.COMPLETE)
            return True
    return False


def job_overrides(storage: str, name: str, trial, fixed: list[str], group: SweepGroup) -> list[str]:
    """The fixed and sampled overrides, where the job finds its trial, and its MLflow parent and tags."""
    sampled = trial_overrides(trial.params)
    where = [f"++sweep.storage={quote(storage)}", f"++sweep.study={quote(name)}"]
    return [*fixed, *sampled, *where, f"++sweep.trial={trial.number}", *group.job_overrides(trial.number, sampled)]


def tell(study, trial, ret: JobReturn) -> tuple[str, bool]:
    """Record a job's outcome: (state name, whether the sampler has exhausted the search space).

    A raising job is FAIL, a job stopped by the pruner PRUNED.
    """
    if ret.status == JobStatus.COMPLETED:
        try:
            value = float(ret.return_value)
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value):
            log.info(f"Trial {trial.number}: {value:.4f}  {' '.join(trial_overrides(trial.params))}")
            return "COMPLETE", tell_and_check_exhausted(study, trial, value, TrialState.COMPLETE)
        error: BaseException = ValueError(f"the job returned {ret.return_value!r}, not a finite number")
    else:
        error = job_error(ret)
    if isinstance(error, optuna.TrialPruned):
        log.info(f"Trial {trial.number}: PRUNED ({error})")
        return "PRUNED", tell_and_check_exhausted(study, trial, None, TrialState.PRUNED)
    reason = str(error).splitlines()[0] if str(error) else ""
    log.warning(f"Trial {trial.number}: FAIL ({type(error).__name__}: {reason})")
    return "FAIL", tell_and_check_exhausted(study, trial, None, TrialState.FAIL)


def job_error(ret: JobReturn) -> BaseException:
    """The exception a failed job raised, from the public `JobReturn.return_value`, which re-raises it.

    It also writes "Error executing job with overrides: ..." to stderr; the sweep's own `Trial <n>: FAIL` line
    says it instead, so that line is kept out of the output.
    """
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ret.return_value  # noqa: B018 - the property raises the job's exception
    except BaseException as error:  # whatever the job raised (also a KeyboardInterrupt it ended with)
        return error
    return RuntimeError(f"the job ended {ret.status.name} without an error")


def tell_and_check_exhausted(study, trial, value: float | None, state: TrialState) -> bool:
    """`study.tell`; True when a grid or brute-force sampler asks to stop because it has tried everything."""
    try:
        study.tell(trial, value, state=state)
    except RuntimeError as exc:  # the sampler calls Study.stop(), which only works inside study.optimize
        if "Study.stop" not in str(exc):
            raise
        return True
    return False


def finished_trials(study) -> list:
    """The trials that count towards `n_trials`: COMPLETE and PRUNED (a FAIL is run again)."""
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def concurrent_trials(n_jobs: int | None, config: DictConfig) -> int:
    """How many trials run at once (one batch): `n_jobs`, else the launcher's positive `n_jobs` (joblib), else 1."""
    if n_jobs:
        return max(1, int(n_jobs))
    launcher_jobs = OmegaConf.select(config, "hydra.launcher.n_jobs")
    if isinstance(launcher_jobs, int) and launcher_jobs != 0:
        return launcher_jobs if launcher_jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + launcher_jobs)
    return 1


def warn_if_unsafe_for_parallel(mlflow_uri: str, storage: str, n_jobs: int) -> None:
    if n_jobs > 2 and (mlflow_uri.startswith("sqlite:") or storage.startswith("sqlite:")):
        log.warning(
            f"{n_jobs} parallel jobs writing to SQLite: writers queue on one file lock and may time out. "
            "For more than 2, run `make mlflow-server` and set MLFLOW_TRACKING_URI=http://127.0.0.1:5000; "
            "for the study, hydra.sweeper.storage=postgresql://…"
        )


def describe(study, space, fixed: list[str], settings: OptunaSettings, metric: str) -> dict[str, Any]:
    """What the parent run and optimization_results.yaml record about the study."""
    counts = {s: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    out: dict[str, Any] = {
        "optimized_metric": metric,
        "n_trials": settings.n_trials,
        "search_space": {k: repr(d) for k, d in space.items()},
        "fixed_overrides": fixed,
        "n_complete": counts[TrialState.COMPLETE],
        "n_pruned": counts[TrialState.PRUNED],
        "n_fail": counts[TrialState.FAIL],
        "n_repeats_reused": sum(REPEAT_OF_ATTR in t.user_attrs for t in study.get_trials(deepcopy=False)),
    }
    if counts[TrialState.COMPLETE]:
        best = study.best_trial
        out.update(
            best_trial=best.number,
            best_value=best.value,
            best_params=dict(best.params),
            best_command=command([*preset_first(fixed), *trial_overrides(best.params)]),
        )
    return out


def preset_first(overrides: list[str]) -> list[str]:
    return sorted(overrides, key=lambda o: not o.startswith("hparams_search="))


def print_best(summary: dict[str, Any]) -> None:
    counts = f"{summary['n_complete']} complete, {summary['n_pruned']} pruned, {summary['n_fail']} failed"
    if summary.get("n_repeats_reused"):
        counts += f"; {summary['n_repeats_reused']} repeated parameters took an earlier trial's value without a run"
    if "best_trial" not in summary:
        print(f"Study {summary['study_name']}: no complete trial ({counts})")
        return
    print(f"Study {summary['study_name']}: {counts}")
    print(f"Best trial {summary['best_trial']}: {summary['optimized_metric']}={summary['best_value']:.4f}")
    print(f"Reproduce: {summary['best_command']}")
