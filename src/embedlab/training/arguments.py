"""`conf/training/`: our stable keys -> SentenceTransformerTrainingArguments."""

from __future__ import annotations

from pathlib import Path

from embedlab.hardware.device import Hardware
from embedlab.training.sampling import Sampling


def training_arguments(
    output_dir: str | Path,
    hardware: Hardware,
    sampling: Sampling,
    max_nonfinite_steps: int,
    length_buckets: int,
    seed: int = 42,
    batch_size: int = 32,
    epochs: float = 1,
    max_steps: int = -1,
    lr: float = 5e-5,
    warmup_ratio: float = 0.1,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    scheduler: str = "linear",
    optimizer: str = "adamw_torch",
    eval_steps: int = 10,
    logging_steps: int = 5,
    save_total_limit: int = 2,
    keep_checkpoints: bool = False,
    validation_corpus_sample: int | None = None,
    select_by: str = "val_loss",
    base_is_candidate: bool = True,
    eval_on_start: bool = True,
):
    """Build the trainer's arguments. Evaluation and checkpoints happen every `eval_steps`; the best
    checkpoint is the one with the lowest validation loss (`eval_loss`).

    `validation_corpus_sample`: validation retrieval ranks each query's relevant docs plus this many other docs
    (seeded, the same at every evaluation) instead of the whole corpus; null = the whole corpus. The test split
    always ranks the whole corpus.

    `length_buckets`: each text column of a training batch runs as this many forwards of rows of similar length,
    each padded to its own longest row (`embedlab.training.padding`); 1 = one forward padded to the longest.

    `select_by` / `base_is_candidate`: which model the run keeps (`training.checkpoint.Selection`); the trainer
    keeps and reloads the checkpoint that is best on `select_by`.

    `keep_checkpoints`: a run that ends FINISHED removes its `checkpoints/` folder (model, optimizer, scheduler
    and RNG state of each saved step: what `resume=` needs, and a FINISHED run is not resumed); the kept model stays
    in `best/`. True keeps them, as the trainer left them.

    `max_nonfinite_steps` and `length_buckets` have no default here: conf/training/default.yaml states them, once.
    `eval_on_start`: evaluate the starting model at step 0; a resumed run passes False (it has those metrics).

    The values are checked where the config is composed (`embedlab.schema`, `TRAINING`), not here."""
    from embedlab.training.checkpoint import Selection
    from embedlab.training.embedding_arguments import EmbeddingTrainingArguments

    selection = Selection(select_by, base_is_candidate)

    return EmbeddingTrainingArguments(
        max_nonfinite_steps=max_nonfinite_steps,
        validation_corpus_sample=validation_corpus_sample,
        length_buckets=length_buckets,
        select_by=select_by,
        base_is_candidate=base_is_candidate,
        keep_checkpoints=keep_checkpoints,
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=lr,
        warmup_steps=float(warmup_ratio),  # a float in [0, 1) is a ratio of the total steps
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        lr_scheduler_type=scheduler,
        optim=optimizer,
        eval_strategy="steps",
        eval_on_start=eval_on_start,  # the base model's metrics, logged at step 0
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model=selection.trainer_metric,
        greater_is_better=not selection.lower_is_better,
        logging_steps=logging_steps,
        report_to="none",  # MLflow logging is ours: one run, our metric names
        seed=seed,
        data_seed=seed,
        **sampling.training_kwargs(),
        **hardware.training_kwargs(),
    )
