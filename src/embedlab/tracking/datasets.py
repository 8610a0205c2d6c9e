"""The rows a run trained, validated and tested on, as MLflow dataset inputs (the runs table's Dataset column)."""

from __future__ import annotations

import warnings

from embedlab.data.splits import SPLITS
from embedlab.tracking.unique_keys import retry_unique_key_race

AMBIGUOUS_LOCAL_SOURCE = (
    r"The specified dataset source can be interpreted in multiple ways: LocalArtifactDatasetSource, "
    r"LocalArtifactDatasetSource\."
)
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
        with warnings.catch_warnings():
            # MLflow registers its local-files source twice (for "" and "file://"), so resolving a local path
            # warns "can be interpreted in multiple ways: LocalArtifactDatasetSource, LocalArtifactDatasetSource"
            # for each split. Both are the same source: only that warning is silenced, only here.
            warnings.filterwarnings("ignore", message=AMBIGUOUS_LOCAL_SOURCE, category=UserWarning)
            try:
                dataset = mlflow.data.from_pandas(frame, source=str(data.source), name=name)
            except Exception:  # a source MLflow cannot resolve (a hub id): the rows and digest still tell runs apart
                dataset = mlflow.data.from_pandas(frame, name=name)
        out.append((dataset, CONTEXTS.get(split, split)))
    return out


def log_input(dataset, context: str) -> None:
    """`mlflow.log_input`, safe when parallel trials log the same new dataset at the same moment."""
    import mlflow

    retry_unique_key_race(mlflow.log_input, dataset, context=context)
