"""Part 3: training samples/s and peak RSS for mnrl, cached_mnrl and cosine at batch 32 on the CPU.

Each loss runs in its own process (`python -m bench.throughput <loss> ...`) so its peak RSS is its own.
The losses come from conf/loss/*.yaml through embedlab's `build`, so the measured code is what a run uses.
Warm-up steps are trained first and not timed. A GPU section (batch 128 and 512 in bf16, peak GPU memory)
runs only where CUDA is available; it is skipped with a note otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from bench.common import Settings, median, peak_rss_mb, run_json

LOSSES = ("mnrl", "cached_mnrl", "cosine")


def train_batches(model_path: str, loss_name: str, data: str, batch_size: int, warmup: int, steps: int, device: str):
    """Time `steps` optimizer steps after `warmup` untimed ones; returns samples/s, the non-padding tokens of
    each timed step, the parameter count and peak memory (also `bench.gpu_check`'s training measurement)."""
    import torch
    from omegaconf import OmegaConf
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.config import REPO_ROOT, build
    from embedlab.data.physics import load_physics

    torch.manual_seed(0)
    model = SentenceTransformer(model_path, device=device)
    model.max_seq_length = 256
    loss_cfg = OmegaConf.load(REPO_ROOT / "conf" / "loss" / f"{loss_name}.yaml")
    loss = build(loss_cfg, where="loss")(model).to(device)
    rows = load_physics(path=data, seed=42).parts["pairs"].splits["train"]
    rng = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, tokens = [], []
    for step in range(warmup + steps):
        # distinct rows; a split smaller than the batch (batch 512 on a small DATA set) repeats some
        batch = rng.sample(rows, batch_size) if batch_size <= len(rows) else rng.choices(rows, k=batch_size)
        anchors, positives = [r["anchor"] for r in batch], [r["positive"] for r in batch]
        labels = None
        if loss_name == "cosine":  # scored pairs: half matched (1.0), half shuffled (0.0)
            half = batch_size // 2
            positives = positives[:half] + positives[half:][::-1]
            labels = torch.tensor([1.0] * half + [0.0] * (batch_size - half), device=device)
        features = [model.preprocess(texts) for texts in (anchors, positives)]
        count = sum(int(f["attention_mask"].sum()) for f in features)
        features = [{k: v.to(device) if hasattr(v, "to") else v for k, v in f.items()} for f in features]
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            value = loss(features, labels)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - start)
            tokens.append(count)
    out = {"samples_per_s": batch_size / median(times), "step_s": times, "peak_rss_mb": peak_rss_mb()}
    out |= {"step_tokens": tokens, "params": sum(p.numel() for p in model.parameters())}
    if device == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def run(settings: Settings) -> dict[str, Any]:
    import torch

    warmup, steps = (1, 1) if settings.smoke else (2, 6)
    cpu = {}
    for loss in LOSSES:
        args = [loss, settings.model, str(settings.train_data), "32", str(warmup), str(steps), "cpu"]
        cpu[loss] = run_json(["-m", "bench.throughput", *args])
    result: dict[str, Any] = {"batch_size": 32, "warmup_steps": warmup, "timed_steps": steps, "cpu": cpu}
    if torch.cuda.is_available():
        result["gpu"] = {
            f"{loss}@{batch}": run_json(
                [
                    "-m",
                    "bench.throughput",
                    loss,
                    settings.model,
                    str(settings.train_data),
                    str(batch),
                    str(warmup),
                    str(steps),
                    "cuda",
                ]
            )
            for loss in LOSSES
            for batch in (128, 512)
        }
    else:
        result["gpu"] = "skipped: no CUDA device on this machine"
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("loss", "model", "data"):
        parser.add_argument(name)
    for name in ("batch_size", "warmup", "steps"):
        parser.add_argument(name, type=int)
    parser.add_argument("device")
    a = parser.parse_args()
    print(json.dumps(train_batches(a.model, a.loss, a.data, a.batch_size, a.warmup, a.steps, a.device)))
