"""`python -m train reproduce=<run id>`: the command line of a logged run, rebuilt from its `overrides.txt`.

The run is named by its id or a unique prefix of 8 or more characters (`embedlab.tracking.resume.run_by_id`).

The run's overrides (less what a sweep added to nest and name it) replace `reproduce=<run id>`; other arguments on the command line are kept after them (so
`reproduce=<id> training.max_steps=10` changes one key). It refuses, in one line, when the code (`git_commit`)
or the data (`data_fingerprint.json`) differ from the run's, unless `reproduce_force=true` is given.
"""

from __future__ import annotations

import json
import os

from embedlab.config import quote
from embedlab.errors import UserError, user_errors_exit

REPRODUCES_TAG = "reproduces"  # on a reproduction: the id of the run it reproduces (also in its name)
PREFIX = "reproduce="
FORCE = "reproduce_force="
FORCED_TAG = "reproduce_forced"  # on a forced reproduction that differs: what differed (commit, settings, data)
# What a sweep adds to a job's overrides (its parent run, trial, name): a reproduced job is a standalone run.
# Any spelling: keys only a sweep or a reproduction sets, and the name (a reproduction is named after its source).
SWEEP_KEYS = (
    "sweep.",
    "tracking.parent_run_id=",
    "tracking.tags.sweep",
    "tracking.run_name=",
    f"tracking.tags.{REPRODUCES_TAG}=",  # a reproduction of a reproduction names the run it reproduces itself
    f"tracking.tags.{FORCED_TAG}=",  # ... and says itself whether it differs from it
)
# Only as a sweep writes them (`SweepGroup.job_overrides`): a single run's own `tracking.log_model=true` is kept.
SWEEP_WRITTEN = ("++tracking.register=", "++tracking.log_model=")


def run_overrides(client, run_id: str) -> tuple[object, list[str]]:
    """The MLflow run and the overrides it was started with."""
    import mlflow

    from embedlab.tracking.resume import run_by_id

    run = run_by_id(client, run_id, "reproduce")  # its id, or a unique prefix of it
    check_not_a_sweep(run, run_id)
    try:
        text = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/overrides.txt")
    except Exception:
        stages = client.search_runs(
            [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'", max_results=1
        )
        expected = (  # a chain's parent run: its stages hold the chain's overrides, and reproduce the whole chain
            f"expected one of its stages' runs, which runs the whole chain again: reproduce={stages[0].info.run_id}"
            if stages
            else "expected a run that python -m train logged (it logs overrides.txt)"
        )
        raise UserError(
            f"reproduce={run_id}: the run has no overrides.txt artifact to rebuild it from; {expected}"
        ) from None
    return run, own_overrides(text.splitlines())


def check_not_a_sweep(run, typed: str) -> None:
    """A sweep's parent run (tag `sweep_kind`, which embedlab.sweeps.mlflow_group sets) trained nothing itself: its
    jobs did. One line naming its best job, which is what `reproduce=` of a sweep most likely means."""
    tags = run.data.tags
    if "sweep_kind" not in tags:
        return
    best = tags.get("best_run_id")
    example = f"e.g. its best: reproduce={best}" if best else f"the runs tagged sweep={tags.get('sweep', '<its name>')}"
    raise UserError(
        f"reproduce={typed}: run {run.info.run_id} is a sweep's parent run ({tags['sweep_kind']} sweep "
        f"{tags.get('sweep', '')}), which trains nothing itself; expected one of its jobs, {example}"
    )


def own_overrides(lines: list[str]) -> list[str]:
    """A logged run's overrides less what a sweep or a reproduction added, and less `resume=`."""
    lines = [line.strip() for line in lines if line.strip()]
    return [
        line
        for line in lines
        if not line.lstrip("+~").startswith((*SWEEP_KEYS, "resume=")) and not line.startswith(SWEEP_WRITTEN)
    ]


def composed(overrides: list[str]):
    """The job config these overrides compose today, as `python -m train` composes it (no Hydra node)."""
    from hydra import compose, initialize_config_dir

    from embedlab.config import REPO_ROOT

    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides)


def settings_of(run, cfg) -> dict:
    """What `cfg` gives the run: the whole config, or for a chain's stage run (tag `embedlab.stage`) that stage's."""
    from embedlab.config import to_container
    from embedlab.plan import stage_configs
    from embedlab.tracking.values import STAGE_TAG

    config = to_container(cfg)
    stages = dict(stage_configs(cfg, config))
    return stages.get(run.data.tags.get(STAGE_TAG, "run"), config)


def data_digest(cfg) -> str:
    """The data fingerprint `cfg` gives today (the dataset is read and split; no model is loaded)."""
    from embedlab.config import build

    return build(cfg.dataset, where="dataset", seed=cfg.seed).fingerprint()["sha256"]


def differences(run, overrides: list[str], all_of_them: bool) -> list[tuple[str, str]]:
    """What differs between the run and a reproduction of it today, in order: the git commit, the settings its
    overrides compose (conf/ edited, uncommitted), the data. Each as (what the tag says, the error line); only
    the first unless `all_of_them` (reproduce_force=true: the run's tag names them all)."""
    import mlflow

    from embedlab.tracking.mlflow_run import git_commit
    from embedlab.tracking.params import flatten
    from embedlab.tracking.resume import changed_settings

    run_id = run.info.run_id
    found = []
    logged, now = run.data.tags.get("git_commit", "unknown"), git_commit()
    if logged != now or now == "unknown":
        found.append(
            (
                f"git commit {logged[:12]}, now {now[:12]}",
                f"reproduce={run_id}: the run was made with git commit {logged[:12]}, this checkout is {now[:12]}; "
                f"check out {logged[:12]} or add reproduce_force=true",
            )
        )
        if not all_of_them:
            return found
    try:
        cfg = composed(overrides)
    except UserError as exc:  # forced across commits: the run's overrides may not compose today
        return [*found, (f"its overrides do not compose today: {exc}", str(exc))]
    settings = flatten(settings_of(run, cfg))
    if "embedlab.init_from_run_id" in run.data.tags:  # a later stage starts from the stage before's model
        settings.pop("phase.init_from", None)
    changed = changed_settings(run.data.params, settings)
    if changed:  # the commit is the run's, the config files are not: an edit not yet committed
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        found.append(
            (
                f"settings {shown}",
                f"reproduce={run_id}: its overrides compose other settings today ({shown}: conf/ changed since the "
                "run, uncommitted); expected the run's config: undo the change (git stash), or add reproduce_force=true",
            )
        )
        if not all_of_them:
            return found
    try:
        fingerprint = json.loads(mlflow.artifacts.load_text(f"{run.info.artifact_uri}/data_fingerprint.json"))
    except mlflow.exceptions.MlflowException:  # a run stopped before it logged its inputs
        fingerprint = {}
    digest = data_digest(cfg)
    if fingerprint.get("sha256") != digest:
        logged_digest = str(fingerprint.get("sha256", "none"))[:12]
        found.append(
            (
                f"data sha256 {logged_digest}, now {digest[:12]}",
                f"reproduce={run_id}: the data differ from the run's (sha256 {logged_digest} logged, {digest[:12]} "
                "now); expected the run's data, or reproduce_force=true to run anyway",
            )
        )
    return found


def what_differs(differ: list[tuple[str, str]]) -> str:
    """Each difference, `; `-separated: what the forced run prints and its tag holds."""
    return "; ".join(tag for tag, _ in differ)


def tracking_uri(arguments: list[str]) -> str:
    from embedlab.tracking.store import default_tracking_uri

    given = [a.split("=", 1)[1] for a in arguments if a.lstrip("+").startswith("tracking.uri=")]
    return given[-1] if given else os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def rebuild_argv(argv: list[str]) -> list[str]:
    """`[prog, reproduce=<id>, *rest]` -> `[prog, *the run's overrides, *rest]`; unchanged without `reproduce=`."""
    for typed in argv[1:]:  # `+reproduce=<id>`: Hydra would call it no key of the config, which it is not
        if typed[:1] in "+~" and typed.lstrip("+~").startswith((PREFIX, FORCE)):
            raise UserError(
                f"{typed}: reproduce= and reproduce_force= are read before Hydra composes the config, not config "
                f"keys; expected {typed.lstrip('+~')} without the {typed[: len(typed) - len(typed.lstrip('+~'))]}"
            )
    wanted = [a for a in argv[1:] if a.startswith(PREFIX)]
    given = [a[len(FORCE) :] for a in argv[1:] if a.startswith(FORCE)]
    if not wanted and given:  # Hydra would call it no key of the config and suggest +reproduce_force=, refused above
        raise UserError(
            f"{FORCE}{given[-1]} without reproduce=<run id>: it lets a reproduction run despite a difference; "
            f"expected reproduce=<run id> {FORCE}{given[-1]}, or no {FORCE} for a new run"
        )
    if not wanted:
        return argv
    if any(value.lower() not in ("true", "false") for value in given):  # `yes` was ignored in silence
        raise UserError(f"{FORCE}{given[-1]} is not true or false; expected {FORCE}true to run despite a difference")
    force = bool(given) and given[-1].lower() == "true"
    rest = [a for a in argv[1:] if not a.startswith((PREFIX, FORCE))]
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # stderr keeps to the one error line
    import mlflow

    from embedlab.plan import without_search_preset
    from embedlab.tracking.store_checks import check_store_exists

    store = tracking_uri(rest)
    check_store_exists(store, wanted[-1])  # a misspelt store: one line, no empty store made by MLflow
    run, overrides = run_overrides(mlflow.MlflowClient(store), wanted[-1][len(PREFIX) :])
    run_id = run.info.run_id  # the full id of a prefix
    differ = differences(run, overrides, all_of_them=force)
    if differ and not force:
        raise UserError(differ[0][1])
    overrides = without_search_preset(overrides)  # a study's trial: what its preset set, as a single run takes it
    print(f"reproducing MLflow run {run_id}: python -m train {' '.join([*overrides, *rest])}", flush=True)
    tags = [f"++tracking.tags.{REPRODUCES_TAG}={run_id}"]
    if differ:  # forced: the run's record says it is no faithful copy, and of what
        print(f"reproduce_force=true: running despite {what_differs(differ)}", flush=True)
        text = what_differs(differ).replace("${", "$ {")  # OmegaConf would read `${...}` as an interpolation
        tags.append(f"++tracking.tags.{FORCED_TAG}={quote(text)}")
    return [argv[0], *overrides, *tags, *rest]


def reproduce_command(argv: list[str]) -> list[str]:
    """`rebuild_argv`, with a user's mistake as one `error:` line and exit 2."""
    with user_errors_exit():
        return rebuild_argv(argv)
