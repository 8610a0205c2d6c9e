"""The typed schema of the composed config, checked before any data or model is loaded.

`check_config(cfg)` is the one checking layer for config values: types, ranges, choices and unknown keys of
every group (see `groups.py`), and the few rules that span two keys (fractions, a mining window). The code that uses the values trusts
them: each rule is checked here and nowhere else. It raises
`UserError` with one line naming the key, the value and what is allowed. It imports no torch.
"""

from __future__ import annotations

import functools
from typing import Any

from omegaconf import DictConfig, OmegaConf

from embedlab.config import META_KEYS, REPO_ROOT
from embedlab.data.readers import DELIMITERS
from embedlab.errors import UserError
from embedlab.schema.groups import (
    CLOSED,
    DATASETS,
    GROUP_NAMES,
    LOSS_COMMON,
    PHASES,
    RERANKER,
    SWEEPER,
    TABLE,
    TOP,
    target_of,
    with_fractions,
)
from embedlab.schema.rules import (
    UNRESOLVED,
    Rule,
    closest,
    did_you_mean,
    fail,
    not_a_chain_key,
    show,
    stage_with,
    why_unresolved,
)
from embedlab.schema.signatures import keyword_arguments

CONF = REPO_ROOT / "conf"
HYDRA_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


def resolved(cfg: Any) -> dict[str, Any]:
    """The config as plain containers, interpolations resolved; a broken interpolation is one line."""
    if not isinstance(cfg, DictConfig):
        return dict(cfg)
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except UserError:
        raise
    except Exception as exc:  # omegaconf's InterpolationResolutionError & co, or a resolver's own error
        key = getattr(exc, "full_key", None)
        raw = typed_value(cfg, key) if key else None
        where = f"{key}={raw}" if raw is not None else key or "config"
        raise UserError(f"{where}: {why_unresolved(exc)}; {UNRESOLVED}") from None


def typed_value(cfg: DictConfig, key: str) -> Any:
    """The value at dotted `key` as written, its interpolation unresolved (None where there is none)."""
    node: Any = OmegaConf.to_container(cfg, resolve=False)
    for part in str(key).split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if isinstance(node, str) else None


def check_keys(node: dict[str, Any], rules: dict[str, Rule], where: str, closed: bool = True) -> None:
    """Every key of `node` by its rule; with `closed`, a key without a rule is refused (did you mean ...?)."""
    prefix = f"{where}." if where else ""
    for key, value in node.items():
        if key in HYDRA_KEYS:
            continue
        rule = rules.get(key)
        if rule is None:
            if closed:
                known = [k for k in rules if k != "sweep"]
                raise UserError(
                    f"{prefix}{key} is not a key of {where or 'the config'}; {did_you_mean(key, known, prefix)}"
                )
            continue
        rule(f"{prefix}{key}", value)


def check_fractions(dataset: dict[str, Any], where: str = "dataset") -> None:
    """train / validation / test shares: three numbers >= 0 summing to 1, with a validation split (it picks
    the best checkpoint) and, unless the set is only evaluated (`use=eval`), a train split."""
    fractions = dataset.get("fractions")
    if fractions is None:
        return
    key = f"{where}.fractions"
    expected = "three numbers >= 0 summing to 1 (train, validation, test), with validation > 0"
    if not isinstance(fractions, list) or len(fractions) != 3:
        fail(key, fractions, "is not three numbers", expected)
    if any(isinstance(f, bool) or not isinstance(f, (int, float)) or not f >= 0 for f in fractions):
        fail(key, fractions, "holds a value that is not a number >= 0", expected)
    if abs(sum(fractions) - 1.0) > 1e-6:
        fail(key, fractions, f"sums to {sum(fractions):g}", expected)
    if fractions[1] <= 0:
        fail(key, fractions, "leaves no validation split (it picks the best checkpoint)", expected)
    if fractions[0] <= 0 and dataset.get("use") != "eval":
        fail(key, fractions, "leaves no train split", expected + " and train > 0")


def check_dataset(node: dict[str, Any], where: str = "dataset") -> None:
    rules = DATASETS.get(target_of(node) or "")
    if rules is not None:
        check_keys({k: v for k, v in node.items() if k != "fractions"}, with_fractions(rules), where)
    if rules is TABLE:
        check_unread(node, where)
    check_fractions(node, where)


def check_unread(dataset: dict[str, Any], where: str = "dataset") -> None:
    """One line for a setting of `dataset=local` that its kind and source do not read, at a value other than its
    default: `use=eval` on a file of pairs trained anyway, `subset` without `hub`, `quoting` on a .jsonl file or a
    BEIR folder, `columns.*` on a BEIR folder (its fields are fixed) were all ignored without a word."""
    kind, hub = dataset.get("kind"), dataset.get("hub")
    files = [str(dataset.get(key) or "") for key in ("path", "validation_path", "test_path")]
    delimited = kind != "retrieval" and not hub and any(f.lower().endswith(tuple(DELIMITERS)) for f in files)
    source = f"{where}.hub={hub}" if hub else f"{where}.path={dataset.get('path')}"
    unread = [  # key, its default, whether it is read here, what reads it, what this dataset is instead
        ("use", "both", kind == "retrieval", f"{where}.kind=retrieval (a BEIR folder)", f"{where}.kind={kind}"),
        ("subset", None, bool(hub), f"{where}.hub (a Hugging Face dataset's subset)", "no hub is set"),
        ("hub_split", "train", bool(hub), f"{where}.hub (the split of it to read)", "no hub is set"),
        ("quoting", "csv", delimited, "a .csv or .tsv file (not kind=retrieval)", f"{where}.kind={kind}, {source}"),
        (
            "train_on_validation",
            False,
            dataset.get("use", "both") != "eval" or kind != "retrieval",
            f"data that trains (not {where}.use=eval)",
            f"{where}.use=eval",
        ),
    ]
    for key, default, read, read_for, instead in unread:
        if dataset.get(key, default) != default and not read:
            problem = f"is read only for {read_for}, and here {instead}"
            fail(f"{where}.{key}", dataset[key], problem, f"no {where}.{key}, or {read_for}")
    columns = {k: v for k, v in (dataset.get("columns") or {}).items() if v is not None}
    if columns and kind == "retrieval":  # a BEIR folder's fields are fixed: _id, title, text, query-id, corpus-id
        key = next(iter(columns))
        fail(
            f"{where}.columns.{key}",
            columns[key],
            "is not read for a BEIR folder (kind=retrieval), whose fields are fixed",
            f"a BEIR folder as it is (corpus.jsonl, queries.jsonl, qrels/), or no {where}.columns",
        )


CHAIN_KEYS = ("name", "stages")  # conf/phase/two_phase.yaml: what a chain of stages is made of


def check_phase(node: dict[str, Any], where: str = "phase") -> None:
    if "stages" in node:  # a chain: every stage's phase, and the keys each stage overrides
        for key in node:
            if key not in CHAIN_KEYS:  # `+phase.num_negatives=3` on a chain: no stage reads it
                stage = stage_with(node, key) or "<stage>"
                raise UserError(not_a_chain_key(f"{where}.{key}={show(node[key])}", where, key, stage, CHAIN_KEYS))
        stages = node["stages"]
        if not isinstance(stages, dict) or not stages:
            fail(f"{where}.stages", stages, "is not a mapping of stages", "stage name: {phase: ..., <group>: ...}")
        for name, stage in stages.items():
            check_partial(stage, f"{where}.stages.{name}")
            check_stage_phase(stage, name, list(stages), where)
        return
    rules = PHASES.get(target_of(node) or "")
    if rules is None:
        return
    check_keys(node, rules, where)
    if isinstance(node.get("reranker"), dict):
        check_keys(node["reranker"], RERANKER, f"{where}.reranker")
    check_window(node, where)


def check_stage_phase(stage: dict[str, Any], name: str, names: list[str], where: str = "phase") -> None:
    """A chain's stage trains with its own phase option: a stage made by `+phase.stages.<typo>.<key>=...`, or
    one whose phase lost its `_target_`, has none (the plan and the chain would fail on it with a traceback)."""
    phase = stage.get("phase")
    if isinstance(phase, dict) and "_target_" in phase:
        return
    if isinstance(phase, dict) and "stages" in phase:
        raise UserError(
            f"{where}.stages.{name}.phase is a chain of stages itself; expected "
            f"phase@{where}.stages.{name}.phase=<option>, one of {', '.join(stage_phases())}"
        )
    others = [n for n in names if n != name]
    match = closest(name, others)
    stages = f"did you mean {where}.stages.{match}?; " if match else ""
    raise UserError(
        f"{where}.stages.{name} has no phase option of its own (a stage made by +{where}.stages.{name}.<key>=...?); "
        f"{stages}expected a key of a stage this chain has ({', '.join(others) or 'no other'}), or a new stage's "
        f"phase chosen first with +phase@{where}.stages.{name}.phase=<option> (one of {', '.join(stage_phases())})"
    )


def check_window(phase: dict[str, Any], where: str = "phase") -> None:
    """Hard-negative mining's rank window `range_min`..`range_max` holds `num_negatives` candidates (the one
    check of it: `embedlab.mining.hard_negatives` trusts it)."""
    count, low, high = (phase.get(key) for key in ("num_negatives", "range_min", "range_max"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (count, low, high)):
        return  # a missing or mistyped key is its own rule's line
    if low >= high:
        fail(f"{where}.range_min", low, f"is not below {where}.range_max={high}", f"{where}.range_min < range_max")
    if count > high - low:
        fail(
            f"{where}.num_negatives",
            count,
            f"does not fit the window {where}.range_min={low}, range_max={high}",
            "num_negatives <= range_max - range_min",
        )


def check_loss(node: Any, where: str = "loss") -> None:
    """The common loss keys, here and in every nested loss (`parts` of mixed, the `loss` a wrapper takes)."""
    if not isinstance(node, dict):
        return
    check_keys(node, LOSS_COMMON, where, closed=False)
    check_arguments(node, where)
    for key, value in node.items():
        if key == "parts" and isinstance(value, dict):
            for name, part in value.items():
                check_loss(part, f"{where}.parts.{name}")
        elif isinstance(value, dict) and "_target_" in value:
            check_loss(value, f"{where}.{key}")


def check_arguments(node: dict[str, Any], where: str) -> None:
    """Each key of an open node (a loss) is an argument its `_target_` takes, read from the target's source
    (`signatures.py`): `+loss.scal=2` is refused here, not as a TypeError once the model has loaded."""
    target = target_of(node)
    takes = keyword_arguments(target) if isinstance(target, str) else None
    if takes is None:
        return
    for key in node:
        if key not in takes and key not in HYDRA_KEYS and key not in META_KEYS and key != "parts":
            known = sorted(takes - {"model"})
            name = target.rpartition(".")[2]
            raise UserError(
                f"{where}.{key} is not an argument of {name} ({target}); {did_you_mean(key, known, f'{where}.')}"
            )


def check_group(group: str, node: Any, where: str) -> None:
    """One group's node (also a stage's partial override of it)."""
    if not isinstance(node, dict):
        pick = group if where == group else f"{group}@{where}"  # a stage's group: Hydra's package syntax
        raise UserError(f"{where}={show(node)} is not a config group; expected {pick}=<option> or {where}.<key>=...")
    if group in CLOSED:
        check_keys(node, CLOSED[group], where)
    elif group == "dataset":
        check_dataset(node, where)
    elif group == "phase":
        check_phase(node, where)
    elif group == "loss":
        check_loss(node, where)


# Keys one chain has once: its stages are runs nested under its parent run, in one store and experiment, resumed
# and swept together (`embedlab.phases.chain` sets a stage's `resume` and parent itself)
CHAIN_WIDE = ("tracking.uri", "tracking.experiment", "tracking.parent_run_id", "resume", "sweep")


def check_partial(stage: Any, where: str) -> None:
    if not isinstance(stage, dict):
        fail(where, stage, "is not a mapping", "phase: ... and the groups this stage overrides")
    for key in CHAIN_WIDE:
        group, _, inner = key.partition(".")
        if group in stage and (not inner or isinstance(stage[group], dict) and inner in stage[group]):
            value = stage[group][inner] if inner else stage[group]
            raise UserError(
                f"{where}.{key}={show(value)} sets one stage apart, but a chain's stages run as one (nested under "
                f"its parent run, in one store and experiment, resumed together); expected {key}=... for the whole "
                "chain"
            )
    for group, node in stage.items():
        if group in GROUP_NAMES:
            check_group(group, node, f"{where}.{group}")
        elif group in TOP:
            TOP[group](f"{where}.{group}", node)
        else:
            raise UserError(f"{where}.{group} is not a config group; {did_you_mean(group, [*GROUP_NAMES, *TOP])}")


def check_config(cfg: Any, choices: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check the composed config of one run (`choices`: the option chosen for each group, when known); returns it
    resolved. Raises one line on the first problem."""
    config = resolved(cfg)
    check_nothing_needed_is_deleted(config, choices or {})
    # groups first: a top-level key may interpolate one of theirs (optimized_metric <- dataset.optimized_metric)
    for key, value in sorted(config.items(), key=lambda item: item[0] not in GROUP_NAMES):
        if key in GROUP_NAMES:
            check_group(key, value, key)
        elif key in TOP:
            TOP[key](key, value)
        elif key != "hydra":
            raise UserError(f"{key} is not a key of the config; {did_you_mean(key, [*GROUP_NAMES, *TOP])}")
    check_stage_overrides(config)
    return config


def check_stage_overrides(config: dict[str, Any]) -> None:
    """A chain stage's `dataset` or `loss` keys without a `_target_` of their own override the chain's option:
    checked merged over it, as the stage will run, once the chain's own groups have passed. Alone they had no
    `_target_` to name their rules, so `++phase.stages.phase2.dataset.train_on_validation=maybe` or a
    `dataset.quoting` that a BEIR folder does not read passed, and phase 1 trained before phase 2 met them."""
    stages = config.get("phase", {}).get("stages") if isinstance(config.get("phase"), dict) else None
    for name, stage in (stages or {}).items():
        for group in ("dataset", "loss"):
            node, chain = stage.get(group), config.get(group)
            if isinstance(node, dict) and isinstance(chain, dict) and "_target_" not in node:
                merged = OmegaConf.to_container(OmegaConf.merge(chain, node))
                check_group(group, merged, f"phase.stages.{name}.{group}")


def check_nothing_needed_is_deleted(config: dict[str, Any], choices: dict[str, Any]) -> None:
    """`~loss`, `~training.lr`, `~seed`: what a run needs, deleted on the command line, is one line here, not a
    KeyError in the code that reads it (nor a library's default used in silence). Needed: every group, `seed`
    and `optimized_metric`, and in each group every key its chosen option sets (if not known: every key that all
    of the group's options in conf/ set)."""
    for group in GROUP_NAMES:
        if not isinstance(config.get(group), dict):
            raise UserError(
                f"{group} is missing from the config (deleted with ~{group}?); expected {group}=<option>, one of "
                f"{', '.join(options_of(group))}, or no {group} override for its default"
            )
        option = choices.get(group)
        known = option in options_of(group)
        needed = option_keys(group, option) if known else keys_every_option_sets(group)
        missing = sorted(key for key in needed if key not in config[group])
        if missing:
            where = f"{group}.{missing[0]}"
            source = f"the option {group}={option}" if known else f"every {group} option"
            raise UserError(
                f"{where} is missing from the config (deleted with ~{where} or ~{group}?); {source} sets it; "
                f"expected {where}=<value>, or no override for its default"
            )
    for key in ("seed", "optimized_metric"):
        if key not in config:
            raise UserError(f"{key} is missing from the config (deleted with ~{key}?); expected {key}=<value>")


@functools.cache
def options_of(group: str) -> list[str]:
    """The options of config group `group` (`hydra/sweeper/pruner` too): its YAML files in conf/."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def stage_phases() -> list[str]:
    """The phase options a chain's stage can take: those that are not chains themselves."""
    return [option for option in options_of("phase") if "stages" not in option_keys("phase", option)]


@functools.cache
def keys_every_option_sets(group: str) -> tuple[str, ...]:
    """The top-level keys that every option of `group` in conf/ sets (`_target_`, training's every key)."""
    keys = [option_keys(group, option) for option in options_of(group)]
    return tuple(sorted(set.intersection(*keys))) if keys else ()


@functools.cache
def option_keys(group: str, option: str) -> set[str]:
    """An option's top-level keys, with those of the same group's options in its defaults (`- auto`)."""
    path = CONF / group / f"{option}.yaml"
    if not path.is_file():
        return set()
    spec = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    bases = [entry for entry in spec.pop("defaults", []) if isinstance(entry, str) and entry != "_self_"]
    return set(spec).union(*(option_keys(group, base) for base in bases if "/" not in base))


def check_sweeper(settings: dict[str, Any]) -> None:
    """`hydra.sweeper.*` of the Optuna sweeper."""
    check_keys({k: v for k, v in settings.items() if k in SWEEPER or not k.startswith("_")}, SWEEPER, "hydra.sweeper")
