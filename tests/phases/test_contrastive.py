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
