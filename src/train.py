"""`python -m train`: compose the config with Hydra and run one training job.

Only Hydra and OmegaConf are imported up front, so `--help` and `--cfg job` answer without torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

# ------------------------------------------------------------------------------------------------------------ #
# Five things happen at import time, before Hydra composes the config, because the config or the start-up needs
# them then. Each says what it is for and how to remove it.
#
# `import embedlab` registers the OmegaConf resolver `${packaged_model:...}` (conf/model/*.yaml). Remove it
# once no config uses that resolver.
import embedlab  # noqa: F401  (imports no torch)
from embedlab.hardware.launch import register_launch_time, silence_launcher_schema_warning
from embedlab.training.heap import pause_collection_during_startup, skip_collection_at_exit

# `${launch_time:...}`: one output folder for all ranks of a torchrun launch (conf/hydra/output/torchrun.yaml).
# Remove it only with that file: Hydra's `${now:...}` is read by each rank, and near a second boundary differs.
register_launch_time()
# conf/hydra/launcher/{joblib,submitit_slurm,ray}.yaml carry the plugins' own names, on purpose; Hydra warns
# that matching them to the plugins' schemas is deprecated. Remove it when those files get names of their own.
silence_launcher_schema_warning()
# No cycle collection while torch & co import (modules are never garbage); run.py turns it back on once the
# model is loaded. Remove it to pay ~1.4 s of start-up (training/heap.py says how that was measured).
pause_collection_during_startup()
# The interpreter's last collection would walk torch & co's millions of objects: ~1.5 s for nothing at exit.
# Remove it to pay that time; nothing else changes (every atexit handler still runs).
skip_collection_at_exit()
# ------------------------------------------------------------------------------------------------------------ #


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from embedlab.errors import Interrupted, UserError, exit_with_error
    from embedlab.job import run_job

    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN and "sweep" not in cfg.tracking.tags:
        with open_dict(cfg):  # jobs of one grid sweep share a tag; the Optuna sweeper sets its own
            cfg.tracking.tags.sweep = hydra_cfg.sweep.dir
    try:
        plan = check_before_work(cfg, dict(hydra_cfg.runtime.choices))  # config, model, data, metrics, store
        callbacks = []
        if cfg.get("sweep"):  # launched by the Optuna sweeper: report to its trial, stop when pruned
            from embedlab.sweeps.trial import trial_callbacks

            callbacks = trial_callbacks(cfg)
        return run_job(
            cfg, Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task), callbacks=callbacks, plan=plan
        ).objective
    except Interrupted as exc:  # Ctrl-C / SIGTERM: checkpoint saved, run marked KILLED
        print(f"\ninterrupted: {exc}; resume with resume=true", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # Ctrl-C before training started (imports, data, model load): nothing to save
        print("\ninterrupted: stopped by SIGINT before training started", file=sys.stderr)
        sys.exit(130)
    except UserError as exc:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweeper records the trial as failed and goes on
        exit_with_error(exc)


def check_before_work(cfg: DictConfig, choices: dict | None = None):
    """Everything that can be known before work (embedlab.plan): the config, the model folder, the data against
    the loss and phases, the metrics, the store; in seconds and without torch. Returns the plan."""
    from embedlab.plan import plan_run

    return plan_run(cfg, choices)


if __name__ == "__main__":
    from embedlab.schema.composition import check_search_space_has_multirun, one_line_composition_errors
    from embedlab.tracking.reproduce import reproduce_command

    with one_line_composition_errors():  # `dataset=quroa`, `training.lrr=1`: one line, not Hydra's fifteen
        check_search_space_has_multirun(sys.argv)  # before reproduce: a reproduced trial is one run, rightly
        sys.argv = reproduce_command(sys.argv)  # reproduce=<run id>: that run's own overrides; else unchanged
        main()
