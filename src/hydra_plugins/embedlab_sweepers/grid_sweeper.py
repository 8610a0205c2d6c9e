"""Hydra Sweeper plugin: Hydra's basic (grid) sweeper, with the jobs' runs grouped under one MLflow parent run."""

from __future__ import annotations

import time

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser


class EmbedlabGridSweeper(BasicSweeper):
    """`hydra/sweeper=embedlab_grid`: `python -m train -m loss=mnrl,mixed training.batch_size=16,32`.

    Every job's run is a child of one parent run `sweep-grid-<time>` and carries the tag `sweep=grid-<time>`.
    """

    def sweep(self, arguments: list[str]):
        from embedlab.sweeps.mlflow_group import GroupedLauncher, SweepGroup
        from embedlab.tracking.status import ended_with_status

        parsed = OverridesParser.create().parse_overrides(arguments)
        fixed = [a for a, o in zip(arguments, parsed, strict=True) if not o.is_sweep_override()]
        swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}  # as Hydra writes each job's "key=value"
        job_cfg = self.hydra_context.config_loader.load_sweep_config(self.config, fixed)
        name = f"grid-{time.strftime('%Y%m%d-%H%M%S')}"
        group = SweepGroup(job_cfg.tracking.get("uri"), job_cfg.tracking.experiment, name, kind="grid")
        self.launcher = GroupedLauncher(self.launcher, group, swept)
        try:
            with ended_with_status(group.finish):
                return super().sweep(arguments)
        finally:
            print(f"Sweep {name}: MLflow parent run {group.run_id} (filter runs with tags.sweep = '{name}')")
