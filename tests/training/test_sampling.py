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
    assert args.batch_sampler.value == node.batch_sampler
    assert args.multi_dataset_batch_sampler.value == node.multi_dataset
