"""Hydra Sweeper plugin: Hydra's basic (grid) sweeper, with the jobs' runs grouped under one MLflow parent run."""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser

from embedlab.sweeps.basic_sweeper import BasicSweeper  # Hydra's internal grid sweeper, imported there only


class EmbedlabGridSweeper(BasicSweeper):
    """`hydra/sweeper=embedlab_grid`: `python -m train -m loss=mnrl,mixed training.batch_size=16,32`.

    Every job's run is a child of one parent run `sweep-grid-<time>` and carries the tag `sweep=grid-<time>`; a
    second grid started in the same second is `grid-<time>-1`, as its folder is `<time>-1`
    (`embedlab.folders.launch_stamp`).
    """

    def sweep(self, arguments: list[str]):
        from embedlab.errors import Interrupted, as_stop
        from embedlab.folders import launch_stamp
        from embedlab.sweeps.mlflow_group import GroupedLauncher, SweepGroup, log_grid_summary
        from embedlab.tracking.status import ended_with_status

        parsed = OverridesParser.create().parse_overrides(arguments)
        fixed = [a for a, o in zip(arguments, parsed, strict=True) if not o.is_sweep_override()]
        swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}  # as Hydra writes each job's "key=value"
        job_cfg = self.hydra_context.config_loader.load_sweep_config(self.config, fixed)
        # the sweep's folder (reading it claims it): its `-N` in a busy second names the sweep too
        name = f"grid-{launch_stamp('%Y%m%d-%H%M%S', folder=str(self.config.hydra.sweep.dir))}"
        tracking = job_cfg.tracking
        registered = tracking.get("registered_model_name") if tracking.get("register", True) else None
        group = SweepGroup(
            tracking.get("uri"),
            tracking.experiment,
            name,
            kind="grid",
            registered_model_name=registered,
            log_model=tracking.get("log_model", True),
            sweep_models=tracking.get("sweep_models", "best"),
        )
        name = group.name  # with the start of its run id when another grid has the name (unique_run_name)
        self.launcher = GroupedLauncher(self.launcher, group, swept)
        summary: dict = {}
        try:
            with ended_with_status(group.finish):
                try:
                    return super().sweep(arguments)
                finally:  # the best job so far, also when a job stopped the sweep
                    summary = log_grid_summary(group, job_cfg.optimized_metric, fixed, sorted(swept))
        except BaseException as exc:  # a stopped job said "resume=true", which a grid's job does not take alone
            stop = as_stop(exc)
            if stop is None:
                raise
            done = f"{summary.get('n_complete', 0)} of its jobs finished (their runs are kept)"
            raise Interrupted(stop.signum, f"grid {name}: {done}; the same command runs every job again") from None
        finally:
            print(f"Sweep {name}: MLflow parent run {group.run_id} (filter runs with tags.sweep = '{name}')")
            if summary.get("best_command"):
                print(f"Best job {summary['best_run_name']}: {job_cfg.optimized_metric}={summary['best_value']:.4f}")
                print(f"Reproduce: {summary['best_command']}")
