"""BEIR folders: their own train / dev / test splits used as given, separate evaluation files, leak checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedlab.data.table import load_table
from embedlab.errors import UserError


def write_beir_splits(folder: Path, splits: dict[str, range], n_docs: int = 40, flat: range | None = None) -> Path:
    """Query i is relevant to doc i; `splits` maps a qrels file name (train, dev, test) to its query numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus = [{"_id": f"d{i}", "title": f"Topic {i}", "text": f"Passage about topic {i}."} for i in range(n_docs)]
    queries = [{"_id": f"q{i}", "text": f"What does the passage say about topic {i}?"} for i in range(n_docs)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    for name, numbers in splits.items():
        write_qrels(folder / "qrels" / f"{name}.tsv", [(f"q{i}", f"d{i}") for i in numbers])
    if flat is not None:
        write_qrels(folder / "qrels.tsv", [(f"q{i}", f"d{i}") for i in flat])
    return folder


def write_qrels(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(["query-id\tcorpus-id\tscore", *(f"{q}\t{d}\t1" for q, d in pairs)]) + "\n")
    return path


def query_ids(bundle, split: str) -> set[str]:
    return set(bundle.retrieval[split].queries)


def test_the_folders_own_train_dev_test_are_used_as_given(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {"train": range(0, 20), "dev": range(20, 25), "test": range(25, 30)})
    bundle = load_table("local", "retrieval", path=str(folder))
    assert query_ids(bundle, "train") == {f"q{i}" for i in range(20)}
    assert query_ids(bundle, "validation") == {f"q{i}" for i in range(20, 25)}
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(25, 30)}
    assert len(bundle.parts["pairs"].splits["train"]) == 20  # every training judgement, none held back
    assert len(bundle.corpus) == 40  # evaluation ranks the whole corpus
    assert bundle.params() == {
        "dataset.splits_source": "train=given,validation=given,test=given",
        "eval.validation_queries": 5,
        "eval.test_queries": 5,
    }


def test_only_the_missing_split_is_made_from_train(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {"train": range(0, 30), "test": range(30, 40)})
    bundle = load_table("local", "retrieval", path=str(folder), fractions=(0.8, 0.1, 0.1))
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(30, 40)}  # untouched
    train, validation = query_ids(bundle, "train"), query_ids(bundle, "validation")
    assert train | validation == {f"q{i}" for i in range(30)} and not train & validation
    assert len(validation) == pytest.approx(30 * 0.1 / 0.9, abs=1)  # train : validation stays 8 : 1
    assert bundle.split_sources == {"train": "given", "validation": "made", "test": "given"}


def test_given_splits_may_share_a_gold_passage_but_never_a_query(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {"train": range(0, 10), "test": range(10, 12)})
    write_qrels(folder / "qrels" / "test.tsv", [("q10", "d0"), ("q11", "d11")])  # d0 is also a training positive
    bundle = load_table("local", "retrieval", path=str(folder), fractions=(0.9, 0.0, 0.1))
    assert bundle.retrieval["test"].relevant["q10"] == {"d0"}

    write_qrels(folder / "qrels" / "test.tsv", [("q3", "d3")])  # q3 is a training query
    with pytest.raises(UserError, match="query-id 'q3' is in both the train and test splits"):
        load_table("local", "retrieval", path=str(folder))


def test_validation_and_test_files_next_to_a_single_qrels(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {}, flat=range(0, 30))
    validation = write_qrels(tmp_path / "dev.tsv", [(f"q{i}", f"d{i}") for i in range(30, 34)])
    test = write_qrels(tmp_path / "test.tsv", [(f"q{i}", f"d{i}") for i in range(34, 40)])
    bundle = load_table("local", "retrieval", path=str(folder), validation_path=str(validation), test_path=str(test))
    assert query_ids(bundle, "train") == {f"q{i}" for i in range(30)}  # all of qrels.tsv trains
    assert query_ids(bundle, "validation") == {f"q{i}" for i in range(30, 34)}
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(34, 40)}
    assert bundle.params()["dataset.splits_source"] == "train=made,validation=given,test=given"

    leaky = write_qrels(tmp_path / "leaky.tsv", [("q5", "d5")])  # a query qrels.tsv trains on
    with pytest.raises(UserError, match="query-id 'q5' is in both the train and test splits"):
        load_table("local", "retrieval", path=str(folder), test_path=str(leaky))
    with pytest.raises(UserError, match=r"dataset.test_path=.*nothing.tsv: file not found"):
        load_table("local", "retrieval", path=str(folder), test_path=str(tmp_path / "nothing.tsv"))


def test_an_unsplit_folder_is_split_as_before_and_says_so(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {}, flat=range(0, 40))
    bundle = load_table("local", "retrieval", path=str(folder), seed=3)
    assert bundle.split_sources == {"train": "made", "validation": "made", "test": "made"}
    ids = [query_ids(bundle, s) for s in ("train", "validation", "test")]
    assert sum(map(len, ids)) == 40 and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


def test_few_evaluation_queries_give_one_warning_line(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {"train": range(0, 20), "dev": range(20, 25), "test": range(25, 30)})
    warning = load_table("local", "retrieval", path=str(folder)).size_warning()
    assert warning.startswith("warning: validation 5 queries and test 5 queries (fewer than 200)")
    assert "\n" not in warning
    assert load_table("local", "retrieval", path=str(folder)).size_warning(minimum=5) is None


def test_a_pairs_file_with_its_own_validation_file(tmp_path, write_table, rows_of):
    rows = rows_of("pairs", 30)
    path = write_table("train.jsonl", rows[:24])
    validation = write_table("dev.jsonl", rows[24:])
    bundle = load_table("local", "pairs", path=str(path), validation_path=str(validation), fractions=(0.8, 0.1, 0.1))
    splits = bundle.parts["pairs"].splits
    assert splits["validation"] == rows[24:]
    assert len(splits["train"]) + len(splits["test"]) == 24 and splits["test"]
    assert bundle.params()["eval.validation_queries"] == 6  # pairs stand in for retrieval queries

    with pytest.raises(UserError, match="appears in both train and validation"):
        load_table("local", "pairs", path=str(write_table("all.jsonl", rows)), validation_path=str(validation))


@pytest.mark.parametrize(
    ("splits", "use", "expected"),
    [
        (
            {"test": range(0, 20)},
            "both",
            "has qrels/test.tsv only (qrels/train.tsv, qrels/dev.tsv, qrels.tsv absent), so the train and validation splits have no judgements",
        ),
        (
            {"dev": range(0, 20), "test": range(20, 30)},
            "train",
            "has qrels/dev.tsv, qrels/test.tsv only (qrels/train.tsv, qrels.tsv absent), so the train split has no judgements",
        ),
        (
            {"test": range(0, 20)},
            "eval",
            "has qrels/test.tsv only (qrels/train.tsv, qrels/dev.tsv, qrels.tsv absent), so the validation split has "
            "no judgements",
        ),
    ],
)
def test_a_split_without_judgements_names_the_qrels_files_found(tmp_path, splits, use, expected):
    folder = write_beir_splits(tmp_path / "beir", splits)
    with pytest.raises(UserError) as exc:
        load_table("local", "retrieval", path=str(folder), use=use)
    message = str(exc.value)
    assert "\n" not in message and f"{folder}: {expected}" in message
    assert "fractions=" not in message  # the fractions are not what is wrong
    assert ("dataset.use=eval" in message) == (use != "eval")  # advice that fits: eval needs a validation split
    assert ("dataset.validation_path=" in message) == ("dev" not in splits)


def test_given_dev_and_test_evaluate_without_train_judgements(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {"dev": range(0, 10), "test": range(10, 20)})
    bundle = load_table("local", "retrieval", path=str(folder), use="eval")
    assert query_ids(bundle, "validation") == {f"q{i}" for i in range(10)}
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(10, 20)}


def test_two_sets_of_training_judgements_are_refused_and_qrels_tsv_beside_a_test_split_trains(tmp_path):
    both = write_beir_splits(tmp_path / "both", {"train": range(0, 20), "test": range(30, 40)}, flat=range(0, 30))
    with pytest.raises(UserError) as exc:
        load_table("local", "retrieval", path=str(both))
    assert "\n" not in str(exc.value)
    assert f"{both}: has both qrels.tsv and qrels/train.tsv, two sets of training judgements" in str(exc.value)

    beside = write_beir_splits(tmp_path / "beside", {"test": range(30, 40)}, flat=range(0, 30))
    bundle = load_table("local", "retrieval", path=str(beside), fractions=(0.8, 0.1, 0.1))
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(30, 40)}
    assert query_ids(bundle, "train") | query_ids(bundle, "validation") == {f"q{i}" for i in range(30)}
    assert bundle.split_sources == {"train": "made", "validation": "made", "test": "given"}


def test_a_beir_file_that_links_to_nothing_says_where_it_points(tmp_path):
    folder = write_beir_splits(tmp_path / "beir", {}, flat=range(0, 30))
    (folder / "corpus.jsonl").rename(tmp_path / "moved.jsonl")
    (folder / "corpus.jsonl").symlink_to(tmp_path / "gone.jsonl")
    with pytest.raises(UserError, match=f"corpus.jsonl: is a link to {tmp_path / 'gone.jsonl'}, which leads to no"):
        load_table("local", "retrieval", path=str(folder))


def test_train_on_validation_trains_on_every_labeled_pair_outside_test_and_still_evaluates_validation(
    tmp_path, write_table, rows_of
):
    folder = write_beir_splits(tmp_path / "beir", {"train": range(0, 20), "dev": range(20, 25), "test": range(25, 30)})
    bundle = load_table("local", "retrieval", path=str(folder), train_on_validation=True)
    assert bundle.validation_trains
    assert query_ids(bundle, "train") == {f"q{i}" for i in range(25)}  # what mining mines for
    assert query_ids(bundle, "validation") == {f"q{i}" for i in range(20, 25)}  # still evaluated
    assert query_ids(bundle, "test") == {f"q{i}" for i in range(25, 30)}  # never trains
    pairs = bundle.parts["pairs"].splits
    assert len(pairs["train"]) == 25 and pairs["validation"] == pairs["train"][20:]
    assert bundle.fingerprint()["validation_trains"] is True
    assert bundle.params()["dataset.splits_source"] == "train=given,validation=given+trained,test=given"
    assert "validation_trains" not in load_table("local", "retrieval", path=str(folder)).fingerprint()

    rows = rows_of("pairs", 30)  # a file of pairs: the carved validation rows train too, test stays apart
    table = load_table("local", "pairs", path=str(write_table("all.jsonl", rows)), train_on_validation=True)
    splits = table.parts["pairs"].splits
    assert splits["validation"] and all(row in splits["train"] for row in splits["validation"])
    assert not any(row in splits["train"] for row in splits["test"])


def test_train_on_validation_lets_train_hold_validation_but_never_test():
    from embedlab.data.bundle import DataBundle, Part

    row, other = {"anchor": "a", "positive": "b"}, {"anchor": "c", "positive": "d"}
    shared = Part("pairs", {"train": [row, other], "validation": [row], "test": []})
    DataBundle("d", "s", {"pairs": shared}, validation_trains=True).check_disjoint()  # what it makes
    with pytest.raises(UserError, match="appears in both train and validation"):
        DataBundle("d", "s", {"pairs": shared}).check_disjoint()
    for leak in ({"train": [row], "validation": [], "test": [row]}, {"train": [], "validation": [row], "test": [row]}):
        with pytest.raises(UserError, match="and test splits"):
            DataBundle("d", "s", {"pairs": Part("pairs", leak)}, validation_trains=True).check_disjoint()
