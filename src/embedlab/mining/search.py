"""Nearest corpus entries for each query: exact inner product on normalized vectors with FAISS."""

from __future__ import annotations

import logging

import numpy as np

from embedlab.errors import UserError

# FAISS GPU indexes return at most this many neighbours per query.
GPU_MAX_K = 2048


def import_faiss():
    """The `faiss` module, or a one-line error saying which build to install (they are optional extras)."""
    # its loader's INFO lines (which CPU build it tried and loaded: 8 lines, some naming a ModuleNotFoundError that
    # is no error) came before a grid's one `error:` line, and in every run's log; its warnings still show
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        import faiss
    except ImportError as exc:
        raise UserError(
            f"FAISS cannot be imported ({exc}); mining hard negatives needs it: "
            "pip install -e '.[cpu]', or '.[gpu]' on a CUDA machine (one of the two, not both)"
        ) from exc
    return faiss


def is_gpu_build() -> bool:
    """True when the installed FAISS is the faiss-gpu build (the `[gpu]` extra), with or without a GPU."""
    return hasattr(import_faiss(), "StandardGpuResources")


def gpu_available() -> bool:
    """True when the faiss-gpu build and a CUDA device are both present."""
    if not is_gpu_build() or import_faiss().get_num_gpus() < 1:
        return False
    import torch

    return torch.cuda.is_available()


def uses_gpu(k: int, n_corpus: int, use_gpu: bool | None = None) -> bool:
    """Whether `search` puts its index on the GPU for `k` neighbours in a corpus of `n_corpus` rows."""
    return bool(gpu_available() if use_gpu is None else use_gpu) and min(k, n_corpus) <= GPU_MAX_K


def search(
    corpus_embeddings: np.ndarray, query_embeddings: np.ndarray, k: int, use_gpu: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` corpus rows per query by inner product, best first.

    A flat (exact) index in float32 on the GPU when faiss-gpu and CUDA are present, else on the CPU, so
    both give the same neighbours. (sentence-transformers' own FAISS path stores float16 on the GPU.)

    Args:
        corpus_embeddings: (n_corpus, dim) normalized float32 vectors.
        query_embeddings: (n_queries, dim) normalized float32 vectors.
        k: neighbours per query; capped at the corpus size.
        use_gpu: None = use the GPU when available.

    Returns:
        scores and corpus indices, both (n_queries, min(k, n_corpus)).
    """
    faiss = import_faiss()
    corpus = np.ascontiguousarray(corpus_embeddings, dtype=np.float32)
    queries = np.ascontiguousarray(query_embeddings, dtype=np.float32)
    index = faiss.IndexFlatIP(corpus.shape[1])
    if uses_gpu(k, len(corpus), use_gpu):
        resources = faiss.StandardGpuResources()  # must outlive the search below
        index = faiss.index_cpu_to_gpu(resources, 0, index)
    index.add(corpus)
    scores, indices = index.search(queries, min(k, len(corpus)))
    return scores, indices
