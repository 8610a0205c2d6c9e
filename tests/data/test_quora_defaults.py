"""`dataset=quora` brings its own evaluation schedule and an eighth as many labeled pairs as duplicate pairs."""

from __future__ import annotations

import pytest

from embedlab.errors import UserError


def test_quora_evaluates_every_100_steps_and_other_data_every_10(compose_config):
    assert compose_config("dataset=quora", "loss=mixed").training.eval_steps == 100
    assert compose_config("dataset=physics").training.eval_steps == 10
    assert compose_config("dataset=quora", "training.eval_steps=7").training.eval_steps == 7


def test_the_training_arguments_get_the_eval_steps(tmp_path, compose_config):
    """The value reaches the trainer: the dataset's key is dropped before its loader is built, training's is not."""
    from embedlab.config import build
    from embedlab.training.sampling import Sampling

    for overrides, expected in ((["dataset=quora"], 100), (["dataset=quora", "training.eval_steps=1000"], 1000)):
        cfg = compose_config(*overrides)
        hardware = build(cfg.hardware, where="hardware")
        args = build(
            cfg.training, where="training", output_dir=tmp_path, seed=42, hardware=hardware, sampling=Sampling()
        )
        assert (args.eval_steps, args.save_steps) == (expected, expected)


def test_quora_trains_an_eighth_as_many_labeled_pairs_as_duplicate_pairs(compose_config):
    cfg = compose_config("dataset=quora", "loss=mixed")
    assert (cfg.dataset.pairs, cfg.dataset.labeled, cfg.sampler.multi_dataset) == (6700, 840, "proportional")


def test_the_dataset_key_is_not_an_argument_of_the_loader(compose_config):
    from embedlab.config import build

    cfg = compose_config("dataset=quora", "dataset.path=/nonexistent/quora.tsv")
    with pytest.raises(UserError, match="/nonexistent/quora.tsv") as error:  # the loader ran, found no file
        build(cfg.dataset, where="dataset", seed=42)
    assert "eval_steps" not in str(error.value)
