"""Hydra's internal basic sweeper, as embedlab uses it: these fail loudly when Hydra moves or changes it."""

from __future__ import annotations

import inspect
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.plugins.sweeper import Sweeper

from embedlab.sweeps.basic_sweeper import BasicSweeper
from embedlab.sweeps.grid_check import grid_points

SRC = Path(__file__).resolve().parents[2] / "src"


def test_it_is_a_sweeper_with_the_methods_we_use():
    assert issubclass(BasicSweeper, Sweeper)
    assert list(inspect.signature(BasicSweeper.sweep).parameters) == ["self", "arguments"]
    assert list(inspect.signature(BasicSweeper.split_arguments).parameters) == ["overrides", "max_batch_size"]


def test_it_splits_a_grid_into_its_points_in_order():
    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x,y", "c=3"])
    assert [point for batch in BasicSweeper.split_arguments(parsed, None) for point in batch] == [
        ["a=1", "b=x", "c=3"],
        ["a=1", "b=y", "c=3"],
        ["a=2", "b=x", "c=3"],
        ["a=2", "b=y", "c=3"],
    ]
    assert grid_points(["a=1,2", "b=x,y", "c=3"])[1] == ["a=1", "b=y", "c=3"]


def test_only_one_module_imports_hydras_internals():
    importers = [
        path.relative_to(SRC).as_posix() for path in SRC.rglob("*.py") if "hydra._internal" in path.read_text()
    ]
    assert importers == ["embedlab/sweeps/basic_sweeper.py"]


def test_it_is_hydras_class_of_the_moment_even_after_hydras_plugin_scan_made_a_new_one():
    import importlib

    from hydra._internal.core_plugins import basic_sweeper

    before = basic_sweeper.BasicSweeper
    try:
        importlib.util.find_spec(basic_sweeper.__name__).loader.exec_module(basic_sweeper)  # what the scan does
        from embedlab.sweeps.basic_sweeper import BasicSweeper as now

        assert now is basic_sweeper.BasicSweeper and now is not before
    finally:
        basic_sweeper.BasicSweeper = before  # the class the rest of this process's sweepers were built on
