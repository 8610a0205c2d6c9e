"""`dataset.kind=retrieval`: a BEIR folder, with its own train / dev / test splits when it has them.

Folder layouts, either of which may be given as `dataset.path=`:
    corpus.jsonl {_id, title?, text}, queries.jsonl {_id, text}, and
    qrels/{train,dev,test}.tsv   BEIR's own splits (query-id, corpus-id, score): used as given
    qrels.tsv                    one set of judgements: embedlab makes train / validation / test from it

Any split the folder lacks is made from its train judgements (or from qrels.tsv), by `dataset.fractions`
renormalized over the splits still to make; `dataset.validation_path=` / `dataset.test_path=` name a qrels
file to use as that split instead. Every evaluation split ranks the whole corpus. The run's param
`dataset.splits_source` says which splits were given and which were made.

Leak checks: a query id, or a query text, never sits in two splits; splits that embedlab makes never share
a gold passage either (given splits may: the corpus is shared). Retrieval evaluation skips self-hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from embedlab.data.bundle import DataBundle, Part, retrieval_splits
from embedlab.data.readers import not_found, read_qrels, read_texts
from embedlab.data.splits import SPLITS, drop_exact_duplicates, split_missing
from embedlab.errors import UserError

RETRIEVAL_USES = ("both", "train", "eval")
# BEIR's file name for each of our splits.
BEIR_SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}


def load_beir(
    name: str,
    folder: Path,
    use: str = "both",
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 42,
    validation_path: str | None = None,
    test_path: str | None = None,
) -> DataBundle:
    """A BEIR folder as (query, relevant doc) training pairs, held-out retrieval queries, or both.

    Args:
        name: the dataset's name.
        folder: the BEIR folder (see the module docstring for its layouts).
        use: ``both`` trains on (query, relevant doc) pairs and evaluates held-out queries; ``train`` only
            trains; ``eval`` only evaluates (every query held out, shared by validation and test).
        fractions: train / validation / test shares for the splits the folder does not give.
        seed: seed of the splits made here.
        validation_path: a qrels TSV (query-id, corpus-id, score) over the folder's queries and corpus: the
            validation split, instead of qrels/dev.tsv or a share of train.
        test_path: likewise for the test split.
    """
    if use not in RETRIEVAL_USES:
        raise UserError(f"dataset.use={use!r} is not supported; expected one of {', '.join(RETRIEVAL_USES)}")
    corpus, queries, pool_file, given_files = _beir_files(folder, validation_path, test_path)
    _check_every_split_has_judgements(folder, pool_file, given_files, fractions, use)
    pool = qrels_rows(pool_file, queries, corpus) if pool_file else []
    given = {split: qrels_rows(path, queries, corpus) for split, path in given_files.items()}
    if use == "eval":  # every query is held out, shared by validation and test in the ratio of `fractions`
        if "train" in given:
            pool = given.pop("train") + pool
        held_out = fractions[1] + fractions[2]
        validation = fractions[1] / held_out if held_out else 0.5
        fractions = (0.0, validation, 1.0 - validation)
    texts = lambda r: (r["anchor"], r["positive"])  # noqa: E731
    pool = drop_exact_duplicates(pool, texts)
    splits, sources = split_missing(pool, given, texts, fractions, seed, "dataset")
    _check_split_queries(splits, folder, [f if sources[s] == "made" else 0.0 for s, f in zip(SPLITS, fractions)])
    parts = {}
    if use in ("both", "train"):
        pairs = {s: [{"anchor": r["anchor"], "positive": r["positive"]} for r in splits[s]] for s in SPLITS}
        parts["pairs"] = Part("pairs", pairs, disjoint=("anchor",) if given else None)
    retrieval = retrieval_splits(splits, queries) if use in ("both", "eval") else {}
    bundle = DataBundle(name, str(folder), parts, corpus if retrieval else {}, retrieval, sources)
    bundle.check_disjoint()
    return bundle


def _beir_files(
    folder: Path, validation_path: str | None, test_path: str | None
) -> tuple[dict[str, str], dict[str, str], Path | None, dict[str, Path]]:
    """Corpus, queries, the qrels file to split (if any), and the qrels file of each given split."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder}: not a directory; expected a BEIR folder with corpus.jsonl, queries.jsonl, qrels")
    missing = [f for f in ("corpus.jsonl", "queries.jsonl") if not (folder / f).exists()]
    for name in missing:
        if (folder / name).is_symlink():  # a link to no file: say where it points, as for any file
            raise not_found(folder / name)
    split_dir = folder / "qrels"
    if not split_dir.is_dir() and not (folder / "qrels.tsv").exists():
        missing.append("qrels.tsv (or qrels/{train,dev,test}.tsv)")
    if missing:
        raise UserError(
            f"{folder}: missing {', '.join(missing)}; expected a BEIR folder with corpus.jsonl, queries.jsonl "
            "and qrels.tsv or qrels/{train,dev,test}.tsv"
        )
    given = {s: split_dir / f for s, f in BEIR_SPLIT_FILES.items() if (split_dir / f).exists()}
    if split_dir.is_dir() and not given:
        raise UserError(f"{split_dir}: has none of {', '.join(BEIR_SPLIT_FILES.values())}; expected BEIR's qrels files")
    if "train" in given and (folder / "qrels.tsv").exists():  # which one trains? either choice would drop the other
        raise UserError(
            f"{folder}: has both qrels.tsv and qrels/train.tsv, two sets of training judgements; expected one "
            "(qrels/ as BEIR gives it, or qrels.tsv alone for embedlab to split)"
        )
    for split, path in (("validation", validation_path), ("test", test_path)):
        if path:
            given[split] = Path(path).expanduser()
            if not given[split].is_file():
                raise UserError(f"dataset.{split}_path={path}: file not found; expected a qrels TSV")
    pool = folder / "qrels.tsv" if "train" not in given and (folder / "qrels.tsv").exists() else None
    corpus = read_texts(folder / "corpus.jsonl", with_title=True)
    queries = read_texts(folder / "queries.jsonl", with_title=False)
    return corpus, queries, pool, given


def _check_every_split_has_judgements(
    folder: Path, pool_file: Path | None, given: dict[str, Path], fractions: Sequence[float], use: str
) -> None:
    """A split to make needs judgements to make it from (qrels/train.tsv or qrels.tsv): say which files exist."""
    if pool_file or "train" in given:
        return
    if use == "eval":  # validation and test are held out in the ratio of their fractions
        wanted = {"validation": fractions[1] > 0 or not fractions[2], "test": fractions[2] > 0 or not fractions[1]}
    else:
        wanted = {"train": True, "validation": fractions[1] > 0, "test": fractions[2] > 0}
    lacking = [split for split, needed in wanted.items() if needed and split not in given]
    if not lacking:
        return
    found = ", ".join(str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p) for p in given.values())
    absent = [f"qrels/{name}" for name in BEIR_SPLIT_FILES.values() if not (folder / "qrels" / name).exists()]
    if use == "eval":
        hint = "; or qrels/dev.tsv, or dataset.validation_path=<qrels .tsv>, for the validation split"
    elif "validation" in given:
        hint = "; or dataset.use=eval to only evaluate on the given splits"
    else:
        hint = "; or qrels/dev.tsv (or dataset.validation_path=<qrels .tsv>) with dataset.use=eval to only evaluate"
    raise UserError(
        f"{folder}: has {found} only ({', '.join([*absent, 'qrels.tsv'])} absent), so the {' and '.join(lacking)} "
        f"split{'s have' if len(lacking) > 1 else ' has'} no judgements; expected qrels/train.tsv (BEIR's training "
        f"judgements) or a qrels.tsv to split by dataset.fractions{hint}"
    )


def qrels_rows(path: Path, queries: dict[str, str], corpus: dict[str, str]) -> list[dict[str, str]]:
    """(query, relevant doc) rows of a qrels TSV, in (query id, doc id) order; judgements of score 0 dropped."""
    if path.suffix.lower() != ".tsv":
        raise UserError(f"{path}: expected a qrels .tsv file (query-id, corpus-id, score)")
    relevant = read_qrels(path, queries, corpus)
    if not relevant:
        raise UserError(f"{path}: no row has a score above 0; expected at least one relevant doc")
    return [
        {"anchor": queries[q], "positive": corpus[d], "query_id": q, "doc_id": d}
        for q in sorted(relevant)
        for d in sorted(relevant[q])
    ]


def _check_split_queries(splits: dict[str, list[dict]], folder: Path, fractions: Sequence[float]) -> None:
    """A query id in two splits is a leak; a split made here with a fraction > 0 must not come out empty."""
    seen: dict[str, str] = {}
    for split, rows in splits.items():
        for row in rows:
            other = seen.setdefault(row["query_id"], split)
            if other != split:
                raise UserError(
                    f"{folder}: query-id '{row['query_id']}' is in both the {other} and {split} splits; "
                    "expected each query in one split"
                )
    empty = [split for split, fraction in zip(SPLITS, fractions) if fraction > 0 and not splits[split]]
    if empty:
        raise UserError(
            f"{folder}: {len(seen)} queries leave the {empty[0]} split empty with dataset.fractions={list(fractions)}; "
            "expected more queries (queries that share a relevant doc stay in one split) or a larger fraction"
        )
