"""Part 7: a plain fp32 sentence-transformers run against embedlab's bf16 path, side by side, on the CPU.

fp32 is what a plain script does (no autocast). bf16 is what embedlab does with `hardware.precision=bf16`:
every encode runs under `embedlab.hardware.device.encoding_autocast`, and training runs through the trainer a
run uses, with the training arguments a run builds (`embedlab.training.arguments.training_arguments` with
`Hardware(precision=side)`, so `bf16=True` and accelerate's autocast around the whole loss computation, as in a
run). Weights are fp32 on both sides.

Training is timed as a run trains: each measurement is a fresh model trained for a few steps by
sentence-transformers' trainer (MNRL, batch 32, physics pairs, the run's sampler, optimizer and schedule, and
the run's `training.length_buckets` forwards per batch on both sides), without evaluation or checkpoints, and
reports the trainer's own `train_runtime` per step. An earlier version timed a hand-written step with autocast
around the forward alone, and disagreed with real runs (0.89x against 1.3-1.6x on an AMX Xeon); the next one
trained both sides unbucketed, padded to each batch's longest text, and said 1.70x where a real run's steps
were 1.44x on an AMD EPYC with AVX512-BF16 (bench/README.md, "CPU precision").

Measured: MNRL training samples/s (batch 32, physics pairs), encode texts/s (the data's passages, batch 64),
mining time (`mine_hard_negatives`), evaluation time (`RetrievalEvaluator` on the data's queries) and the
ndcg@10 difference for the base model and for the model after the timed training steps. One untimed warm-up
per side; repeats alternate which side runs first. `cpu_has_fast_bf16` says whether this CPU has AMX or
AVX512-BF16: without them torch emulates bf16 and the ratios fall below 1 (then `hardware.precision=auto`
keeps fp32).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, Settings, median, ratio, read_beir_folder

SIDES = ("fp32", "bf16")


def precision(side: str) -> contextlib.AbstractContextManager:
    """The context an encode runs under in a run with `hardware.precision=<side>`."""
    from embedlab.hardware.device import encoding_autocast

    return encoding_autocast("cpu", side)


def _alternate(repeats: int, measure) -> dict[str, list]:
    raw: dict[str, list] = {side: [] for side in SIDES}
    for i in range(repeats):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            raw[side].append(measure(side))
    return raw


def trained_for(settings: Settings, rows: list[dict], side: str, steps: int, out: Path) -> tuple[float, Any]:
    """A fresh model trained `steps` steps the way a run trains it in `side` precision: (seconds per step, model).

    The trainer's own `train_runtime` (data loading, forward and loss under accelerate's autocast, backward,
    clipping, optimizer and schedule), divided by the steps; no evaluation and no checkpoint inside it.
    """
    import dataclasses

    import torch
    from datasets import Dataset
    from hydra import compose, initialize_config_dir
    from sentence_transformers.sentence_transformer import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embedlab.config import build
    from embedlab.hardware.device import Hardware
    from embedlab.training.padding import install_length_buckets

    torch.manual_seed(0)
    model = SentenceTransformer(settings.model, device="cpu")
    model.max_seq_length = 256
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["training.batch_size=32", f"training.max_steps={steps}"])
    args = build(  # as run.train() builds them, from conf/training/default.yaml and conf/sampler/
        cfg.training,
        where="training",
        output_dir=out,
        seed=cfg.seed,
        hardware=Hardware(device="cpu", precision=side),
        sampling=build(cfg.sampler, where="sampler"),
    )
    args = dataclasses.replace(
        args, eval_strategy="no", save_strategy="no", load_best_model_at_end=False, eval_on_start=False
    )
    dataset = Dataset.from_list([{"anchor": r["anchor"], "positive": r["positive"]} for r in rows])
    install_length_buckets(model, args.length_buckets)  # as a run's EmbeddingTrainer does, on both sides
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=dataset, loss=MultipleNegativesRankingLoss(model)
    )
    runtime = trainer.train().metrics["train_runtime"]
    return runtime / steps, model


def run(settings: Settings) -> dict[str, Any]:
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer

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
        with precision(side):
            model.encode(passages[:64], batch_size=64)

    def timed(fn):
        def measure(side: str) -> float:
            start = time.perf_counter()
            with precision(side):
                fn()
            return time.perf_counter() - start

        return measure

    def metrics() -> dict[str, dict[str, float]]:
        out = {}
        for side in SIDES:
            with precision(side):
                out[side] = evaluator(model)
        return out

    base = metrics()
    encode = _alternate(repeats, timed(lambda: model.encode(passages, batch_size=64)))
    mining = _alternate(
        repeats, timed(lambda: mine_hard_negatives(model, pairs, passages, batch_size=64, use_gpu=False))
    )
    evaluation = _alternate(repeats, timed(lambda: evaluator(model)))
    steps = 2 if smoke else 8
    out = settings.out / "precision-trainer"
    for side in SIDES:  # warm-up run per side: first-call costs (kernels per dtype, the trainer's set-up)
        trained_for(settings, rows, side, 1, out)
    training: dict[str, list] = {side: [] for side in SIDES}
    trained_models = {}
    for i in range(repeats):
        for side in SIDES if i % 2 == 0 else SIDES[::-1]:
            step_s, trained_models[side] = trained_for(settings, rows, side, steps, out)
            training[side].append(step_s)
    trained = {}
    for side in SIDES:  # each side's trained model, evaluated in its own precision
        with precision(side):
            trained[side] = evaluator(trained_models[side])
    med = {
        "train_samples_per_s": {s: 32 / median(training[s]) for s in SIDES},
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
            "training": "the trainer a run uses, train_runtime / steps",
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
