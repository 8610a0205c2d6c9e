"""Batch sampling: within a dataset, and across the parts of a multi-dataset run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from sentence_transformers.base.sampler import BatchSamplers, DefaultBatchSampler, MultiDatasetBatchSamplers

IN_ORDER = "in_order"  # ours: the batches the data's order makes (phase=hard_negatives with negatives=batches)


class InOrderBatchSampler(DefaultBatchSampler):
    """Batches of consecutive rows, as the data is ordered; the order of the batches is shuffled each epoch.

    `phase=hard_negatives phase.negatives=batches` orders its training pairs so that each run of
    `training.batch_size` rows holds queries whose gold passages are each other's mined hard negatives; this
    sampler keeps those runs together, so MNRL's in-batch negatives are the hard ones at no extra encoding.
    """

    def batches(self) -> list[list[int]]:
        n = len(self.sampler)  # sentence-transformers' DefaultBatchSampler keeps the dataset as `sampler`
        chunks = [list(range(i, min(i + self.batch_size, n))) for i in range(0, n, self.batch_size)]
        return chunks[:-1] if self.drop_last and chunks and len(chunks[-1]) < self.batch_size else chunks

    def __iter__(self) -> Iterator[list[int]]:
        chunks = self.batches()
        generator = torch.Generator().manual_seed(self.seed + getattr(self, "epoch", 0))
        for i in torch.randperm(len(chunks), generator=generator).tolist():
            yield chunks[i]

    def __len__(self) -> int:
        return len(self.batches())


@dataclass
class Sampling:
    """sentence-transformers' batch samplers, chosen by name.

    Args:
        batch_sampler: batch_sampler | no_duplicates | group_by_label (within one dataset), or in_order (ours:
            the batches the data's order makes, `InOrderBatchSampler`).
        multi_dataset: round_robin | proportional (across the parts of a multi-part run).

    The names are checked where the config is composed (`embedlab.schema.groups.SAMPLER`), not here.
    """

    batch_sampler: str = "batch_sampler"
    multi_dataset: str = "proportional"

    def training_kwargs(self) -> dict[str, object]:
        return {
            "batch_sampler": InOrderBatchSampler
            if self.batch_sampler == IN_ORDER
            else BatchSamplers(self.batch_sampler),
            "multi_dataset_batch_sampler": MultiDatasetBatchSamplers(self.multi_dataset),
        }
