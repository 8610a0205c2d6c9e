"""`loss=mixed` ranks the labeled pairs with CoSENT and keeps its pairs part's best checkpoint; `experiment=quora_mixed`
keeps the seed's CosineSimilarityLoss and mean."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

CONF = Path(__file__).resolve().parents[2] / "conf"
COSENT = "sentence_transformers.sentence_transformer.losses.CoSENTLoss"
COSINE = "sentence_transformers.sentence_transformer.losses.CosineSimilarityLoss"
MNRL = "sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss"


def composed(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def test_dataset_quora_loss_mixed_trains_mnrl_and_cosent():
    parts = composed("dataset=quora", "loss=mixed").loss.parts
    assert (parts.pairs._target_, parts.labeled._target_) == (MNRL, COSENT)


def test_the_seed_recipe_keeps_cosine_similarity_on_the_labeled_pairs():
    cfg = composed("experiment=quora_mixed")
    assert (cfg.loss.parts.pairs._target_, cfg.loss.parts.labeled._target_) == (MNRL, COSINE)
    assert cfg.loss.parts.labeled.loss_fct._target_ == "torch.nn.MSELoss"
    assert (cfg.dataset.pairs, cfg.dataset.labeled, cfg.sampler.multi_dataset) == (6700, 18000, "round_robin")


def test_the_labeled_part_can_still_be_chosen_on_the_command_line():
    cfg = composed("dataset=quora", "loss=mixed", "loss@loss.parts.labeled=online_contrastive")
    assert cfg.loss.parts.labeled._target_.endswith("OnlineContrastiveLoss")


def test_a_mixed_run_keeps_the_checkpoint_its_pairs_part_validates_best():
    assert composed("dataset=quora", "loss=mixed").training.select_by == "val_loss_pairs"
    assert composed("dataset=quora", "loss=mnrl").training.select_by == "val_loss"
    assert composed("experiment=quora_mixed").training.select_by == "val_loss"  # the seed's: the parts' mean
    assert composed("loss=mixed", "training.select_by=val_loss").training.select_by == "val_loss"  # the user's wins
