"""The Python half of `bench/gpu_check.sh`: bf16 training throughput, peak memory and MFU, and FAISS mining.

`python -m bench.gpu_check OUTDIR [--skip-cuda] [--steps N]` writes `training.json` and `mining.json` under
OUTDIR. Training: MNRL on the bundled physics pairs at batch 128 and 512, under bf16 autocast on cuda, after
two untimed warm-up steps. MFU = achieved FLOP/s / the GPU's dense bf16 peak, with FLOPs estimated as
6 x parameters x tokens (forward + backward; attention's own FLOPs left out, so MFU is a slight underestimate).
Tokens are the non-padding tokens of both sides of each pair. `--skip-cuda` runs the same code on the CPU at
batch 8 for two steps and mines 20 queries: it proves the pieces run on a machine without a GPU, measures nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import BUNDLED_PHYSICS, minilm_path

# Dense bf16 peak (TFLOP/s, no sparsity) by the name torch reports; PEAK_TFLOPS overrides for other GPUs.
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((value for key, value in BF16_PEAK_TFLOPS.items() if key in name), None)


def train_throughput(batch_size: int, steps: int, device: str, peak: float | None) -> dict:
    """Samples/s, tokens/s, peak GPU memory and MFU for `steps` timed MNRL steps at `batch_size`
    (`bench.throughput.train_batches`: bf16 autocast on cuda, fp32 on the CPU stand-in)."""
    from bench.throughput import train_batches

    measured = train_batches(minilm_path(), "mnrl", str(BUNDLED_PHYSICS), batch_size, 2, steps, device)
    times, tokens, params = measured["step_s"], measured["step_tokens"], measured["params"]
    seconds = sum(times)
    flops_per_s = 6 * params * sum(tokens) / seconds
    return {
        "batch_size": batch_size,
        "device": device,
        "timed_steps": steps,
        "step_s": times,
        "samples_per_s": batch_size * steps / seconds,
        "tokens_per_s": sum(tokens) / seconds,
        "params": params,
        "achieved_tflops": flops_per_s / 1e12,
        "peak_bf16_tflops": peak,
        "mfu": flops_per_s / (peak * 1e12) if peak else None,
        "peak_gpu_memory_mb": measured.get("peak_gpu_mb"),
    }


def faiss_mining(device: str, limit: int | None = None) -> dict:
    """Mine the bundled physics pairs (the first `limit` queries) with FAISS on the GPU (the [gpu] extra)."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from bench.common import read_beir_folder
    from embedlab.mining.hard_negatives import mine_hard_negatives
    from embedlab.mining.search import gpu_available

    corpus, queries, qrels = read_beir_folder(BUNDLED_PHYSICS)
    pairs = [(queries[q], corpus[d]) for q in sorted(qrels)[:limit] for d in sorted(qrels[q])]
    model = SentenceTransformer(minilm_path(), device=device)
    on_gpu = device == "cuda" and gpu_available()
    mined = mine_hard_negatives(model, pairs, list(corpus.values()), batch_size=128, use_gpu=on_gpu)
    return {
        "faiss_gpu_available": gpu_available(),
        "search_on_gpu": mined.stats.get("search_on_gpu"),
        "timings": mined.timings,
        "triplets": mined.stats.get("triplets"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--skip-cuda", action="store_true", help="CPU, batch 8, two steps: the pieces run")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--peak-tflops", type=float, default=None)
    a = parser.parse_args()
    import torch

    device = "cpu" if a.skip_cuda else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("error: torch sees no CUDA device; expected a GPU (or --skip-cuda)")
        return 2
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    peak = peak_tflops(name, a.peak_tflops)
    a.out.mkdir(parents=True, exist_ok=True)
    batches, steps = ((8,), 2) if a.skip_cuda else ((128, 512), a.steps)
    training = {
        "gpu": name,
        "torch": torch.__version__,
        "runs": [train_throughput(b, steps, device, peak) for b in batches],
    }
    (a.out / "training.json").write_text(json.dumps(training, indent=2))
    (a.out / "mining.json").write_text(json.dumps(faiss_mining(device, 20 if a.skip_cuda else None), indent=2))
    for run in training["runs"]:
        print(f"batch {run['batch_size']}: {run['samples_per_s']:.0f} samples/s, MFU {run['mfu']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
