"""Hydra Sweeper plugin: an Optuna study over `hydra.sweeper.params`, resumable, with pruning inside jobs."""

from __future__ import annotations

from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class EmbedlabOptunaSweeper(Sweeper):
    """`hydra/sweeper=embedlab_optuna`; the arguments are documented in conf/hydra/sweeper/embedlab_optuna.yaml."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> None:
        from omegaconf import OmegaConf

        from embedlab.errors import user_errors_exit
        from embedlab.schema import check_sweeper

        # bad settings, storage, search space or a job that cannot run: one line, exit 2, as for a single run
        with user_errors_exit():
            check_sweeper(
                {k: OmegaConf.to_container(v) if OmegaConf.is_config(v) else v for k, v in self.settings.items()}
            )
            from embedlab.sweeps.optuna_sweep import OptunaSettings, run_study  # imports torch: after the check

            run_study(
                OptunaSettings.checked(self.settings), self.config, self.launcher, self.load_job_config, arguments
            )

    def load_job_config(self, overrides: list[str]) -> DictConfig:
        """The config a job gets with these overrides (to find its tracking store and experiment)."""
        return self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
