"""conf/sampler/ -> the trainer's arguments: each option's samplers reach sentence-transformers under the names
its training arguments take (found by walking the folder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from embedlab.config import build

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF / "sampler").glob("*.yaml")))
def test_each_sampler_option_sets_the_trainers_samplers(option, tmp_path):
    from sentence_transformers.sentence_transformer import SentenceTransformerTrainingArguments

    node = OmegaConf.load(CONF / "sampler" / f"{option}.yaml")
    sampling = build(node, where="sampler")
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), **sampling.training_kwargs())
    if node.batch_sampler == "in_order":  # ours: sentence-transformers takes a DefaultBatchSampler subclass
        from embedlab.training.sampling import InOrderBatchSampler

        assert args.batch_sampler is InOrderBatchSampler
    else:
        assert args.batch_sampler.value == node.batch_sampler
    assert args.multi_dataset_batch_sampler.value == node.multi_dataset


def test_in_order_keeps_each_run_of_rows_together_and_shuffles_the_runs_by_epoch():
    from datasets import Dataset

    from embedlab.training.sampling import InOrderBatchSampler

    data = Dataset.from_dict({"anchor": [f"q{i}" for i in range(10)], "positive": [f"p{i}" for i in range(10)]})
    sampler = InOrderBatchSampler(data, batch_size=4, drop_last=False, seed=7)
    first = list(sampler)
    assert sorted(first) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(sampler) == 3
    sampler.set_epoch(1)
    orders = {tuple(map(tuple, first)), tuple(map(tuple, sampler))}
    sampler.set_epoch(2)
    orders.add(tuple(map(tuple, sampler)))
    assert len(orders) > 1  # another epoch, another order of the same batches
    assert (
        list(InOrderBatchSampler(data, batch_size=4, drop_last=True, seed=7)) != []
        and len(InOrderBatchSampler(data, batch_size=4, drop_last=True)) == 2
    )
