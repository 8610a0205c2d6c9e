"""Every `experiment=` preset composes with its recipe's settings, and runs a few steps end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab_testing import QUORA_HEADER, quora_rows, runs, tiny_overrides, train_in, write_tsv

CONF = Path(__file__).resolve().parents[1] / "conf"
PRESETS = sorted(f.stem for f in (CONF / "experiment").glob("*.yaml"))
# The seed's reference recipes share their settings; `retrieval` and `retrieval_two_phase` are embedlab's own
# (tests/phases/test_retrieval_recipe.py).
REFERENCE_PRESETS = [name for name in PRESETS if not name.startswith("retrieval")]

RECIPES = {  # preset -> (dataset, loss, batch, epochs): the table
    "quora_mixed": ("quora", "mixed", 32, 1),
    "physics_phase1": ("physics", "mnrl", 64, 10),
    "ncert_social": ("ncert_social", "mnrl", 16, 30),
    "word_association": ("word_association", "cosine", 10, 5),
    "ml_concepts": ("ml_concepts", "cosine", 16, 4),
}


@pytest.mark.parametrize("name", REFERENCE_PRESETS)
def test_preset_composes_with_the_shared_recipe_settings(name, compose_config):
    cfg = compose_config(f"experiment={name}")
    assert cfg.seed == 42
    assert cfg.training.warmup_ratio == 0.0
    assert cfg.training.scheduler == "linear"
    assert cfg.training.max_grad_norm == 1.0
    assert cfg.training.lr == 5e-5


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_preset_pins_its_recipe(name, compose_config):
    cfg = compose_config(f"experiment={name}", hydra=True)
    dataset, loss, batch, epochs = RECIPES[name]
    assert (cfg.dataset.name, cfg.hydra.runtime.choices.loss) == (dataset, loss)
    assert (cfg.training.batch_size, cfg.training.epochs) == (batch, epochs)


def test_ncert_social_uses_512_tokens_without_normalize(compose_config):
    cfg = compose_config("experiment=ncert_social")
    assert cfg.model.max_seq_length == 512
    assert cfg.model.normalize is False


@pytest.mark.slow
def test_single_phase_presets_run_a_few_steps(tiny_model_path, tmp_path):
    """Each one-phase recipe shrunk by `debug=tiny` on the tiny model (physics_two_phase: tests/phases)."""
    quora = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    extra = {"quora_mixed": [f"dataset.path={quora}", "dataset.queries=3", "dataset.corpus=30"]}
    for name in ("quora_mixed", "ncert_social", "word_association", "ml_concepts"):
        shrunk = [*tiny_overrides(tiny_model_path), "model.max_seq_length=64", "training.eval_steps=2"]
        _, uri = train_in(tmp_path, f"experiment={name}", *shrunk, *extra.get(name, []), run_dir=name)
    finished = {run.data.params["dataset.name"]: run for run in runs(uri)}
    assert {r.info.status for r in finished.values()} == {"FINISHED"}
    assert set(finished) == {"quora", "ncert_social", "word_association", "ml_concepts"}
    quora = finished["quora"].data.metrics
    assert {"val_loss", "val_loss_pairs", "val_loss_labeled", "ndcg_at_10", "spearman"} <= set(quora)
    assert quora["val_loss"] == pytest.approx((quora["val_loss_pairs"] + quora["val_loss_labeled"]) / 2)
    assert "spearman" in finished["ml_concepts"].data.metrics
