"""`dataset=quora` from a tiny release TSV (and a fake hub): parts, sizes, and a split disjoint by question id."""

from __future__ import annotations

import csv

import pytest

from embedlab.data.quora import load_quora
from embedlab.data.splits import SPLITS
from embedlab.errors import UserError

FRACTIONS = (0.5, 0.25, 0.25)


def qids_by_text(path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            out.setdefault(row["question1"], set()).add(row["qid1"])
            out.setdefault(row["question2"], set()).add(row["qid2"])
    return out


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_builds_pairs_labeled_and_retrieval(quora_tsv):
    bundle = load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=0)
    pairs, labeled = bundle.parts["pairs"], bundle.parts["labeled"]
    assert (pairs.kind, labeled.kind) == ("pairs", "labeled_pairs")
    assert sum(len(pairs.splits[s]) for s in SPLITS) == 16  # two duplicate pairs per cluster
    assert sum(len(labeled.splits[s]) for s in SPLITS) == 32
    assert {row["label"] for s in SPLITS for row in labeled.splits[s]} == {0.0, 1.0}
    assert all(bundle.retrieval[s].queries for s in ("validation", "test"))
    bundle.check_disjoint()
    evaluators = sorted(type(e).__name__ for e in bundle.evaluators("validation"))
    assert evaluators == ["RetrievalEvaluator", "SimilarityEvaluator"]


@pytest.mark.parametrize("seed", range(5))
def test_no_training_question_is_an_evaluation_query_or_relevant_doc(quora_tsv, seed):
    bundle = load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=seed)
    qids = qids_by_text(quora_tsv)
    train = {
        q for part in bundle.parts.values() for row in part.splits["train"] for t in part.texts(row) for q in qids[t]
    }
    evaluated = set()
    for retrieval in bundle.retrieval.values():
        evaluated |= {q for text in retrieval.queries.values() for q in qids[text]}
        evaluated |= {q for docs in retrieval.relevant.values() for d in docs for q in qids[bundle.corpus[d]]}
    assert evaluated and train and not train & evaluated
    held_out = {
        q
        for part in bundle.parts.values()
        for s in ("validation", "test")
        for row in part.splits[s]
        for t in part.texts(row)
        for q in qids[t]
    }
    assert not train & held_out


def duplicates_of(path, text: str) -> set[str]:
    """Every question linked to `text` by a chain of is_duplicate=1 rows."""
    with open(path, encoding="utf-8", newline="") as f:
        edges = [
            (r["question1"], r["question2"]) for r in csv.DictReader(f, delimiter="\t") if r["is_duplicate"] == "1"
        ]
    found, frontier = {text}, [text]
    while frontier:
        current = frontier.pop()
        for a, b in edges:
            for x, y in ((a, b), (b, a)):
                if x == current and y not in found:
                    found.add(y)
                    frontier.append(y)
    return found - {text}


def test_relevant_docs_are_the_known_duplicates_of_the_query(quora_tsv):
    bundle = load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=1)
    for retrieval in bundle.retrieval.values():
        for query_id, text in retrieval.queries.items():
            assert {bundle.corpus[d] for d in retrieval.relevant[query_id]} == duplicates_of(quora_tsv, text)
            assert text not in bundle.corpus.values()
    assert all(doc_id.startswith("q") for doc_id in bundle.corpus)  # ids are the release's qids


def test_sizes_are_configurable(quora_tsv):
    bundle = load_quora(path=str(quora_tsv), pairs=2, labeled=4, queries=1, corpus=3, fractions=FRACTIONS, seed=0)
    counts = bundle.fingerprint()["rows"]
    assert counts["pairs"]["train"] == 2 and counts["pairs"]["validation"] <= 1
    assert counts["labeled"]["train"] == 4 and counts["labeled"]["test"] <= 2
    assert counts["retrieval_queries"] == {"validation": 1, "test": 1}
    relevant = {d for r in bundle.retrieval.values() for docs in r.relevant.values() for d in docs}
    assert relevant <= set(bundle.corpus) and len(bundle.corpus) == max(3, len(relevant))


def test_deterministic_for_a_seed(quora_tsv):
    first = load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=3).fingerprint()
    assert first == load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=3).fingerprint()
    others = {load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=s).fingerprint()["sha256"] for s in range(4)}
    assert len(others) > 1


def test_release_quirks_empty_questions_and_mirrored_pairs_are_dropped(quora_tsv):
    with quora_tsv.open("a", encoding="utf-8") as f:
        f.write("900\t901\t902\tWhat is an empty question?\t\t0\n")  # the release has a few of these
        f.write("901\t2\t1\tWhat is the fastest way to learn Python?\tHow do I learn Python quickly?\t1\n")
        f.write("902\t903\t904\tSame words?\tSame words?\t1\n")
    bundle = load_quora(path=str(quora_tsv), fractions=FRACTIONS, seed=0)
    assert sum(len(bundle.parts["labeled"].splits[s]) for s in SPLITS) == 32


def test_non_numeric_is_duplicate_names_file_and_row(quora_tsv):
    with quora_tsv.open("a", encoding="utf-8") as f:
        f.write("900\t901\t902\tA question?\tAnother question?\tmaybe\n")
    with pytest.raises(UserError) as exc:
        load_quora(path=str(quora_tsv))
    assert f"{quora_tsv}: row 33 column 'is_duplicate'='maybe' is not numeric" in one_line(exc)


def test_missing_column_names_the_release_layout(tmp_path):
    path = tmp_path / "questions.tsv"
    path.write_text("question1\tquestion2\tis_duplicate\nA?\tB?\t1\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        load_quora(path=str(path))
    assert f"{path}: no column 'qid1'; expected the Quora release layout (id, qid1" in one_line(exc)


def test_no_hub_no_cache_no_file_says_how_to_provide_the_file():
    # conftest sets HF_HUB_OFFLINE=1; the test cache has no Quora.
    with pytest.raises(UserError) as exc:
        load_quora(hub="embedlab-tests/no-such-quora")
    assert "dataset.path=/path/to/quora_duplicate_questions.tsv" in one_line(exc)


def test_hub_subsets_pair_and_pair_class(monkeypatch):
    questions = [
        (f"How do I do thing {i}?", f"What is the way to do thing {i}?", f"Why is thing {i} hard?") for i in range(12)
    ]

    def fake_read_hub(dataset_id, subset=None, split="train", hint=""):
        if subset == "pair":
            return [{"anchor": a, "positive": b} for a, b, _ in questions]
        return [{"sentence1": b, "sentence2": c, "label": 0} for _, b, c in questions]

    monkeypatch.setattr("embedlab.data.quora.read_hub", fake_read_hub)
    bundle = load_quora(hub="sentence-transformers/quora-duplicates", fractions=FRACTIONS, seed=0)
    assert bundle.source == "hub:sentence-transformers/quora-duplicates"
    assert sum(len(bundle.parts["pairs"].splits[s]) for s in SPLITS) == 12
    assert sum(len(bundle.parts["labeled"].splits[s]) for s in SPLITS) == 24
    bundle.check_disjoint()
    for retrieval in bundle.retrieval.values():
        for query_id, text in retrieval.queries.items():
            (doc,) = retrieval.relevant[query_id]
            assert {text, bundle.corpus[doc]} in [{a, b} for a, b, _ in questions]
