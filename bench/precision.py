"""Part 7: a plain fp32 sentence-transformers run against embedlab's bf16 path, side by side, on the CPU.

fp32 is what a plain script does (no autocast). bf16 is what embedlab does with `hardware.precision=bf16`:
training runs the model's forward under bf16 autocast with fp32 outputs and an fp32 loss head (what
transformers' `bf16=True` does on the CPU through accelerate), and every encode runs under
`embedlab.hardware.device.encoding_autocast`. Weights are fp32 on both sides.

Measured: MNRL training samples/s (batch 32, physics pairs), encode texts/s (the data's passages, batch 64),
mining time (`mine_hard_negatives`), evaluation time (`RetrievalEvaluator` on the data's queries) and the
ndcg@10 difference for the base model and for the model after the timed training steps. One untimed warm-up
per side; repeats alternate which side runs first. `cpu_has_fast_bf16` says whether this CPU has AMX or
AVX512-BF16: without them torch emulates bf16 and the ratios fall below 1 (then `hardware.precision=auto`
keeps fp32).
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import Any

from bench.common import Settings, median, ratio, read_beir_folder

SIDES = ("fp32", "bf16")


@contextlib.contextmanager
def precision(model, side: str, training: bool = False):
    """fp32: nothing. bf16: encodes under autocast; in training, the forward alone (outputs back to fp32)."""
    import torch

    from embedlab.hardware.device import encoding_autocast

    if side == "fp32":
        yield
        return
    if not training:
        with encoding_autocast("cpu", "bf16"):
            yield
        return
    forward = model.forward

    def bf16_forward(*args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = forward(*args, **kwargs)
        return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}

    model.forward = bf16_forward
    try:
        yield
    finally:
        del model.forward  # back to the class's method


def _alternate(repeats: int, measure) -> dict[str, list]:
    raw: dict[str, list] = {side: [] for side in SIDES}
    for i in range(repeats):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            raw[side].append(measure(side))
    return raw


def _train_step_s(model, loss, optimizer, rows, rng, side: str) -> float:
    batch = rng.sample(rows, 32) if len(rows) >= 32 else rng.choices(rows, k=32)
    features = [model.preprocess([r[c] for r in batch]) for c in ("anchor", "positive")]
    start = time.perf_counter()
    with precision(model, side, training=True):
        value = loss(features, None)
    value.backward()
    optimizer.step()
    optimizer.zero_grad()
    return time.perf_counter() - start


def run(settings: Settings) -> dict[str, Any]:
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embedlab.data.physics import load_physics
    from embedlab.evaluation.retrieval import RetrievalEvaluator
    from embedlab.hardware.device import Hardware, cpu_has_fast_bf16
    from embedlab.mining.hard_negatives import mine_hard_negatives

    smoke, repeats = settings.smoke, settings.repeats
    corpus, queries, qrels = read_beir_folder(settings.data)
    query_ids = sorted(qrels)[: 20 if smoke else 200]
    passages = list(corpus.values())[: 32 if smoke else 256]
    evaluator = RetrievalEvaluator(
        {q: queries[q] for q in query_ids}, corpus, qrels, batch_size=64, corpus_sample=20 if smoke else None
    )
    pairs = [(queries[q], corpus[d]) for q in query_ids for d in sorted(qrels[q])]
    rows = load_physics(path=settings.train_data, seed=42).parts["pairs"].splits["train"]
    torch.manual_seed(0)
    model = SentenceTransformer(settings.model, device="cpu")
    model.max_seq_length = 256
    for side in SIDES:  # warm-up: first-call costs (oneDNN kernels per dtype, buffers) off the clock
        with precision(model, side):
            model.encode(passages[:64], batch_size=64)

    def timed(fn):
        def measure(side: str) -> float:
            start = time.perf_counter()
            with precision(model, side):
                fn()
            return time.perf_counter() - start

        return measure

    def metrics() -> dict[str, dict[str, float]]:
        out = {}
        for side in SIDES:
            with precision(model, side):
                out[side] = evaluator(model)
        return out

    base = metrics()
    encode = _alternate(repeats, timed(lambda: model.encode(passages, batch_size=64)))
    mining = _alternate(
        repeats, timed(lambda: mine_hard_negatives(model, pairs, passages, batch_size=64, use_gpu=False))
    )
    evaluation = _alternate(repeats, timed(lambda: evaluator(model)))
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    rng = random.Random(0)
    steps = 1 if smoke else 3
    for side in SIDES:
        _train_step_s(model, loss, optimizer, rows, rng, side)  # warm-up step per side
    training = _alternate(
        repeats, lambda side: [_train_step_s(model, loss, optimizer, rows, rng, side) for _ in range(steps)]
    )
    trained = metrics()
    med = {
        "train_samples_per_s": {s: 32 / median([t for r in training[s] for t in r]) for s in SIDES},
        "encode_texts_per_s": {s: len(passages) / median(encode[s]) for s in SIDES},
        "mining_s": {s: median(mining[s]) for s in SIDES},
        "evaluation_s": {s: median(evaluation[s]) for s in SIDES},
    }
    return {
        "cpu_has_fast_bf16": cpu_has_fast_bf16(),
        "auto_resolves_to": Hardware(device="cpu", precision="auto").precision,
        "repeats": repeats,
        "sizes": {
            "encode_texts": len(passages),
            "mining_pairs": len(pairs),
            "mining_corpus": len(passages),
            "eval_queries": len(evaluator.query_ids),
            "eval_corpus": len(evaluator.corpus_ids),
            "train_batch": 32,
            "train_steps_per_repeat": steps,
        },
        "raw": {"train_step_s": training, "encode_s": encode, "mining_s": mining, "evaluation_s": evaluation},
        "median": med,
        "speedup": {
            "training": ratio(med["train_samples_per_s"]["bf16"], med["train_samples_per_s"]["fp32"]),
            "encode": ratio(med["encode_texts_per_s"]["bf16"], med["encode_texts_per_s"]["fp32"]),
            "mining": ratio(med["mining_s"]["fp32"], med["mining_s"]["bf16"]),
            "evaluation": ratio(med["evaluation_s"]["fp32"], med["evaluation_s"]["bf16"]),
        },
        "ndcg_at_10": {"base": base, "trained": trained},
        "ndcg_delta": {
            "base": base["bf16"]["ndcg_at_10"] - base["fp32"]["ndcg_at_10"],
            "trained": trained["bf16"]["ndcg_at_10"] - trained["fp32"]["ndcg_at_10"],
        },
    }
