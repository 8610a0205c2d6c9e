"""conf/training/ -> the trainer's arguments: the defaults Python needs are the ones the config states."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from omegaconf import OmegaConf

from embedlab.config import REPO_ROOT


@pytest.mark.parametrize("key", ["max_nonfinite_steps", "length_buckets"])
def test_a_training_default_is_stated_once_in_the_config(key):
    """conf/training/default.yaml holds the default; Python has none that could drift from it."""
    from embedlab.training.arguments import training_arguments
    from embedlab.training.embedding_arguments import EmbeddingTrainingArguments

    config = OmegaConf.load(REPO_ROOT / "conf" / "training" / "default.yaml")
    assert isinstance(config[key], int) and config[key] >= 1
    assert inspect.signature(training_arguments).parameters[key].default is inspect.Parameter.empty
    field = EmbeddingTrainingArguments.__dataclass_fields__[key]
    assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def test_warmup_leaves_at_least_one_step_that_trains(tmp_path):
    from embedlab.training.embedding_arguments import EmbeddingTrainingArguments

    def warmup(setting: float, steps: int) -> int:
        return EmbeddingTrainingArguments(
            output_dir=str(tmp_path), warmup_steps=setting, max_nonfinite_steps=3, length_buckets=1
        ).get_warmup_steps(steps)

    assert warmup(0.1, 1) == 0  # ceil(0.1) = 1 would be the only step, at learning rate 0
    assert [warmup(0.1, n) for n in (2, 10, 11, 300)] == [1, 1, 2, 30]  # as transformers computes it otherwise
    assert warmup(0.9, 5) == 4 and warmup(50, 10) == 9  # a ratio or a count that would cover every step


def test_the_starting_model_is_evaluated_unless_the_run_resumes(tmp_path):
    from embedlab.hardware.device import Hardware
    from embedlab.training.arguments import training_arguments
    from embedlab.training.sampling import Sampling

    def built(**kwargs):
        return training_arguments(
            tmp_path,
            Hardware(device="cpu", precision="fp32"),
            Sampling(),
            max_nonfinite_steps=3,
            length_buckets=4,
            **kwargs,
        )

    assert built().eval_on_start is True
    assert built(eval_on_start=False).eval_on_start is False  # run.train() passes `resume is None`
