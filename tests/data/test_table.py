"""`load_table`: every kind from every format, column mappings, BEIR folders, and one line per bad row."""

from __future__ import annotations

import json

import pytest

from embedlab.data.splits import SPLITS
from embedlab.data.table import load_table
from embedlab.errors import UserError

FORMATS = [
    ("pairs", "pairs.csv"),
    ("pairs", "pairs.json"),
    ("triplets", "triplets.jsonl"),
    ("scored_pairs", "scored.tsv"),
    ("labeled_pairs", "labeled.parquet"),
]
PART = {"pairs": "pairs", "triplets": "triplets", "scored_pairs": "scored", "labeled_pairs": "labeled"}


def all_rows(bundle, part):
    return [row for split in SPLITS for row in bundle.parts[part].splits[split]]


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("kind", "name"), FORMATS, ids=[name for _, name in FORMATS])
def test_every_kind_from_every_format(write_table, rows_of, kind, name):
    rows = rows_of(kind, 20)
    bundle = load_table("local", kind, path=str(write_table(name, rows + rows[:3])), seed=1)
    part = bundle.parts[PART[kind]]
    assert part.kind == kind
    expected = [{k: float(v) if k in ("score", "label") else v for k, v in row.items()} for row in rows]
    assert sorted(map(str, all_rows(bundle, PART[kind]))) == sorted(map(str, expected))  # duplicates dropped
    assert all(part.splits[s] for s in SPLITS)
    bundle.check_disjoint()
    assert bundle.fingerprint()["source"].endswith(name)


def test_scores_and_labels_become_floats(write_table, rows_of):
    bundle = load_table("local", "labeled_pairs", path=str(write_table("labels.csv", rows_of("labeled_pairs"))))
    assert {row["label"] for row in all_rows(bundle, "labeled")} == {0.0, 1.0}


def test_column_mapping(write_table):
    rows = [{"question": f"question {i}", "answer": f"answer {i}", "topic": "x"} for i in range(10)]
    path = str(write_table("qa.csv", rows))
    bundle = load_table("local", "pairs", path=path, columns={"anchor": "question", "positive": "answer"})
    assert {"anchor": "question 3", "positive": "answer 3"} in all_rows(bundle, "pairs")
    with pytest.raises(UserError) as exc:
        load_table("local", "pairs", path=path, columns={"query": "question"})
    assert "dataset.columns.query is not a column of kind pairs" in one_line(exc)


def test_splits_are_deterministic_for_a_seed(write_table, rows_of):
    path = str(write_table("pairs.jsonl", rows_of("pairs", 40)))
    fingerprint = load_table("local", "pairs", path=path, seed=5).fingerprint()
    assert fingerprint == load_table("local", "pairs", path=path, seed=5).fingerprint()
    assert fingerprint["sha256"] != load_table("local", "pairs", path=path, seed=6).fingerprint()["sha256"]


def test_shared_text_stays_in_one_split(write_table):
    rows = [{"anchor": f"q{i}", "positive": "the same answer" if i < 5 else f"a{i}"} for i in range(30)]
    bundle = load_table("local", "pairs", path=str(write_table("pairs.jsonl", rows)))
    bundle.check_disjoint()
    holders = [s for s in SPLITS if any(r["positive"] == "the same answer" for r in bundle.parts["pairs"].splits[s])]
    assert len(holders) == 1


def test_evaluators_follow_the_kind(write_table, rows_of):
    names = {}
    for kind, name in FORMATS:
        bundle = load_table("local", kind, path=str(write_table(name, rows_of(kind, 20))))
        names[kind] = sorted(type(e).__name__ for e in bundle.evaluators("validation"))
    assert names["pairs"] == ["RetrievalEvaluator"]
    assert names["triplets"] == ["RetrievalEvaluator", "TripletAccuracyEvaluator"]
    assert names["scored_pairs"] == names["labeled_pairs"] == ["SimilarityEvaluator"]


def test_retrieval_both_trains_on_pairs_and_evaluates_held_out_queries(beir_folder):
    bundle = load_table("local", "retrieval", path=str(beir_folder))
    assert bundle.parts["pairs"].kind == "pairs"
    assert len(bundle.corpus) == 12  # the whole corpus, distractors included
    train_texts = {t for row in bundle.parts["pairs"].splits["train"] for t in row.values()}
    for split in ("validation", "test"):
        retrieval = bundle.retrieval[split]
        assert retrieval.queries
        for query_id, text in retrieval.queries.items():
            assert text not in train_texts
            assert not {bundle.corpus[d] for d in retrieval.relevant[query_id]} & train_texts
    assert [type(e).__name__ for e in bundle.evaluators("test")] == ["RetrievalEvaluator"]


def test_retrieval_train_only_and_eval_only(beir_folder):
    train_only = load_table("local", "retrieval", path=str(beir_folder), use="train")
    assert list(train_only.parts) == ["pairs"] and not train_only.retrieval
    eval_only = load_table("local", "retrieval", path=str(beir_folder), use="eval")
    assert not eval_only.parts and not eval_only.retrieval["train"].queries
    held_out = [q for s in ("validation", "test") for q in eval_only.retrieval[s].queries]
    assert sorted(held_out) == sorted(f"q{i}" for i in range(10))
    with pytest.raises(UserError, match="dataset.use='sometimes' is not supported"):
        load_table("local", "retrieval", path=str(beir_folder), use="sometimes")


def test_retrieval_folder_lacking_beir_files(tmp_path):
    (tmp_path / "beir").mkdir()
    with pytest.raises(UserError) as exc:
        load_table("local", "retrieval", path=str(tmp_path / "beir"))
    assert "missing corpus.jsonl, queries.jsonl, qrels.tsv" in one_line(exc)


BAD_ROWS = [
    ("pairs", {"anchor": "a question"}, "row 3 has no column 'positive'"),
    ("pairs", {"anchor": "a question", "positive": "   "}, "row 3 column 'positive' is empty; expected text"),
    ("triplets", {"anchor": "a", "positive": "b", "negative": None}, "row 3 column 'negative' is empty"),
    ("scored_pairs", {"sentence1": "a", "sentence2": "b", "score": 1.5}, "row 3 column 'score'=1.5 is outside [0, 1]"),
    (
        "scored_pairs",
        {"sentence1": "a", "sentence2": "b", "score": float("nan")},
        "row 3 column 'score'=nan is outside",
    ),
    (
        "scored_pairs",
        {"sentence1": "a", "sentence2": "b", "score": "high"},
        "row 3 column 'score'='high' is not a number",
    ),
    (
        "labeled_pairs",
        {"sentence1": "a", "sentence2": "b", "label": "yes"},
        "row 3 column 'label'='yes' is not numeric",
    ),
    ("labeled_pairs", {"sentence1": "a", "sentence2": "b", "label": 2}, "row 3 column 'label'=2 is not 0 or 1"),
]


@pytest.mark.parametrize(
    ("kind", "bad", "expected"), BAD_ROWS, ids=[f"{kind}-{i}" for i, (kind, *_) in enumerate(BAD_ROWS)]
)
def test_bad_row_is_named_in_one_line(tmp_path, rows_of, kind, bad, expected):
    path = tmp_path / "data.jsonl"
    rows = rows_of(kind, 2) + [bad]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")  # NaN as JSON's NaN
    with pytest.raises(UserError) as exc:
        load_table("local", kind, path=str(path))
    assert f"{path}: {expected}" in one_line(exc)


def test_missing_column_in_a_csv_header_names_the_mapping(write_table):
    path = write_table("qa.csv", [{"question": "q", "answer": "a"}])
    with pytest.raises(UserError) as exc:
        load_table("local", "pairs", path=str(path))
    message = one_line(exc)
    assert f"{path}: row 1 has no column 'anchor'" in message and "dataset.columns.anchor=<column>" in message


def test_local_without_data_says_how_to_give_it():
    with pytest.raises(UserError) as exc:
        load_table("local", "pairs")
    assert "dataset.name=local has no bundled data and no dataset.path is given; expected dataset.path=" in one_line(
        exc
    )


def test_wrong_kind_and_two_sources(tmp_path):
    with pytest.raises(UserError, match="dataset.kind='pair' is not supported; expected one of pairs, triplets"):
        load_table("local", "pair", path=str(tmp_path / "x.jsonl"))
    with pytest.raises(UserError, match="are both set; expected one source"):
        load_table("local", "pairs", path="x.jsonl", hub="someone/data")


def test_hub_source_offline(monkeypatch):
    with pytest.raises(UserError) as exc:
        load_table("local", "pairs", hub="embedlab-tests/no-such-dataset")
    assert "hub dataset embedlab-tests/no-such-dataset split train" in one_line(exc)


def test_hub_rows_go_through_the_same_checks(monkeypatch, rows_of):
    seen = {}

    def fake_read_hub(dataset_id, subset=None, split="train", hint=""):
        seen.update(dataset_id=dataset_id, subset=subset, split=split)
        return [{"q": r["anchor"], "a": r["positive"]} for r in rows_of("pairs", 10)]

    monkeypatch.setattr("embedlab.data.table.read_hub", fake_read_hub)
    bundle = load_table(
        "local", "pairs", hub="someone/qa", subset="clean", columns={"anchor": "q", "positive": "a"}, seed=0
    )
    assert seen == {"dataset_id": "someone/qa", "subset": "clean", "split": "train"}
    assert bundle.source == "someone/qa (clean)" and len(all_rows(bundle, "pairs")) == 10


def test_too_few_rows_for_a_held_out_split(write_table, rows_of):
    path = write_table("tiny.jsonl", rows_of("pairs", 3))
    with pytest.raises(UserError) as exc:
        load_table("local", "pairs", path=str(path))
    assert f"{path}: 3 distinct rows leave the validation split empty" in one_line(exc)
    assert load_table("local", "pairs", path=str(path), fractions=[1.0, 0.0, 0.0]).parts["pairs"].splits["train"]


def refusals(tmp_path, physics_folder) -> dict[str, tuple[list[str], str]]:
    """name -> (dataset overrides, what the one error line must say it found)."""
    header = tmp_path / "spaced.csv"
    header.write_text("anchor, positive\n" + "".join(f"q{i}, p{i}\n" for i in range(40)), encoding="utf-8")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": [{"anchor": f"q{i}", "positive": f"p{i}"} for i in range(40)]}))
    multiline = tmp_path / "multiline.csv"
    multiline.write_text("anchor,positive\n" + "".join(f'q{i},"p{i}\nmore {i}"\n' for i in range(40)))
    test_only = tmp_path / "test_only"
    test_only.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        (test_only / name).write_bytes((physics_folder / name).read_bytes())
    (test_only / "qrels").mkdir()
    (test_only / "qrels" / "test.tsv").write_bytes((physics_folder / "qrels.tsv").read_bytes())
    return {
        "header with a space": (
            [f"dataset.path={header}"],
            f"{header}: row 1 has no column 'positive' (columns read: 'anchor', ' positive')",
        ),
        "json object": ([f"dataset.path={wrapped}"], f"{wrapped}: holds a JSON object (keys 'data') where a list"),
        "beir folder as a table": ([f"dataset.path={physics_folder}"], "is a BEIR folder (corpus.jsonl"),
        "beir test judgements only": (
            [f"dataset.path={test_only}", "dataset.kind=retrieval"],
            f"{test_only}: has qrels/test.tsv only (",
        ),
        "quoting none on quoted line breaks": (
            [f"dataset.path={multiline}", "dataset.quoting=none"],
            f"{multiline}: line 3 has 1 field, fewer than the header's 2",
        ),
    }


REFUSALS = [
    "header with a space",
    "json object",
    "beir folder as a table",
    "beir test judgements only",
    "quoting none on quoted line breaks",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", REFUSALS)
def test_the_command_refuses_in_one_line_naming_what_it_found(name, tiny_model_path, physics_folder, tmp_path):
    from embedlab_testing import run_train, runs

    cases = refusals(tmp_path, physics_folder)
    assert set(cases) == set(REFUSALS)
    overrides, expected = cases[name]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(
        f"model.name_or_path={tiny_model_path}",
        "dataset=local",
        *overrides,
        f"hydra.run.dir={tmp_path / 'run'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert all(run.info.status != "RUNNING" for run in runs(uri))


def test_few_evaluation_rows_warn_without_speaking_of_ndcg_and_an_empty_split_is_none(write_table, rows_of):
    """Scored pairs log a correlation: the warning said "one query can move ndcg@10" of data that has none."""
    bundle = load_table("local", "scored_pairs", path=str(write_table("sts.jsonl", rows_of("scored_pairs", 40))))
    warning = bundle.size_warning()
    assert warning.startswith(
        "warning: validation 4 rows and test 4 rows (fewer than 200): each score is measured on 4"
    )
    assert "ndcg" not in warning and "qrels" not in warning
    no_test = load_table(
        "local",
        "scored_pairs",
        path=str(write_table("sts2.jsonl", rows_of("scored_pairs", 40))),
        fractions=(0.9, 0.1, 0),
    )
    params = no_test.params()
    assert params["dataset.splits_source"] == "train=made,validation=made,test=none"
    assert "eval.test_rows" not in params and params["eval.validation_rows"] == 4
