"""The value rules a config key can have: what type, which range, which choices; each says what it expects.

A rule checks one value and raises `UserError` with one line: `<key>=<value> is <what is wrong>; expected
<what the rule accepts>`. Rules import nothing heavy, so a config is checked before torch is imported.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from embedlab.errors import UserError


def show(value: Any) -> str:
    """A value as a user would type it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ",".join(show(v) for v in value) + "]"
    return str(value)


UNRESOLVED = "expected an interpolation that resolves (a set environment variable, a key the config has) or a value"


def why_unresolved(exc: Exception) -> str:
    """OmegaConf's error for an interpolation that cannot be resolved, as its reason alone: `Environment variable
    'DATA' not found`, `Interpolation key 'training.nope' not found`."""
    first = str(exc).splitlines()[0].strip() if str(exc) else type(exc).__name__
    return re.sub(r"^\w+ raised while resolving interpolation: ", "", first).strip('"')


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"


def fail(key: str, value: Any, problem: str, expected: str) -> None:
    raise UserError(f"{key}={show(value)} {problem}; expected {expected}")


def closest(name: str, known: Sequence[str]) -> str | None:
    """The known name a typo most likely meant (`FP32`: fp32), or None when none is close."""
    by_case = {str(k).lower(): k for k in known}
    match = difflib.get_close_matches(name.lower(), list(by_case), n=1, cutoff=0.6)
    return by_case[match[0]] if match else None


def stage_with(chain, key: str) -> str | None:
    """The first stage of a chain whose phase has `key` (else its first stage); None if it has no stages."""
    try:
        stages = chain.get("stages") or {}
        names = [str(s) for s in stages]
        return next((s for s in names if key in (stages[s].get("phase") or {})), names[0] if names else None)
    except Exception:  # noqa: BLE001 - an interpolation that does not resolve: no suggestion, the plain line
        return None


def not_a_chain_key(given: str, where: str, key: str, stage: str, keys: Sequence[str]) -> str:
    """`phase.num_negatives=3` (or `+phase...`) on a chain: the key belongs to a stage's phase; one wording for
    the override Hydra refuses and the key the schema finds."""
    return (
        f"{given} is not a key of a chain of stages (it has {', '.join(keys)}), so no stage reads it; expected "
        f"{where}.stages.{stage}.phase.{key}=<value>, the key of the stage that reads it"
    )


def did_you_mean(key: str, known: Sequence[str], prefix: str = "") -> str:
    close = closest(key, known)
    return f"did you mean {prefix}{close}?" if close else f"expected one of {', '.join(known)}"


class Rule:
    """One key's rule: `check(key, value)` raises one line, `expects()` says what is allowed."""

    nullable: bool = False

    def expects(self) -> str:
        raise NotImplementedError

    def check(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def __call__(self, key: str, value: Any) -> None:
        if value is None:
            if not self.nullable:
                fail(key, value, "cannot be null", self.expects())  # given as null, or an unset ${oc.env:...}
            return
        self.check(key, value)


@dataclass
class Number(Rule):
    """An int (`integer=True`) or a finite number, within bounds; `also` lists extra accepted values (-1, auto)."""

    integer: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    also: tuple[Any, ...] = ()
    nullable: bool = False

    def expects(self) -> str:
        kind = "an integer" if self.integer else "a number"
        low = (self.ge, "[", ">=") if self.ge is not None else (self.gt, "(", ">") if self.gt is not None else None
        high = (self.le, "]", "<=") if self.le is not None else (self.lt, ")", "<") if self.lt is not None else None
        if low and high:
            bounds = f" in {low[1]}{_num(low[0])}, {_num(high[0])}{high[1]}"
        elif low or high:
            bound, _, op = low or high
            bounds = f" {op} {_num(bound)}"
        else:
            bounds = ""
        extra = [show(v) for v in self.also] + (["null"] if self.nullable else [])
        return " or ".join([*extra, kind + bounds])

    def check(self, key: str, value: Any) -> None:
        if any(value == v and type(value) is type(v) for v in self.also):
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(key, value, "is not a number" if not self.integer else "is not an integer", self.expects())
        if self.integer and not isinstance(value, int):
            fail(key, value, "is not an integer", self.expects())
        if not math.isfinite(value):
            fail(key, value, "is not finite", self.expects())
        low_ok = (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
        high_ok = (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)
        if not (low_ok and high_ok):
            fail(key, value, "is out of range", self.expects())


@dataclass
class Choice(Rule):
    """One of a fixed list of names."""

    options: tuple[str, ...] = ()
    nullable: bool = False

    def expects(self) -> str:
        return "one of " + ", ".join([*self.options, *(["null"] if self.nullable else [])])

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, str) or value not in self.options:
            match = closest(value, self.options) if isinstance(value, str) else None
            fail(key, value, "is unknown" + (f"; did you mean {match}?" if match else ""), self.expects())


@dataclass
class Flag(Rule):
    """true or false (`also` adds e.g. auto)."""

    also: tuple[str, ...] = ()
    nullable: bool = False

    def expects(self) -> str:
        return " or ".join(["true", "false", *self.also])

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, bool) and value not in self.also:
            fail(key, value, "is not true or false", self.expects())


@dataclass
class Text(Rule):
    """A non-empty string; `valid` is an extra test with its own message (e.g. MLflow's name rules)."""

    nullable: bool = False
    valid: Callable[[str], str | None] | None = None  # returns what is wrong, or None
    what: str = "a non-empty string"

    def expects(self) -> str:
        return ("null or " if self.nullable else "") + self.what

    def check(self, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
            fail(key, value, "is empty" if value == "" else "is not a string", self.expects())
        problem = self.valid(str(value)) if self.valid else None
        if problem:
            fail(key, value, problem, self.expects())


@dataclass
class Mapping(Rule):
    """A `key: value` mapping (tags, loss kwargs, a sampler's settings)."""

    nullable: bool = True

    def expects(self) -> str:
        return "a mapping of key: value"

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, dict):
            fail(key, value, "is not a mapping", self.expects())


@dataclass
class Items(Rule):
    """A list whose every item follows `item` (and, with `length`, has that many items)."""

    item: Rule = field(default_factory=lambda: Text())
    length: int | None = None
    nullable: bool = False

    def expects(self) -> str:
        count = f"{self.length} items" if self.length else "a list"
        return f"{count}, each {self.item.expects()}"

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, list) or (self.length and len(value) != self.length) or not value:
            fail(key, value, "is not a list" if not isinstance(value, list) else "has the wrong length", self.expects())
        for index, item in enumerate(value):
            self.item(f"{key}[{index}]", item)


@dataclass
class Either(Rule):
    """A value that follows any one of `rules` (e.g. resume: true/false or a run id)."""

    rules: tuple[Rule, ...] = ()
    nullable: bool = False

    def expects(self) -> str:
        return " or ".join(rule.expects() for rule in self.rules)

    def check(self, key: str, value: Any) -> None:
        for rule in self.rules:
            try:
                rule(key, value)
                return
            except UserError:
                continue
        fail(key, value, "is invalid", self.expects())
