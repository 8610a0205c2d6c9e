"""Every loss option trains a step on the tiny model with data of its kind; mismatches fail before a model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.data.bundle import DataBundle, Part
from embedlab.errors import UserError
from embedlab.losses.selection import select_parts, trainer_loss

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


def data_for(cfg) -> DataBundle:
    if "parts" in cfg:
        return bundle(pairs="pairs", labeled="labeled_pairs")
    kinds = cfg.get("data_kinds") or cfg.loss.data_kinds
    return bundle(train=kinds[0])


@pytest.mark.parametrize("option", LOSSES)
def test_loss_trains_one_step(option, tiny_model_path, tmp_path, compose_config):
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    cfg = compose_config(f"loss={option}").loss
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
        model=model, args=args, loss=trainer_loss(parts), train_dataset=data.datasets("train", list(parts))
    )
    result = trainer.train()
    assert result.global_step == 1
    assert result.training_loss == result.training_loss  # not NaN
    assert not next(model.parameters()).detach().equal(before), "a training step must change the weights"


def test_mixed_keys_must_match_the_dataset(compose_config):
    with pytest.raises(UserError, match=r"loss=mixed trains parts \['labeled', 'pairs'\], but dataset=toy has"):
        select_parts(compose_config("loss=mixed").loss, bundle(pairs="pairs"), "mixed")


def test_loss_and_data_kind_mismatch_names_both(compose_config):
    with pytest.raises(UserError, match=r"loss=cosine needs scored_pairs or labeled_pairs data, but dataset=toy"):
        select_parts(compose_config("loss=cosine").loss, bundle(pairs="pairs"), "cosine")


def test_single_loss_on_a_two_part_dataset_trains_the_part_it_fits(compose_config):
    assert list(
        select_parts(compose_config("loss=mnrl").loss, bundle(pairs="pairs", labeled="labeled_pairs"), "mnrl")
    ) == ["pairs"]


def test_mixed_scale_is_the_mnrl_scale(compose_config):
    cfg = compose_config("loss=mixed", "loss.scale=7")
    assert cfg.loss.parts.pairs.scale == 7


def test_the_trainer_builds_each_parts_loss_with_its_model(tiny_model_path, tmp_path, compose_config):
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MultipleNegativesRankingLoss

    from embedlab.hardware.device import Hardware

    data = bundle(pairs="pairs", labeled="labeled_pairs")
    gathered = Hardware(device="cpu", loss_kwargs={"gather_across_devices": True})  # what DDP adds
    parts = gathered.configure_losses(select_parts(compose_config("loss=mixed").loss, data, "mixed"))
    loss = trainer_loss(parts)
    assert set(loss) == {"pairs", "labeled"} and all(callable(f) for f in loss.values())  # nothing built yet
    model = SentenceTransformer(tiny_model_path, device="cpu")
    args = SentenceTransformerTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, loss=loss, train_dataset=data.datasets("train", list(parts))
    )
    assert isinstance(trainer.loss["pairs"], MultipleNegativesRankingLoss)
    assert isinstance(trainer.loss["labeled"], CoSENTLoss)
    assert trainer.loss["pairs"].model is model and trainer.loss["labeled"].model is model
    assert trainer.loss["pairs"].scale == 20.0 and trainer.loss["pairs"].gather_across_devices is True


def test_a_single_part_gives_the_trainer_one_loss_not_a_dict(tiny_model_path, compose_config):
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    cfg = compose_config("loss=matryoshka").loss
    cfg.dims = [32, 16]
    loss = trainer_loss(select_parts(cfg, bundle(train="pairs"), "matryoshka"))
    built = loss(SentenceTransformer(tiny_model_path, device="cpu"))
    assert isinstance(built, MatryoshkaLoss) and built.matryoshka_dims == (32, 16)


def test_a_loss_that_refuses_its_settings_is_one_line_naming_its_key(tiny_model_path, compose_config):
    from omegaconf import open_dict
    from sentence_transformers.sentence_transformer import SentenceTransformer

    cfg = compose_config("loss=mnrl").loss
    with open_dict(cfg):
        cfg.no_such_setting = 1  # MultipleNegativesRankingLoss takes no such argument: a TypeError when built
    loss = trainer_loss(select_parts(cfg, bundle(train="pairs"), "mnrl"))
    with pytest.raises(UserError, match=r"^loss: .*no_such_setting") as failure:  # the key, not the data's part
        loss(SentenceTransformer(tiny_model_path, device="cpu"))
    assert "\n" not in str(failure.value)
    mixed = compose_config("loss=mixed").loss
    with open_dict(mixed):
        mixed.parts.labeled.no_such_setting = 1
    parts = trainer_loss(select_parts(mixed, bundle(pairs="pairs", labeled="labeled_pairs"), "mixed"), mixed=True)
    with pytest.raises(UserError, match=r"^loss\.parts\.labeled: .*no_such_setting"):
        parts["labeled"](SentenceTransformer(tiny_model_path, device="cpu"))


def test_a_part_that_is_not_a_single_loss_is_named(compose_config):
    """`loss@loss.parts.labeled=mixed` said `needs  data` (the nested mixed names no data kinds)."""
    cfg = compose_config("loss=mixed", "loss@loss.parts.labeled=mixed").loss
    with pytest.raises(UserError) as error:
        select_parts(cfg, bundle(pairs="pairs", labeled="labeled_pairs"), "mixed")
    assert str(error.value) == (
        "loss=mixed part 'labeled' is not a single loss (it names no data_kinds); expected "
        "loss@loss.parts.labeled=<a loss for labeled_pairs>, e.g. cosine"
    )
