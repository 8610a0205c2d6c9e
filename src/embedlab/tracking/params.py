"""Config -> MLflow params: flattened dotted keys, credentials removed, within MLflow's limits."""

from __future__ import annotations

import re
from typing import Any

from embedlab.tracking.values import short_number

MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<secret>[^@/\s]+)@")


def redact(text: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def param_value(value: Any) -> str:
    """A param's text: a number written short, the same whether it was typed as int or float (`loss.scale=40` on
    the command line, `scale: 40.0` in a YAML file: both `40`; `1.5957e-05`: `1.6e-5`), as run names and value
    tags write it; anything else as `str`, credentials removed. The exact values are in the run's config.yaml."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return short_number(repr(value))
    return redact(str(value))[:MAX_PARAM_LENGTH]


def flatten(node: Any, prefix: str = "") -> dict[str, str]:
    """Nested dicts/lists -> {"loss.scale": "20", "training.lr": "2e-5", "training.batch_size": "32", ...}."""
    out: dict[str, str] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(node, list) and any(isinstance(v, (dict, list)) for v in node):
        for i, value in enumerate(node):
            out.update(flatten(value, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = param_value(node)
    return out
