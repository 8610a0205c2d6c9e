"""Config -> MLflow params: one number, one spelling, whichever way it was typed."""

from __future__ import annotations

from embedlab.tracking.params import flatten


def test_a_number_has_one_spelling_whether_typed_as_int_or_float():
    # conf/loss/mnrl.yaml says `scale: 20.0`; a grid or the command line `loss.scale=20` gives an int
    assert flatten({"loss": {"scale": 20.0}}) == flatten({"loss": {"scale": 20}}) == {"loss.scale": "20"}
    assert flatten({"loss": {"scale": 40.0}})["loss.scale"] == flatten({"loss": {"scale": 40}})["loss.scale"]


def test_numbers_are_short_with_their_exponent_visible():
    params = flatten({"training": {"lr": 1.5957084612e-05, "warmup_ratio": 0.1, "batch_size": 32, "bf16": True}})
    assert params == {
        "training.lr": "1.6e-5",
        "training.warmup_ratio": "0.1",
        "training.batch_size": "32",
        "training.bf16": "True",  # a flag is not a number
    }
