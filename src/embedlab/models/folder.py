"""Check a local model folder before loading it: a tokenizer, and weights that are complete.

Without these checks a folder that lost its tokenizer files loads with a 5-token tokenizer and trains on
`[UNK]` only, and a truncated `model.safetensors` fails deep inside torch. Reads only file headers: no torch.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from embedlab.errors import UserError

# Any one of these makes a tokenizer transformers can load (fast tokenizer, WordPiece, BPE, SentencePiece).
TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def looks_local(name_or_path: str) -> bool:
    """Whether a model name means a local folder (a path, or a name that exists on disk) rather than a hub id."""
    return name_or_path.startswith((".", "/", "~")) or Path(name_or_path).expanduser().exists()


def transformer_folders(folder: Path) -> list[Path]:
    """The folders of the Hugging Face modules of a sentence-transformers folder (or the folder itself)."""
    modules = folder / "modules.json"
    if not modules.exists():
        return [folder]
    try:
        entries = json.loads(modules.read_text(encoding="utf-8"))
        return [folder / entry.get("path", "") for entry in entries if "Transformer" in str(entry.get("type", ""))]
    except (ValueError, AttributeError, TypeError):
        raise UserError(f"{modules}: is not valid JSON (a list of modules); expected a sentence-transformers folder")


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with a safetensors file (its header unreadable, a tensor past its end), or None."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise ValueError("header longer than the file")
            header = json.loads(f.read(length))
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError):
        end = None
    if end is None or 8 + length + end > size:
        return f"the weights file is truncated or not safetensors ({size} bytes)"
    return None


def check_safetensors(path: Path) -> None:
    """The header must be readable and the tensors it lists must all lie inside the file."""
    problem = safetensors_problem(path)
    if problem:
        raise UserError(f"{path}: {problem}; expected a complete model.safetensors (copy or download it again)")


def check_model_folder(name_or_path: str, key: str = "model.name_or_path") -> None:
    """One line if a local path is not a model folder, lacks its tokenizer or has unreadable weights, or if a hub
    id cannot be reached."""
    folder = Path(name_or_path).expanduser()
    if not looks_local(name_or_path):
        check_hub_model(name_or_path, key)
    elif not (folder / "modules.json").exists() and not (folder / "config.json").exists():
        raise UserError(
            f"{key}={name_or_path} does not exist or is not a model folder (expected modules.json or config.json inside)"
        )
    if not folder.is_dir():
        return  # a hub id
    for module in transformer_folders(folder):
        if not module.is_dir():
            raise UserError(
                f"{key}={name_or_path}: modules.json names {module}, which does not exist; expected a complete "
                "sentence-transformers folder"
            )
        if not any((module / name).exists() for name in TOKENIZER_FILES):
            raise UserError(
                f"{key}={name_or_path}: {module} has no tokenizer; expected one of "
                f"{', '.join(TOKENIZER_FILES)} next to config.json"
            )
        if not any((module / name).exists() for name in WEIGHT_FILES):
            raise UserError(
                f"{key}={name_or_path}: {module} has no weights; expected model.safetensors or pytorch_model.bin"
            )
        for weights in sorted(module.glob("*.safetensors")):
            check_safetensors(weights)


def check_hub_model(name: str, key: str = "model.name_or_path") -> None:
    """A hub id needs the hub, or HF_HUB_OFFLINE=1 and a cached copy: an unreachable hub is one line in seconds,
    not the hub client's minutes of retries."""
    from huggingface_hub import constants, try_to_load_from_cache

    from embedlab.data.readers import hub_reachable

    local = "a local model folder" + (" (model=minilm is packaged)" if key == "model.name_or_path" else "")

    if constants.HF_HUB_OFFLINE:
        if not any(isinstance(try_to_load_from_cache(name, f), str) for f in ("modules.json", "config.json")):
            raise UserError(
                f"{key}={name} is not a local folder, and HF_HUB_OFFLINE=1 with no cached copy; "
                f"expected {local}, or a hub id in the local cache"
            )
    elif not hub_reachable(constants.ENDPOINT):
        raise UserError(
            f"{key}={name} is not a local folder, and {constants.ENDPOINT} cannot be reached; "
            f"expected {local}, or HF_HUB_OFFLINE=1 to use a cached copy"
        )


# Models whose position ids start after the padding index (fairseq's convention): `max_position_embeddings`
# counts `pad_token_id + 1` places that no token can take (RoBERTa and XLM-R: 514, of which 512 usable).
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer", "data2vec-text")


def position_limit(name_or_path: str) -> int | None:
    """The longest input the model's position embeddings take, from its `config.json` (a local folder or a cached
    hub copy); None when that cannot be read without loading the model."""
    folder = Path(name_or_path).expanduser()
    configs = [module / "config.json" for module in transformer_folders(folder)] if folder.is_dir() else []
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name_or_path, "config.json")
        configs = [Path(cached)] if isinstance(cached, str) else []
    limits = []
    for path in configs:
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        limit = config.get("max_position_embeddings") if isinstance(config, dict) else None
        if isinstance(limit, int) and limit > 0:
            offset = int(config.get("pad_token_id") or 0) + 1 if config.get("model_type") in OFFSET_POSITIONS else 0
            limits.append(limit - offset)
    return min(limits) if limits else None


def check_max_seq_length(name_or_path: str, max_seq_length: int | None, key: str = "model.name_or_path") -> None:
    """`model.max_seq_length` above the model's position embeddings fails mid-run, at the first long batch."""
    limit = position_limit(name_or_path) if max_seq_length else None
    if limit is not None and max_seq_length > limit:
        raise UserError(
            f"model.max_seq_length={max_seq_length} is longer than {key}={name_or_path} can read "
            f"(max_position_embeddings {limit} in its config.json); expected model.max_seq_length <= {limit}"
        )
