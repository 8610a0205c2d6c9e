"""phase=contrastive: the data as it is, from `model.name_or_path` or `init_from`."""

from __future__ import annotations

import inspect

from embedlab.data.bundle import DataBundle
from embedlab.phases import Phase, StartingModel
from embedlab.phases.contrastive import ContrastivePhase
from embedlab.phases.hard_negatives import HardNegativesPhase


def test_init_from_is_the_model_to_load():
    assert ContrastivePhase().starting_model() == StartingModel()
    assert ContrastivePhase(init_from="some/folder").starting_model().overrides == {"name_or_path": "some/folder"}


def test_init_from_an_mlflow_uri_is_downloaded(tmp_path, monkeypatch):
    """`phase.init_from=runs:/…` (or the `models:/…` a run's summary prints) was taken for a hub id here."""
    import mlflow

    logged = tmp_path / "logged"
    (logged / "model.sentence_transformer").mkdir(parents=True)
    asked = []
    monkeypatch.setattr(
        mlflow.artifacts, "download_artifacts", lambda artifact_uri: asked.append(artifact_uri) or logged
    )
    start = ContrastivePhase(init_from="runs:/0123abcd/physics-mnrl").starting_model()
    assert asked == ["runs:/0123abcd/physics-mnrl"]
    assert start.overrides == {"name_or_path": str(logged / "model.sentence_transformer")}
    assert start.source["run_id"] == "0123abcd"


def test_prepare_trains_on_the_data_as_it_is(tmp_path):
    data = DataBundle("toy", "memory", {})
    assert ContrastivePhase().prepare(data, None, StartingModel(), None, tmp_path) is data


def test_every_phase_has_the_protocols_methods_with_its_signatures():
    methods = [name for name, value in vars(Phase).items() if inspect.isfunction(value) and not name.startswith("_")]
    assert {"starting_model", "planned_data", "prepare"} <= set(methods)
    for phase in (ContrastivePhase, HardNegativesPhase):
        for method in methods:
            wanted = inspect.signature(getattr(Phase, method)).parameters
            assert list(inspect.signature(getattr(phase, method)).parameters) == list(wanted), (phase, method)
