"""Check every point of a grid sweep before its first job runs (a Hydra callback, see conf/train.yaml).

`python -m train -m loss=mnrl,cosent` on pair data used to train the first point, then stop with a traceback
at the second, and never run the points after it. Each point is now composed and checked (the schema, and
the loss against the data it would read) when the multirun starts; a point that cannot work is one line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from embedlab.errors import UserError
from embedlab.schema.composition import composition_error_line


def grid_points(overrides: list[str]) -> list[list[str]]:
    """The overrides of each job of a grid, in Hydra's basic-sweeper order."""
    # Hydra 1.3 exports no public grid sweeper or argument splitter: the basic sweeper is only internal
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [point for batch in BasicSweeper.split_arguments(parsed, None) for point in batch]


def check_point(point: list[str], config_name: str, datasets: dict[str, Any]) -> None:
    """Compose one job's config and check it as `python -m train` would, up to (not including) the model."""
    from hydra import compose

    from embedlab.config import build
    from embedlab.losses.selection import check_sampler, select_parts
    from embedlab.schema import check_config

    cfg = compose(config_name=config_name, overrides=point, return_hydra_config=True)
    loss_name = str(cfg.hydra.runtime.choices.get("loss", "loss"))
    with_hydra = OmegaConf.to_container(cfg, resolve=False)
    with_hydra.pop("hydra", None)
    config = check_config(OmegaConf.create(with_hydra))
    key = json.dumps([config["dataset"], config["seed"]], sort_keys=True, default=str)
    if key not in datasets:  # several points on the same data read it once
        datasets[key] = build(config["dataset"], where="dataset", seed=config["seed"])
    parts = select_parts(config["loss"], datasets[key], loss_name)
    check_sampler(config["sampler"], datasets[key], parts)


class CheckEveryPoint(Callback):
    """`on_multirun_start`: every point of a grid checked; the Optuna sweeper checks its own space."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
        if "optuna" in sweeper.lower():
            return
        config_name = OmegaConf.select(config, "hydra.job.config_name", default="train")
        overrides = list(OmegaConf.select(config, "hydra.overrides.task", default=[]) or [])
        datasets: dict[str, Any] = {}
        try:
            points = grid_points(overrides)
            for number, point in enumerate(points):
                try:
                    check_point(point, config_name, datasets)
                except (UserError, CompactHydraException) as exc:
                    line = composition_error_line(exc) if isinstance(exc, CompactHydraException) else exc
                    raise UserError(f"grid point {number} ({' '.join(point)}) cannot run: {line}") from None
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
