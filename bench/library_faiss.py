"""Whether sentence-transformers' own FAISS search can be compared with ours: used by bench/mining.py and tests."""

from __future__ import annotations

from embedlab.mining.search import is_gpu_build


def library_faiss_is_exact() -> bool:
    """Whether sentence-transformers' `mine_hard_negatives(use_faiss=True)` searches as `search` does, exactly in
    float32 on the CPU. With the faiss-gpu build it moves its index to all GPUs in float16, and on a machine
    without one faiss 1.15.1 gives it an IndexShards with no shards, whose search kills the process
    (segmentation fault). Comparisons with the library use its exact torch search then (`use_faiss=False`)."""
    return not is_gpu_build()
