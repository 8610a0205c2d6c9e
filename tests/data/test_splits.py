"""Splits by connected components: deterministic, disjoint, and robust to one large component."""

from __future__ import annotations

import pytest

from embedlab.data.splits import (
    SPLITS,
    check_disjoint,
    connected_components,
    drop_exact_duplicates,
    split_by_components,
    split_missing,
)
from embedlab.errors import UserError


def texts(row):
    return row


def test_components_join_rows_that_share_any_key():
    rows = [("a", "b"), ("c", "d"), ("b", "e"), ("f", "g"), ("e", "g")]
    assert connected_components(rows, texts) == [[0, 2, 3, 4], [1]]


def test_split_is_deterministic_and_disjoint():
    rows = [(f"q{i}", f"a{i}") for i in range(100)] + [("q1", "extra")]
    first = split_by_components(rows, texts, (0.8, 0.1, 0.1), seed=3, where="dataset")
    assert first == split_by_components(rows, texts, (0.8, 0.1, 0.1), seed=3, where="dataset")
    assert first != split_by_components(rows, texts, (0.8, 0.1, 0.1), seed=4, where="dataset")
    assert sum(len(first[s]) for s in SPLITS) == len(rows)
    assert len(first["validation"]) == pytest.approx(10, abs=2)
    check_disjoint(first, texts, "test")


def test_a_component_larger_than_an_evaluation_split_goes_to_train():
    hub = [("hub", f"spoke{i}") for i in range(30)]  # one component of 30 rows; validation holds about 10
    rows = hub + [(f"q{i}", f"a{i}") for i in range(70)]
    for seed in range(10):
        splits = split_by_components(rows, texts, (0.8, 0.1, 0.1), seed=seed, where="dataset")
        assert set(hub) <= set(splits["train"])
        assert splits["validation"] and splits["test"]


def test_exact_duplicates_keep_the_first():
    assert drop_exact_duplicates([("a", "b"), ("a", "c"), ("a", "b")], texts) == [("a", "b"), ("a", "c")]


def test_check_disjoint_names_the_text_and_splits():
    with pytest.raises(UserError, match="'shared' appears in both train and test"):
        check_disjoint({"train": [("shared",)], "validation": [], "test": [("shared",)]}, texts, "dataset=x")


def test_split_missing_keeps_given_splits_and_deals_the_rest_in_proportion():
    pool = [(f"q{i}", f"a{i}") for i in range(90)]
    test = [(f"t{i}", f"b{i}") for i in range(5)]
    splits, sources = split_missing(pool, {"test": test}, texts, (0.8, 0.1, 0.1), seed=0, where="dataset")
    assert splits["test"] == test
    assert len(splits["validation"]) == pytest.approx(10, abs=1)  # 90 rows at 8 : 1
    assert sorted(splits["train"] + splits["validation"]) == sorted(pool)
    assert sources == {"train": "made", "validation": "made", "test": "given"}

    splits, sources = split_missing([], {"train": pool}, texts, (0.8, 0.1, 0.1), seed=0, where="dataset")
    assert sum(len(splits[s]) for s in SPLITS) == 90 and splits["validation"] and splits["test"]
    assert sources["train"] == "given" and sources["test"] == "made"
