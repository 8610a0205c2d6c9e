"""Hydra's basic (grid) sweeper, from the one module that reaches into Hydra's internals for it.

Hydra 1.3 exports no public grid sweeper and no public argument splitter: `BasicSweeper` lives only in
`hydra._internal.core_plugins.basic_sweeper`. The grid sweeper plugin (`hydra_plugins.embedlab_sweepers`)
extends it, and the grid check (`embedlab.sweeps.grid_check`) uses its `split_arguments` to list a grid's
points in the order Hydra runs them. tests/sweeps/test_basic_sweeper.py fails when Hydra moves or changes it.

`BasicSweeper` is looked up in Hydra's module each time it is imported from here, not bound once: Hydra's plugin
scan executes its core plugin modules again (and ours after them) when it first runs in a process, which makes
a new `BasicSweeper` class. A name bound before that scan would be the old class, and a sweeper built on it
fails in `super()` (`obj must be an instance or subtype of type`).
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "BasicSweeper":
        from hydra._internal.core_plugins import basic_sweeper

        return basic_sweeper.BasicSweeper
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
