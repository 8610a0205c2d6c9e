"""A tracker that records what a phase logs, and the root conftest's command helpers as fixtures."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# Several test folders have a conftest.py, so `from conftest import ...` finds whichever was imported last;
# load the shared helpers (run_train, runs, write_jsonl) from the root conftest by its path instead.
_spec = importlib.util.spec_from_file_location("embedlab_root_conftest", Path(__file__).parents[1] / "conftest.py")
root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(root)


class RecordingTracker:
    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.artifacts: dict[str, object] = {}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.update(metrics)

    def log_dict(self, data: dict, path: str) -> None:
        self.artifacts[path] = data

    def log_artifact_text(self, text: str, path: str) -> None:
        self.artifacts[path] = text


@pytest.fixture
def tracker() -> RecordingTracker:
    return RecordingTracker()


@pytest.fixture(scope="session")
def cli():
    """The root conftest's helpers: cli.run_train(*overrides), cli.runs(uri), cli.write_jsonl, cli.REPO."""
    return root
