"""What `python -m train` runs: one training run, or a chain of them (`phase=two_phase`)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from embedlab.folders import check_new_run_folder
from embedlab.run import RunResult, train

if TYPE_CHECKING:
    from embedlab.plan import Plan


def run_job(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str] | None = None,
    callbacks: list | None = None,
    plan: Plan | None = None,
) -> RunResult:
    """A chain config (with `phase.stages`) runs its stages one after another, each an ordinary `train()`
    (see phases/chain.py); any other config is one `train()`. Returns the (last) run's result.

    A new run (not a resume) refuses a folder where an earlier run kept its model, before any work. `plan` is
    what `embedlab.plan.plan_run` found before work (the data it read is not read again); without one, it is made
    here, so every way into a run checks the same things first.
    """
    check_new_run_folder(run_dir, cfg)
    if plan is None:
        from embedlab.plan import plan_run

        plan = plan_run(cfg)
    run = functools.partial(train, plan=plan)
    if "stages" in cfg.phase:
        from embedlab.phases.chain import train_chain

        return train_chain(cfg, run_dir, run, overrides, callbacks)
    return run(cfg, run_dir, overrides, callbacks)
