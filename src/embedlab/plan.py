"""The plan of a run: everything that can be known before work, checked in one place and without torch.

`plan_run(cfg, choices)` is what `python -m train` (single runs and chains), every point of a grid, every value
of an Optuna study's choices and `reproduce=` check before anything trains:

* the schema (`embedlab.schema.check_config`), and an `experiment=` preset's keys against the option chosen for
  their group (`experiment=quora_mixed dataset=physics`);
* the model folder, and `model.max_seq_length` against the model's position embeddings (its `config.json`);
* per stage (one for a run, one per stage of a chain): the data is read and split; the loss and sampler match it;
  the phase says what it will train on (`phase=hard_negatives` needs a retrieval corpus); the loss's smallest
  batch (`min_batch_size` of its config); and the metrics the stage's evaluations will log, which
  `optimized_metric` and `training.select_by` must name;
* the tracking store (`embedlab.tracking.store_checks`).

Each check raises `UserError` with one line. `Seen` carries what several points of a sweep share (a dataset read
once, a model folder checked once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf

from embedlab.config import build
from embedlab.data.bundle import DataBundle
from embedlab.errors import UserError
from embedlab.hardware.device import cores_per_rank, usable_cores
from embedlab.hardware.ranks import launched_by_torchrun, local_world_size
from embedlab.losses.selection import check_sampler, select_parts
from embedlab.schema import CONF, GROUP_NAMES, check_config, check_group, resolved


@dataclass
class Stage:
    """One training run of the plan: a single run, or one stage of a chain.

    Attributes:
        name: the chain's stage name; ``"run"`` for a single run.
        config: the stage's resolved config.
        parts: training part -> loss config, as the stage will train (after its phase prepared the data).
        metrics: what each of its evaluations logs: `val_loss`, `val_loss_<part>`, the evaluators' metrics.
    """

    name: str
    config: dict[str, Any]
    parts: dict[str, Any]
    metrics: list[str]


@dataclass
class Seen:
    """What points of one sweep share: each dataset read once, each model folder and store checked once."""

    datasets: dict[str, DataBundle] = field(default_factory=dict)
    models: set[tuple[str, Any]] = field(default_factory=set)
    stores: set[tuple[str, str | None]] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)

    def dataset(self, node: dict[str, Any], seed: int) -> DataBundle:
        key = json.dumps([node, seed], sort_keys=True, default=str)
        if key not in self.datasets:
            self.datasets[key] = build(node, where="dataset", seed=seed)  # read, checked and split: no torch
        return self.datasets[key]


@dataclass
class Plan:
    stages: list[Stage]
    seen: Seen

    def data(self, config: dict[str, Any]) -> DataBundle:
        """The dataset a run with this (resolved) config reads: already read by the plan."""
        return self.seen.dataset(config["dataset"], config["seed"])


def plan_run(cfg: Any, choices: dict[str, Any] | None = None, seen: Seen | None = None, sweep: bool = False) -> Plan:
    """Check one run (or chain) from its composed config, before any work; raises one line on the first problem.

    Args:
        cfg: the composed config (without the `hydra` node, or with it: it is not checked).
        choices: the option chosen for each config group (`hydra.runtime.choices`), for messages and presets.
        seen: what earlier points of the same sweep already read and checked.
        sweep: a job of a grid or a study, which the sweep chooses among by its validation numbers.
    """
    choices = {k: v for k, v in (choices or {}).items() if v is not None}
    seen = seen or Seen()
    config = checked_config(cfg, choices)
    check_threads(config["hardware"])
    stages = [plan_stage(name, stage, choices, seen) for name, stage in stage_configs(cfg, config)]
    if sweep:
        check_chosen_on_held_out(config, stages)
        check_devices(stages, seen)
    check_store(config["tracking"], seen, config.get("resume"))
    return Plan(stages, seen)


def check_devices(stages: list[Stage], seen: Seen) -> None:
    """A sweep's job that names a GPU (`hardware.device=cuda|mps`, or fp16, which needs CUDA): its `hardware` built
    as the job will build it, so a GPU torch does not see is one line before the first job, as for a single run,
    not a failed job per point. Torch is imported only for such a node; each distinct node is built once."""
    for stage in stages:
        node = stage.config["hardware"]
        key = json.dumps(node, sort_keys=True, default=str)
        if key in seen.devices or (node.get("device") not in ("cuda", "mps") and node.get("precision") != "fp16"):
            continue
        where = "hardware" if stage.name == "run" else f"phase.stages.{stage.name}.hardware"
        try:
            build(node, where=where)
        except UserError as exc:
            raise UserError(exc if stage.name == "run" else f"phase.stages.{stage.name}: {exc}") from None
        seen.devices.add(key)


def check_chosen_on_held_out(config: dict[str, Any], stages: list[Stage]) -> None:
    """A sweep chooses among its jobs by validation numbers (each job's `kept_<metric>`, a trial's value, what the
    pruner reads at each evaluation): a stage whose validation pairs also train (`dataset.train_on_validation`,
    experiment=retrieval's round 2) would have it choose by how well a job fits pairs it trained on."""
    trains = [stage.name for stage in stages if stage.config["dataset"].get("train_on_validation")]
    if not trains:
        return
    on_chain = bool(config["dataset"].get("train_on_validation"))  # a single run's, or every stage's
    key = "dataset.train_on_validation" if on_chain else f"phase.stages.{trains[0]}.dataset.train_on_validation"
    raise UserError(
        f"{key}=true in a sweep: validation pairs would also train, and the sweep would choose its best job by "
        f"how well it fits them; expected {key}=false while sweeping (validation held out), then the chosen "
        "settings in one run with it"
    )


def checked_config(cfg: Any, choices: dict[str, Any]) -> dict[str, Any]:
    """The schema's check, with a preset's keys that the chosen option lacks said as such."""
    try:
        return check_config(cfg, choices)
    except UserError:
        config = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else dict(cfg)
        check_preset_fits(config, choices)  # the better line when a preset's keys caused it
        raise


def check_preset_fits(config: dict[str, Any], choices: dict[str, Any]) -> None:
    """`experiment=<preset>` chooses options (`override /dataset: quora`) and sets their keys: a group chosen
    otherwise on the command line must take those keys."""
    preset = choices.get("experiment")
    path = CONF / "experiment" / f"{preset}.yaml"
    if not preset or not path.is_file():
        return
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    for group, option in preset_choices(spec).items():
        chosen = choices.get(group)
        keys = spec.get(group)
        if chosen in (None, option) or not isinstance(keys, dict) or not isinstance(config.get(group), dict):
            continue
        try:
            check_group(group, OmegaConf.to_container(OmegaConf.create(config[group]), resolve=True), group)
        except UserError:
            names = ", ".join(f"{group}.{key}" for key in keys)
            raise UserError(
                f"experiment={preset} is made for {group}={option} and sets {names}, which {group}={chosen} does not "
                f"have; expected {group}={option} with this preset, or {group}={chosen} without it"
            ) from None


def preset_choices(spec: dict[str, Any]) -> dict[str, str]:
    """A preset's `override /<group>: <option>` entries (config groups only, not `hydra/` or `@` packages)."""
    found = {}
    for entry in spec.get("defaults") or []:
        if isinstance(entry, dict):
            for key, option in entry.items():
                group = str(key).removeprefix("override").strip().lstrip("/")
                if group in GROUP_NAMES:
                    found[group] = str(option)
    return found


def stage_configs(cfg: Any, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, resolved config) of each training run: the run itself, or each stage of a chain (`phase.stages`)
    with its own phase and the keys it overrides, merged before interpolations resolve, as
    `embedlab.phases.chain.stage_config` does (a stage's `loss=` moves `training.select_by` with it)."""
    if not config["phase"].get("stages"):
        return [("run", config)]
    raw = OmegaConf.to_container(cfg, resolve=False) if OmegaConf.is_config(cfg) else dict(cfg)
    raw.pop("hydra", None)
    out = []
    for name, stage in raw["phase"]["stages"].items():
        merged = OmegaConf.create({**raw, "phase": stage["phase"]})
        merged.merge_with({key: value for key, value in stage.items() if key != "phase"})
        out.append((name, resolved(merged)))
    return out


def plan_stage(name: str, config: dict[str, Any], choices: dict[str, Any], seen: Seen) -> Stage:
    where = "" if name == "run" else f"phase.stages.{name}: "
    loss_name = str(choices.get("loss") or config["loss"].get("_target_", "loss").rsplit(".", 1)[-1])
    try:
        check_threads(config["hardware"])  # a stage's own hardware.threads too, before any stage trains
        check_model(config, seen)
        data = seen.dataset(config["dataset"], config["seed"])
        check_sampler(config["sampler"], data, select_parts(config["loss"], data, loss_name))
        phase = build(config["phase"], where="phase")  # its own checks: FAISS, mine_with
        check_batches_kept(config["phase"], config["sampler"])
        planned = phase.planned_data(data)  # what it will train on; one line if the data lacks what it needs
        parts = select_parts(config["loss"], planned, loss_name)
        check_batch_size(config["training"]["batch_size"], parts, loss_name)
        metrics = logged_metrics(planned, parts)
        select_by = config["training"]["select_by"]
        described = f"dataset={data.name} ({', '.join(sorted({p.kind for p in planned.parts.values()}))})"
        for key, value in (("optimized_metric", config["optimized_metric"]), ("training.select_by", select_by)):
            if value not in metrics:
                raise UserError(
                    f"{key}={value} is not logged; expected one of those logged: {', '.join(metrics)} (what "
                    f"{described} with loss={loss_name} logs at each evaluation)"
                )
    except UserError as exc:
        raise UserError(f"{where}{exc}") from None
    return Stage(name, config, parts, metrics)


def check_threads(hardware: dict[str, Any]) -> None:
    """`hardware.threads` at most the cores this process may use (shared among the ranks torchrun starts on this
    machine): more threads than cores made each step of `debug=tiny` 198 s instead of 3 s on 2 cores."""
    threads = hardware.get("threads")
    if not isinstance(threads, int) or isinstance(threads, bool):
        return  # auto: the cores, worked out by embedlab.hardware.device
    ranks_here = local_world_size() if launched_by_torchrun() else 1
    cores = cores_per_rank(ranks_here)
    if threads > cores:
        shared = f", shared by {ranks_here} ranks" if ranks_here > 1 else ""
        raise UserError(
            f"hardware.threads={threads} is more than the {usable_cores()} cores this process may use{shared}; "
            f"expected auto or an integer from 1 to {cores} (threads beyond the cores make each step many times slower)"
        )


def check_batches_kept(phase: dict[str, Any], sampler: dict[str, Any]) -> None:
    """`phase.negatives=batches` orders its rows into batches that only `sampler=in_order` keeps (any other
    sampler shuffles them apart), and `sampler=in_order` is only meaningful for data ordered that way."""
    batches = phase.get("negatives") == "batches"
    in_order = sampler.get("batch_sampler") == "in_order"
    if batches and not in_order:
        raise UserError(
            f"phase.negatives=batches orders the rows into batches of neighbours, but sampler.batch_sampler="
            f"{sampler.get('batch_sampler')} shuffles them apart; expected sampler=in_order"
        )
    if in_order and not batches:
        raise UserError(
            "sampler=in_order keeps the batches that phase=hard_negatives phase.negatives=batches makes, but "
            f"phase={phase.get('name')} makes none; expected another sampler (e.g. sampler=no_duplicates)"
        )


def logged_metrics(data: DataBundle, parts: dict[str, Any]) -> list[str]:
    """What each evaluation of a run logs (`embedlab.training.trainer.rename_eval_metrics`'s names)."""
    losses = [f"val_loss_{name}" for name in parts] if len(parts) > 1 else []
    return ["val_loss", *losses, *data.metric_names("validation")]


def check_model(config: dict[str, Any], seen: Seen) -> None:
    """The folder the run loads (`phase.init_from` when it is a folder, else `model.name_or_path`), and
    `model.max_seq_length` against its position embeddings."""
    from embedlab.models.folder import check_max_seq_length, check_model_folder, looks_local

    init_from = str(config["phase"].get("init_from") or "")
    key, name = ("phase.init_from", init_from) if init_from and looks_local(init_from) else ("model.name_or_path", "")
    name = name or str(config["model"]["name_or_path"])
    length = config["model"].get("max_seq_length")
    if (name, length) in seen.models:
        return
    check_model_folder(name, key)
    check_max_seq_length(name, length, key)
    seen.models.add((name, length))


def check_batch_size(batch_size: int, parts: dict[str, Any], loss_name: str) -> None:
    """A loss that compares the rows of a batch (`min_batch_size` in its config) against `training.batch_size`."""
    for part, loss in parts.items():
        need, target = min_batch_size(loss)
        if batch_size < need:
            where = f"loss={loss_name}" + (f" part '{part}'" if len(parts) > 1 else "")
            raise UserError(
                f"training.batch_size={batch_size} is too small for {where} ({target}): it compares the rows of "
                f"a batch with each other, so a batch of {batch_size} gives loss 0 and teaches nothing; "
                f"expected training.batch_size >= {need}"
            )


def min_batch_size(loss: Any) -> tuple[int, str]:
    """(the smallest batch a loss learns from, its class name); a wrapper (`loss:`) needs what it wraps."""
    if not isinstance(loss, dict):
        return 1, "loss"
    target = str(loss.get("_target_", "loss")).rsplit(".", 1)[-1]
    inner, inner_target = min_batch_size(loss.get("loss"))
    own = int(loss.get("min_batch_size") or 1)
    return (own, target) if own >= inner else (inner, inner_target)


def check_store(tracking: dict[str, Any], seen: Seen, resume: Any = None) -> None:
    """The tracking store can be used; with `resume=`, it exists (a misspelt name would make an empty one)."""
    from embedlab.folders import resume_requested
    from embedlab.tracking.store import default_tracking_uri
    from embedlab.tracking.store_checks import check_store_exists, check_store_reachable

    store = tracking.get("uri") or default_tracking_uri()
    if resume_requested(resume):
        check_store_exists(store, f"resume={str(resume).lower() if isinstance(resume, bool) else resume}")
    experiment = tracking.get("experiment")
    if (store, experiment) not in seen.stores:
        check_store_reachable(store, experiment)
        seen.stores.add((store, experiment))


def lower_is_better(metric: str) -> bool:
    """Loss-like metrics (`val_loss`, `val_loss_<part>`) are minimized; the evaluators' scores maximized."""
    return metric.startswith("val_loss") or metric.endswith("loss")


def check_direction(direction: str, metric: str) -> None:
    """A sweep's `direction` against its `optimized_metric`: a study that maximizes a loss picks the worst run."""
    wanted = "minimize" if lower_is_better(metric) else "maximize"
    if direction != wanted:
        what = "a loss (lower is better)" if wanted == "minimize" else "a score (higher is better)"
        raise UserError(
            f"hydra.sweeper.direction={direction} with optimized_metric={metric}, which is {what}; "
            f"expected hydra.sweeper.direction={wanted}"
        )


def without_search_preset(overrides: list[str]) -> list[str]:
    """The overrides with `hparams_search=<preset>` replaced by what the preset sets for a run (its group
    choices and keys, less its `hydra.*`): a command that runs as one run, since `python -m train` refuses a
    search space without `-m`. Keys given in `overrides` keep their value."""
    presets = [o for o in overrides if o.lstrip("+").startswith("hparams_search=")]
    rest = [o for o in overrides if o not in presets]
    given = {o.lstrip("+~").split("=", 1)[0] for o in rest}
    expanded: list[str] = []
    for preset in presets:
        name = preset.split("=", 1)[1]
        path = CONF / "hparams_search" / f"{name}.yaml"
        if name in ("null", "") or not path.is_file():
            continue
        spec = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        expanded += [f"{group}={option}" for group, option in preset_choices(spec).items()]
        body = {k: v for k, v in spec.items() if k not in ("defaults", "hydra")}
        expanded += [f"{key}={value}" for key, value in flat(body)]
    return [o for o in expanded if o.split("=", 1)[0] not in given] + rest


def flat(node: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    from embedlab.schema.rules import show

    out = []
    for key, value in node.items():
        if isinstance(value, dict):
            out += flat(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", show(value)))
    return out
