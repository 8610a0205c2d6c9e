"""Every loss option trains a step on the tiny model with data of its kind; mismatches fail before a model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from embedlab.data.bundle import DataBundle, Part
from embedlab.errors import UserError
from embedlab.losses.selection import build_losses, select_parts

CONF = Path(__file__).resolve().parents[2] / "conf"
LOSSES = sorted(f.stem for f in (CONF / "loss").glob("*.yaml"))

ROWS = {
    "pairs": [{"anchor": f"question {i} about topic {i}", "positive": f"answer {i} for topic {i}"} for i in range(8)],
    "triplets": [
        {"anchor": f"question {i}", "positive": f"right answer {i}", "negative": f"wrong answer {i}"} for i in range(8)
    ],
    "scored_pairs": [{"sentence1": f"sentence {i}", "sentence2": f"other {i}", "score": i / 8} for i in range(8)],
    "labeled_pairs": [{"sentence1": f"word {i}", "sentence2": f"term {i}", "label": float(i % 2)} for i in range(8)],
}


def bundle(**parts: str) -> DataBundle:
    """A bundle whose parts (name -> kind) each hold the same 8 rows in every split."""
    splits = {
        name: Part(kind, {s: ROWS[kind] for s in ("train", "validation", "test")}) for name, kind in parts.items()
    }
    return DataBundle("toy", "memory", splits)


def loss_cfg(option: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=[f"loss={option}"]).loss


def data_for(cfg) -> DataBundle:
    if "parts" in cfg:
        return bundle(pairs="pairs", labeled="labeled_pairs")
    kinds = cfg.get("data_kinds") or cfg.loss.data_kinds
    return bundle(train=kinds[0])


@pytest.mark.parametrize("option", LOSSES)
def test_loss_trains_one_step(option, tiny_model_path, tmp_path):
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    cfg = loss_cfg(option)
    if option == "gist":
        cfg.guide.name_or_path = tiny_model_path  # the guide defaults to the base model; here the tiny one
    if option == "matryoshka":
        cfg.dims = [32, 16]  # the tiny model's width is 32
    data = data_for(cfg)
    parts = select_parts(cfg, data, option)
    model = SentenceTransformer(tiny_model_path, device="cpu")
    before = next(model.parameters()).detach().clone()
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path),
        max_steps=1,
        per_device_train_batch_size=4,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        learning_rate=1e-2,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, loss=build_losses(parts, model), train_dataset=data.datasets("train", list(parts))
    )
    result = trainer.train()
    assert result.global_step == 1
    assert result.training_loss == result.training_loss  # not NaN
    assert not next(model.parameters()).detach().equal(before), "a training step must change the weights"


def test_mixed_keys_must_match_the_dataset():
    with pytest.raises(UserError, match=r"loss=mixed trains parts \['labeled', 'pairs'\], but dataset=toy has"):
        select_parts(loss_cfg("mixed"), bundle(pairs="pairs"), "mixed")


def test_loss_and_data_kind_mismatch_names_both():
    with pytest.raises(UserError, match=r"loss=cosine needs scored_pairs or labeled_pairs data, but dataset=toy"):
        select_parts(loss_cfg("cosine"), bundle(pairs="pairs"), "cosine")


def test_single_loss_on_a_two_part_dataset_trains_the_part_it_fits():
    assert list(select_parts(loss_cfg("mnrl"), bundle(pairs="pairs", labeled="labeled_pairs"), "mnrl")) == ["pairs"]


def test_mixed_scale_is_the_mnrl_scale():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["loss=mixed", "loss.scale=7"])
    assert cfg.loss.parts.pairs.scale == 7
