"""The printed table: every measured quantity gets a row, the GPU section included where there is one."""

from __future__ import annotations

from bench.table import raw_times, rows


def throughput(gpu) -> dict:
    cpu = {loss: {"samples_per_s": 18.0, "peak_rss_mb": 1600.0} for loss in ("mnrl", "cached_mnrl", "cosine")}
    return {"throughput": {"batch_size": 32, "cpu": cpu, "gpu": gpu}}


def test_gpu_throughput_gets_a_row_per_loss_and_batch_with_peak_gpu_memory():
    gpu = {
        f"{loss}@{batch}": {"samples_per_s": 100.0 * batch, "peak_rss_mb": 2000.0, "peak_gpu_mb": 3.5 * batch}
        for loss in ("mnrl", "cached_mnrl", "cosine")
        for batch in (128, 512)
    }
    table = {row[0]: row for row in rows(throughput(gpu))}
    row = table["throughput: cached_mnrl, batch 512, GPU bf16 (samples/s; peak GPU memory MB)"]
    assert row[1:3] == ("51200.0", "GPU 1792 MB")
    assert sum("GPU bf16" in name for name in table) == 6


def test_without_a_gpu_the_table_says_why():
    (gpu_row,) = [row for row in rows(throughput("skipped: no CUDA device on this machine")) if "GPU" in row[0]]
    assert gpu_row[1] == "skipped: no CUDA device on this machine"


def test_raw_times_are_printed_run_by_run_in_run_order():
    mining = {"raw": {"ours": [{"total_s": 5.85}, {"total_s": 5.45}], "theirs": [{"total_s": 5.56}, {"total_s": 6.0}]}}
    overhead = {"raw": {"ours": [{"wall_s": 94.94}, {"wall_s": 106.5}], "plain": [{"wall_s": 101.2}, {"wall_s": 99.0}]}}
    lines = raw_times({"mining": mining, "overhead": overhead, "evaluation": {"error": "boom"}})
    assert "- overhead wall (s): ours 94.9 / 106.5; plain 101.2 / 99.0" in lines
    assert "- mining total (s): ours 5.85 / 5.45; theirs 5.56 / 6.00" in lines
    assert not any("evaluation" in line for line in lines)  # a failed part has its FAILED row in the table


def test_precision_rows_put_bf16_against_plain_fp32_with_the_goals():
    part = {
        "cpu_has_fast_bf16": True,
        "auto_resolves_to": "bf16",
        "sizes": {
            "encode_texts": 256,
            "mining_pairs": 200,
            "mining_corpus": 256,
            "eval_queries": 200,
            "eval_corpus": 244,
        },
        "median": {
            "train_samples_per_s": {"bf16": 45.0, "fp32": 25.0},
            "encode_texts_per_s": {"bf16": 90.0, "fp32": 30.0},
            "mining_s": {"bf16": 2.0, "fp32": 6.0},
            "evaluation_s": {"bf16": 2.5, "fp32": 7.5},
        },
        "speedup": {"training": 1.8, "encode": 3.0, "mining": 3.0, "evaluation": 3.0},
        "ndcg_delta": {"base": -0.0012, "trained": 0.0004},
        "raw": {
            "train_step_s": {"bf16": [[0.7, 0.71]], "fp32": [[1.3, 1.28]]},
            "encode_s": {"bf16": [2.8], "fp32": [8.5]},
        },
    }
    found = rows({"precision": part})
    table = {row[0].split(" (")[0]: row for row in found}
    training = next(row for row in found if "training MNRL" in row[0])
    assert "CPU bf16 hardware: True, auto = bf16" in training[0]
    assert training[1:] == ("45.0", "25.0", "1.80", ">= 1.7")
    assert table["precision: encode 256 passages"][3:] == ("3.00", ">= 2.5")
    assert table["precision: ndcg@10 bf16 - fp32, base / trained"][1] == "-0.0012 / +0.0004"
    assert "- precision train_step_s: bf16 0.70 / 0.71; fp32 1.30 / 1.28" in raw_times({"precision": part})
