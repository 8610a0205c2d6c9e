"""SentenceTransformerTrainingArguments plus embedlab's own guard settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments

from embedlab.training import MAX_NONFINITE_STEPS


@dataclass
class EmbeddingTrainingArguments(SentenceTransformerTrainingArguments):
    max_nonfinite_steps: int = field(
        default=MAX_NONFINITE_STEPS, metadata={"help": "Stop the run after this many NaN/inf training losses in a row."}
    )
    select_by: str = field(
        default="val_loss", metadata={"help": "The kept model: lowest val_loss / val_loss_<part>, or highest <metric>."}
    )
    base_is_candidate: bool = field(
        default=True, metadata={"help": "The starting model competes with the checkpoints (kept if none beats it)."}
    )
    validation_corpus_sample: int | None = field(
        default=None,
        metadata={"help": "Validation retrieval ranks each query's relevant docs plus this many seeded others."},
    )
