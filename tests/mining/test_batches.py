"""Batches of neighbours: each batch holds queries whose gold passages are each other's mined negatives."""

from __future__ import annotations

from embedlab.mining.batches import neighbor_batches, neighbors_in_batch


def topics(n_topics: int, per_topic: int) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Rows (q<t>_<i>, p<t>_<i>); each query's mined negatives are the other gold passages of its topic."""
    rows = [(f"q{t}_{i}", f"p{t}_{i}") for i in range(per_topic) for t in range(n_topics)]  # topics interleaved
    negatives = {q: [p2 for q2, p2 in rows if q2 != q and q2.split("_")[0] == q.split("_")[0]] for q, _ in rows}
    return rows, negatives


def test_each_batch_is_one_topic_when_topics_fill_batches():
    rows, negatives = topics(n_topics=4, per_topic=8)
    batches = neighbor_batches(rows, negatives, size=8, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(len(rows)))  # every row once
    assert all(len({rows[i][0].split("_")[0] for i in b}) == 1 for b in batches)
    assert neighbors_in_batch(rows, negatives, batches) == 1.0


def test_batches_are_full_but_the_last_and_never_repeat_a_text():
    rows, negatives = topics(n_topics=5, per_topic=7)
    rows += [("q0_0", "p_extra"), ("q_extra", "p1_1")]  # a query with two golds, a passage gold for two queries
    batches = neighbor_batches(rows, negatives, size=8, seed=0)
    assert [len(b) for b in batches[:-1]] == [8] * (len(batches) - 1) and 0 < len(batches[-1]) <= 8
    for batch in batches:
        texts = [text for i in batch for text in rows[i]]
        assert len(texts) == len(set(texts))


def test_random_pairs_without_negatives_still_all_train_and_the_order_is_seeded():
    rows = [(f"q{i}", f"p{i}") for i in range(50)]
    first = neighbor_batches(rows, {}, size=16, seed=1)
    assert sorted(i for b in first for i in b) == list(range(50))
    assert neighbor_batches(rows, {}, size=16, seed=1) == first != neighbor_batches(rows, {}, size=16, seed=2)
    assert neighbors_in_batch(rows, {}, first) == 0.0
