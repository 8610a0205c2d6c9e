"""The schema of every config group: each key with its rule. `check_config` (in `__init__`) walks it.

Closed groups (training, hardware, tracking, model, sampler, and the options of dataset and phase) list every
key: another key is refused with a did-you-mean. Losses are open (each class has its own arguments); their
common keys are checked wherever they appear, also inside `mixed` parts and wrappers such as matryoshka.
"""

from __future__ import annotations

import re
from typing import Any

from embedlab.hardware.device import DEVICES, PRECISIONS  # the class owns its choices (it imports no torch)
from embedlab.schema.rules import Choice, Either, Flag, Items, Mapping, Number, Rule, Text
from embedlab.tracking.sqlite_store import in_memory_sqlite

KINDS = ("pairs", "triplets", "scored_pairs", "labeled_pairs", "retrieval")
# transformers' SchedulerType values that need no extra scheduler arguments (a test checks they exist there)
SCHEDULERS = (
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
    "reduce_lr_on_plateau",
)
# transformers' OptimizerNames that need only torch (the others need bitsandbytes, torchao, galore, ...)
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adagrad", "rmsprop")
# sentence-transformers' BatchSamplers / MultiDatasetBatchSamplers values, restated: their module imports torch
# (tests/schema/test_groups.py keeps them equal); embedlab.training.sampling trusts these checks
BATCH_SAMPLERS = ("batch_sampler", "no_duplicates", "no_duplicates_hashed", "group_by_label")  # sentence-transformers'
OWN_BATCH_SAMPLERS = ("in_order",)  # embedlab.training.sampling.InOrderBatchSampler
MULTI_DATASET = ("round_robin", "proportional")
DIRECTIONS = ("maximize", "minimize")


def mlflow_model_name(name: str) -> str | None:
    """MLflow's rule for registered model names (the private mlflow.utils.validation._validate_model_name; this is
    its one copy, and tests/schema/test_groups.py checks that MLflow refuses what it refuses)."""
    if "/" in name or ":" in name:
        return "is not a valid MLflow model name (it cannot contain '/' or ':')"
    if name == "." or name.startswith(".."):
        return "is not a valid MLflow model name (it cannot be '.' or start with '..')"
    return None


def storage_url(url: str) -> str | None:
    """An SQLAlchemy URL such as sqlite:////abs/optuna.db or postgresql://user@host/db."""
    if not re.match(r"^[a-z][a-z0-9+]*://", url):
        return "is not a database URL"
    if in_memory_sqlite(url):  # each job's process would open an empty one, and find no trial
        return "is an in-memory database, which no job or later command sees (four slashes: sqlite:////abs/optuna.db)"
    return None


def positive(integer: bool = True, nullable: bool = False) -> Number:
    return Number(integer=integer, ge=1, nullable=nullable) if integer else Number(gt=0, nullable=nullable)


def metric_name(value: str) -> str | None:
    """MLflow metric names hold no `@`: the metrics are logged as ndcg_at_10, not ndcg@10."""
    if "@" in value:
        return f"uses '@', which MLflow metric names cannot hold; did you mean {value.replace('@', '_at_')}?"
    return None


METRIC = "a metric name such as ndcg_at_10"

TOP = {
    "seed": Number(integer=True, ge=0, le=2**32 - 1),
    "optimized_metric": Text(valid=metric_name, what=METRIC),
    "resume": Either(rules=(Flag(), Text(what="an MLflow run id (or its first 8 or more characters)"))),
    "sweep": Mapping(),  # set by the Optuna sweeper for its jobs
}
GROUP_NAMES = ("model", "dataset", "loss", "sampler", "phase", "hardware", "training", "tracking")

TRAINING = {
    "batch_size": positive(),
    "epochs": Number(gt=0),
    "max_steps": Number(integer=True, ge=1, also=(-1,)),
    "lr": Number(gt=0, le=1),
    "warmup_ratio": Number(ge=0, lt=1),
    "weight_decay": Number(ge=0),
    "max_grad_norm": Number(gt=0),
    "scheduler": Choice(options=SCHEDULERS),
    "optimizer": Choice(options=OPTIMIZERS),
    "eval_steps": positive(),
    "logging_steps": positive(),
    "save_total_limit": positive(nullable=True),
    "keep_checkpoints": Flag(),
    "max_nonfinite_steps": positive(),
    "select_by": Text(valid=metric_name, what="val_loss, val_loss_<part>, or a validation metric such as ndcg_at_10"),
    "base_is_candidate": Flag(),
    "validation_corpus_sample": Number(integer=True, ge=1, nullable=True),
    "length_buckets": positive(),
}
HARDWARE = {
    "device": Choice(options=DEVICES),
    "precision": Choice(options=PRECISIONS),
    "tf32": Flag(),
    "pin_memory": Flag(also=("auto",)),
    "dataloader_workers": Number(integer=True, ge=0),
    "compile": Flag(),
    "threads": Number(integer=True, ge=1, also=("auto",)),
    "distributed": Flag(),
    "loss_kwargs": Mapping(),
}
TRACKING = {
    "uri": Text(nullable=True, what="a tracking URI (sqlite:////abs/path/mlflow.db or http://host:port)"),
    "experiment": Text(),
    "registered_model_name": Text(
        nullable=True, valid=mlflow_model_name, what="a name without '/' or ':', not '.' nor starting with '..'"
    ),
    "log_model": Flag(),
    "sweep_models": Choice(options=("best", "all")),
    "register": Flag(),
    "run_name": Text(nullable=True),
    "parent_run_id": Text(nullable=True),
    "tags": Mapping(),
}
MODEL = {
    "name_or_path": Text(what="a local model folder or a hub id"),
    "max_seq_length": positive(nullable=True),
    "normalize": Flag(),
}
SAMPLER = {
    "batch_sampler": Choice(options=BATCH_SAMPLERS + OWN_BATCH_SAMPLERS),
    "multi_dataset": Choice(options=MULTI_DATASET),
}

_DATASET_COMMON = {
    "name": Text(),
    "path": Text(nullable=True, what="a file or folder path"),
    "optimized_metric": Text(valid=metric_name, what=METRIC),  # the run's default optimized_metric for this data
    "training_eval_steps": positive(),  # the run's default training.eval_steps for this data
}
TABLE = {
    **_DATASET_COMMON,
    "kind": Choice(options=KINDS),
    "hub": Text(nullable=True, what="a Hugging Face dataset id"),
    "subset": Text(nullable=True),
    "hub_split": Text(),
    "columns": Mapping(),
    "use": Choice(options=("both", "train", "eval")),
    "quoting": Choice(options=("csv", "none")),
    "train_on_validation": Flag(),
    "validation_path": Text(nullable=True, what="a file or qrels TSV used as the validation split"),
    "test_path": Text(nullable=True, what="a file or qrels TSV used as the test split"),
}
QUORA = {
    **_DATASET_COMMON,
    "hub": Text(nullable=True, what="a Hugging Face dataset id"),
    **{key: positive(nullable=True) for key in ("pairs", "labeled", "queries", "corpus")},
}
# dataset and phase options by `_target_`: each lists its keys (`fractions` is checked on its own, see __init__)
DATASETS = {
    "embedlab.data.table.load_table": TABLE,
    "embedlab.data.physics.load_physics": _DATASET_COMMON,
    "embedlab.data.quora.load_quora": QUORA,
}
RERANKER = {"model": Text(nullable=True), "batch_size": positive(), "max_length": positive(nullable=True)}
PHASES = {
    "embedlab.phases.contrastive.ContrastivePhase": {"name": Text(), "init_from": Text(nullable=True)},
    "embedlab.phases.hard_negatives.HardNegativesPhase": {
        "name": Text(),
        "init_from": Text(nullable=True),
        "mine_with": Text(nullable=True),
        "num_negatives": positive(),
        "range_min": Number(integer=True, ge=0),
        "range_max": positive(),
        "relative_margin": Number(ge=0, nullable=True),
        "absolute_margin": Number(ge=0, nullable=True),
        "max_score": Number(nullable=True),
        "reranker": Mapping(nullable=False),
        "batch_size": positive(),
        "cache_dir": Text(nullable=True),
        "fill_short": Choice(options=("random",), nullable=True),
        "negatives": Choice(options=("rows", "batches")),
        "group_size": positive(),
        "seed": Number(integer=True),
    },
}
# Keys that many losses share: checked wherever a loss config has them.
LOSS_COMMON = {
    "scale": Number(gt=0),
    "mini_batch_size": positive(),
    "margin": Number(ge=0),
    "triplet_margin": Number(ge=0),
    "temperature": Number(gt=0),
    "dims": Items(item=positive()),
    "data_kinds": Items(item=Choice(options=KINDS[:4])),
    "min_batch_size": positive(),  # the smallest training.batch_size the loss learns from (embedlab.plan checks it)
    "training_select_by": Text(valid=metric_name, what="val_loss or val_loss_<part>"),  # the run's training.select_by
}
SWEEPER = {
    "direction": Choice(options=DIRECTIONS),
    "n_trials": positive(),
    "n_jobs": positive(nullable=True),
    "study_name": Text(nullable=True),
    "storage": Text(nullable=True, valid=storage_url, what="an SQLAlchemy URL such as sqlite:////abs/path/optuna.db"),
    "max_failure_rate": Number(ge=0, le=1),
    "reuse_repeats": Flag(),
    "sampler": Mapping(),
    "pruner": Mapping(),
    "params": Mapping(),
}
CLOSED: dict[str, dict[str, Rule]] = {
    "training": TRAINING,
    "hardware": HARDWARE,
    "tracking": TRACKING,
    "model": MODEL,
    "sampler": SAMPLER,
}


# every dataset option's `fractions`: checked apart, by `check_fractions` (its sum, a validation share)
FRACTIONS = Items(item=Number(ge=0), length=3, nullable=True)


def with_fractions(rules: dict[str, Rule]) -> dict[str, Rule]:
    """A dataset option's rules and its `fractions`: the keys it takes, as one error line lists them."""
    return {**rules, "fractions": FRACTIONS}


def accepted_keys(where: str, node: Any) -> list[str] | None:
    """The keys the schema accepts in the node at `where` (a group, or a group of a chain's stage), by its group or
    its option's `_target_` (a loss: the arguments its class takes, read from its source, and the keys its option
    has); None where it takes any key it is given (a mixed loss, a stage's partial node)."""
    group = where.rsplit(".", 1)[-1]
    if group in CLOSED:
        return list(CLOSED[group])
    target = node.get("_target_") if hasattr(node, "get") else None
    if group == "dataset" and target in DATASETS:
        return list(with_fractions(DATASETS[target]))
    if group == "phase" and target in PHASES:
        return list(PHASES[target])
    if group == "loss" and isinstance(target, str) and "parts" not in node:  # the arguments its class takes
        from embedlab.schema.signatures import keyword_arguments

        takes = keyword_arguments(target)
        return None if takes is None else sorted({*takes, *(str(k) for k in node)} - {"model"})
    return None


def target_of(node: Any) -> str | None:
    return node.get("_target_") if isinstance(node, dict) else None
