"""`phase.reranker`: an optional cross-encoder that re-scores the mined candidates."""

from __future__ import annotations

from pathlib import Path

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
