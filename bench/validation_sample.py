"""Does a sampled validation corpus rank checkpoints as the full corpus does, and what does bf16 change?

`python -m bench.validation_sample --data DIR [--steps 4 8 16] [--reference N] [--samples 50 150] [--bf16 0 16]`

Trains MiniLM with MNRL (batch 32, lr 5e-5) on the dataset's training pairs (embedlab's own split of a BEIR
folder, seed 42) and keeps the model at step 0 and at each of `--steps`. Each checkpoint encodes the validation
queries and a reference corpus once (the whole corpus, or with `--reference N` the queries' relevant docs plus
N seeded others, to keep one-thread runs short); the sampled evaluations are computed from the same embeddings
on the sub-corpora `RetrievalEvaluator.sampled` picks, so they differ from the reference only by the corpus.
`--bf16 0 16` also encodes the smallest sample under bf16 autocast at those checkpoints, for the ndcg@10
difference to fp32. Prints one JSON line; one thread unless `--threads`.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path


def _train(model, pairs, steps: list[int], seed: int = 0):
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    rng = random.Random(seed)
    snapshots, step_s = {0: copy.deepcopy(model.state_dict())}, []
    for step in range(1, max(steps) + 1):
        batch = rng.sample(pairs, 32)
        features = [model.preprocess([r[c] for r in batch]) for c in ("anchor", "positive")]
        start = time.perf_counter()
        loss(features, None).backward()
        optimizer.step()
        optimizer.zero_grad()
        step_s.append(time.perf_counter() - start)
        if step in steps:
            snapshots[step] = copy.deepcopy(model.state_dict())
    return snapshots, step_s


def _scores(evaluator, reference, query_emb, corpus_emb):
    position = {doc_id: i for i, doc_id in enumerate(reference.corpus_ids)}
    columns = [position[d] for d in evaluator.corpus_ids]
    return evaluator.score(query_emb @ corpus_emb[columns].T)


def run(data: Path, model_path: str, steps: list[int], reference_size: int | None, samples: list[int], bf16: list[int]):
    import numpy as np
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.data.table import load_table
    from embedlab.evaluation.retrieval import RetrievalEvaluator

    bundle = load_table(name="local", kind="retrieval", path=str(data), seed=42)
    val = bundle.retrieval["validation"]
    reference = RetrievalEvaluator(val.queries, bundle.corpus, val.relevant, corpus_sample=reference_size)
    sampled = {n: reference.sampled(n) for n in samples}
    model = SentenceTransformer(model_path, device="cpu")
    model.max_seq_length = 256
    snapshots, step_s = _train(model, bundle.parts["pairs"].splits["train"], steps)
    out = {
        "queries": len(reference.query_ids),
        "full_corpus": len(bundle.corpus),
        "reference_corpus": len(reference.corpus_ids),
        "sample_corpus": {n: len(e.corpus_ids) for n, e in sampled.items()},
        "train_step_s": step_s,
        "checkpoints": {},
    }
    for step, state in snapshots.items():
        model.load_state_dict(state)
        start = time.perf_counter()
        query_emb = np.asarray(model.encode_query(reference.queries, batch_size=64, normalize_embeddings=True))
        queries_s = time.perf_counter() - start
        corpus_emb = np.asarray(model.encode_document(reference.corpus, batch_size=64, normalize_embeddings=True))
        row = {
            "encode_queries_s": queries_s,
            "encode_corpus_s": time.perf_counter() - start - queries_s,
            "reference": reference.score(query_emb @ corpus_emb.T),
            "sampled": {n: _scores(e, reference, query_emb, corpus_emb) for n, e in sampled.items()},
        }
        if step in bf16:
            smallest = sampled[min(samples)]
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                metrics = smallest(model)
            row["bf16"] = {
                "corpus": len(smallest.corpus_ids),
                "s": time.perf_counter() - start,
                "metrics": metrics,
                "fp32_metrics": row["sampled"][min(samples)],
            }
        out["checkpoints"][step] = row
        print(json.dumps({"step": step, **{k: v for k, v in row.items()}}), flush=True)
    order = lambda key: sorted(out["checkpoints"], key=lambda s: -key(out["checkpoints"][s]))  # noqa: E731
    out["ranking"] = {
        "reference": order(lambda r: r["reference"]["ndcg_at_10"]),
        **{n: order(lambda r, n=n: r["sampled"][n]["ndcg_at_10"]) for n in samples},
    }
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--reference", type=int, default=None)
    parser.add_argument("--samples", type=int, nargs="+", default=[50, 150])
    parser.add_argument("--bf16", type=int, nargs="*", default=[], help="checkpoints (steps) to also encode in bf16")
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model is None:
        from bench.common import minilm_path

        a.model = minilm_path()
    print(json.dumps(run(a.data, a.model, a.steps, a.reference, a.samples, a.bf16)))
