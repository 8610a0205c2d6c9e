"""SentenceTransformerTrainingArguments plus embedlab's own guard settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments


@dataclass
class EmbeddingTrainingArguments(SentenceTransformerTrainingArguments):
    max_nonfinite_steps: int = field(
        default=3, metadata={"help": "Stop the run after this many NaN/inf training losses in a row."}
    )
