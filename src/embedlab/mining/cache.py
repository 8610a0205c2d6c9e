"""Mined triplets on disk, under a key of model weights, data and mining parameters."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embedlab.mining.hard_negatives import MinedNegatives

# Bump when a change to the mining code changes what it picks for the same inputs.
MINING_VERSION = 2  # 2: sentence-transformers 6.3's candidates (one more; the query's own text removed)


def weights_hash(model) -> str:
    """sha256 of every parameter and buffer of a torch module (names, dtypes, shapes and values)."""
    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        # as raw bytes, so bfloat16 (which numpy lacks) hashes too
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def data_fingerprint(pairs: Sequence[tuple[str, str]], corpus: Sequence[str]) -> str:
    """sha256 of the (query, positive) pairs and the corpus, in order."""
    digest = hashlib.sha256()
    digest.update(json.dumps([list(pair) for pair in pairs]).encode())
    digest.update(json.dumps(list(corpus)).encode())
    return digest.hexdigest()


def mining_key(weights: str, data: str, params: dict[str, Any]) -> str:
    """The cache key: a short hash of the model's weights, the data and the mining parameters."""
    parts = {"version": MINING_VERSION, "weights": weights, "data": data, "params": params}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


class MiningCache:
    """One JSON file per key in `folder`; written to a temporary file and renamed, so never half written."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> MinedNegatives | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            return MinedNegatives(saved["triplets"], saved["stats"], saved["timings"])
        except (OSError, ValueError, KeyError):
            return None  # unreadable: mine again and overwrite it

    def save(self, key: str, mined: MinedNegatives, described: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        payload = {"key": key, **described, "stats": mined.stats, "timings": mined.timings, "triplets": mined.triplets}
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.replace(path)
        return path
