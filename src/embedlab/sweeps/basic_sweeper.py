"""Hydra's basic (grid) sweeper, from the one module that reaches into Hydra's internals for it.

Hydra 1.3 exports no public grid sweeper and no public argument splitter: `BasicSweeper` lives only in
`hydra._internal.core_plugins.basic_sweeper`. The grid sweeper plugin (`hydra_plugins.embedlab_sweepers`)
extends it, and the grid check (`embedlab.sweeps.grid_check`) uses its `split_arguments` to list a grid's
points in the order Hydra runs them. tests/sweeps/test_basic_sweeper.py fails when Hydra moves or changes it.
"""

from __future__ import annotations

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

__all__ = ["BasicSweeper"]
