"""One training run, top to bottom."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from embedlab.config import build, choice, to_container
from embedlab.evaluation.objective import objective
from embedlab.folders import held_run_folder, work_started
from embedlab.hardware.ranks import is_main_process
from embedlab.logs import also_logged_in
from embedlab.losses.selection import select_parts, trainer_loss
from embedlab.report import print_summary
from embedlab.tracking.kept import KEPT_MODEL_PATH_TAG, KEPT_STEP, VALIDATION_TRAINS_TAG, kept
from embedlab.tracking.model_card import KeptModel, base_model_name, fill_card, model_language, write_card
from embedlab.tracking.other_ranks import tracker_for_this_rank
from embedlab.tracking.reproduce import REPRODUCES_TAG
from embedlab.tracking.values import STAGE_TAG, named_overrides, timed_name, values_name
from embedlab.training.heap import collector_skips_existing_objects

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # these import torch or transformers; a run imports them once its data is read
    from embedlab.phases import Phase
    from embedlab.phases.shared_work import ModelWork
    from embedlab.plan import Plan
    from embedlab.training.checkpoint import BestCheckpoint


@dataclass
class RunResult:
    """What one run gives back; on torchrun ranks other than 0, which only train, every field is empty."""

    objective: float  # cfg.optimized_metric at the best checkpoint: what a sweeper optimizes
    run_id: str | None
    best: BestCheckpoint | None
    model_uri: str | None
    test_start: dict[str, float] = field(default_factory=dict)  # test metrics of the starting model (step 0)
    test_best: dict[str, float] = field(default_factory=dict)  # test metrics of the best checkpoint
    work: ModelWork | None = None  # what was computed with the kept model, for a chain's next stage (hand_on)


def train(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str] | None = None,
    callbacks: list | None = None,
    *,
    plan: Plan,
    earlier_work: ModelWork | None = None,
    hand_on: bool = False,
) -> RunResult:
    """Train, evaluate and track one run, from composed config to the best checkpoint logged in MLflow.

    Always exactly one run: a chain of phases (`phase=two_phase`) is `embedlab.job.run_job`'s, which calls
    this once per stage. `plan` is what `embedlab.plan.plan_run` checked before work (run_job makes it); the data
    it read is the run's. `earlier_work` is what the previous stage computed with its kept model: used where this
    run's starting model and computation are the same (embedlab.phases.shared_work); `hand_on` returns this run's
    kept model's work in `RunResult.work` for the next stage.
    """
    data = plan.data(to_container(cfg))
    hardware = build(cfg.hardware, where="hardware")
    phase: Phase = build(cfg.phase, where="phase")
    tracker = tracker_for_this_rank(build(cfg.tracking, where="tracking"))  # torchrun: rank 0 alone tracks
    tracker.connect(cfg.resume)  # an unusable tracking.uri fails here; runs orphaned by dead processes are closed
    config = to_container(cfg)  # resolved: what the run records, and what resume matches on
    resume = tracker.find_resume_point(cfg.resume, config)  # resume=true | <run id>
    command_dir, run_dir = run_dir, resume.run_dir if resume else run_dir
    folder = contextlib.ExitStack()  # one process per run folder, from here to the run's end (torchrun: rank 0's)
    if is_main_process():
        folder.enter_context(held_run_folder(run_dir))  # another live process has it (two resumes of a run): stop
        if resume:  # the run's train.log goes on in its own folder too, not only in this command's
            folder.enter_context(also_logged_in(run_dir))
    # torch and transformers from here on: the data, loss, hardware and store are checked
    from embedlab.phases.shared_work import (
        encoding_context,
        evaluators_at_step_zero,
        kept_work,
        outputs_at,
        reuse_tags,
        starting_work,
    )
    from embedlab.training.checkpoint import (
        Selection,
        removed_when_finished,
        restore_the_end,
        select_best_checkpoint,
        starting_weights,
        trained_to_the_end,
        unevaluated_step,
    )
    from embedlab.training.interrupt import GracefulStop
    from embedlab.training.trainer import evaluate_test

    args = build(
        cfg.training,
        where="training",
        output_dir=run_dir / "checkpoints",
        seed=cfg.seed,
        hardware=hardware,
        sampling=build(cfg.sampler, where="sampler"),
        eval_on_start=resume is None,  # a resumed run has its step-0 metrics already
    )
    selection = Selection(args.select_by, args.base_is_candidate)  # the model the run keeps
    set_up_process(cfg.seed, hardware)  # seeds, threads, TF32, this rank's GPU
    start = phase.starting_model()  # e.g. phase.init_from downloaded from MLflow; prepare() logs where it came from
    model = build(cfg.model, where="model", device=hardware.device, **start.overrides)
    context = encoding_context(hardware)  # None: nothing is shared (fp16, compile)
    if resume is None:  # e.g. mining encodes the corpus once for itself and the evaluations; a resume has no step 0
        on_reuse = lambda work: tracker.set_tags(reuse_tags(work))  # noqa: E731  (it tags the run that reused)
        start = dataclasses.replace(start, work=starting_work(model, context, earlier_work, on_reuse))
    del earlier_work  # start.work holds what this run uses of it, until its step 0 (memory: corpus embeddings)
    stop = GracefulStop()  # Ctrl-C / SIGTERM: checkpoint at the end of the step, run KILLED, exit 130 / 143
    with (
        folder,
        stop.installed(),
        collector_skips_existing_objects(),  # imports + model live to the end: full collections need not walk them
        tracker.run(
            config, tracker.run_name or run_name(cfg, overrides), run_dir, tags={"phase": phase.name}, resume=resume
        ),
    ):
        work_started(command_dir)  # the run records from here: a later error keeps this command's folder and log
        log_inputs(tracker, cfg, data, hardware, overrides)
        tracker.log_params(hardware.run_params(args))  # device, precision, per-device and effective batch
        with hardware.autocast():  # bf16: mining's encodes (and a reranker) in bf16 autocast too
            data = phase.prepare(data, model, start, tracker, run_dir)  # e.g. mine hard negatives
        tracker.log_datasets(data)  # the rows actually used, after the phase's mining: the UI's Dataset column
        log_evaluation_sizes(tracker, data)  # given vs made splits, queries per evaluation, a warning if few
        parts = hardware.configure_losses(select_parts(cfg.loss, data, choice("loss", cfg.loss)))  # DDP: gather
        trainer = make_trainer(
            model, args, data, parts, tracker, [*(callbacks or []), stop], cfg.optimized_metric, "parts" in cfg.loss
        )
        trainer.evaluator, validation = evaluators_at_step_zero(trainer.evaluator, start.work)
        if resume and (step := unevaluated_step(resume.checkpoint, args.eval_steps)):
            trainer.evaluate_first(step)  # a signal during that step's training saved it before its evaluation
        test_evaluators = data.evaluators("test")
        test_start = {} if resume else evaluate_test(model, test_evaluators, hardware.precision, start.work)
        start = dataclasses.replace(start, work=None)  # held by the step-0 evaluators alone from here
        tracker.log_metrics(test_start, step=0)
        base_weights = starting_weights(model) if selection.base_is_candidate else None
        if resume and trained_to_the_end(resume.checkpoint):  # stopped after its last step: nothing to train
            restore_the_end(trainer, resume.checkpoint)
        else:
            trainer.train(resume_from_checkpoint=str(resume.checkpoint) if resume else None)  # evaluates step 0 first
        for callback in [stop, *(callbacks or [])]:  # stopped early by Ctrl-C / SIGTERM, or by a sweep's pruner?
            if hasattr(callback, "raise_if_stopped"):
                callback.raise_if_stopped()
        if not is_main_process():  # other torchrun ranks only train; rank 0 saves, tests and logs the model
            return RunResult(objective=float("nan"), run_id=None, best=None, model_uri=None)
        best = select_best_checkpoint(trainer, run_dir / "best", selection, tracker.history, base_weights)
        final_step = trainer.state.global_step
        origin = f"run {tracker.run_id} step {best.step}"
        handed = kept_work(trainer.model, context, origin, outputs_at(validation, best.step)) if hand_on else None
        test_best = evaluate_test(trainer.model, test_evaluators, hardware.precision, handed)
        if best.step or not test_start:  # at the kept model's step, where the logged model finds its metrics
            tracker.log_metrics(test_best, step=best.step)
        value = objective(tracker.history.get(best.step, {}), cfg.optimized_metric)
        tracker.log_metrics(
            {KEPT_STEP: best.step, kept("val_loss"): best.val_loss, kept(cfg.optimized_metric): value},
            step=final_step,
        )
        metrics = {**tracker.history.get(best.step, {}), **test_best}
        kept_model = describe_kept_model(cfg, best, metrics, validation_trains=data.validation_trains)
        fill_card(trainer.model, kept_model)  # base model, dataset, the kept step's validation and test results
        write_card(trainer.model, best.path)  # the kept folder's README.md: what a sweep logs from it says the same
        tracker.set_tags(
            {
                "best_is_base": str(best.kept_base).lower(),
                "optimized_metric": cfg.optimized_metric,
                "loss": kept_model.loss,
                KEPT_MODEL_PATH_TAG: str(best.path),  # where the kept model is, logged or not (sweeps log one)
                **({VALIDATION_TRAINS_TAG: "true"} if data.validation_trains else {}),  # its validation is fit
            }
        )
        model_uri = tracker.log_model(trainer.model, kept_model)
        print_summary(
            tracker.history,
            best,
            final_step,
            tracker.run_id,
            model_uri,
            tracker.uri,
            data.evaluation_sizes(),
            cfg.optimized_metric,
            experiment_id=tracker.experiment_id,
            split_sources=data.split_sources,
            base_is_candidate=bool(cfg.training.base_is_candidate),
            validation_trains=data.validation_trains,
        )
        if not args.keep_checkpoints:  # removed once the run is FINISHED: its kept model is in best/
            folder.push(removed_when_finished(Path(args.output_dir)))
        return RunResult(value, tracker.run_id, best, model_uri, test_start, test_best, handed)


def set_up_process(seed: int, hardware) -> None:
    """Process-wide settings before the model loads: every seed (Python, NumPy, torch), then `hardware.apply()`:
    torch's threads, TF32 on CUDA, and under torchrun this rank's GPU."""
    from transformers import set_seed

    set_seed(seed)
    hardware.apply()


def log_inputs(tracker, cfg: DictConfig, data, hardware, overrides: list[str] | None) -> None:
    """What the run was made from: config, overrides, data fingerprint, resolved hardware."""
    tracker.log_dict(data.fingerprint(), "data_fingerprint.json")
    tracker.log_artifact_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
    tracker.log_artifact_text("\n".join(overrides or []), "overrides.txt")
    tracker.log_dict(hardware.describe(), "hardware.json")


def log_evaluation_sizes(tracker, data) -> None:
    """Params `dataset.splits_source`, `eval.validation_queries`, `eval.test_queries`; one line if they are few."""
    params = data.params()
    tracker.log_params(params)
    log.info("evaluation: " + ", ".join(f"{k} {v}" for k, v in params.items()))
    warning = data.size_warning()
    if warning:
        log.warning(warning)


def make_trainer(
    model, args, data, parts: dict, tracker, callbacks: list | None, optimized_metric: str, mixed: bool = False
):
    from embedlab.training.trainer import EmbeddingTrainer

    return EmbeddingTrainer(
        model=model,
        args=args,
        loss=trainer_loss(parts, mixed),  # the trainer builds each part's loss with the model
        tracker=tracker,
        train_dataset=data.datasets("train", list(parts)),
        eval_dataset=data.datasets("validation", list(parts)),
        evaluator=data.evaluators("validation") or None,  # several: the trainer runs them in a SequentialEvaluator
        callbacks=callbacks,
        optimized_metric=optimized_metric,
    )


DEFAULT_PHASE = "contrastive"


def run_name(cfg: DictConfig, overrides: list[str] | None = None) -> str:
    """`physics-mnrl bs=16 scale=40 1206-101500`: dataset, loss (and phase unless the default), the values its
    overrides change, written short as sweeps name their jobs, and when it started; a reproduction adds
    `repro-of-<run id[:8]>`, and a chain's stage starts with its name (`phase2 retrieval-mnrl-hard_negatives …`,
    as a sweep's jobs start with `j00`). The values come first so that the runs table's narrow column shows them."""
    phase = [] if cfg.phase.name == DEFAULT_PHASE else [cfg.phase.name]  # the phase is also the run's tag
    names = "-".join([cfg.dataset.name, choice("loss", cfg.loss), *phase])
    values = values_name(named_overrides(overrides or []))
    tags = cfg.tracking.tags if "tags" in cfg.tracking else {}
    source = tags.get(REPRODUCES_TAG)
    reproduces = f"repro-of-{str(source)[:8]}" if source else ""
    stage = str(tags.get(STAGE_TAG) or "")  # a chain's stages may share a phase: the stage tells them apart
    return timed_name(stage, names, values, reproduces)


def describe_kept_model(
    cfg: DictConfig, best: BestCheckpoint, metrics: dict[str, float], validation_trains: bool = False
) -> KeptModel:
    """The kept model as its card and registered version describe it: base model, dataset, step, metrics."""
    name_or_path = str(cfg.model.name_or_path)
    return KeptModel(
        dataset=cfg.dataset.name,
        loss=choice("loss", cfg.loss),
        base_model=base_model_name(name_or_path),
        step=best.step,
        optimized_metric=cfg.optimized_metric,
        metrics=metrics,
        select_by=best.select_by,
        language=model_language(name_or_path),
        validation_trains=validation_trains,
    )
