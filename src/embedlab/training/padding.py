"""Less padding in training: each text column of a batch runs as a few forwards of rows of similar length
(`training.length_buckets`).

The data collator pads a column to its longest text. On SciQ (median passage 74 tokens, 7% over 256) nearly every
batch of 32 passages pads to 256, so most of a step's work is padding. In training, the model's forward here sorts
a column's rows by length, cuts them into `buckets` groups of equal count, trims each group to its own longest row
and runs one forward per group; the outputs go back in the rows' order. The loss gets the same embeddings (up to
float rounding) for the same batch, so in-batch negatives, samplers and losses are unchanged.
sentence-transformers trims per chunk in row order for its cached losses; it does not sort. Evaluation and
`encode` are left as they are (the model in eval mode): `encode` already sorts texts by length.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

WORTH_IT = 0.9  # bucket only when the groups' padded size is below this share of the batch's


def install_length_buckets(model: torch.nn.Module, buckets: int) -> None:
    """In train mode, `model(features)` runs `buckets` forwards of rows of similar length; 1 leaves it as it is."""
    if buckets > 1:
        model.forward = functools.wraps(model.forward)(functools.partial(bucketed, model, model.forward, buckets))


def bucketed(model: torch.nn.Module, forward: Callable, buckets: int, features: dict[str, Any], **kwargs: Any):
    groups = length_groups(features, buckets) if model.training else None
    if groups is None:
        return forward(features, **kwargs)
    order = torch.cat([rows for rows, _ in groups])
    outputs = [forward(take(features, rows, width), **kwargs) for rows, width in groups]
    features.update(merge(outputs, [len(rows) for rows, _ in groups], order, features["attention_mask"].shape[1]))
    return features  # as the model's own forward: the caller's features, with the outputs added


def length_groups(features: dict[str, Any], buckets: int) -> list[tuple[torch.Tensor, int]] | None:
    """(row indices, width) per group, shortest first; None where bucketing cannot help or cannot be exact:
    no 2-d attention mask, left padding, a tensor not shaped by rows (and tokens), or too little padding to save."""
    mask = features.get("attention_mask")
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2 or mask.shape[0] < 2:
        return None
    rows, width = mask.shape
    for value in features.values():
        if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] != rows:
            return None
        if isinstance(value, torch.Tensor) and value.ndim >= 2 and value.shape[1] != width:
            return None
    lengths = mask.sum(dim=1)
    if int(lengths.min()) < 1 or bool((mask.cumsum(dim=1)[torch.arange(rows), lengths - 1] != lengths).any()):
        return None  # not right-padded: a row's tokens are not its first `length` positions
    order = torch.argsort(lengths, stable=True)
    groups = [(part, int(lengths[part].max())) for part in torch.tensor_split(order, min(buckets, rows)) if len(part)]
    if sum(len(part) * w for part, w in groups) > WORTH_IT * rows * width:
        return None
    return groups


def take(features: dict[str, Any], rows: torch.Tensor, width: int) -> dict[str, Any]:
    """`features` for `rows` only, trimmed to `width` tokens; other values (modality, prompt length) as they are."""
    out = {}
    for key, value in features.items():
        if isinstance(value, torch.Tensor) and value.ndim >= 1:
            value = value[rows.to(value.device)]
            out[key] = value[:, :width] if value.ndim >= 2 else value
        else:
            out[key] = value
    return out


def merge(outputs: list[dict[str, Any]], sizes: list[int], order: torch.Tensor, width: int) -> dict[str, Any]:
    """The groups' outputs as one batch in the rows' first order: per-row tensors concatenated, token axes padded
    back to `width` with zeros (their attention mask says so); values not per row are the first group's."""

    def per_row(values) -> bool:
        return all(isinstance(v, torch.Tensor) and v.ndim >= 1 and v.shape[0] == n for v, n in zip(values, sizes))

    merged = {}
    for key, first in outputs[0].items():
        values = [output[key] for output in outputs]
        if per_row(values):
            merged[key] = unsort([pad_tokens(value, width) for value in values], order)
        elif isinstance(first, (list, tuple)) and all(per_row([v[i] for v in values]) for i in range(len(first))):
            merged[key] = [unsort([pad_tokens(v[i], width) for v in values], order) for i in range(len(first))]
        else:
            merged[key] = first
    return merged


def pad_tokens(value: torch.Tensor, width: int) -> torch.Tensor:
    """A group's [rows, its width, ...] tensor padded to [rows, width, ...]; a per-row tensor as it is."""
    if value.ndim < 2 or value.ndim == 2 and value.is_floating_point():  # [rows] or [rows, dim]: no token axis
        return value
    return torch.nn.functional.pad(value, [0, 0] * (value.ndim - 2) + [0, width - value.shape[1]])


def unsort(values: list[torch.Tensor], order: torch.Tensor) -> torch.Tensor:
    stacked = torch.cat(values)
    out = torch.empty_like(stacked)
    out[order.to(stacked.device)] = stacked
    return out
