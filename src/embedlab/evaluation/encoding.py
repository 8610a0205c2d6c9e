"""The one document encode that retrieval evaluation and mining both make, so either can use the other's result."""

from __future__ import annotations

import numpy as np


def encode_documents(model, texts: list[str], batch_size: int, **kwargs) -> np.ndarray:
    """`texts` as documents (the model's document prompt), normalized, in batches of `batch_size`: what
    `RetrievalEvaluator` ranks and mining searches (embedlab.phases.shared_work shares it); `kwargs` (e.g.
    `show_progress_bar`) change no number."""
    return np.asarray(model.encode_document(texts, batch_size=batch_size, normalize_embeddings=True, **kwargs))
