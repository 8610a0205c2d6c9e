"""The job side of an Optuna sweep: report the objective at every evaluation, stop when the pruner says so.

The sweeper passes `+sweep.storage`, `+sweep.study` and `+sweep.trial` to each job; the job reopens its trial
from the storage, so this works in-process (basic launcher) and in separate processes (joblib).
"""

from __future__ import annotations

import math

from omegaconf import DictConfig
from transformers import TrainerCallback

from embedlab.config import build


def trial_callbacks(cfg: DictConfig) -> list:
    """Trainer callbacks for a job launched by the Optuna sweeper; none for any other run."""
    if "sweep" not in cfg or cfg.sweep.get("trial") is None:
        return []
    import optuna

    from embedlab.sweeps.storage import rdb_storage
    from embedlab.sweeps.study import PRUNER_ATTR, reopen_trial

    study_attrs = optuna.load_study(study_name=cfg.sweep.study, storage=rdb_storage(cfg.sweep.storage)).user_attrs
    pruner_cfg = study_attrs.get(PRUNER_ATTR)
    pruner = build(pruner_cfg, where="hydra.sweeper.pruner") if pruner_cfg else optuna.pruners.NopPruner()
    trial = reopen_trial(cfg.sweep.storage, cfg.sweep.study, int(cfg.sweep.trial), pruner)
    return [PruningCallback(trial, cfg.optimized_metric)]


class PruningCallback(TrainerCallback):
    """Reports `metric` to the Optuna trial at every evaluation; stops training when the pruner says so.

    The value is reported against the number of training examples seen so far (optimizer steps x effective
    batch size), not the step: with the batch size in the search space, trials are compared at equal amounts of
    data, so the pruners' `n_warmup_steps`, `min_resource` and `max_resource` count examples. The trainer calls
    `on_evaluation` once per evaluation with the parts' losses combined, so `loss=mixed` reports its `val_loss`.

    The pruned evaluation is still logged to MLflow (the trainer logs before it calls this) and no checkpoint is
    saved for it; `raise_if_stopped()`, called once `trainer.train()` returns, raises `optuna.TrialPruned`, which
    the sweeper records as PRUNED and the MLflow run as KILLED.

    Args:
        trial: the job's Optuna trial, reopened from the study's storage.
        metric: the objective's name as the tracker logs it (`ndcg_at_10`, `val_loss`).
    """

    def __init__(self, trial, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.reported: set[int] = set()
        self.pruned: str | None = None

    def on_evaluation(self, args, state, control, metrics: dict[str, float]) -> None:
        step = state.global_step
        value = metrics.get(self.metric)
        # Step 0 is the base model, the same for every trial.
        if step == 0 or step in self.reported or value is None or not math.isfinite(value):
            return
        self.reported.add(step)
        seen = examples_seen(args, step)
        self.trial.report(float(value), seen)
        if self.trial.should_prune():
            self.pruned = (
                f"trial {self.trial.number} pruned at step {step} ({seen} examples): {self.metric}={value:.4f}"
            )
            control.should_save = False
            control.should_training_stop = True

    def raise_if_stopped(self) -> None:
        if self.pruned:
            import optuna

            raise optuna.TrialPruned(self.pruned)


def examples_seen(args, step: int) -> int:
    """Training examples after `step` optimizer steps: per-device batch x gradient accumulation x processes."""
    return step * args.per_device_train_batch_size * args.gradient_accumulation_steps * max(1, args.world_size)
