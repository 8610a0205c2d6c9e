"""Check every point of a grid sweep before its first job runs (a Hydra callback, see conf/train.yaml).

`python -m train -m loss=mnrl,cosent` on pair data used to train the first point, then stop with a traceback
at the second, and never run the points after it. Each point is now composed and checked (the schema, and
the loss against the data it would read) when the multirun starts; a point that cannot work is one line.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from embedlab.errors import UserError, raise_if_stopped, user_errors_exit
from embedlab.plan import Seen, plan_run
from embedlab.schema.composition import composition_error_line, task_overrides


def grid_points(overrides: list[str]) -> list[list[str]]:
    """The overrides of each job of a grid, in Hydra's basic-sweeper order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from embedlab.sweeps.basic_sweeper import BasicSweeper  # Hydra's internal grid sweeper, imported there only

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [point for batch in BasicSweeper.split_arguments(parsed, None) for point in batch]


def check_point(point: list[str], config_name: str, seen: Seen) -> None:
    """Compose one job's config and check it as `python -m train` would (embedlab.plan), up to the model."""
    from hydra import compose

    cfg = compose(config_name=config_name, overrides=point, return_hydra_config=True)
    choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    with_hydra = OmegaConf.to_container(cfg, resolve=False)
    with_hydra.pop("hydra", None)
    plan_run(OmegaConf.create(with_hydra), choices, seen, sweep=True)


def check_grid_expressions(overrides: list[str]) -> set[str]:
    """A sweep that makes no point (`range(0)`), or one only an Optuna study reads (`interval(...)`): one line.
    Returns the swept keys."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import IntervalSweep

    from embedlab.sweeps.search_space import check_objective_not_swept, swept_values  # optuna: only for a grid

    parsed = OverridesParser.create().parse_overrides(overrides)
    swept = set()
    for text, override in zip(overrides, parsed, strict=True):
        if not override.is_sweep_override():
            continue
        swept.add(override.get_key_element())
        check_objective_not_swept(override.get_key_element(), text)
        if isinstance(override.value(), IntervalSweep):
            raise UserError(
                f"{text} is a range of real numbers, which only an Optuna study samples; expected a grid's values "
                "(a,b,c, choice(a,b) or range(start,stop,step)), or an Optuna study (hparams_search=<preset>, "
                "or hydra/sweeper=embedlab_optuna with hydra.sweeper.params)"
            )
        swept_values(override, text, "the grid has no point to run")
    return swept


class CheckEveryPoint(Callback):
    """`on_multirun_start`: every point of a grid checked; the Optuna sweeper checks its own space.

    Hydra's callback runner turns an exception raised here into a warning and launches the sweep anyway, so a
    check that cannot finish (a bug) ends the command itself, with its traceback, exit 1.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweeper = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
        if "optuna" in sweeper.lower():
            return
        config_name = OmegaConf.select(config, "hydra.job.config_name", default="train")
        try:
            with user_errors_exit():  # an interpolation that cannot be resolved: one line, before the sweep starts
                overrides = task_overrides(OmegaConf.select(config, "hydra.overrides.task", default=None))
            self.check_every_point(overrides, config_name)
        except Exception as exc:  # noqa: BLE001  a bug in a check: Hydra would make it a warning and launch unchecked
            raise_if_stopped(exc)  # or a stop signal that composing turned into another exception: a stop
            traceback.print_exc()
            sys.exit(1)

    @staticmethod
    def check_every_point(overrides: list[str], config_name: str) -> None:
        seen = Seen()
        with user_errors_exit():
            swept = check_grid_expressions(overrides)
            points = grid_points(overrides)
            for number, point in enumerate(points):
                try:
                    check_point(point, config_name, seen)
                except (UserError, CompactHydraException) as exc:
                    line = composition_error_line(exc) if isinstance(exc, CompactHydraException) else exc
                    shown = " ".join(o for o in point if o.lstrip("+~").split("=", 1)[0] in swept) or " ".join(point)
                    raise UserError(f"grid point {number} ({shown}) cannot run: {line}") from None
