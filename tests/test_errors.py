"""Bad input ends in one clear line, exit 2, no traceback, and no MLflow run left RUNNING."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab_testing import assert_refused_in_one_line, run_train, write_jsonl


def bad_inputs(tmp: Path, tiny: str, physics: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (overrides, text the message must contain)."""
    malformed = tmp / "malformed"
    malformed.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        (malformed / name).write_bytes((physics / name).read_bytes())
    (malformed / "pairs.jsonl").write_text('{"anchor": "a", "positive": "b"}\n{"anchor": "broken\n')
    no_column = tmp / "no_column"
    no_column.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        (no_column / name).write_bytes((physics / name).read_bytes())
    write_jsonl(no_column / "pairs.jsonl", [{"anchor": "a", "answer": "b"}])
    empty = tmp / "empty"
    empty.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        (empty / name).write_bytes((physics / name).read_bytes())
    (empty / "pairs.jsonl").write_text("")
    scores = write_jsonl(tmp / "scores.jsonl", [{"sentence1": "a", "sentence2": "b", "score": 1.5}])
    (tmp / "notes.txt").write_text("anchor,positive\n")
    local = [f"model.name_or_path={tiny}", "dataset=local"]
    base = [f"model.name_or_path={tiny}", f"dataset.path={physics}"]
    return {
        "empty data file": ([f"model.name_or_path={tiny}", f"dataset.path={empty}"], "empty"),
        "score outside [0, 1]": (
            [*local, "dataset.kind=scored_pairs", f"dataset.path={scores}", "loss=cosine"],
            "score",
        ),
        "unsupported extension": ([*local, f"dataset.path={tmp / 'notes.txt'}"], ".txt"),
        "quora without a file": ([f"model.name_or_path={tiny}", "dataset=quora"], "dataset.path"),
        "unknown device": ([*base, "hardware.device=tpu"], "hardware.device"),
        "warmup ratio": ([*base, "training.warmup_ratio=2"], "training.warmup_ratio"),
        "negative loss scale": ([*base, "loss.scale=-1"], "loss"),
        "unknown resume id": ([*base, "resume=0123abcd"], "resume=0123abcd"),
        "missing reranker": ([*base, "phase=hard_negatives", f"phase.reranker.model={tmp / 'no-ce'}"], "reranker"),
        "unlogged optimized metric": (
            [*base, "optimized_metric=ndcg_at_11", "training.max_steps=2"],
            "optimized_metric",
        ),
        "missing data file": ([f"model.name_or_path={tiny}", f"dataset.path={tmp / 'nowhere'}"], "nowhere"),
        "malformed data file": ([f"model.name_or_path={tiny}", f"dataset.path={malformed}"], "pairs.jsonl: line 2"),
        "missing column": ([f"model.name_or_path={tiny}", f"dataset.path={no_column}"], "positive"),
        "model path": ([f"model.name_or_path={tmp / 'no-model'}", f"dataset.path={physics}"], "model.name_or_path"),
        "batch size 0": ([*base, "training.batch_size=0"], "training.batch_size"),
        "negative epochs": ([*base, "training.epochs=-1"], "training.epochs"),
        "tracking uri": ([*base, f"tracking.uri=sqlite:///{tmp}/missing/dir/mlflow.db"], "tracking.uri"),
        "unknown sampler": ([*base, "sampler.batch_sampler=shuffled"], "sampler.batch_sampler"),
        "loss vs data": ([*base, "loss.data_kinds=[scored_pairs]"], "loss="),
    }


@pytest.fixture(scope="module")
def cases(tiny_model_path, physics_folder, tmp_path_factory):
    return bad_inputs(tmp_path_factory.mktemp("bad"), tiny_model_path, physics_folder)


CASES = [
    "empty data file",
    "score outside [0, 1]",
    "unsupported extension",
    "quora without a file",
    "unknown device",
    "warmup ratio",
    "negative loss scale",
    "unknown resume id",
    "missing reranker",
    "unlogged optimized metric",
    "missing data file",
    "malformed data file",
    "missing column",
    "model path",
    "batch size 0",
    "negative epochs",
    "tracking uri",
    "unknown sampler",
    "loss vs data",
]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_one_line(name, cases, tmp_path):
    overrides, expected = cases[name]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(*overrides, f"hydra.run.dir={tmp_path / 'run'}", env={"MLFLOW_TRACKING_URI": uri})
    assert_refused_in_one_line(result, expected, uri)


def test_the_catalogue_has_at_least_15_distinct_bad_inputs():
    assert len(set(CASES)) >= 15


def test_unknown_option_is_one_line_with_the_options(tmp_path):
    result = run_train("loss=no_such_loss", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: loss=no_such_loss is not an option of loss; expected one of angle, cached_mnrl, contrastive, "
        "cosent, cosine, gist, matryoshka, mixed, mnrl, online_contrastive, triplet"
    ]
