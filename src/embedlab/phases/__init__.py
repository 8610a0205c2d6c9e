"""Training phases (`conf/phase/`): what a run trains on and which model it starts from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from embedlab.data.bundle import DataBundle


class Phase(Protocol):
    """What `run.train()` asks of a phase (`phase=contrastive`, `phase=hard_negatives`).

    A run builds its phase from `cfg.phase` before the model loads, loads the model with the phase's
    `model_overrides()`, and lets `prepare()` turn the dataset into what this phase trains on. A chain of
    phases (`phase=two_phase`) is not a Phase: it is a list of stages, each one run with its own phase.

    Attributes:
        name: shown in run names and the run's `phase` tag.
        init_from: start from this model instead of `model.name_or_path` (a path, hub id or MLflow URI);
            a chain sets it to the previous stage's best model.
    """

    name: str
    init_from: str | None

    def model_overrides(self) -> dict[str, str]:
        """Keyword arguments for the model's config (e.g. ``{"name_or_path": ...}``); empty to keep it."""
        ...

    def planned_data(self, data: DataBundle) -> DataBundle:
        """What `prepare()` will return, as far as it is known without a model: the parts' kinds and splits, which
        fix the loss's parts and the metrics the run logs (see embedlab.plan). Raises one line when `data` lacks
        what the phase needs."""
        ...

    def prepare(self, data: DataBundle, model, tracker, run_dir: Path) -> DataBundle:
        """The data this phase trains and validates on (e.g. with mined hard negatives); may log to `tracker`."""
        ...
