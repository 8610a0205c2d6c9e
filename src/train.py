"""`python -m train`: compose the config with Hydra and run one training job.

Only Hydra and OmegaConf are imported up front, so `--help` and `--cfg job` answer without torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import embedlab  # noqa: F401  (registers the config resolvers; imports no torch)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from embedlab.errors import UserError
    from embedlab.run import train
    from embedlab.sweeps.trial import trial_callbacks

    hydra_cfg = HydraConfig.get()
    try:
        callbacks = trial_callbacks(cfg)  # reports to an Optuna trial when the sweeper launched this job
        return train(
            cfg, Path(hydra_cfg.runtime.output_dir), list(hydra_cfg.overrides.task), callbacks=callbacks
        ).objective
    except UserError as exc:
        if hydra_cfg.mode == RunMode.MULTIRUN:
            raise  # the sweeper records the trial as failed and goes on
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
