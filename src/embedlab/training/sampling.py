"""Batch sampling: within a dataset, and across the parts of a multi-dataset run."""

from __future__ import annotations

from dataclasses import dataclass

from sentence_transformers.base.sampler import BatchSamplers, MultiDatasetBatchSamplers


@dataclass
class Sampling:
    """sentence-transformers' batch samplers, chosen by name.

    Args:
        batch_sampler: batch_sampler | no_duplicates | group_by_label (within one dataset).
        multi_dataset: round_robin | proportional (across the parts of a multi-part run).

    The names are checked where the config is composed (`embedlab.schema.groups.SAMPLER`), not here.
    """

    batch_sampler: str = "batch_sampler"
    multi_dataset: str = "proportional"

    def training_kwargs(self) -> dict[str, object]:
        return {
            "batch_sampler": BatchSamplers(self.batch_sampler),
            "multi_dataset_batch_sampler": MultiDatasetBatchSamplers(self.multi_dataset),
        }
