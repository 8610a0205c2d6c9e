"""Deterministic, leak-free splits: rows that share any text always land in the same split."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from embedlab.errors import UserError

Row = TypeVar("Row")
SPLITS = ("train", "validation", "test")


def drop_exact_duplicates(rows: list[Row], texts: Callable[[Row], Sequence[str]]) -> list[Row]:
    seen: set[tuple[str, ...]] = set()
    kept = []
    for row in rows:
        key = tuple(texts(row))
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def split_by_components(
    rows: list[Row],
    texts: Callable[[Row], Sequence[str]],
    fractions: Sequence[float],
    seed: int,
    where: str,
) -> dict[str, list[Row]]:
    """Split rows into train / validation / test by connected components of shared text.

    Two rows are connected when they share any text, so no text can appear in two splits. Components are
    shuffled with `seed` and dealt out until each split reaches its fraction of the rows.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise UserError(
            f"{where}.fractions={list(fractions)} is invalid; expected three non-negative numbers summing to 1"
        )
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, row in enumerate(rows):
        for text in texts(row):
            j = owner.setdefault(text, i)
            parent[find(i)] = find(j)
    components: dict[int, list[int]] = {}
    for i in range(len(rows)):
        components.setdefault(find(i), []).append(i)
    groups = sorted(components.values(), key=lambda members: min(members))
    random.Random(seed).shuffle(groups)

    targets = [fraction * len(rows) for fraction in fractions]
    out: dict[str, list[Row]] = {name: [] for name in SPLITS}
    split = 0
    for members in groups:
        while split < 2 and len(out[SPLITS[split]]) >= targets[split]:
            split += 1
        out[SPLITS[split]].extend(rows[i] for i in sorted(members))
    return out


def check_disjoint(splits: dict[str, list[Any]], texts: Callable[[Any], Sequence[str]], where: str) -> None:
    """Raise if any text appears in more than one split."""
    seen: dict[str, str] = {}
    for name, rows in splits.items():
        for row in rows:
            for text in texts(row):
                other = seen.setdefault(text, name)
                if other != name:
                    raise UserError(f"{where}: text {text[:60]!r} appears in both {other} and {name} splits")
