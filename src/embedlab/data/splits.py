"""Deterministic, leak-free splits: rows that share any text (or any other key) always land in the same split."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from embedlab.errors import UserError

Row = TypeVar("Row")
SPLITS = ("train", "validation", "test")


def drop_exact_duplicates(rows: list[Row], texts: Callable[[Row], Sequence[Hashable]]) -> list[Row]:
    """Keep the first row of each distinct `texts(row)`, in order."""
    seen: set[tuple[Hashable, ...]] = set()
    kept = []
    for row in rows:
        key = tuple(texts(row))
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept


def connected_components(rows: Sequence[Row], keys: Callable[[Row], Sequence[Hashable]]) -> list[list[int]]:
    """Row indices grouped by union-find: two rows are connected when they share any key.

    Groups are ordered by their first row and list their rows in order, so the result depends on the rows only.
    """
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[Hashable, int] = {}
    for i, row in enumerate(rows):
        for key in keys(row):
            j = owner.setdefault(key, i)
            parent[find(i)] = find(j)
    components: dict[int, list[int]] = {}
    for i in range(len(rows)):
        components.setdefault(find(i), []).append(i)
    return sorted(components.values(), key=lambda members: members[0])


def split_by_components(
    rows: list[Row],
    texts: Callable[[Row], Sequence[Hashable]],
    fractions: Sequence[float],
    seed: int,
    where: str,
) -> dict[str, list[Row]]:
    """Split rows into train / validation / test by connected components of shared text.

    Two rows are connected when they share any text (any key `texts` returns, e.g. a question id), so no
    text can appear in two splits. Components are shuffled with `seed` and dealt out until each split
    reaches its fraction of the rows. A component larger than an evaluation split's share goes to train,
    so one large cluster cannot swallow validation or test. `fractions` are as the schema checked them
    (`embedlab.schema.check_fractions`): three numbers >= 0 summing to 1.
    """
    groups = connected_components(rows, texts)
    random.Random(seed).shuffle(groups)
    targets = [fraction * len(rows) for fraction in fractions]
    limit = min((t for t in targets[1:] if t > 0), default=math.inf) if targets[0] > 0 else math.inf
    groups.sort(key=lambda members: len(members) <= limit)  # stable: oversized first, each part still shuffled

    out: dict[str, list[Row]] = {name: [] for name in SPLITS}
    split = 0
    for members in groups:
        while split < 2 and len(out[SPLITS[split]]) >= targets[split]:
            split += 1
        out[SPLITS[split]].extend(rows[i] for i in members)
    return out


def split_missing(
    pool: list[Row],
    given: dict[str, list[Row]],
    texts: Callable[[Row], Sequence[Hashable]],
    fractions: Sequence[float],
    seed: int,
    where: str,
) -> tuple[dict[str, list[Row]], dict[str, str]]:
    """Use the splits a dataset gives as they are; deal only the missing ones out of `pool`.

    Args:
        pool: rows to split when no train split is given (e.g. a BEIR folder's single qrels.tsv).
        given: split name -> its rows, for the splits the dataset brings (a given train split is the pool).
        texts, seed, where: as for `split_by_components`.
        fractions: train / validation / test shares; the shares of the given evaluation splits are left out
            and the rest renormalized, so a given test split leaves train and validation in their ratio.

    Returns:
        The three splits, and where each came from: ``"given"`` or ``"made"``.
    """
    if "train" in given:
        pool = given["train"]
    made = [name for name in SPLITS if name not in given or name == "train"]
    shares = [fraction if name in made else 0.0 for name, fraction in zip(SPLITS, fractions)]
    total = sum(shares)
    shares = [share / total for share in shares] if total > 0 else [1.0, 0.0, 0.0]
    out = split_by_components(pool, texts, shares, seed, where) if pool else {name: [] for name in SPLITS}
    sources = {name: "made" for name in SPLITS}
    for name, rows in given.items():
        sources[name] = "given"
        if name != "train":  # a given train split was the pool: it keeps what was not dealt out
            out[name] = rows
    return out, sources


def check_disjoint(splits: dict[str, list[Any]], texts: Callable[[Any], Sequence[str]], where: str) -> None:
    """Raise if any text appears in more than one split."""
    seen: dict[str, str] = {}
    for name, rows in splits.items():
        for row in rows:
            for text in texts(row):
                other = seen.setdefault(text, name)
                if other != name:
                    raise UserError(
                        f"{where}: text {text[:60]!r} appears in both {other} and {name} splits; expected splits "
                        "that share no text (a row in one split only), so that a score is of texts that did not "
                        "train"
                    )
