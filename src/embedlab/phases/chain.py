"""`phase=two_phase`: run phases one after another, each from the previous phase's best checkpoint.

A chain config has `stages`: name -> a partial config for that stage. Its `phase` key is the stage's phase;
its other keys (e.g. `training.epochs`) override the shared config for that stage only:

    python -m train experiment=physics_two_phase phase.stages.phase2.training.epochs=5

Each stage is one ordinary `train()` run, nested in MLflow under a parent run for the chain. A later stage's
run is tagged with the run, checkpoint and step it started from. At the end the test metrics of the base
model and of every stage's best model are printed side by side and logged to the parent run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from embedlab.config import build, to_container
from embedlab.errors import UserError
from embedlab.logs import also_logged_in
from embedlab.phases.chain_resume import (
    CHAIN_HASH_TAG,
    find_chain_parent,
    finished_stage_result,
    resume_of_stage,
    stage_runs,
)
from embedlab.report import ORDER, format_table
from embedlab.tracking.kept import KEPT_MODEL_PATH_TAG, KEPT_PREFIX, KEPT_RUN_TAG, VALIDATION_TRAINS_TAG
from embedlab.tracking.resume import config_hash
from embedlab.tracking.status import ended_with_status
from embedlab.tracking.values import STAGE_TAG, named_overrides, timed_name, unique_run_name, values_name

log = logging.getLogger(__name__)


def train_chain(
    cfg: DictConfig, run_dir: Path, train: Callable, overrides: list[str] | None = None, callbacks: list | None = None
):
    """Train each stage of `cfg.phase.stages` in order with `train` (one run per stage, `embedlab.run.train`);
    returns the last stage's RunResult."""
    stages = dict(cfg.phase.stages)  # every stage was checked before work (embedlab.plan), not after phase 1
    for name, stage in stages.items():
        check_stage_hardware(cfg, name, stage)
    results = {}
    handed = []  # what the previous stage computed with its kept model (embedlab.phases.shared_work), if anything
    with (
        parent_run(cfg, run_dir, overrides) as parent,
        # a resumed chain's stages go on in its first command's folder, and so does its train.log
        also_logged_in(parent.run_dir) if parent.resumed else contextlib.nullcontext(),
    ):
        if parent.resumed:
            log.info(f"resuming chain run {parent.run_id} in {parent.run_dir}")
        run_dir = parent.run_dir
        earlier = parent.stage_runs()  # a resumed chain: its stages' runs so far
        for name, stage in stages.items():
            previous = results[list(results)[-1]] if results else None
            stage_cfg = stage_config(cfg, name, stage, previous, parent.run_id, last=name == list(stages)[-1])
            run = earlier.get(name)
            if run is not None and run.info.status == "FINISHED":
                log.info(f"\n=== stage {name}: FINISHED in run {run.info.run_id}, not run again ===")
                results[name] = finished_stage_result(parent.client, run)
                handed.clear()
                continue
            with open_dict(stage_cfg):
                stage_cfg.resume = resume_of_stage(run)  # the killed stage continues; later ones start
            log.info(f"\n=== stage {name} ({stage_cfg.phase.name}) ===")
            earlier_work = handed.pop() if handed else None  # popped: the run lets go of it after its step 0
            hand_on = name != list(stages)[-1]
            result = train(stage_cfg, run_dir / name, overrides, callbacks, earlier_work=earlier_work, hand_on=hand_on)
            del earlier_work
            handed += [result.work] if result.work else []
            results[name] = dataclasses.replace(result, work=None)
        table = chain_table(results)
        log.info("\n" + table)
        parent.finish(results, table)
    return results[list(results)[-1]]


def check_stage_hardware(cfg: DictConfig, name: str, stage: DictConfig) -> None:
    """A stage's own `hardware` keys, resolved as the stage will (what only torch can tell: a GPU it names), before
    the first stage trains; the plan, which runs without torch, has checked the rest (e.g. `threads`)."""
    if "hardware" not in stage:
        return  # the chain's own: resolved by the first stage before it trains
    try:
        build(OmegaConf.merge(cfg.hardware, stage.hardware), where=f"phase.stages.{name}.hardware")
    except UserError as exc:
        raise UserError(f"phase.stages.{name}: {exc}") from None


def stage_config(
    cfg: DictConfig, name: str, stage: DictConfig, previous, parent_run_id: str, last: bool = True
) -> DictConfig:
    """The shared config with the stage's phase and overrides; later stages start from the previous best model.
    A stage before the `last` logs its model (the next stage starts from it) but registers no version: the
    chain's result is its last stage's, registered once, as a sweep registers its best job's alone (a stage's
    own `tracking.register=true` still registers it)."""
    stage_cfg = copy.deepcopy(cfg)
    with open_dict(stage_cfg):
        stage_cfg.phase = stage.phase
        if not last:
            stage_cfg.tracking.register = False
        stage_cfg.merge_with({key: value for key, value in stage.items() if key != "phase"})
        stage_cfg.tracking.parent_run_id = parent_run_id
        if stage_cfg.tracking.get("run_name"):  # a sweep's job: `phase1 j00 scale=10` under the chain's `j00 …`
            stage_cfg.tracking.run_name = f"{name} {stage_cfg.tracking.run_name}"
        tags = {STAGE_TAG: name}
        if previous is not None:
            stage_cfg.phase.init_from = str(previous.best.path)
            tags |= {
                "embedlab.init_from_run_id": previous.run_id,
                "embedlab.init_from_checkpoint": str(previous.best.checkpoint or previous.best.path),
                "embedlab.init_from_step": str(previous.best.step),
                "embedlab.init_from_model_uri": str(previous.model_uri),
            }
        stage_cfg.tracking.tags = {**(stage_cfg.tracking.tags or {}), **tags}
    return stage_cfg


def chain_columns(results: dict) -> dict[str, dict[str, float]]:
    """Column name -> test metrics: the base model (first stage, step 0), then each stage's best model."""
    first = next(iter(results.values()))
    return {"base": first.test_start, **{name: r.test_best for name, r in results.items()}}


def chain_table(results: dict) -> str:
    """Test metrics of the base model (first stage, step 0) and each stage's best model, in one table."""
    columns = chain_columns(results)
    found = {metric for values in columns.values() for metric in values}
    names = [f"test_{n}" for n in ORDER if f"test_{n}" in found] + sorted(found - {f"test_{n}" for n in ORDER})
    rows = [(n, [f"{columns[c].get(n, float('nan')):.4f}" for c in columns]) for n in names]
    table = format_table("test split", list(columns), [12] * len(columns), rows) if rows else "test split: none"
    return "\n".join([table, *(f"{name} run: {r.run_id}  best: {r.best.path}" for name, r in results.items())])


class ParentRun:
    """The chain's own MLflow run: no training, the stages nest under it, and it gets the comparison table."""

    def __init__(self, client, run_id: str, run_dir: Path, experiment_id: str | None = None, resumed: bool = False):
        self.client, self.run_id, self.experiment_id, self.resumed = client, run_id, experiment_id, resumed
        self.run_dir = run_dir  # where the stages' folders are: the first command's, for a resumed chain

    def stage_runs(self) -> dict:
        """Stage name -> its newest run under this parent; empty for a chain that was not resumed."""
        return stage_runs(self.client, self.experiment_id, self.run_id) if self.resumed else {}

    def finish(self, results: dict, table: str) -> None:
        for column, metrics in chain_columns(results).items():
            for metric, value in metrics.items():
                self.client.log_metric(self.run_id, f"{column}_{metric}", float(value))
        self.client.log_text(self.run_id, table, "chain_summary.txt")
        for name, r in results.items():
            self.client.set_tag(self.run_id, f"embedlab.{name}_run_id", r.run_id)
        # what the chain keeps is its last stage's model: its kept_* metrics and folder, where a sweep over chains
        # (a grid's best job, the model it logs) and the runs table look for a run's result
        kept_run = list(results.values())[-1].run_id
        self.client.set_tag(self.run_id, KEPT_RUN_TAG, kept_run)  # where the kept model's record (and params) are
        last = self.client.get_run(kept_run).data
        for key, value in last.metrics.items():
            if key.startswith(KEPT_PREFIX):
                self.client.log_metric(self.run_id, key, value)
        for key in (KEPT_MODEL_PATH_TAG, "optimized_metric", VALIDATION_TRAINS_TAG):  # the last: kept_* measure fit
            if key in last.tags:
                self.client.set_tag(self.run_id, key, last.tags[key])
        registered = list(results.values())[-1].model_uri or ""
        if registered.startswith("models:/") and "/" in registered[len("models:/") :]:  # models:/<name>/<version>
            self.client.set_tag(self.run_id, "registered_model", registered)  # as a sweep's parent says its own


@contextlib.contextmanager
def parent_run(cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None) -> Iterator[ParentRun]:
    """Open the chain's parent run; it ends as `tracking.status` decides (KILLED on Ctrl-C or a pruned trial)."""
    import mlflow

    from embedlab.tracking.stale_runs import process_tags

    tracker = build(cfg.tracking, where="tracking")
    tracker.connect(cfg.get("resume"))
    client = mlflow.MlflowClient(tracker.uri)
    values = values_name(named_overrides(overrides or []))  # named as its stages are, without the stage
    # a sweep's job: the sweep's name for it (`j00 scale=10`) and its tags (`sweep`, `sweep_overrides`, ...)
    name = tracker.run_name or timed_name(f"{cfg.dataset.name}-{cfg.phase.name}", values)
    tags = {**tracker.tags, "phase": cfg.phase.name, "output_dir": str(run_dir), **process_tags()}  # stale if -9
    if tracker.parent_run_id:  # the chain itself may be a trial of a sweep
        tags["mlflow.parentRunId"] = tracker.parent_run_id
    digest = config_hash(to_container(cfg))
    run = find_chain_parent(client, tracker.experiment_id, cfg.get("resume"), digest)
    resumed = run is not None
    if resumed:
        run_dir = chain_folder(run, run_dir)
        client.update_run(run.info.run_id, status="RUNNING")
        for key, value in process_tags().items():
            client.set_tag(run.info.run_id, key, value)
    else:
        run = client.create_run(tracker.experiment_id, run_name=name, tags={**tags, CHAIN_HASH_TAG: digest})
        if not tracker.run_name:  # a name embedlab made, not a sweep's or the user's
            unique_run_name(client, run)
        client.log_text(run.info.run_id, OmegaConf.to_yaml(cfg), "config.yaml")
        client.log_dict(run.info.run_id, to_container(cfg.phase), "chain.json")
    with ended_with_status(lambda status: client.set_terminated(run.info.run_id, status=status)):
        yield ParentRun(client, run.info.run_id, run_dir, tracker.experiment_id, resumed=resumed)


def chain_folder(run, command_dir: Path) -> Path:
    """The folder a resumed chain's stages go on in: the one its first command made (tag `output_dir`), as a
    resumed run goes on in its own; this command's when that folder is gone (moved or deleted)."""
    first = run.data.tags.get("output_dir")
    if first and Path(first).is_dir():
        return Path(first)
    log.warning(f"the chain's folder {first} is gone; its stages that had not finished run under {command_dir}")
    return command_dir
