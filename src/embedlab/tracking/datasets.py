"""The rows a run trained, validated and tested on, as MLflow dataset inputs (the runs table's Dataset column)."""

from __future__ import annotations

from embedlab.data.splits import SPLITS

CONTEXTS = {"train": "train", "validation": "validation", "test": "test"}


def split_frame(data, split: str):
    """One split's rows of every part as a DataFrame, with a `part` column; retrieval queries included."""
    import pandas as pd

    rows = [{"part": name, **row} for name, part in data.parts.items() for row in part.splits.get(split, [])]
    retrieval = data.retrieval.get(split)
    if retrieval is not None:
        rows += [{"part": "retrieval_queries", "query_id": q, "query": text} for q, text in retrieval.queries.items()]
    return pd.DataFrame(rows).astype(str) if rows else None


def split_datasets(data) -> list[tuple[object, str]]:
    """(MLflow dataset, context) per split that has rows: name `<dataset>-<split>`, digest of its rows, source."""
    import mlflow.data

    out = []
    for split in SPLITS:
        frame = split_frame(data, split)
        if frame is None:
            continue
        name = f"{data.name}-{split}"
        try:
            dataset = mlflow.data.from_pandas(frame, source=str(data.source), name=name)
        except Exception:  # a source MLflow cannot resolve (a hub id): the rows and digest still tell runs apart
            dataset = mlflow.data.from_pandas(frame, name=name)
        out.append((dataset, CONTEXTS.get(split, split)))
    return out


# What a broken unique key says: SQLite's and PostgreSQL's words, as MLflow passes them on (also over REST)
UNIQUE_KEY_BROKEN = ("UNIQUE constraint failed", "duplicate key value violates unique constraint")


def log_input(dataset, context: str, tries: int = 3) -> None:
    """`mlflow.log_input`, safe when parallel trials log the same new dataset at the same moment.

    MLflow's store looks the dataset up, then inserts it: of two runs that both found it missing, the second
    insert breaks the table's unique key (experiment, name, digest) and the whole call is rolled back. Tried
    again, the lookup finds the first run's row and only the link to this run is written.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    for attempt in range(tries):
        try:
            mlflow.log_input(dataset, context=context)
            return
        except MlflowException as exc:
            if attempt == tries - 1 or not any(words in str(exc) for words in UNIQUE_KEY_BROKEN):
                raise
