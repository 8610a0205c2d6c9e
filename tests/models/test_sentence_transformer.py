"""Loading a model folder: what cannot be loaded is one line naming the folder and what was expected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.models.sentence_transformer import load_sentence_transformer


def test_weights_of_another_config_are_one_line(tiny_model_path, tmp_path):
    """transformers refuses weights whose shapes its config.json does not give with 'look at the above report!';
    the line names the folder and what was expected."""
    mismatched = Path(shutil.copytree(tiny_model_path, tmp_path / "mismatched"))
    config = next(mismatched.rglob("config.json"))
    settings = json.loads(config.read_text())
    settings["intermediate_size"] = 2 * settings["intermediate_size"]
    config.write_text(json.dumps(settings))
    with pytest.raises(UserError, match=r"mismatched: its weights do not have the shapes its config.json gives"):
        load_sentence_transformer(str(mismatched), device="cpu")
