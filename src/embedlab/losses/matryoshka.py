"""`loss=matryoshka`: wrap any loss so it also trains truncated embeddings."""

from __future__ import annotations

from collections.abc import Callable

from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss


def matryoshka(model, loss: Callable, dims: list[int], weights: list[float] | None = None) -> MatryoshkaLoss:
    """MatryoshkaLoss around `loss(model)`.

    Args:
        model: the SentenceTransformer being trained.
        loss: a loss partial, e.g. MultipleNegativesRankingLoss with its arguments bound.
        dims: embedding sizes to train, largest first (e.g. [384, 256, 128, 64]).
        weights: weight of each size; None = equal.
    """
    return MatryoshkaLoss(model, loss(model), matryoshka_dims=dims, matryoshka_weights=weights)
