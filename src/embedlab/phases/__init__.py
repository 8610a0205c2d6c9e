"""Training phases (`conf/phase/`): what a run trains on and which model it starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from embedlab.errors import UserError

if TYPE_CHECKING:
    from embedlab.data.bundle import DataBundle
    from embedlab.phases.shared_work import ModelWork


@dataclass(frozen=True)
class StartingModel:
    """The model a phase starts from, decided once before the model loads; `prepare()` is given it.

    Attributes:
        overrides: keyword arguments for the model's config (e.g. ``{"name_or_path": ...}``); empty to keep it.
        source: where it came from, as logged in `init_from.json`: ``{"init_from": as given, "path": what the
            model loads from}`` and ``"run_id"`` when an MLflow URI names a run; empty when the phase keeps
            `model.name_or_path`.
        work: what was already computed with the loaded model (`embedlab.phases.shared_work`), set once it has
            loaded; None when nothing may be shared.
    """

    overrides: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    work: ModelWork | None = None


MLFLOW_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")


def start_from(init_from: str | None) -> StartingModel:
    """A phase's `init_from` as the model to load: none keeps `model.name_or_path`; a folder or hub id is loaded
    as given; an MLflow URI (`runs:/…`, `models:/…`) is downloaded from the tracking store first."""
    if not init_from:
        return StartingModel()
    source = resolve_init_from(str(init_from))
    return StartingModel({"name_or_path": source["path"]}, source)


def resolve_init_from(init_from: str, key: str = "phase.init_from") -> dict[str, str]:
    """A local folder for `init_from` (or `mine_with`: `key`); MLflow URIs (`runs:/…`, `models:/…`) are downloaded from the tracking store.

    Returns:
        {"init_from": as given, "path": what the model loads from, and "run_id" when the URI names a run}.
    """
    if not init_from.startswith(MLFLOW_SCHEMES):
        return {"init_from": init_from, "path": init_from}
    import mlflow

    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=init_from))
    except Exception as exc:  # MLflow raises many types for a missing run, model or version
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"{key}={init_from} could not be downloaded from MLflow ({reason[:200]}); "
            "expected models:/<name>/<version>, models:/<model id> or runs:/<run_id>/<logged model name> "
            "in the store tracking.uri points to"
        ) from None
    flavour = local / "model.sentence_transformer"  # where MLflow's sentence_transformers flavour saves it
    resolved = {"init_from": init_from, "path": str(flavour if flavour.is_dir() else local)}
    if init_from.startswith("runs:/"):
        resolved["run_id"] = init_from[len("runs:/") :].split("/", 1)[0]
    return resolved


class Phase(Protocol):
    """What `run.train()` asks of a phase (`phase=contrastive`, `phase=hard_negatives`).

    A run builds its phase from `cfg.phase` before the model loads, asks it for its `starting_model()`, loads
    the model with that model's `overrides`, and lets `prepare()` (given the same `StartingModel`) turn the
    dataset into what this phase trains on. A chain of phases (`phase=two_phase`) is not a Phase: it is a list
    of stages, each one run with its own phase.

    Attributes:
        name: shown in run names and the run's `phase` tag.
        init_from: start from this model instead of `model.name_or_path` (a path, hub id or MLflow URI);
            a chain sets it to the previous stage's best model.
    """

    name: str
    init_from: str | None

    def starting_model(self) -> StartingModel:
        """The model to start from (`init_from` resolved, e.g. downloaded from MLflow); no overrides to keep it."""
        ...

    def planned_data(self, data: DataBundle) -> DataBundle:
        """What `prepare()` will return, as far as it is known without a model: the parts' kinds and splits, which
        fix the loss's parts and the metrics the run logs (see embedlab.plan). Raises one line when `data` lacks
        what the phase needs."""
        ...

    def prepare(self, data: DataBundle, model, start: StartingModel, tracker, run_dir: Path) -> DataBundle:
        """The data this phase trains and validates on (e.g. with mined hard negatives); may log to `tracker`.

        `start` is what `starting_model()` returned, and `model` was loaded from it.
        """
        ...
