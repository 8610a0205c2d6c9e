"""Less padding in training (`training.length_buckets`): a batch's texts run as forwards of rows of similar length,
each trimmed to its own longest, and the loss gets the same embeddings and gradients as from one padded forward."""

from __future__ import annotations

import pytest

TEXTS = [
    "short",
    "a somewhat longer sentence about the speed of light in a vacuum",
    "mid length text on gravity",
    " ".join(["a long passage about thermodynamics and entropy"] * 12),
    "two words",
    "another sentence of middling length on magnetism and current",
    " ".join(["waves and their frequencies"] * 6),
    "ok",
]


@pytest.fixture
def model(tiny_model_path):
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer

    model = SentenceTransformer(tiny_model_path, device="cpu")
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # the same numbers with and without buckets
    return model


def widths_seen(model) -> list[tuple[int, int]]:
    """(rows, tokens) of every forward of the transformer, recorded as they happen."""
    seen = []
    model[0].register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0]["attention_mask"].shape)))
    return seen


def embeddings_and_grad(model, texts):
    model.zero_grad()
    out = model(model.preprocess(texts))["sentence_embedding"]
    (out * out.roll(1, dims=0)).sum().backward()  # a loss over pairs of rows, as in-batch negatives make
    grad = next(p for p in model.parameters() if p.grad is not None).grad.clone()
    return out.detach(), grad


def test_a_batch_runs_as_groups_of_similar_length_with_the_same_embeddings_and_gradients(model):
    import torch

    from embedlab.training.padding import install_length_buckets

    model.train()
    whole, whole_grad = embeddings_and_grad(model, TEXTS)
    seen = widths_seen(model)
    install_length_buckets(model, 4)
    grouped, grouped_grad = embeddings_and_grad(model, TEXTS)
    padded = model.preprocess(TEXTS)["attention_mask"].shape[1]
    assert [rows for rows, _ in seen] == [2, 2, 2, 2]
    assert max(tokens for _, tokens in seen) == padded and min(tokens for _, tokens in seen) < padded / 4
    assert torch.allclose(grouped, whole, atol=1e-5)  # each row in its place
    assert torch.allclose(grouped_grad, whole_grad, atol=1e-4)


def test_evaluation_and_batches_of_alike_lengths_run_in_one_forward(model):
    from embedlab.training.padding import install_length_buckets

    install_length_buckets(model, 4)
    seen = widths_seen(model)
    model.eval()  # encode and the evaluators: encode already sorts by length
    model.encode(TEXTS, batch_size=len(TEXTS))
    model.train()
    model(model.preprocess(["one two three"] * 8))  # nothing to save
    assert [rows for rows, _ in seen] == [len(TEXTS), 8]


def test_a_left_padded_batch_is_not_trimmed(model):
    import torch

    from embedlab.training.padding import length_groups

    features = model.preprocess(TEXTS)
    assert length_groups(features, 4) is not None
    flipped = {k: v.flip(1) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
    assert length_groups(flipped, 4) is None  # trimming the right would cut real tokens
