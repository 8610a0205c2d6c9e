"""A fake encoder whose similarities are set by hand, so the right negatives are known in advance."""

from __future__ import annotations

import numpy as np
import pytest


class FakeEncoder:
    """Maps each known text to a fixed unit vector; `encode_query` and `encode_document` as SentenceTransformer."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {text: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for text, v in vectors.items()}
        self.encoded: list[str] = []
        self.device = "cpu"

    def encode_document(self, texts, **kwargs):
        self.encoded += list(texts)
        return np.stack([self.vectors[t] for t in texts])

    encode_query = encode_document


def at(score: float) -> list[float]:
    """A unit vector whose inner product with (1, 0, 0) is `score`."""
    return [score, float(np.sqrt(1 - score**2)), 0.0]


@pytest.fixture
def planted():
    """One query; its gold passage at 0.90; a false negative at 0.95 (a paraphrase of the gold); negatives at
    0.85, 0.80, 0.60, 0.30. Scores are inner products with the query."""
    texts = {
        "query": [1.0, 0.0, 0.0],
        "gold": at(0.90),
        "paraphrase of gold": at(0.95),
        "close": at(0.85),
        "near": at(0.80),
        "far": at(0.60),
        "farthest": at(0.30),
    }
    corpus = ["farthest", "near", "paraphrase of gold", "gold", "close", "far"]
    return FakeEncoder(texts), [("query", "gold")], corpus
