"""Every conf/dataset option composes and builds a checked DataBundle (found by walking the folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.config import build
from embedlab.data.bundle import DataBundle

CONF = Path(__file__).resolve().parents[2] / "conf"
OPTIONS = sorted(p.stem for p in (CONF / "dataset").rglob("*.yaml"))


@pytest.fixture
def fixture_overrides(quora_tsv, write_table, rows_of) -> dict[str, list[str]]:
    """Options that read the user's data get a tiny fixture file; the rest use their bundled data."""
    pairs = write_table("pairs.jsonl", rows_of("pairs", 20))
    return {"quora": [f"dataset.path={quora_tsv}"], "local": [f"dataset.path={pairs}"]}


def test_walk_finds_the_options():
    assert {"physics", "quora", "ncert_social", "word_association", "ml_concepts", "local"} <= set(OPTIONS)


@pytest.mark.parametrize("option", OPTIONS)
def test_option_builds(option, fixture_overrides, compose_config):
    overrides = [f"dataset={option}", *fixture_overrides.get(option, [])]
    cfg = compose_config(*overrides)
    bundle = build(cfg.dataset, where="dataset", seed=42)
    assert isinstance(bundle, DataBundle) and bundle.name == cfg.dataset.name == option
    assert bundle.parts and all(part.splits["train"] for part in bundle.parts.values())
    bundle.check_disjoint()


def test_local_kinds_from_the_command_line(beir_folder, write_table, compose_config):
    rows = [{"q": f"question {i}", "a": f"answer {i}", "s": i / 19} for i in range(20)]
    table = write_table("scored.csv", rows)
    overrides = {
        "scored_pairs": [
            f"dataset.path={table}",
            "dataset.kind=scored_pairs",
            "dataset.columns.sentence1=q",
            "dataset.columns.sentence2=a",
            "dataset.columns.score=s",
        ],
        "retrieval": [f"dataset.path={beir_folder}", "dataset.kind=retrieval", "dataset.use=both"],
    }
    for kind, extra in overrides.items():
        cfg = compose_config("dataset=local", *extra)
        bundle = build(cfg.dataset, where="dataset", seed=42)
        assert next(iter(bundle.parts.values())).kind == ("pairs" if kind == "retrieval" else kind)
