"""A loss's keys against the arguments its `_target_` takes (embedlab.schema.signatures), read from source without
importing it: the answers are `inspect.signature`'s, and a key the class does not take is one line before torch."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.schema import check_config
from embedlab.schema.signatures import keyword_arguments

CONF = Path(__file__).resolve().parents[2] / "conf"
LOSSES = sorted(p.stem for p in (CONF / "loss").glob("*.yaml"))


def targets(node) -> list[str]:
    """Every `_target_` in a config tree."""
    if isinstance(node, dict):
        own = [node["_target_"]] if isinstance(node.get("_target_"), str) else []
        return own + [t for value in node.values() for t in targets(value)]
    if isinstance(node, list):
        return [t for value in node for t in targets(value)]
    return []


def imported_keywords(target: str) -> frozenset[str] | None:
    module, _, name = target.rpartition(".")
    found = getattr(importlib.import_module(module), name)
    parameters = inspect.signature(found).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


@pytest.mark.parametrize("option", LOSSES)
def test_the_arguments_read_from_source_are_the_signatures(option, compose_config):
    """Fails when a library moves a class where the source reader cannot follow it, or changes its arguments."""
    from omegaconf import OmegaConf

    loss = OmegaConf.to_container(compose_config(f"loss={option}").loss, resolve=False)
    for target in targets(loss):
        read = keyword_arguments(target)
        if target.startswith("sentence_transformers."):
            assert read is not None, f"{target}: its arguments are no longer read from source"
        if read is not None:
            assert read == imported_keywords(target), target


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["+loss.scal=2"], "loss.scal is not an argument of MultipleNegativesRankingLoss"),
        (["loss=matryoshka", "+loss.loss.scal=2"], "loss.loss.scal is not an argument of MultipleNegativesRankingLoss"),
        (["loss=mixed", "+loss.parts.pairs.scal=2"], "loss.parts.pairs.scal is not an argument of"),
        (["loss=cosent", "+loss.margn=1"], "loss.margn is not an argument of CoSENTLoss"),
        (["loss=gist", "+loss.guide.normalise=true"], "loss.guide.normalise is not an argument of load_sentence"),
    ],
)
def test_a_key_the_loss_does_not_take_is_one_line(overrides, line, compose_config):
    """It was a TypeError when the trainer built the loss: after torch, the model load and a FAILED MLflow run."""
    with pytest.raises(UserError) as error:
        check_config(compose_config(*overrides))
    assert str(error.value).startswith(line) and "\n" not in str(error.value)


def test_the_nearest_argument_is_named(compose_config):
    with pytest.raises(UserError, match=r"loss\.scal is not an argument of AnglELoss .*; did you mean loss\.scale\?$"):
        check_config(compose_config("loss=angle", "+loss.scal=1"))


def test_what_the_source_does_not_tell_is_not_checked():
    assert keyword_arguments("no_such_package.Loss") is None
    assert keyword_arguments("builtins.dict") is None  # no Python source
