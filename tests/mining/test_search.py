"""search: exact top-k by inner product, and when it would put its index on the GPU."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from embedlab.errors import UserError
from embedlab.mining.search import GPU_MAX_K, search, uses_gpu


def test_returns_the_nearest_rows_best_first_capped_at_the_corpus_size():
    corpus = np.eye(3, dtype=np.float32)
    queries = np.array([[0.1, 0.9, 0.0], [0.8, 0.0, 0.6]], dtype=np.float32)
    scores, indices = search(corpus, queries, k=10, use_gpu=False)
    assert indices.tolist() == [[1, 0, 2], [0, 2, 1]]
    assert scores[:, 0].tolist() == [np.float32(0.9), np.float32(0.8)]


def test_the_gpu_takes_any_k_it_can_return_once_capped_at_the_corpus_size():
    assert uses_gpu(GPU_MAX_K + 1, n_corpus=100, use_gpu=True)  # only 100 neighbours exist
    assert not uses_gpu(GPU_MAX_K + 1, n_corpus=10_000, use_gpu=True)  # FAISS GPU returns at most 2048
    assert not uses_gpu(10, n_corpus=100, use_gpu=False)


def test_without_faiss_search_is_one_line_naming_the_extras_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(UserError, match=r"^FAISS cannot be imported .* \(one of the two, not both\)$"):
        search(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), k=1)
