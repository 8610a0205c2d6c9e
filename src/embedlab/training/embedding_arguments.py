"""SentenceTransformerTrainingArguments plus embedlab's own guard settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments


@dataclass
class EmbeddingTrainingArguments(SentenceTransformerTrainingArguments):
    # no default: conf/training/default.yaml states it, once (keyword-only, after the parent's defaulted fields)
    max_nonfinite_steps: int = field(
        kw_only=True, metadata={"help": "Stop the run after this many NaN/inf training losses in a row."}
    )
    select_by: str = field(
        default="val_loss", metadata={"help": "The kept model: lowest val_loss / val_loss_<part>, or highest <metric>."}
    )
    base_is_candidate: bool = field(
        default=True, metadata={"help": "The starting model competes with the checkpoints (kept if none beats it)."}
    )
    keep_checkpoints: bool = field(
        default=False, metadata={"help": "A FINISHED run keeps its checkpoints/ folder (removed by default)."}
    )
    length_buckets: int = field(  # no default, as max_nonfinite_steps
        kw_only=True, metadata={"help": "Forwards per text column of a training batch, rows of similar length each."}
    )
    validation_corpus_sample: int | None = field(
        default=None,
        metadata={"help": "Validation retrieval ranks each query's relevant docs plus this many seeded others."},
    )

    def get_warmup_steps(self, num_training_steps: int) -> int:
        """Warmup leaves at least one step at a learning rate above 0.

        Linear warmup starts at learning rate 0, and a ratio rounds up (transformers: ceil(0.1 x 1) = 1), so a run
        of one step (a file smaller than one batch) would train at rate 0 and keep the starting weights unchanged.
        """
        return min(super().get_warmup_steps(num_training_steps), max(num_training_steps - 1, 0))
