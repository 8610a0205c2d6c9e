"""Evaluation fixtures: the tiny model, loaded once, and five unrelated sentences."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def model(tiny_model_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    return SentenceTransformer(tiny_model_path, device="cpu")


@pytest.fixture
def sentences() -> list[str]:
    return [
        "how do I learn python programming",
        "best recipe for chocolate cake",
        "why is the sky blue today",
        "what is the capital of france",
        "how to train a neural network",
    ]
