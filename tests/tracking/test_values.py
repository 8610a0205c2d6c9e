"""Swept values written short for run names and tags."""

from __future__ import annotations

from embedlab.tracking.values import short_number, short_value_tags, values_name


def test_numbers_keep_their_exponent_and_three_digits():
    assert short_number("4.816414530e-05") == "4.82e-5"
    assert short_number("14.70001") == "14.7"
    assert short_number("32") == "32"
    assert short_number("0.0001") == "1e-4"
    assert short_number("0.000291") == "2.91e-4"
    assert short_number("0.0015") == "0.0015"
    assert short_number("2e+20") == "2e20"
    assert short_number("mixed") == "mixed"


def test_name_uses_short_keys_unless_two_would_clash():
    name = values_name("training.batch_size=32 loss.scale=14.70001 training.lr=4.816414530e-05")
    assert name == "bs=32 scale=14.7 lr=4.82e-5"
    assert values_name(["loss.scale=10", "model.scale=2", "loss=mixed"]) == "loss.scale=10 model.scale=2 loss=mixed"


def test_value_tags_only_for_numbers_that_read_differently_short():
    assert short_value_tags("training.lr=4.816414530e-05 training.batch_size=32 loss.scale=10.0 loss=mnrl") == {
        "value.training.lr": "4.82e-5",
        "value.loss.scale": "10",
    }


def test_a_single_runs_name_carries_what_its_overrides_change():
    from embedlab.tracking.values import named_overrides

    overrides = [
        "training.batch_size=16",
        "loss.scale=40.0",
        "model=minilm_unnormalized",
        "loss=mnrl",  # already in the name: <dataset>-<loss>
        "dataset.path=/data/physics",  # a path says where, not what
        "tracking.uri=sqlite:////tmp/x.db",
        "hardware.threads=1",
        "++tracking.tags.reproduces=0123abcd",
    ]
    assert values_name(named_overrides(overrides)) == "bs=16 scale=40 model=minilm_unnormalized"
    assert values_name(named_overrides(["training.max_steps=4", "training.max_steps=2"])) == "steps=2"
    assert values_name(named_overrides(["training.batch_size=32"])) != values_name(
        named_overrides(["training.batch_size=16"])
    )
