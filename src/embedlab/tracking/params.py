"""Config -> MLflow params: flattened dotted keys, credentials removed, within MLflow's limits."""

from __future__ import annotations

import re
from typing import Any

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<secret>[^@/\s]+)@")


def redact(text: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts/lists -> {"loss.scale": "20.0", "training.batch_size": "32", ...}."""
    out: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        for i, value in enumerate(node):
            out.update(flatten(value, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = redact(str(node))[:MAX_PARAM_LENGTH]
    return out
