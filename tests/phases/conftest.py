"""A tracker that records what a phase logs, and the shared command helpers as fixtures."""

from __future__ import annotations

import pytest

import embedlab_testing


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
    """The shared helpers: cli.run_train(*overrides), cli.train_in(folder, *overrides), cli.tiny_overrides(model, data),
    cli.runs(uri), cli.write_jsonl, cli.REPO."""
    return embedlab_testing
