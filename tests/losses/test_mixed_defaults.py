"""`loss=mixed` ranks the labeled pairs with CoSENT and keeps its pairs part's best checkpoint; `experiment=quora_mixed`
keeps the seed's CosineSimilarityLoss and mean."""

from __future__ import annotations

COSENT = "sentence_transformers.sentence_transformer.losses.CoSENTLoss"
COSINE = "sentence_transformers.sentence_transformer.losses.CosineSimilarityLoss"
MNRL = "sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss"


def test_dataset_quora_loss_mixed_trains_mnrl_and_cosent(compose_config):
    parts = compose_config("dataset=quora", "loss=mixed").loss.parts
    assert (parts.pairs._target_, parts.labeled._target_) == (MNRL, COSENT)


def test_the_seed_recipe_keeps_cosine_similarity_on_the_labeled_pairs(compose_config):
    cfg = compose_config("experiment=quora_mixed")
    assert (cfg.loss.parts.pairs._target_, cfg.loss.parts.labeled._target_) == (MNRL, COSINE)
    assert cfg.loss.parts.labeled.loss_fct._target_ == "torch.nn.MSELoss"
    assert (cfg.dataset.pairs, cfg.dataset.labeled, cfg.sampler.multi_dataset) == (6700, 18000, "round_robin")


def test_the_labeled_part_can_still_be_chosen_on_the_command_line(compose_config):
    cfg = compose_config("dataset=quora", "loss=mixed", "loss@loss.parts.labeled=online_contrastive")
    assert cfg.loss.parts.labeled._target_.endswith("OnlineContrastiveLoss")


def test_a_mixed_run_keeps_the_checkpoint_its_pairs_part_validates_best(compose_config):
    assert compose_config("dataset=quora", "loss=mixed").training.select_by == "val_loss_pairs"
    assert compose_config("dataset=quora", "loss=mnrl").training.select_by == "val_loss"
    assert compose_config("experiment=quora_mixed").training.select_by == "val_loss"  # the seed's: the parts' mean
    user = compose_config("loss=mixed", "training.select_by=val_loss")
    assert user.training.select_by == "val_loss"  # the user's wins
