"""`phase.reranker`: an optional cross-encoder that re-scores the mined candidates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from embedlab.errors import UserError
from embedlab.models.folder import check_hub_model, looks_local


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder, checked when the config is built and loaded when mining starts.

    Args:
        model: a local cross-encoder folder or a hub id; None = no re-ranking.
        batch_size: pairs per forward pass.
        max_length: truncate (query, passage) pairs to this many tokens; None keeps the model's setting.
    """

    def __init__(self, model: str | None = None, batch_size: int = 32, max_length: int | None = None) -> None:
        self.name_or_path = str(model) if model else None
        self.batch_size = batch_size
        self.max_length = max_length
        if self.name_or_path and looks_local(self.name_or_path):
            path = Path(self.name_or_path).expanduser()
            if not (path / "config.json").exists():
                raise UserError(
                    f"phase.reranker.model={self.name_or_path} does not exist or is not a model folder "
                    "(expected config.json inside); give a cross-encoder folder, a hub id, or null"
                )
            check_cross_encoder_folder(path, self.name_or_path)
        elif self.name_or_path:
            check_hub_model(self.name_or_path, key="phase.reranker.model")

    @property
    def enabled(self) -> bool:
        return self.name_or_path is not None

    def load(self, device: str | None = None):
        """The CrossEncoder, or None when no re-ranker is configured."""
        if not self.enabled:
            return None
        from sentence_transformers.cross_encoder import CrossEncoder

        path = str(Path(self.name_or_path).expanduser()) if looks_local(self.name_or_path) else self.name_or_path
        try:
            return CrossEncoder(path, device=device, max_length=self.max_length)
        except OSError as exc:
            raise UserError(
                f"phase.reranker.model={self.name_or_path} could not be loaded ({str(exc).splitlines()[0]}); "
                "expected a local cross-encoder folder, or a hub id with the hub or its cache reachable"
            ) from None


# Heads that score a (query, passage) pair: what sentence-transformers' CrossEncoder loads as a reranker.
SCORING_HEADS = ("ForSequenceClassification", "ForCausalLM")


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def cross_encoder_evidence(folder: Path) -> str | None:
    """Why a local model folder is not a cross-encoder, or None when it is one (or cannot be told). Reads JSON only.

    sentence-transformers takes a folder's kind from `config_sentence_transformers.json` ("model_type"; a file
    without it means SentenceTransformer), and a plain transformers folder from `config.json`'s architectures.
    """
    st_config = folder / "config_sentence_transformers.json"
    if st_config.exists():
        model_type = _json(st_config).get("model_type")
        if model_type == "CrossEncoder":
            return None
        if model_type is None:
            return (
                "a SentenceTransformer (bi-encoder) folder: its config_sentence_transformers.json has no model_type, "
                "which sentence-transformers reads as SentenceTransformer"
            )
        return f"a {model_type} (bi-encoder) folder: config_sentence_transformers.json gives model_type {model_type}"
    architectures = _json(folder / "config.json").get("architectures") or []
    if architectures and not any(str(a).endswith(SCORING_HEADS) for a in architectures):
        return f"not a cross-encoder: config.json's architectures {architectures} have no scoring head"
    return None


def check_cross_encoder_folder(folder: Path, name: str) -> None:
    """One line, before any model loads, when a local `phase.reranker.model` folder is not a cross-encoder:
    loaded as one, a bi-encoder gets an untrained scoring head and re-scores every candidate at random."""
    evidence = cross_encoder_evidence(folder)
    if evidence:
        raise UserError(
            f"phase.reranker.model={name} is {evidence}; expected a cross-encoder folder (config.json architectures "
            f"*ForSequenceClassification, e.g. cross-encoder/ms-marco-MiniLM-L6-v2), or phase.reranker.model=null"
        )
