"""Datasets read from one table of rows, or from a BEIR folder: the bundled sets and `dataset=local`.

`dataset=ncert_social`, `word_association` and `ml_concepts` read their bundled
`bundled/<name>/pairs.jsonl`; `dataset=local` reads the user's own file, hub dataset or BEIR folder.
Every row is checked (one line per mistake, naming file, row and column), exact duplicates are dropped,
and rows are split so that no text sits in two splits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from embedlab.data.beir import load_beir
from embedlab.data.bundle import KIND_COLUMNS, TEXT_COLUMNS, DataBundle, Part
from embedlab.data.readers import clean_label, clean_score, clean_text, read_hub, read_rows
from embedlab.data.splits import SPLITS, drop_exact_duplicates, split_missing
from embedlab.errors import UserError

BUNDLED = Path(__file__).parent / "bundled"
KINDS = (*KIND_COLUMNS, "retrieval")
# Name of the training part for each kind; a `loss=mixed` config uses these names as its keys.
PART_NAMES = {"pairs": "pairs", "triplets": "triplets", "scored_pairs": "scored", "labeled_pairs": "labeled"}
CLEANERS = {"score": clean_score, "label": clean_label}


def load_table(
    name: str,
    kind: str,
    path: str | None = None,
    hub: str | None = None,
    subset: str | None = None,
    hub_split: str = "train",
    columns: Mapping[str, str] | None = None,
    use: str = "both",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 42,
    validation_path: str | None = None,
    test_path: str | None = None,
    quoting: str = "csv",
    train_on_validation: bool = False,
) -> DataBundle:
    """Read, check and split one dataset of a single kind.

    Args:
        name: the dataset's name; with neither `path` nor `hub`, the bundled `bundled/<name>/pairs.jsonl`.
        kind: ``pairs`` (anchor, positive), ``triplets`` (anchor, positive, negative), ``scored_pairs``
            (sentence1, sentence2, score in [0, 1]), ``labeled_pairs`` (sentence1, sentence2, label 0/1), or
            ``retrieval`` (a BEIR folder: corpus.jsonl, queries.jsonl, qrels.tsv).
        path: a .jsonl, .json, .csv, .tsv or .parquet file; for ``retrieval``, a BEIR folder.
        hub: a Hugging Face dataset id, read instead of `path` (from the hub or the local cache).
        subset: the hub dataset's subset (config name), if it has several.
        hub_split: which split of the hub dataset to read; embedlab makes its own splits from it.
        columns: our column name -> yours, e.g. ``{"anchor": "question", "positive": "answer"}``; a column left
            out or null keeps our name.
        use: for ``retrieval`` only: ``both`` trains on (query, relevant doc) pairs and evaluates retrieval
            on held-out queries; ``train`` only trains; ``eval`` only evaluates (all queries held out).
        fractions: train / validation / test shares of the rows.
        seed: seed of the split.
        validation_path: a file of the same kind and columns (for ``retrieval``: a qrels TSV over the folder's
            queries and corpus) used as the validation split; the main data then fills train (and test).
        test_path: likewise for the test split.
        quoting: for CSV/TSV files: ``csv`` (fields may be quoted, as the csv module writes them) or ``none``
            (quote characters are part of the text; for files with stray quotes).
        train_on_validation: the validation split's rows also train, after the splits are made
            (`DataBundle.with_validation_training`): validation then measures fit, not held-out quality.

    Example:
        ``python -m train dataset=local dataset.path=qa.csv dataset.columns.anchor=question
        dataset.columns.positive=answer``
    """
    if kind not in KINDS:
        raise UserError(f"dataset.kind={kind!r} is not supported; expected one of {', '.join(KINDS)}")
    if path and hub:
        raise UserError(f"dataset.path={path} and dataset.hub={hub} are both set; expected one source")
    if kind == "retrieval":
        if hub:
            raise UserError(f"dataset.hub={hub} with kind=retrieval is not supported; expected a BEIR folder in path")
        bundle = load_beir(name, _source_path(name, path), use, fractions, seed, validation_path, test_path)
        return bundle.with_validation_training() if train_on_validation else bundle
    if hub:
        source = hub + (f" ({subset})" if subset else "")
        raw = read_hub(hub, subset, hub_split)
    else:
        source = str(_source_path(name, path))
        raw = read_rows(source, quoting)
    rows = _clean_rows(raw, kind, _column_map(kind, columns or {}), source)
    rows = drop_exact_duplicates(rows, lambda r: tuple(r.values()))
    texts = TEXT_COLUMNS[kind]
    given = {  # the user's own evaluation files, used as those splits
        split: _read_given(file, kind, columns or {}, quoting)
        for split, file in (("validation", validation_path), ("test", test_path))
        if file
    }
    splits, sources = split_missing(rows, given, lambda r: tuple(r[c] for c in texts), fractions, seed, "dataset")
    made = [f if sources[s] == "made" else 0.0 for s, f in zip(SPLITS, fractions)]
    _check_every_split_has_rows(splits, made, source)
    bundle = DataBundle(name, source, {PART_NAMES[kind]: Part(kind, splits)}, split_sources=sources)
    bundle.check_disjoint()
    return bundle.with_validation_training() if train_on_validation else bundle


def _read_given(path: str, kind: str, columns: Mapping[str, str], quoting: str) -> list[dict[str, str | float]]:
    rows = _clean_rows(read_rows(path, quoting), kind, _column_map(kind, columns), str(Path(path).expanduser()))
    return drop_exact_duplicates(rows, lambda r: tuple(r.values()))


def _source_path(name: str, path: str | None) -> Path:
    if path:
        return Path(path).expanduser()
    bundled = BUNDLED / name / "pairs.jsonl"
    if not bundled.exists():
        raise UserError(  # `name`: dataset.name, which an experiment may set (experiment=retrieval: retrieval)
            f"dataset.name={name} has no bundled data and no dataset.path is given; expected "
            "dataset.path=<.jsonl, .csv, .tsv or .parquet file, "
            "or a BEIR folder for kind=retrieval> or dataset.hub=<hub dataset id>"
        )
    return bundled


def _column_map(kind: str, columns: Mapping[str, str]) -> dict[str, str]:
    """Our column -> the source's column, for every column of `kind`; a null mapping keeps our name."""
    ours = KIND_COLUMNS[kind]
    columns = {key: value for key, value in columns.items() if value is not None}
    unknown = [key for key in columns if key not in ours]
    if unknown:
        raise UserError(
            f"dataset.columns.{unknown[0]} is not a column of kind {kind}; expected keys among {', '.join(ours)}"
        )
    return {column: str(columns.get(column, column)) for column in ours}


def _clean_rows(
    raw: list[dict[str, Any]], kind: str, mapping: dict[str, str], where: str
) -> list[dict[str, str | float]]:
    """Rows with our column names and checked values; the first bad row raises one line."""
    rows = []
    for number, row in enumerate(raw, start=1):
        clean: dict[str, str | float] = {}
        for ours, theirs in mapping.items():
            if theirs not in row:
                raise UserError(_missing_column_message(where, number, row, ours, theirs, mapping, kind))
            clean[ours] = CLEANERS.get(ours, clean_text)(row[theirs], where, number, theirs)
        rows.append(clean)
    return rows


def _missing_column_message(
    where: str, number: int, row: dict[str, Any], ours: str, theirs: str, mapping: dict[str, str], kind: str
) -> str:
    """Names the columns as read (quoted, so a stray space shows) and the likely fix."""
    read = ", ".join(repr(column) for column in row)
    near = [column for column in row if str(column).strip().lower() == theirs.lower()]
    if near:
        hint = f"the header has {near[0]!r}: remove the spaces or map dataset.columns.{ours}='{near[0]}'"
    elif ours == theirs:
        hint = f"map yours with dataset.columns.{ours}=<column>"
    else:
        hint = "check dataset.columns"
    return (
        f"{where}: row {number} has no column '{theirs}' (columns read: {read}); expected columns "
        f"{', '.join(mapping.values())} for kind {kind} ({hint})"
    )


def _check_every_split_has_rows(splits: dict[str, list], fractions: Sequence[float], where: str) -> None:
    """A split asked for must not come out empty: validation picks the checkpoint, test reports it."""
    empty = [split for split, fraction in zip(SPLITS, fractions) if fraction > 0 and not splits[split]]
    if empty:
        rows = sum(len(rows) for rows in splits.values())
        raise UserError(
            f"{where}: {rows} distinct {'row leaves' if rows == 1 else 'rows leave'} the {empty[0]} split empty with "
            f"dataset.fractions={list(fractions)}; "
            "expected more rows (rows that share a text stay in one split) or a larger fraction"
        )
