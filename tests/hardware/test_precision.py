"""bf16 (autocast) against fp32 on the CPU: the same run, the same metrics within a stated tolerance.

Where the CPU has no bf16 instructions torch emulates them: slower, but the numbers are the ones a bf16 CPU
gives, so the comparison runs on every machine; the tiny model keeps it to seconds.
"""

from __future__ import annotations

import pytest

from embedlab_testing import runs, tiny_overrides, train_in

# bf16 keeps 8 bits of mantissa: a 2-layer model's metrics on 24 queries move by at most one rank flip or so
# (1/24 ~= 0.04 in acc@1), and its losses by well under 1%.
METRIC_TOLERANCE = 0.05
LOSS_RELATIVE_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def two_runs(tiny_model_path, physics_folder, tmp_path_factory):
    out = {}
    for precision in ("fp32", "bf16"):
        tmp = tmp_path_factory.mktemp(f"run-{precision}")
        _, uri = train_in(
            tmp,
            *tiny_overrides(tiny_model_path, physics_folder),
            "training.max_steps=4",
            "training.eval_steps=2",
            f"hardware.precision={precision}",
        )
        [run] = runs(uri, "physics")
        out[precision] = (run, tmp / "run")
    return out


def test_the_run_records_the_precision_it_trained_in(two_runs):
    for precision, (run, _) in two_runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.params["precision"] == precision


def test_bf16_metrics_agree_with_fp32(two_runs):
    fp32, bf16 = (two_runs[p][0].data.metrics for p in ("fp32", "bf16"))
    for name in ("test_ndcg_at_10", "test_mrr_at_10", "ndcg_at_10"):
        assert abs(bf16[name] - fp32[name]) <= METRIC_TOLERANCE, (name, fp32[name], bf16[name])
    assert bf16["val_loss"] != fp32["val_loss"]  # the bf16 run did compute in bf16
    for name in ("val_loss", "kept_val_loss"):
        assert abs(bf16[name] - fp32[name]) <= LOSS_RELATIVE_TOLERANCE * abs(fp32[name]), (name, fp32[name], bf16[name])


def test_bf16_checkpoints_keep_fp32_weights(two_runs):
    import torch
    from safetensors.torch import load_file

    [weights] = (two_runs["bf16"][1] / "best").rglob("model.safetensors")
    assert {tensor.dtype for tensor in load_file(weights).values()} == {torch.float32}
