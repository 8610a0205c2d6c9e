"""The Hydra Optuna sweeper's search-space syntax -> Optuna distributions, and the stable default study name."""

from __future__ import annotations

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


def test_study_name_is_stable_and_changes_with_the_space():
    space, fixed = parse_search_space({"loss.scale": "interval(5.0, 50.0)"}, [])
    other, _ = parse_search_space({"loss.scale": "interval(5.0, 60.0)"}, [])
    name = default_study_name("physics", space, fixed, {})
    assert name == default_study_name("physics", space, fixed, {}) and name.startswith("physics-")
    assert name != default_study_name("physics", other, fixed, {})
