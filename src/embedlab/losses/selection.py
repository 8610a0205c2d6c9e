"""Match a loss config to the dataset's parts, before any model is loaded."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from embedlab.config import build, to_container
from embedlab.data.bundle import DataBundle
from embedlab.errors import UserError


def _kinds(loss: dict[str, Any]) -> list[str]:
    if "data_kinds" in loss:
        return list(loss["data_kinds"])
    inner = loss.get("loss")  # a wrapper such as MatryoshkaLoss takes the kinds of the loss it wraps
    return _kinds(inner) if isinstance(inner, dict) else []


def select_parts(loss_cfg: Any, data: DataBundle, loss_name: str) -> dict[str, dict[str, Any]]:
    """Which training part each loss trains on: part name -> loss config.

    A config with `parts:` (e.g. `loss=mixed`) maps part names to losses; the names must be the dataset's.
    A single loss trains on every part whose kind it accepts. Raises one line naming loss and data otherwise.
    """
    loss = to_container(loss_cfg)
    have = {name: part.kind for name, part in data.parts.items()}
    if "parts" in loss:
        wanted = loss["parts"]
        missing = [name for name in wanted if name not in have]
        if missing:
            raise UserError(
                f"loss={loss_name} trains parts {sorted(wanted)}, but dataset={data.name} has parts "
                f"{sorted(have)}; expected a dataset with all of them (e.g. dataset=quora)"
            )
        for name, part_loss in wanted.items():
            if not _kinds(part_loss):  # `loss@loss.parts.labeled=mixed`: parts of its own, no data_kinds
                raise UserError(
                    f"loss={loss_name} part '{name}' is not a single loss (it names no data_kinds); expected "
                    f"loss@loss.parts.{name}=<a loss for {have[name]}>, e.g. {_suggest(have[name])}"
                )
            if have[name] not in _kinds(part_loss):
                raise UserError(
                    f"loss={loss_name} part '{name}' needs {' or '.join(_kinds(part_loss))} data, "
                    f"but dataset={data.name} part '{name}' is {have[name]}"
                )
        return dict(wanted)
    selected = {name: loss for name, kind in have.items() if kind in _kinds(loss)}
    if not selected:
        needs = " or ".join(_kinds(loss))
        if not have:
            raise UserError(
                f"loss={loss_name} needs {needs} data, but dataset={data.name} has no training data "
                "(dataset.use=eval only evaluates); expected dataset.use=both or train to train on it"
            )
        described = ", ".join(f"{kind} (part '{name}')" for name, kind in have.items())
        raise UserError(
            f"loss={loss_name} needs {needs} data, but dataset={data.name} has {described}; "
            f"expected a loss for that data, e.g. loss={_suggest(next(iter(have.values())))}"
        )
    return selected


# A loss option that fits each kind of data, for the message when the chosen one does not.
SUGGESTED = {"pairs": "mnrl", "triplets": "mnrl", "scored_pairs": "cosine", "labeled_pairs": "cosine"}


def _suggest(kind: str) -> str:
    return SUGGESTED.get(kind, "mnrl")


def check_sampler(sampler_cfg: Any, data: DataBundle, parts: dict[str, Any]) -> None:
    """`sampler=group_by_label` groups rows by their `label` column: only labeled pairs have one."""
    sampler = to_container(sampler_cfg) or {}
    if sampler.get("batch_sampler") != "group_by_label":
        return
    unlabeled = {name: data.parts[name].kind for name in parts if data.parts[name].kind != "labeled_pairs"}
    if unlabeled:
        name, kind = next(iter(unlabeled.items()))
        raise UserError(
            f"sampler.batch_sampler=group_by_label needs a label column, but dataset={data.name} part '{name}' "
            f"is {kind}; expected labeled_pairs data, or sampler=no_duplicates / batch_sampler"
        )


def trainer_loss(selected: dict[str, dict[str, Any]], mixed: bool = False) -> Callable | dict[str, Callable]:
    """The trainer's `loss=`: one function of the model for a single part, else a dict of them by part name.

    The trainer calls each with the model it trains (`prepare_loss`); `build` turns an impossible value (e.g. a
    guide model that does not load) into one line naming the key it comes from: `loss`, or a mixed loss's
    `loss.parts.<part>` (`mixed`: the parts are the loss config's own, not the data's a single loss trains on).
    """
    losses = {
        name: partial(_build_loss, cfg, f"loss.parts.{name}" if mixed else "loss") for name, cfg in selected.items()
    }
    return next(iter(losses.values())) if len(losses) == 1 else losses


def _build_loss(cfg: dict[str, Any], where: str, model) -> Any:
    return build(cfg, where=where, model=model)
