"""Phase 1: contrastive training on the dataset's own parts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from embedlab.data.bundle import DataBundle
from embedlab.phases import StartingModel, start_from


@dataclass
class ContrastivePhase:
    """Train on the data as it is.

    Args:
        name: shown in run names.
        init_from: start from this model instead of `model.name_or_path` (a path, hub id or MLflow URI).
    """

    name: str = "contrastive"
    init_from: str | None = None

    def starting_model(self) -> StartingModel:
        return start_from(self.init_from)

    def planned_data(self, data: DataBundle) -> DataBundle:
        return data

    def prepare(self, data: DataBundle, model, start: StartingModel, tracker, run_dir: Path) -> DataBundle:
        return data
