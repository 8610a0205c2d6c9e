"""The sentence-transformers trainer, with metrics under stable names sent to the tracker."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sentence_transformers.base.evaluation.sequential import SequentialEvaluator
from sentence_transformers.sentence_transformer import SentenceTransformerTrainer
from transformers import TrainerCallback

from embedlab.errors import UserError, weights_written
from embedlab.evaluation.objective import objective
from embedlab.hardware.device import encoding_autocast
from embedlab.training.checkpoint import CompleteCheckpointCallback, Selection, check_selection_metric
from embedlab.training.padding import install_length_buckets


@runtime_checkable
class EvaluationListener(Protocol):
    """A callback that wants each evaluation once, with the parts' losses combined (`val_loss` of `loss=mixed`).

    Transformers' `on_evaluate` fires once per evaluation dataset, each time with that part's metrics only.
    """

    def on_evaluation(self, args, state, control, metrics: dict[str, float]) -> None: ...


DROPPED = ("runtime", "samples_per_second", "steps_per_second", "epoch", "model_preparation_time", "sequential_score")


def rename_eval_metrics(metrics: dict[str, float], parts: list[str]) -> dict[str, float]:
    """`eval_loss` -> `val_loss`, `eval_<part>_loss` -> `val_loss_<part>`, `eval_ndcg_at_10` -> `ndcg_at_10`."""
    out = {}
    for key, value in metrics.items():
        name = key.removeprefix("eval_")
        if name.endswith(DROPPED):
            continue
        if name == "loss":
            name = "val_loss"
        elif name.endswith("_loss") and name[: -len("_loss")] in parts:
            name = f"val_loss_{name[: -len('_loss')]}"
        out[name] = value
    return out


class TrainLogCallback(TrainerCallback):
    """Training-loss logs -> tracker, and at the final step one last log, evaluation and checkpoint: a run shorter
    than `eval_steps` (or `logging_steps`) still evaluates, saves and logs what it trained."""

    def __init__(self, tracker) -> None:
        self.tracker = tracker

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        names = {"loss": "train_loss", "learning_rate": "lr", "grad_norm": "grad_norm"}
        metrics = {names[k]: v for k, v in logs.items() if k in names}
        if metrics:
            self.tracker.log_metrics(metrics, step=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:  # the best checkpoint may be the last one
            control.should_log = True
            control.should_evaluate = True
            control.should_save = True
        return control


class EmbeddingTrainer(SentenceTransformerTrainer):
    """SentenceTransformerTrainer that logs each evaluation once, under stable names, at its step.

    With several evaluation parts (e.g. `loss=mixed`), `val_loss` is the unweighted mean of the parts'
    `val_loss_<part>`; the best checkpoint is selected on it.
    """

    def __init__(self, *args: Any, tracker, optimized_metric: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracker = tracker
        self.optimized_metric = optimized_metric
        self.max_nonfinite_steps = self.args.max_nonfinite_steps
        self.nonfinite_steps = 0
        sample = getattr(self.args, "validation_corpus_sample", None)
        if sample is not None:
            self.evaluator = with_corpus_sample(self.evaluator, sample, self.args.seed)
        if not self.args.torch_compile:  # compiled, the groups' shapes would each compile a graph
            install_length_buckets(self.model, self.args.length_buckets)
        self.add_callback(TrainLogCallback(tracker))
        self.add_callback(CompleteCheckpointCallback())
        self.unevaluated_step: int | None = None  # a resumed run's checkpoint step that its stop left unevaluated

    def evaluate_first(self, step: int) -> None:
        """A resumed run whose stop skipped the evaluation of its checkpoint's `step` (a signal during that step's
        training saves it at once, `GracefulStop`) evaluates that step before it trains on, as transformers
        evaluates a starting model (`eval_on_start`), and counts it for the best checkpoint: the run gets the
        evaluations, and the choice among them, of one that was not stopped."""
        self.args.eval_on_start = True
        self.unevaluated_step = step

    def _evaluate(self, trial, ignore_keys_for_eval, skip_scheduler: bool = False) -> dict[str, float]:
        """The second private hook embedlab overrides (tests/training/test_trainer.py checks its signature): an
        evaluation outside `_maybe_log_save_evaluate` (`eval_on_start`) is not weighed for the best checkpoint by
        transformers; the step `evaluate_first` named is."""
        metrics = super()._evaluate(trial, ignore_keys_for_eval, skip_scheduler)
        if self.unevaluated_step is not None and self.state.global_step == self.unevaluated_step:
            self.unevaluated_step = None
            self._determine_best_metric(metrics, trial)  # what transformers does after a scheduled evaluation
        return metrics

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        # the evaluators' encodes run in the training precision: bf16 autocast when training in bf16
        precision = "bf16" if self.args.bf16 else "fp32"
        with encoding_autocast(self.args.device.type, precision):
            metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        if eval_dataset is None and metric_key_prefix == "eval":  # the outer call, not one per part
            parts = list(self.eval_dataset) if isinstance(self.eval_dataset, dict) else []
            if parts:
                metrics["eval_loss"] = sum(metrics[f"eval_{p}_loss"] for p in parts) / len(parts)
            renamed = rename_eval_metrics(metrics, parts)
            if self.is_world_process_zero():
                self.tracker.log_metrics(renamed, step=self.state.global_step)
            for callback in self.callback_handler.callbacks:
                if isinstance(callback, EvaluationListener):  # e.g. a sweep's pruner
                    callback.on_evaluation(self.args, self.state, self.control, renamed)
            if self.optimized_metric:  # a metric that is never logged fails at step 0, not at the end
                value = objective(renamed, self.optimized_metric)
                if self.state.global_step == 0 and math.isnan(value):  # no training step can give it a value
                    raise UserError(
                        f"optimized_metric={self.optimized_metric} is nan for the starting model (step 0): the "
                        "validation split gives it no value (e.g. a correlation over labels or scores that are all "
                        "the same); expected validation rows with varied labels or scores, or another "
                        "optimized_metric"
                    )
            if self.state.global_step == 0:  # likewise training.select_by, once the parts' losses are combined
                check_selection_metric(Selection(self.args.select_by), metrics)
        return metrics

    def training_step(self, *args: Any, **kwargs: Any):
        """One step; `max_nonfinite_steps` NaN/inf losses in a row stop the run with one line."""
        loss = super().training_step(*args, **kwargs)
        value = float(loss.detach())
        self.nonfinite_steps = 0 if math.isfinite(value) else self.nonfinite_steps + 1
        if self.nonfinite_steps >= self.max_nonfinite_steps:
            raise UserError(
                f"training loss is {value} at step {self.state.global_step + 1} "
                f"({self.nonfinite_steps} non-finite steps in a row; training.max_nonfinite_steps="
                f"{self.max_nonfinite_steps}); expected finite losses: lower training.lr (or loss.scale), or check the "
                "data"
            )
        return loss

    def save_model(self, *args: Any, **kwargs: Any) -> None:
        """The model's files, written by rank 0 alone (`should_save`).

        Transformers 5 calls `save_model` on every DDP rank and leaves the rank check to `_save`, which
        sentence-transformers replaces with a version that writes on any rank. Embedlab configures neither FSDP
        nor DeepSpeed, whose `save_model` gathers weights on every rank.
        """
        if self.args.should_save:
            super().save_model(*args, **kwargs)

    def _save_checkpoint(self, model, trial) -> None:
        """A full disk fails the run in one line; the partial checkpoint is removed, earlier ones stay.

        One of the two private hooks embedlab overrides (tests/training/test_trainer.py checks it is still called
        with this signature): a checkpoint is the model (`save_model`) plus optimizer, scheduler, RNG and trainer
        state, each written by a private method, and callbacks' `on_save` runs only after all of them succeed;
        no public hook sees a failed checkpoint write.
        """
        partial = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
        with weights_written(f"saving checkpoint {partial}", lambda: shutil.rmtree(partial, ignore_errors=True)):
            super()._save_checkpoint(model, trial)


def with_corpus_sample(evaluator, corpus_sample: int, seed: int):
    """The validation evaluator with every retrieval part ranking a seeded corpus sample (see RetrievalEvaluator)."""
    from embedlab.evaluation.retrieval import RetrievalEvaluator

    if isinstance(evaluator, RetrievalEvaluator):
        return evaluator.sampled(corpus_sample, seed)
    if isinstance(evaluator, SequentialEvaluator):
        evaluator.evaluators = [with_corpus_sample(e, corpus_sample, seed) for e in evaluator.evaluators]
    return evaluator


def evaluate_test(model, evaluators: list, precision: str = "fp32", work=None) -> dict[str, float]:
    """Run the test-split evaluators (in bf16 autocast when `precision` is bf16); metrics get a `test_` prefix.

    `work` (an `embedlab.phases.shared_work.ModelWork` of this model) answers what was already computed with it
    and keeps what is computed now."""
    metrics: dict[str, float] = {}
    with encoding_autocast(str(model.device.type), precision):
        for evaluator in evaluators:
            found = work.evaluate(evaluator, model, prefix="test_") if work is not None else evaluator(model)
            metrics.update({f"test_{k}": v for k, v in found.items()})
    return metrics
