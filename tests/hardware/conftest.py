"""Hardware fixtures: the tiny model without dropout, so that two ways of computing one batch can agree."""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture(scope="session")
def still_model_path(tiny_model_path, tmp_path_factory) -> str:
    """tiny_model_path with dropout off: DDP and one process draw different dropout masks, nothing else differs."""
    path = tmp_path_factory.mktemp("still-model") / "model"
    shutil.copytree(tiny_model_path, path)
    config = json.loads((path / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)
