"""conf/training/ -> the trainer's arguments: the defaults Python needs are the ones the config states."""

from __future__ import annotations

from omegaconf import OmegaConf

from embedlab.config import REPO_ROOT
from embedlab.training import MAX_NONFINITE_STEPS


def test_the_default_of_max_nonfinite_steps_is_the_configs():
    from embedlab.training.embedding_arguments import EmbeddingTrainingArguments

    config = OmegaConf.load(REPO_ROOT / "conf" / "training" / "default.yaml")
    assert config.max_nonfinite_steps == MAX_NONFINITE_STEPS
    assert EmbeddingTrainingArguments.__dataclass_fields__["max_nonfinite_steps"].default == MAX_NONFINITE_STEPS
