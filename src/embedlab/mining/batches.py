"""Batches of neighbours: training pairs ordered so that each batch holds queries whose gold passages are each
other's mined hard negatives (`phase=hard_negatives phase.negatives=batches`).

MNRL scores every query against every gold passage in its batch. With random batches those in-batch negatives
are mostly easy; a third column of mined negatives makes them hard but adds one passage per row to encode (on
SciQ a step took 26 s instead of 13). Here the mined negatives are other training queries' gold passages, and
the queries they belong to are put in the same batch, so the hard negatives come in the batch at the cost of a
pair. The idea is the one of topic-aware sampling (TAS-Balanced, Hofstätter et al., SIGIR 2021), which composes
batches from clusters of queries; here the clusters come from mining.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence


def neighbor_batches(
    rows: Sequence[tuple[str, str]], negatives: dict[str, list[str]], size: int, seed: int = 0
) -> list[list[int]]:
    """Row indices of `rows` ((query, gold passage) pairs) in batches of `size` (the last may be shorter).

    A batch is grown from a seeded random row, breadth-first: a row's query's mined `negatives` (passages, best
    first) bring in the rows whose gold passage they are, then those rows' negatives, until the batch is full.
    No batch repeats a text (a repeated query or passage would be a false in-batch negative), as
    sentence-transformers' no-duplicates sampler guarantees. Rows left in short batches are packed together.
    """
    by_positive: dict[str, list[int]] = {}
    for i, (_, positive) in enumerate(rows):
        by_positive.setdefault(positive, []).append(i)
    starts = list(range(len(rows)))
    random.Random(seed).shuffle(starts)
    placed: set[int] = set()
    full, rest = [], []
    for start in starts:
        if start in placed:
            continue
        batch, texts, frontier = [], set(), deque([start])
        while frontier and len(batch) < size:
            i = frontier.popleft()
            query, positive = rows[i]
            if i in placed or query in texts or positive in texts:
                continue
            batch.append(i)
            placed.add(i)
            texts |= {query, positive}
            for negative in negatives.get(query, []):
                frontier.extend(by_positive.get(negative, []))
        (full if len(batch) == size else rest).append(batch)
    return full + pack([i for batch in rest for i in batch], rows, size)


def pack(indices: list[int], rows: Sequence[tuple[str, str]], size: int) -> list[list[int]]:
    """`indices` in batches of exactly `size` (the last may be shorter: the sampler cuts the order into runs of
    `size`), with no text twice in a batch where that can be avoided."""
    batches: list[list[int]] = []
    waiting = deque(indices)
    while waiting:
        batch, texts, deferred = [], set(), deque()
        while waiting and len(batch) < size:
            i = waiting.popleft()
            if {*rows[i]} & texts:
                deferred.append(i)
                continue
            batch.append(i)
            texts |= {*rows[i]}
        while deferred and len(batch) < size:  # only rows that repeat this batch's texts are left
            batch.append(deferred.popleft())
        waiting = deferred + waiting
        batches.append(batch)
    return batches


def neighbors_in_batch(
    rows: Sequence[tuple[str, str]], negatives: dict[str, list[str]], batches: list[list[int]]
) -> float:
    """The share of rows whose batch holds at least one of their query's mined negatives as a gold passage."""
    hits = 0
    for batch in batches:
        positives = {rows[i][1] for i in batch}
        hits += sum(bool(positives & set(negatives.get(rows[i][0], []))) for i in batch)
    return hits / max(1, len(rows))
