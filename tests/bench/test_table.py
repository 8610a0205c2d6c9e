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
