"""Reading JSONL, JSON, CSV, TSV, Parquet, BEIR folders and hub datasets; one line per bad file."""

from __future__ import annotations

import json

import pytest

from embedlab.data.readers import read_beir, read_hub, read_rows
from embedlab.errors import UserError

ROWS = [
    {"anchor": "What is a lens?", "positive": 'A "lens" bends light,\nand focuses it.'},
    {"anchor": "What is Ohm's law?", "positive": "V = I R, with a line separator \u2028 inside."},
]


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.json", "rows.csv", "rows.tsv", "rows.parquet"])
def test_every_format_reads_the_same_rows(write_table, name):
    assert read_rows(write_table(name, ROWS)) == ROWS


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.csv", "empty.tsv"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_text("\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / name)
    assert name in one_line(exc) and "empty" in str(exc.value)


def test_header_without_rows(tmp_path):
    (tmp_path / "header.csv").write_text("anchor,positive\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "header.csv")
    assert "header.csv" in one_line(exc) and "no rows" in str(exc.value)


def test_empty_parquet(tmp_path):
    import pandas as pd

    pd.DataFrame({"anchor": [], "positive": []}).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "empty.parquet")
    assert "empty.parquet" in one_line(exc) and "empty" in str(exc.value)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("latin1.jsonl", b'{"anchor": "ok", "positive": "fine"}\n{"anchor": "caf\xe9", "positive": "x"}\n'),
        ("latin1.tsv", b"anchor\tpositive\ncaf\xe9\tx\n"),
    ],
)
def test_text_that_is_not_utf8_names_the_line(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / name)
    assert f"{name}: line 2 is not valid UTF-8" in one_line(exc)


def test_unsupported_extension(tmp_path):
    (tmp_path / "rows.xlsx").write_text("anything", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "rows.xlsx")
    assert "rows.xlsx" in one_line(exc) and "'.xlsx'" in str(exc.value) and ".jsonl" in str(exc.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="nowhere.jsonl: file not found"):
        read_rows(tmp_path / "nowhere.jsonl")
    (tmp_path / "folder.jsonl").mkdir()
    with pytest.raises(UserError, match="is a directory"):
        read_rows(tmp_path / "folder.jsonl")


def test_broken_json_line_and_extra_csv_fields(tmp_path):
    (tmp_path / "broken.jsonl").write_text('{"anchor": "a", "positive": "b"}\n{"anchor": \n', encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "broken.jsonl")
    assert "broken.jsonl: line 2 is not valid JSON" in one_line(exc)
    (tmp_path / "wide.csv").write_text("anchor,positive\na,b\nc,d,e\n", encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "wide.csv")
    assert "wide.csv: line 3 has more fields" in one_line(exc)


def test_json_array_of_non_objects(tmp_path):
    (tmp_path / "list.json").write_text(json.dumps([{"anchor": "a"}, ["b"]]), encoding="utf-8")
    with pytest.raises(UserError, match="list.json: item 2 is a list; expected a JSON object"):
        read_rows(tmp_path / "list.json")


def test_beir_folder(beir_folder):
    corpus, queries, qrels = read_beir(beir_folder)
    assert len(corpus) == 12 and len(queries) == 10
    assert corpus["d3"] == "Topic 3. Passage about topic 3."
    assert qrels["q3"] == {"d3"}


def test_directory_lacking_beir_files(beir_folder):
    (beir_folder / "qrels.tsv").unlink()
    with pytest.raises(UserError) as exc:
        read_beir(beir_folder)
    assert "missing qrels.tsv" in one_line(exc) and str(beir_folder) in str(exc.value)


def test_duplicate_corpus_ids(beir_folder):
    with (beir_folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": "d4", "text": "Another passage."}) + "\n")
    with pytest.raises(UserError) as exc:
        read_beir(beir_folder)
    assert "corpus.jsonl: row 13 repeats _id 'd4'" in one_line(exc)


@pytest.mark.parametrize(
    ("row", "expected"),
    [("q1\tmissing-doc\t1", "corpus-id 'missing-doc', which corpus.jsonl lacks"), ("nobody\td1\t1", "query-id")],
)
def test_qrels_pointing_nowhere(beir_folder, row, expected):
    with (beir_folder / "qrels.tsv").open("a", encoding="utf-8") as f:
        f.write(row + "\n")
    with pytest.raises(UserError) as exc:
        read_beir(beir_folder)
    assert "qrels.tsv: line 12" in one_line(exc) and expected in str(exc.value)


def test_hub_offline_without_cache_fails_in_one_line():
    # conftest sets HF_HUB_OFFLINE=1: the datasets cache answers at once, and it has no such dataset.
    with pytest.raises(UserError) as exc:
        read_hub("embedlab-tests/no-such-dataset", "pair", hint="; or pass dataset.path=<file>")
    message = one_line(exc)
    assert "embedlab-tests/no-such-dataset (subset pair) split train" in message and "dataset.path=" in message


def test_unreachable_hub_is_detected_before_any_retry(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    with pytest.raises(UserError) as exc:
        read_hub("embedlab-tests/no-such-dataset")
    assert "cannot be reached" in one_line(exc) and "HF_HUB_OFFLINE=1" in str(exc.value)
