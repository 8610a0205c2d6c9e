"""The schema's tables (embedlab.schema.groups): every key of every group refuses a wrong type and an out-of-range
value, in one line; every shipped option passes; the choices are the libraries' own.

Composed once per option with Hydra's compose API (the `compose_config` fixture); the keys are found by walking
the schema tables, and each is fed to the real composed config of an option that has it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.schema import check_config, check_sweeper, groups
from embedlab.schema.groups import OPTIMIZERS, SCHEDULERS
from embedlab.schema.rules import Choice, Either, Flag, Items, Mapping, Number, Rule, Text

CONF = Path(__file__).resolve().parents[2] / "conf"
# The tables `check_config` walks (embedlab.schema), by a name a test id can show.
TABLES = {
    "": groups.TOP,
    **groups.CLOSED,
    **{f"dataset<{t.rsplit('.', 1)[-1]}>": keys for t, keys in groups.DATASETS.items()},
    **{f"phase<{t.rsplit('.', 1)[-1]}>": keys for t, keys in groups.PHASES.items()},
    "phase.reranker": groups.RERANKER,
    "loss": groups.LOSS_COMMON,
    "hydra.sweeper": groups.SWEEPER,
}
# Where each schema table lives in the composed config, and the option that has its keys.
PLACES = {
    "": ("", []),
    "training": ("training", []),
    "hardware": ("hardware", ["hardware=cpu"]),
    "tracking": ("tracking", []),
    "model": ("model", []),
    "sampler": ("sampler", []),
    "dataset<load_table>": ("dataset", ["dataset=local"]),
    "dataset<load_physics>": ("dataset", []),
    "dataset<load_quora>": ("dataset", ["dataset=quora"]),
    "phase<ContrastivePhase>": ("phase", []),
    "phase<HardNegativesPhase>": ("phase", ["phase=hard_negatives"]),
    "phase.reranker": ("phase.reranker", ["phase=hard_negatives"]),
    "loss": ("loss", ["loss=cached_mnrl"]),
}


def wrong_type(rule: Rule):
    """A value of the wrong type for `rule` (None where nothing is of the wrong type)."""
    if isinstance(rule, (Number, Flag, Mapping, Items)):
        return "abc" if not isinstance(rule, Flag) else "maybe"
    if isinstance(rule, (Choice, Text)):
        return [1, 2]
    if isinstance(rule, Either):
        return [1, 2]
    return None


def out_of_range(rule: Rule):
    if isinstance(rule, Number):
        if rule.ge is not None:
            return rule.ge - (1 if rule.integer else 0.5)
        if rule.gt is not None:
            return rule.gt
        if rule.le is not None:
            return rule.le + 1
        return float("inf")
    if isinstance(rule, Choice):
        return "no_such_option"
    if isinstance(rule, Items):
        return []
    if isinstance(rule, Text):
        return "" if not rule.nullable else None
    return None


CASES = [
    (table, key, kind)
    for table, rules in TABLES.items()
    if table in PLACES
    for key in rules
    if key not in ("sweep",)
    for kind in ("type", "range")
    if (wrong_type if kind == "type" else out_of_range)(rules[key]) is not None  # a flag has no range
]


@pytest.mark.parametrize(("table", "key", "kind"), CASES, ids=[f"{t or 'top'}.{k}-{kind}" for t, k, kind in CASES])
def test_every_key_refuses_a_bad_value(table, key, kind, compose_config):
    from omegaconf import OmegaConf

    rule = TABLES[table][key]
    value = wrong_type(rule) if kind == "type" else out_of_range(rule)
    where, overrides = PLACES[table]
    cfg = compose_config(*overrides)
    OmegaConf.set_struct(cfg, False)
    node = OmegaConf.select(cfg, where) if where else cfg
    node[key] = value
    with pytest.raises(UserError) as error:
        check_config(cfg)
    message = str(error.value)
    assert "\n" not in message
    assert f"{where + '.' if where else ''}{key}" in message and "expected" in message


def test_the_walk_covers_every_table_and_many_keys():
    assert set(PLACES) | {"hydra.sweeper"} == set(TABLES)
    declared = [
        v for v in vars(groups).values() if isinstance(v, dict) and v and all(isinstance(r, Rule) for r in v.values())
    ]
    assert {id(table) for table in declared} <= {id(table) for table in TABLES.values()}  # a new table is walked
    assert len({(t, k) for t, k, _ in CASES}) >= 60


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF / "dataset").glob("*.yaml")))
def test_every_shipped_option_passes_the_schema(option, compose_config):
    check_config(compose_config(f"dataset={option}"))


@pytest.mark.parametrize("group", ["loss", "phase", "hardware", "sampler", "model", "experiment", "debug"])
def test_every_shipped_option_of_a_group_passes_the_schema(group, compose_config):
    for path in sorted((CONF / group).glob("*.yaml")):
        check_config(compose_config(f"{group}={path.stem}"))


def test_the_choices_are_the_libraries_own():
    from sentence_transformers.base.sampler import BatchSamplers, MultiDatasetBatchSamplers
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    assert set(SCHEDULERS) <= {s.value for s in SchedulerType}
    assert set(OPTIMIZERS) <= {o.value for o in OptimizerNames}
    # restated in the schema because sentence_transformers imports torch: the copies equal the library's enums
    assert set(groups.BATCH_SAMPLERS) == {b.value for b in BatchSamplers}
    assert set(groups.MULTI_DATASET) == {m.value for m in MultiDatasetBatchSamplers}


def test_the_hardware_choices_are_the_hardware_classs():
    from embedlab.hardware import device

    assert TABLES["hardware"]["device"].options is device.DEVICES
    assert TABLES["hardware"]["precision"].options is device.PRECISIONS


@pytest.mark.parametrize("name", ["team/search", "a:b", ".", "..x", "...", "embedlab-physics", "a.b", "x..y", " "])
def test_the_model_name_rule_is_mlflows(name):
    """Our one copy of MLflow's private rule (mlflow.utils.validation._validate_model_name) refuses what it refuses;
    this fails when MLflow changes its rule."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    try:
        _validate_model_name(name)
        mlflow_refuses = False
    except MlflowException:
        mlflow_refuses = True
    try:
        TABLES["tracking"]["registered_model_name"]("tracking.registered_model_name", name)
        we_refuse = False
    except UserError:
        we_refuse = True
    assert we_refuse == mlflow_refuses


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"n_trials": 0}, "hydra.sweeper.n_trials=0 is out of range"),
        (
            {"direction": "maximise"},
            "hydra.sweeper.direction=maximise is unknown; did you mean maximize?; expected one of maximize, minimize",
        ),
        ({"storage": "sqlite//x.db"}, "hydra.sweeper.storage=sqlite//x.db is not a database URL"),
        ({"max_failure_rate": 2}, "hydra.sweeper.max_failure_rate=2 is out of range"),
        ({"n_jobs": 0}, "hydra.sweeper.n_jobs=0 is out of range"),
    ],
)
def test_sweeper_settings_are_checked(settings, expected):
    with pytest.raises(UserError, match=re.escape(expected)):
        check_sweeper({"direction": "maximize", "n_trials": 2, **settings})
