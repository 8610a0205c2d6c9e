"""What `python -m train` runs: one training run, or a chain of them (`phase=two_phase`)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from embedlab.folders import check_new_run_folder
from embedlab.run import RunResult, train


def run_job(
    cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None, callbacks: list | None = None
) -> RunResult:
    """A chain config (with `phase.stages`) runs its stages one after another, each an ordinary `train()`
    (see phases/chain.py); any other config is one `train()`. Returns the (last) run's result.

    A new run (not a resume) refuses a folder where an earlier run kept its model, before any work."""
    check_new_run_folder(run_dir, cfg)
    if "stages" in cfg.phase:
        from embedlab.phases.chain import train_chain

        return train_chain(cfg, run_dir, train, overrides, callbacks)
    return train(cfg, run_dir, overrides, callbacks)
