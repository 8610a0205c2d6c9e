"""Leak-free retrieval evaluation: a query never counts itself as a hit."""

from __future__ import annotations

import hashlib
import json
import math
import random

import numpy as np
from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from embedlab.evaluation.encoding import encode_documents


class RetrievalEvaluator(BaseEvaluator):
    """Rank a corpus for each query by cosine similarity; report ndcg_at_10, mrr_at_10 and acc_at_1.

    Metrics follow sentence-transformers' ``InformationRetrievalEvaluator`` (binary relevance, ties broken
    by ascending corpus id), with one difference: a corpus entry with the same id or the same text as the
    query is removed from that query's ranking, as BEIR does for Quora, unless it is one of the query's relevant
    docs. Without this, a query that sits in the corpus finds itself first and Acc@1 collapses to 0; with it
    applied to relevant docs too, queries and passages numbered apart ("1" -> "1") would score 0.

    That difference is why this evaluator is ours while the similarity and triplet ones are the library's:
    sentence-transformers' ``InformationRetrievalEvaluator`` (6.2 and 6.3) has no way to leave a query's own entry out
    of its ranking (nor to rank a fixed corpus sample, `corpus_sample` below).

    Args:
        queries: query id -> text.
        corpus: doc id -> text.
        relevant: query id -> ids of relevant docs.
        k: cut-off for ndcg and mrr.
        batch_size: encoding batch size.
        corpus_sample: rank against the queries' relevant docs plus this many other docs, drawn once with
            `seed` (the same docs at every evaluation), instead of the whole corpus; None = the whole corpus.
            Absolute values are then higher than on the full corpus; what it keeps is the order of checkpoints
            (see docs/hardware.md).
        seed: seed of the distractor sample.
    """

    def __init__(
        self,
        queries: dict[str, str],
        corpus: dict[str, str],
        relevant: dict[str, set[str]],
        k: int = 10,
        batch_size: int = 64,
        corpus_sample: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.query_ids = [q for q in queries if relevant.get(q)]
        self.corpus_sample = corpus_sample
        if corpus_sample is not None:
            corpus = sample_corpus(corpus, {d for q in self.query_ids for d in relevant[q]}, corpus_sample, seed)
        self.queries = [queries[q] for q in self.query_ids]
        self.corpus_ids = sorted(corpus)
        self.corpus = [corpus[c] for c in self.corpus_ids]
        self.relevant = relevant
        self.k = k
        self.batch_size = batch_size
        self.primary_metric = f"ndcg_at_{k}"
        self._fingerprint: str | None = None
        position = {doc_id: i for i, doc_id in enumerate(self.corpus_ids)}
        by_text: dict[str, list[int]] = {}
        for i, text in enumerate(self.corpus):
            by_text.setdefault(text, []).append(i)
        # a query's own entry: the corpus entry with its text or its id, unless the user labeled it relevant to
        # the query (queries and passages numbered apart, "1" -> "1", or a gold passage that repeats its query)
        self.self_matches = [
            sorted(
                (set(by_text.get(text, [])) | ({position[q]} if q in position else set()))
                - {position[d] for d in relevant[q] if d in position}
            )
            for q, text in zip(self.query_ids, self.queries)
        ]

    def sampled(self, corpus_sample: int, seed: int = 0) -> RetrievalEvaluator:
        """The same queries against their relevant docs plus `corpus_sample` seeded distractors."""
        return RetrievalEvaluator(
            dict(zip(self.query_ids, self.queries)),
            dict(zip(self.corpus_ids, self.corpus)),
            self.relevant,
            k=self.k,
            batch_size=self.batch_size,
            corpus_sample=corpus_sample,
            seed=seed,
        )

    def __call__(
        self,
        model,
        output_path=None,
        epoch: int = -1,
        steps: int = -1,
        *args,
        corpus_embeddings: np.ndarray | None = None,
        **kwargs,
    ) -> dict[str, float]:
        """Metrics of `model`; `corpus_embeddings`, as sentence-transformers' evaluator takes them, are this corpus
        already encoded with `encode_documents(model, self.corpus, self.batch_size)` (None = encode it here)."""
        # encode_query / encode_document apply a model's query and document prompts, as sentence-transformers' own
        # evaluator does; they are plain `encode` for a model without prompts
        query_emb = model.encode_query(self.queries, batch_size=self.batch_size, normalize_embeddings=True)
        if corpus_embeddings is None:
            corpus_embeddings = encode_documents(model, self.corpus, self.batch_size)
        return self.score(np.asarray(query_emb) @ np.asarray(corpus_embeddings).T)

    def fingerprint(self) -> str:
        """sha256 of what this evaluator computes: queries, corpus, relevant docs, cut-off and batch size. Two
        evaluators with the same fingerprint return the same metrics for the same model in the same precision."""
        if self._fingerprint is None:
            relevant = {q: sorted(self.relevant[q]) for q in self.query_ids}
            parts = [type(self).__qualname__, self.query_ids, self.queries, relevant, self.corpus_ids, self.corpus]
            parts += [self.k, self.batch_size]
            self._fingerprint = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        return self._fingerprint

    def score(self, similarity: np.ndarray) -> dict[str, float]:
        """Metrics from a (queries x corpus) similarity matrix."""
        similarity = similarity.astype(np.float64, copy=True)
        for row, excluded in enumerate(self.self_matches):
            similarity[row, excluded] = -np.inf
        k = min(self.k, similarity.shape[1])
        ndcg, mrr, acc1 = [], [], []
        for row, query_id in enumerate(self.query_ids):
            candidates = np.argpartition(-similarity[row], k - 1)[:k]
            # sort by score descending, then by corpus id ascending (corpus_ids are sorted, so by index)
            top = sorted(candidates, key=lambda i: (-similarity[row, i], i))
            hits = [1 if self.corpus_ids[i] in self.relevant[query_id] else 0 for i in top]
            dcg = sum(hit / math.log2(rank + 2) for rank, hit in enumerate(hits))
            ideal = sum(1 / math.log2(rank + 2) for rank in range(min(len(self.relevant[query_id]), self.k)))
            ndcg.append(dcg / ideal)
            mrr.append(next((1 / (rank + 1) for rank, hit in enumerate(hits) if hit), 0.0))
            acc1.append(float(hits[0]) if hits else 0.0)
        return {
            f"ndcg_at_{self.k}": float(np.mean(ndcg)),
            f"mrr_at_{self.k}": float(np.mean(mrr)),
            "acc_at_1": float(np.mean(acc1)),
        }


def sample_corpus(corpus: dict[str, str], keep: set[str], size: int, seed: int) -> dict[str, str]:
    """`corpus` restricted to the ids in `keep` plus `size` others drawn with `seed` (all others if fewer)."""
    if size < 0:
        raise ValueError(f"corpus_sample={size}; expected >= 0 or None")
    others = sorted(doc_id for doc_id in corpus if doc_id not in keep)
    chosen = set(random.Random(seed).sample(others, min(size, len(others)))) | (keep & corpus.keys())
    return {doc_id: corpus[doc_id] for doc_id in sorted(chosen)}
