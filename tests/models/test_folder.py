"""A hub id answers in seconds when it cannot be served: the hub unreachable, or offline with no cached copy."""

from __future__ import annotations

import pytest
from huggingface_hub import constants

from embedlab.errors import UserError
from embedlab.models import folder


def test_an_unreachable_hub_is_one_line_without_trying_it(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr("embedlab.data.readers.hub_reachable", lambda endpoint: False)
    with pytest.raises(UserError, match=r"model.name_or_path=org/model is not a local folder, and https?://\S+ cannot"):
        folder.check_model_folder("org/model")


def test_offline_without_a_cached_copy_is_one_line(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="HF_HUB_OFFLINE=1 with no cached copy"):
        folder.check_hub_model("org/model-nobody-cached", key="phase.reranker.model")


def test_a_reachable_hub_is_left_to_the_loader(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr("embedlab.data.readers.hub_reachable", lambda endpoint: True)
    folder.check_hub_model("org/model")  # no error: the loader downloads it
