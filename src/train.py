"""`python -m train`: compose the config with Hydra and run one training job.

Only Hydra and OmegaConf are imported up front, so `--help` and `--cfg job` answer without torch.
"""

from __future__ import annotations

import logging
import signal
import sys

if __name__ == "__main__" and hasattr(signal, "pthread_sigmask"):
    # Ctrl-C and SIGTERM wait while the imports below run, so that they end in one line too: they are let in,
    # and handled, by embedlab.interrupts.stopped_in_one_line() at the bottom. Remove it to get a traceback
    # (Ctrl-C) or a silent exit (SIGTERM) when a signal comes during these imports.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

from pathlib import Path  # noqa: E402

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

# ------------------------------------------------------------------------------------------------------------ #
# Five things happen at import time, before Hydra composes the config, because the config or the start-up needs
# them then. Each says what it is for and how to remove it.
#
# `import embedlab` registers the OmegaConf resolver `${packaged_model:...}` (conf/model/*.yaml). Remove it
# once no config uses that resolver.
import embedlab  # noqa: F401, E402  (imports no torch)
from embedlab.folders import register_run_folders  # noqa: E402
from embedlab.hardware.launch import silence_launcher_schema_warning  # noqa: E402
from embedlab.interrupts import stopped_in_one_line  # noqa: E402
from embedlab.training.heap import pause_collection_during_startup, skip_collection_at_exit  # noqa: E402

# `${launch_time:...}` and `${unique_folder:...}` name the run and sweep folders (conf/train.yaml): a folder of
# its own for every command, the same for all ranks of a torchrun launch; each command reads the clock anew.
# Remove it only with those keys: Hydra's `${now:...}` differs between the ranks, and two runs share its folder.
register_run_folders()
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

log = logging.getLogger("embedlab.train")  # this file runs as __main__; its messages are embedlab's


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from embedlab.errors import UserError, exit_with_error, raise_if_stopped
    from embedlab.interrupts import stopped_when_sweeper_dies
    from embedlab.job import run_job
    from embedlab.logs import to_job_log_only
    from embedlab.schema.composition import task_overrides
    from embedlab.tracking.resume import typed_resume

    raise_if_stopped()  # a stop signal that a library swallowed (Hydra's callbacks make errors warnings) starts no job
    hydra_cfg = HydraConfig.get()
    try:
        overrides = task_overrides(hydra_cfg.overrides.task)  # `${oc.env:DATA}` with DATA unset: one line
        with open_dict(cfg):  # `resume=5790e106` as typed, not the number Hydra reads in it
            cfg.resume = typed_resume(cfg.resume, overrides)
        if hydra_cfg.mode == RunMode.MULTIRUN and "sweep" not in cfg.tracking.tags:
            with open_dict(cfg):  # jobs of one grid sweep share a tag; the Optuna sweeper sets its own
                cfg.tracking.tags.sweep = hydra_cfg.sweep.dir
        plan = check_before_work(cfg, dict(hydra_cfg.runtime.choices))  # config, model, data, metrics, store
        callbacks = []
        if cfg.get("sweep"):  # launched by the Optuna sweeper: report to its trial, stop when pruned
            from embedlab.sweeps.trial import trial_callbacks

            callbacks = trial_callbacks(cfg)
        with stopped_when_sweeper_dies():  # a job in a joblib worker: stops once its sweeper is killed
            return run_job(cfg, Path(hydra_cfg.runtime.output_dir), overrides, callbacks=callbacks, plan=plan).objective
    except UserError as exc:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            to_job_log_only(log, f"error: {exc}")  # the job's train.log says why it failed
            raise  # the sweeper records the trial as failed and goes on
        exit_with_error(exc, log)  # logged: into the job log too, and on stderr (conf/hydra/job_logging)
    except Exception as exc:
        if hydra_cfg.mode == RunMode.MULTIRUN and type(exc).__name__ != "TrialPruned":  # pruned: not an error
            to_job_log_only(log, f"error: {type(exc).__name__}: {exc}", exc)  # with its traceback, in train.log
        raise


def check_before_work(cfg: DictConfig, choices: dict | None = None):
    """Everything that can be known before work (embedlab.plan): the config, the model folder, the data against
    the loss and phases, the metrics, the store; in seconds and without torch. Returns the plan."""
    from embedlab.plan import plan_run

    return plan_run(cfg, choices)


if __name__ == "__main__":
    from embedlab.folders import discarded_when_refused
    from embedlab.schema.composition import (
        check_no_group_is_null,
        check_no_resume_in_sweep,
        check_no_sweep_under_torchrun,
        check_one_mode,
        check_search_space_has_multirun,
        one_line_composition_errors,
    )
    from embedlab.tracking.reproduce import reproduce_command

    # Ctrl-C / SIGTERM anywhere in here: one line, exit 130 / 143, the runs KILLED (embedlab/interrupts.py)
    with stopped_in_one_line(), one_line_composition_errors():  # `dataset=quroa`: one line, not Hydra's fifteen
        check_no_group_is_null(sys.argv)
        check_one_mode(sys.argv)  # `-m … --cfg job`: Hydra's ValueError, a traceback
        check_no_resume_in_sweep(sys.argv)  # `-m … resume=true`: each job failed, after the sweep's parent run
        check_no_sweep_under_torchrun(sys.argv)  # every rank would run the whole sweep
        check_search_space_has_multirun(sys.argv)  # before reproduce: a reproduced trial is one run, rightly
        sys.argv = reproduce_command(sys.argv)  # reproduce=<run id>: that run's own overrides; else unchanged
        with discarded_when_refused():  # a refused run or sweep leaves no folder of Hydra's leftovers behind
            main()
