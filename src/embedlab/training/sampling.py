"""Batch sampling: within a dataset, and across the parts of a multi-dataset run."""

from __future__ import annotations

from dataclasses import dataclass

from sentence_transformers.base.sampler import BatchSamplers, MultiDatasetBatchSamplers

from embedlab.errors import UserError


@dataclass
class Sampling:
    """sentence-transformers' batch samplers, chosen by name.

    Args:
        batch_sampler: batch_sampler | no_duplicates | group_by_label (within one dataset).
        multi_dataset: round_robin | proportional (across the parts of a multi-part run).
    """

    batch_sampler: str = "batch_sampler"
    multi_dataset: str = "proportional"

    def __post_init__(self) -> None:
        for key, enum in (("batch_sampler", BatchSamplers), ("multi_dataset", MultiDatasetBatchSamplers)):
            value = getattr(self, key)
            try:
                enum(value)
            except ValueError:
                options = ", ".join(member.value for member in enum)
                raise UserError(f"sampler.{key}={value} is unknown; expected one of {options}") from None

    def training_kwargs(self) -> dict[str, object]:
        return {
            "batch_sampler": BatchSamplers(self.batch_sampler),
            "multi_dataset_batch_sampler": MultiDatasetBatchSamplers(self.multi_dataset),
        }
