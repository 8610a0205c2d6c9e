"""The Hydra Optuna sweeper's search-space syntax -> Optuna distributions, and the stable default study name."""

from __future__ import annotations

import re

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from embedlab.errors import UserError
from embedlab.sweeps.search_space import default_study_name, parse_search_space


def test_each_sweep_form_becomes_a_distribution():
    space, fixed = parse_search_space(
        {
            "training.batch_size": "choice(16, 32, 64)",
            "training.epochs": "range(1, 5)",
            "loss.scale": "interval(5.0, 50.0)",
            "training.lr": "tag(log, interval(1e-6, 1e-4))",
        },
        ["dataset=physics"],
    )
    assert space["training.batch_size"] == CategoricalDistribution([16, 32, 64])
    assert space["training.epochs"] == IntDistribution(1, 4)  # range's stop is excluded, as in Hydra
    assert space["loss.scale"] == FloatDistribution(5.0, 50.0)
    assert space["training.lr"] == FloatDistribution(1e-6, 1e-4, log=True)
    assert fixed == ["dataset=physics"]


def test_command_line_value_fixes_a_searched_key():
    space, fixed = parse_search_space({"training.batch_size": "choice(16, 32)"}, ["training.batch_size=8"])
    assert space == {} and fixed == ["training.batch_size=8"]


def test_bad_syntax_is_one_line():
    with pytest.raises(UserError, match="cannot parse 'training.lr=interval"):
        parse_search_space({"training.lr": "interval(1e-5"}, [])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("range(5,1)", "training.batch_size=range(5,1) gives no values, so there is nothing to search"),
        ("range(4,4)", "training.batch_size=range(4,4) gives no values"),
        ("range(1,10,-1)", "training.batch_size=range(1,10,-1) gives no values"),
        ("range(1,10,0)", "training.batch_size=range(1,10,0) has step 0"),
    ],
)
def test_a_range_with_no_value_is_one_line(typed, expected):
    """Each was a traceback (Hydra refuses to print a sweep; Python's range refuses step 0)."""
    with pytest.raises(UserError, match=re.escape(expected)):
        parse_search_space({}, [f"training.batch_size={typed}"])


def test_study_name_is_stable_and_changes_with_the_space():
    space, fixed = parse_search_space({"loss.scale": "interval(5.0, 50.0)"}, [])
    other, _ = parse_search_space({"loss.scale": "interval(5.0, 60.0)"}, [])
    name = default_study_name("physics", space, fixed, {})
    assert name == default_study_name("physics", space, fixed, {}) and name.startswith("physics-")
    assert name != default_study_name("physics", other, fixed, {})
