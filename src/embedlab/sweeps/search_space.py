"""Search spaces in the Hydra Optuna sweeper's syntax -> Optuna distributions.

`choice(16,32,64)`, `range(1,5)`, `interval(5.0,50.0)` and `tag(log, interval(1e-6,1e-4))` are parsed with
Hydra's own override grammar; anything that is not a sweep is a fixed override passed to every trial.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from embedlab.errors import UserError


def parse_search_space(params: dict[str, str], arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
    """`hydra.sweeper.params` + command-line overrides -> (distributions by key, fixed overrides).

    A command-line override of a key in `params` wins: a sweep replaces its distribution, a plain value fixes it.
    """
    parser = OverridesParser.create()
    space: dict[str, BaseDistribution] = {}
    fixed: dict[str, str] = {}
    for text in [f"{key}={value}" for key, value in params.items()] + list(arguments):
        try:
            (override,) = parser.parse_overrides([text])
        except Exception as exc:  # Hydra's grammar errors are long; keep the first line
            raise UserError(
                f"hydra.sweeper.params: cannot parse '{text}': {str(exc).splitlines()[0]}; expected <key>="
                "choice(a,b,...), range(start,stop[,step]), interval(low,high) or tag(log, interval(low,high))"
            ) from None
        key = override.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            check_objective_not_swept(key, text)
            space[key] = to_distribution(override)
        else:
            fixed[key] = text
    return space, list(fixed.values())


def check_objective_not_swept(key: str, text: str) -> None:
    """A sweep compares its jobs by one `optimized_metric` in one direction: a study over
    `optimized_metric=choice(ndcg_at_10,val_loss)` would rank a loss as if it were an ndcg, and a grid's best job
    would be chosen among numbers of different kinds."""
    if key.lstrip("+~") == "optimized_metric":
        raise UserError(
            f"{text}: a sweep compares its jobs by one optimized_metric, in one direction; expected one "
            "optimized_metric=<metric> for the whole sweep (a sweep per metric)"
        )


def to_distribution(override: Override) -> BaseDistribution:
    """One sweep override -> an Optuna distribution. `range` excludes its stop, as everywhere in Hydra."""
    value = override.value()
    where = override.get_key_element()
    if isinstance(value, (ChoiceSweep, RangeSweep)):
        swept_values(override, override.input_line or where, "there is nothing to search")
    if isinstance(value, ChoiceSweep) or (isinstance(value, RangeSweep) and value.shuffle):
        return CategoricalDistribution(list(override.sweep_iterator(transformer=Transformer.encode)))
    if isinstance(value, RangeSweep):
        values = list(override.sweep_iterator())
        if all(isinstance(v, int) for v in values):
            return IntDistribution(values[0], values[-1], step=int(value.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        low, high = float(value.start), float(value.end)
        if not low < high or (log and low <= 0):
            raise UserError(
                f"{where}=interval({value.start:g}, {value.end:g}) is not a valid interval; "
                f"expected interval(low, high) with low < high{' and low > 0 (log scale)' if log else ''}"
            )
        return FloatDistribution(low, high, log=log)
    raise UserError(
        f"{where}: {override.get_value_element_as_str()} is not a choice, range or interval; expected "
        "choice(a,b,...), range(start,stop[,step]), interval(low,high) or tag(log, interval(low,high))"
    )


def swept_values(override: Override, text: str, so: str) -> list:
    """The values of a `choice`/`range` sweep as typed in `text`; one line when it gives none (`range(5,1)`,
    `range(4,4)`) or its step is 0, which Python's `range` refuses with a traceback."""
    if isinstance(override.value(), RangeSweep) and override.value().step == 0:
        raise UserError(f"{text} has step 0, so {so}; expected range(start, stop, step) with a step that is not 0")
    values = list(override.sweep_iterator())
    if not values:
        raise UserError(
            f"{text} gives no values, so {so}; expected at least one value (range stops before its stop: "
            "range(4,5) gives 4, a step below 0 needs start > stop)"
        )
    return values


def trial_overrides(params: dict[str, Any]) -> list[str]:
    """A trial's sampled values as Hydra overrides (`training.lr=3.2e-05`)."""
    return [f"{key}={value}" for key, value in params.items()]


def default_study_name(preset: str | None, space: dict[str, BaseDistribution], fixed: list[str], extra: dict) -> str:
    """`<preset>-<8 hex>`: the same command gives the same name (and resumes); another search space does not."""
    spec = {"space": {k: repr(d) for k, d in sorted(space.items())}, "fixed": sorted(fixed), **extra}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{preset or 'study'}-{digest}"


def command(overrides: list[str]) -> str:
    """The shell command that runs one configuration (a search preset replaced by what it sets: that runs)."""
    from embedlab.plan import without_search_preset

    return " ".join(["python -m train", *(shlex.quote(o) for o in without_search_preset(overrides))])
