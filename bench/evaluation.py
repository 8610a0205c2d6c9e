"""Part 5: embedlab's RetrievalEvaluator against sentence-transformers' InformationRetrievalEvaluator.

Same model object, queries, corpus, qrels and encoding batch size (64); one untimed warm-up encode, then
runs alternate. On the data as it is (no query text or id in the corpus) the metrics must be identical. Then
a set where every query also sits in the corpus under its own id (as in Quora): ours drops the self-match,
theirs ranks it first.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Settings, median, ratio, read_beir_folder, warm_up

PAIRS = {"ndcg_at_10": "cosine_ndcg@10", "mrr_at_10": "cosine_mrr@10", "acc_at_1": "cosine_accuracy@1"}


def compare(model, queries, corpus, relevant, repeats: int) -> dict[str, Any]:
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from embedlab.evaluation.retrieval import RetrievalEvaluator

    ours_eval = RetrievalEvaluator(queries, corpus, relevant, batch_size=64)
    theirs_eval = InformationRetrievalEvaluator(queries, corpus, relevant, batch_size=64, write_csv=False)
    times: dict[str, list[float]] = {"ours": [], "theirs": []}
    metrics: dict[str, dict[str, float]] = {}
    for i in range(repeats):
        for side in ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours"):
            start = time.perf_counter()
            metrics[side] = (ours_eval if side == "ours" else theirs_eval)(model)
            times[side].append(time.perf_counter() - start)
    ours = {k: metrics["ours"][k] for k in PAIRS}
    theirs = {k: metrics["theirs"][v] for k, v in PAIRS.items()}
    return {
        "queries": len(ours_eval.query_ids),
        "corpus": len(corpus),
        "raw_s": times,
        "median_s": {side: median(t) for side, t in times.items()},
        "time_ratio": ratio(median(times["ours"]), median(times["theirs"])),
        "ours": ours,
        "theirs": theirs,
        "max_abs_diff": max(abs(ours[k] - theirs[k]) for k in PAIRS),
    }


def run(settings: Settings) -> dict[str, Any]:
    from sentence_transformers.sentence_transformer import SentenceTransformer

    corpus, queries, qrels = read_beir_folder(settings.data)
    query_ids = sorted(qrels)[: 40 if settings.smoke else None]
    queries = {q: queries[q] for q in query_ids}
    relevant = {q: qrels[q] for q in query_ids}
    if settings.smoke:
        corpus = {d: corpus[d] for d in sorted({d for q in query_ids for d in relevant[q]} | set(sorted(corpus)[:40]))}
    model = SentenceTransformer(settings.model, device="cpu")
    model.max_seq_length = 256
    warm_up(model, list(corpus.values()))
    same = compare(model, queries, corpus, relevant, settings.repeats)

    # Queries in the corpus: at most 200 queries, their gold passages, 300 other passages, and the queries.
    few = query_ids[:200]
    gold = {d for q in few for d in relevant[q]}
    others = [d for d in sorted(corpus) if d not in gold][:300]
    leaky_corpus = {**{d: corpus[d] for d in [*sorted(gold), *others]}, **{q: queries[q] for q in few}}
    leaky = compare(model, {q: queries[q] for q in few}, leaky_corpus, {q: relevant[q] for q in few}, 1)
    return {"data": str(settings.data), "repeats": settings.repeats, "same_data": same, "queries_in_corpus": leaky}
