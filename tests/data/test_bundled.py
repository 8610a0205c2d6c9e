"""The bundled datasets build from their configs, meet the sizes the recipes need, and have disjoint splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.config import build
from embedlab.data.splits import SPLITS

# The minimum row counts (after exact duplicates are dropped) and each set's training part.
BUNDLED = {
    "physics": ("pairs", 300),
    "ncert_social": ("pairs", 300),
    "word_association": ("labeled", 600),
    "ml_concepts": ("scored", 150),
}


@pytest.fixture(scope="module")
def bundled(compose_config):
    """`bundled(name)`: the bundled set built from its config, once per module (the tests only read it)."""
    built = {}

    def build_once(name: str):
        if name not in built:
            cfg = compose_config(f"dataset={name}")
            built[name] = build(cfg.dataset, where="dataset", seed=cfg.seed)
        return built[name]

    return build_once


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_set_builds_with_disjoint_held_out_splits(name, bundled):
    part_name, minimum = BUNDLED[name]
    bundle = bundled(name)
    part = bundle.parts[part_name]
    assert sum(len(part.splits[s]) for s in SPLITS) >= minimum
    assert all(part.splits[s] for s in SPLITS)
    bundle.check_disjoint()
    texts = {s: {t for row in part.splits[s] for t in part.texts(row)} for s in SPLITS}
    assert not texts["train"] & (texts["validation"] | texts["test"])
    assert bundle.fingerprint()["source"].endswith(
        str(Path("bundled") / name if name == "physics" else Path(name) / "pairs.jsonl")
    )


def test_ncert_social_phrases_come_from_their_passage(bundled):
    part = bundled("ncert_social").parts["pairs"]
    rows = [row for s in SPLITS for row in part.splits[s]]
    assert all(row["positive"].lower() in row["anchor"].lower() for row in rows)


def test_word_association_is_about_half_positive(bundled):
    part = bundled("word_association").parts["labeled"]
    labels = [row["label"] for s in SPLITS for row in part.splits[s]]
    assert 0.4 <= sum(labels) / len(labels) <= 0.6


def test_ml_concepts_scores_are_graded(bundled):
    part = bundled("ml_concepts").parts["scored"]
    scores = [row["score"] for s in SPLITS for row in part.splits[s]]
    assert all(0.0 <= score <= 1.0 for score in scores) and len(set(scores)) > 5
