"""Part 4: embedlab's mining against sentence-transformers' `mine_hard_negatives`.

Same model object, corpus, (query, gold passage) pairs, window (num_negatives, range_min, range_max),
relative margin, encoding batch size and an exact FAISS search on both sides (the library with
`use_faiss=True`; with the faiss-gpu build, its exact torch search instead: see `library_faiss_is_exact`).
After one untimed warm-up encode, runs alternate and which side goes first alternates.
Our split of the time comes from `MinedNegatives.timings`; the library's encoding time is measured by
wrapping the model's encode methods, the rest of its time is search + filtering. Overlap: |ours & theirs| /
|ours | theirs| over (anchor, positive, negative) triplets.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Settings, median, ratio, read_beir_folder, warm_up

WINDOW = {"num_negatives": 1, "range_min": 0, "range_max": 20, "relative_margin": 0.05}  # conf/phase/hard_negatives


class EncodeTimer:
    """Wraps a SentenceTransformer's encode methods on the instance and sums the seconds spent in them."""

    def __init__(self, model) -> None:
        self.seconds = 0.0
        self.depth = 0
        for name in ("encode", "encode_query", "encode_document"):
            setattr(model, name, self.timed(getattr(model, name)))

    def timed(self, method):
        def wrapper(*args, **kwargs):
            self.depth += 1  # encode_query calls encode: count the outermost call only
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.depth -= 1
                if self.depth == 0:
                    self.seconds += time.perf_counter() - start

        return wrapper


def mining_inputs(settings: Settings, limit: int | None) -> tuple[list[tuple[str, str]], list[str]]:
    corpus, queries, qrels = read_beir_folder(settings.data)
    query_ids = sorted(qrels)[:limit]
    pairs = [(queries[q], corpus[d]) for q in query_ids for d in sorted(qrels[q])]
    return pairs, list(corpus.values())


def run(settings: Settings) -> dict[str, Any]:
    from datasets import Dataset
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives as library_mine

    from bench.library_faiss import library_faiss_is_exact
    from embedlab.mining.hard_negatives import mine_hard_negatives

    pairs, corpus = mining_inputs(settings, 40 if settings.smoke else None)
    model = SentenceTransformer(settings.model, device="cpu")
    model.max_seq_length = 256
    warm_up(model, corpus)
    dataset = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    library_faiss = library_faiss_is_exact()
    raw: dict[str, list[dict[str, float]]] = {"ours": [], "theirs": []}
    found: dict[str, set] = {}
    for i in range(settings.repeats):
        for side in ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours"):
            if side == "ours":
                mined = mine_hard_negatives(model, pairs, corpus, batch_size=64, use_gpu=False, **WINDOW)
                raw["ours"].append(mined.timings)
                found["ours"] = {(t["anchor"], t["positive"], t["negative"]) for t in mined.triplets}
                continue
            timer = EncodeTimer(model)
            start = time.perf_counter()
            theirs = library_mine(
                dataset,
                model,
                corpus=corpus,
                use_faiss=library_faiss,
                verbose=False,
                output_format="triplet",
                batch_size=64,
                **WINDOW,
            )
            total = time.perf_counter() - start
            for name in ("encode", "encode_query", "encode_document"):
                model.__dict__.pop(name)  # back to the class's methods
            raw["theirs"].append(
                {"encode_s": timer.seconds, "search_filter_s": total - timer.seconds, "total_s": total}
            )
            found["theirs"] = set(zip(theirs["anchor"], theirs["positive"], theirs["negative"]))
    med = {side: {k: median([t[k] for t in runs]) for k in runs[0]} for side, runs in raw.items()}
    union = found["ours"] | found["theirs"]
    return {
        "data": str(settings.data),
        "pairs": len(pairs),
        "corpus": len(set(corpus) | {p for _, p in pairs}),
        "settings": WINDOW,
        "library_search": "faiss" if library_faiss else "torch (exact; faiss-gpu build installed)",
        "repeats": settings.repeats,
        "raw": raw,
        "median": med,
        "total_ratio": ratio(med["ours"]["total_s"], med["theirs"]["total_s"]),
        "encode_ratio": ratio(med["ours"]["encode_s"], med["theirs"]["encode_s"]),
        "triplets": {"ours": len(found["ours"]), "theirs": len(found["theirs"])},
        "overlap": len(found["ours"] & found["theirs"]) / len(union) if union else 1.0,
    }
