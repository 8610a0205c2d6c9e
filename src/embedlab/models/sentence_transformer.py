"""Load a SentenceTransformer from a local path or a hub id, with the knobs the recipes need."""

from __future__ import annotations

from pathlib import Path

from embedlab.errors import UserError
from embedlab.models.folder import check_model_folder, looks_local


def load_sentence_transformer(
    name_or_path: str,
    max_seq_length: int | None = None,
    normalize: bool = True,
    device: str | None = None,
    key: str = "model.name_or_path",
):
    """Load a SentenceTransformer.

    Args:
        name_or_path: a local folder (e.g. a `best/` checkpoint) or a hub id (needs the hub or its cache).
        max_seq_length: truncate inputs to this many tokens; None keeps the model's own setting.
        normalize: keep (True) or remove (False) the final Normalize module; adds one if missing.
        device: torch device string; None lets sentence-transformers choose.
        key: the config key that named the model, for error messages.
    """
    if not name_or_path:
        raise UserError(f"{key} is empty; expected a local model folder or a hub id")
    name_or_path = str(name_or_path)
    path = Path(name_or_path).expanduser()
    check_model_folder(name_or_path, key)  # a model folder with a tokenizer and complete weights, before torch
    if max_seq_length is not None and (isinstance(max_seq_length, bool) or int(max_seq_length) < 1):
        raise UserError(f"model.max_seq_length={max_seq_length} is out of range; expected null or an integer >= 1")
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize

    try:
        model = SentenceTransformer(str(path) if looks_local(name_or_path) else name_or_path, device=device)
    except OSError as exc:
        raise UserError(
            f"{key}={name_or_path} could not be loaded ({str(exc).splitlines()[0]}); "
            "expected a local model folder, or a hub id with the hub or its cache reachable"
        ) from exc
    except RuntimeError as exc:
        if "ignore_mismatched_sizes" not in str(exc):
            raise
        raise UserError(  # transformers prints its load report (which tensors, which shapes) above this line
            f"{key}={name_or_path}: its weights do not have the shapes its config.json gives (the load report above "
            "lists them); expected the weights and config.json of one model"
        ) from exc
    if max_seq_length is not None:
        model.max_seq_length = int(max_seq_length)
    has_normalize = any(isinstance(module, Normalize) for module in model)
    if normalize and not has_normalize:
        model.append(Normalize())
    if not normalize and has_normalize:
        modules = [module for module in model if not isinstance(module, Normalize)]
        model = SentenceTransformer(modules=modules, device=device)
        if max_seq_length is not None:
            model.max_seq_length = int(max_seq_length)
    return model
