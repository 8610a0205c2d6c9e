"""Reading JSONL, JSON, CSV, TSV, Parquet, BEIR folders and hub datasets; one line per bad file."""

from __future__ import annotations

import csv
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


@pytest.mark.parametrize("name", ["pipe.jsonl", "pipe.csv", "pipe.parquet"])
def test_a_named_pipe_is_refused_instead_of_waiting_for_a_writer(tmp_path, name):
    import os
    import threading
    import time

    os.mkfifo(tmp_path / name)

    def unblock_a_waiting_reader():  # so that a reader that opened the pipe fails this test instead of hanging it
        for _ in range(100):
            try:
                os.close(os.open(tmp_path / name, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError:  # no reader (yet)
                time.sleep(0.1)

    threading.Thread(target=unblock_a_waiting_reader, daemon=True).start()
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / name)
    assert "is not a regular file (a pipe, socket or device); expected a file" in one_line(exc)


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
    assert "wide.csv: line 3 has 3 fields, more than the header's 2" in one_line(exc)


@pytest.mark.parametrize(
    ("line", "said"),
    [("3", "a number"), ('"text"', "a string"), ("null", "null"), ("[1]", "a list"), ("true", "a boolean")],
)
def test_a_jsonl_line_that_is_no_object_says_what_it_is_in_jsons_words(line, said, tmp_path):
    # it said "is a int", "is a str", "is a NoneType"
    (tmp_path / "odd.jsonl").write_text(f'{{"anchor": "a", "positive": "b"}}\n{line}\n', encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / "odd.jsonl")
    assert f"odd.jsonl: line 2 is {said}; expected a JSON object" in one_line(exc)


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


@pytest.mark.parametrize("trec", [False, True])  # BEIR's rows, or TREC's `qid 0 docid rel`
def test_qrels_without_a_header_line_say_so(beir_folder, trec):
    """A qrels file with no header was `row 1 has no column 'query-id'`, which named no missing line."""
    path = beir_folder / "qrels.tsv"
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    path.write_text("".join("\t".join([q, "0", d, r] if trec else [q, d, r]) + "\n" for q, d, r in rows))
    with pytest.raises(UserError) as exc:
        read_beir(beir_folder)
    assert "qrels.tsv: line 1 (" in one_line(exc) and "is a row, not a header: query-id" in str(exc.value)
    assert "expected a first line query-id<TAB>corpus-id<TAB>score" in str(exc.value)


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


# What standard tools write: cells with line breaks (LF and CRLF), delimiters, doubled quotes, leading quotes.
AWKWARD = [
    {"anchor": f"question {i}", "positive": f"line one of {i}\nline two, with a comma\tand a tab"} for i in range(20)
] + [{"anchor": f'"quoted" question {i}', "positive": f'He said "yes",\r\nthen "no" ({i})'} for i in range(20)]


def csv_module_rows(path, delimiter: str) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


@pytest.mark.parametrize("writer", ["csv module", "pandas"])
@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_quoted_line_breaks_as_standard_tools_write_them_are_read_row_for_row(tmp_path, writer, suffix):
    import pandas as pd

    delimiter = "," if suffix == ".csv" else "\t"
    path = tmp_path / f"awkward{suffix}"
    if writer == "pandas":
        pd.DataFrame(AWKWARD).to_csv(path, sep=delimiter, index=False)
    else:
        with path.open("w", encoding="utf-8", newline="") as f:  # the csv module's default line ends are CRLF
            out = csv.DictWriter(f, fieldnames=["anchor", "positive"], delimiter=delimiter)
            out.writeheader()
            out.writerows(AWKWARD)
    header, *records = csv_module_rows(path, delimiter)
    rows = read_rows(path)
    assert len(rows) == len(records) == 40
    assert rows == [dict(zip(header, record)) for record in records] == AWKWARD


def test_quoted_line_breaks_train_on_every_row(tmp_path):
    import pandas as pd

    from embedlab.data.table import load_table

    rows = [{"anchor": f"question {i}", "positive": f"answer {i}\nsecond line, {i}"} for i in range(40)]
    path = tmp_path / "multi.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    splits = load_table("local", "pairs", str(path)).parts["pairs"].splits
    assert sorted(row["anchor"] for split in splits.values() for row in split) == sorted(r["anchor"] for r in rows)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a quote that closes after other lines' text: the fields swallowed into it leave the row short
        (
            'a,b\nq1,p1\n"q2,p2\nq3,p3\nq4,"p4\nq5,p5\n',
            "line 3 column 'a' opens a quoted field with text after its closing quote on line 5",
        ),
        # a quote that never closes
        (
            'a,b\nq1,p1\nq2,"5 inch\nq3,p3\n',
            "line 3 column 'b' opens a quoted field that never closes (it runs to the end of the file, line 4)",
        ),
        # a closed quote followed by text: what a human writes, not a csv writer
        ('a,b\nq1,"5" inch screen\n', "line 2 column 'b' opens a quoted field with text after its closing quote"),
        # a row short of fields
        ("a,b\nq1,p1\nq2\n", "line 3 has 1 field, fewer than the header's 2 ['a', 'b']: ['q2']"),
        # a quoted field that spans lines, in a row short of fields
        ('a,b,c\nq1,"p1\nstill p1"\n', "lines 2-3 (a quoted field spans them) has 2 fields, fewer than the header's 3"),
    ],
)
def test_what_the_csv_grammar_cannot_read_is_refused_naming_the_line(tmp_path, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(path)
    assert f"{path}: {expected}" in one_line(exc)


def test_quoting_none_refuses_quoted_line_breaks_instead_of_reading_fragments(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('anchor,positive\nq1,"first line\nsecond line"\nq2,p2\n', encoding="utf-8")
    assert len(read_rows(path)) == 2
    with pytest.raises(UserError) as exc:
        read_rows(path, quoting="none")
    message = one_line(exc)
    assert f"{path}: line 3 has 1 field, fewer than the header's 2" in message and "dataset.quoting=csv" in message


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"data": [{"anchor": "a", "positive": "p"}]},
            "holds a JSON object (keys 'data') where a list of rows belongs; the rows may be the list under 'data'",
        ),
        (
            {"version": 2, "rows": {"anchor": "a"}},
            "holds a JSON object (keys 'version', 'rows') where a list of rows belongs",
        ),
        ("just text", 'holds JSON that is a string ("just text"), not a list of rows'),
    ],
)
@pytest.mark.parametrize("indent", [None, 2])
def test_valid_json_that_is_not_a_list_of_rows_says_what_it_holds(tmp_path, document, expected, indent):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(document, indent=indent), encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(path)
    message = one_line(exc)
    assert f"{path}: {expected}" in message and "not valid JSON" not in message


def test_json_lines_of_one_row_and_a_json_list_in_a_jsonl_file_are_rows(tmp_path):
    (tmp_path / "one.json").write_text('{"anchor": "a", "positive": "p"}\n', encoding="utf-8")
    assert read_rows(tmp_path / "one.json") == [{"anchor": "a", "positive": "p"}]
    (tmp_path / "list.jsonl").write_text('[\n {"anchor": "a", "positive": "p"}\n]\n', encoding="utf-8")
    assert read_rows(tmp_path / "list.jsonl") == [{"anchor": "a", "positive": "p"}]


def test_a_beir_folder_read_as_a_table_names_dataset_kind(beir_folder, tmp_path):
    with pytest.raises(UserError) as exc:
        read_rows(beir_folder)
    assert f"{beir_folder}: is a BEIR folder" in one_line(exc) and "dataset.kind=retrieval" in str(exc.value)
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError, match="plain: is a directory; expected a file"):
        read_rows(tmp_path / "plain")


def test_beir_documents_with_a_title_and_no_text_are_read(beir_folder):
    with (beir_folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": "t1", "title": "Title only", "text": ""}) + "\n")
        f.write(json.dumps({"_id": "t2", "title": "Null text", "text": None}) + "\n")
    corpus, _, _ = read_beir(beir_folder)
    assert corpus["t1"] == "Title only" and corpus["t2"] == "Null text"
    with (beir_folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"_id": "t3", "title": "", "text": ""}) + "\n")
    with pytest.raises(UserError) as exc:
        read_beir(beir_folder)
    assert "corpus.jsonl: row 15 column 'text' is empty" in one_line(exc)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("list.json", '[\n {"anchor": "a", "positive": "p"},\n {"anchor": "b"\n]\n', "line 4 is not valid JSON"),
        ("object.json", '{\n "data": [\n  {"anchor": "a",}\n ]\n}\n', "line 3 is not valid JSON"),
        ("rows.jsonl", '{"anchor": "a", "positive": "p"}\n{"anchor": "b",\n', "line 2 is not valid JSON"),
        # a key named twice: json would keep the last value in silence
        ("first.jsonl", '{"anchor": "a", "anchor": "b", "positive": "p"}\n{"anchor": "c"}\n', "line 1 names key"),
        ("later.jsonl", '{"anchor": "a", "positive": "p"}\n{"anchor": "c", "anchor": "d"}\n', "line 2 names key"),
        ("one.jsonl", '{"anchor": "a", "positive": "p", "anchor": "b"}\n', "line 1 names key 'anchor' twice"),
        ("twice.json", '[\n {"anchor": "a"},\n {"anchor": "b", "anchor": "c"}\n]\n', "a row names key 'anchor' twice"),
    ],
)
def test_json_that_cannot_be_read_faithfully_names_the_line(tmp_path, name, text, expected):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as exc:
        read_rows(tmp_path / name)
    assert f"{name}: {expected}" in one_line(exc)


def test_quoting_none_refuses_a_csv_file_it_would_cut_into_other_rows(tmp_path):
    path = tmp_path / "multi.csv"  # the second line of each cell holds a comma: every line has the header's 2 fields
    path.write_text("anchor,positive\n" + "".join(f'q{i},"first line\nsecond, line {i}"\n' for i in range(4)))
    assert len(read_rows(path)) == 4
    with pytest.raises(UserError) as exc:
        read_rows(path, quoting="none")
    assert f"{path}: dataset.quoting=none reads 8 rows where the file read as CSV has 4" in one_line(exc)


def test_a_link_to_nowhere_says_where_it_points(tmp_path):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")  # a loop of two links
    (tmp_path / "moved.jsonl").symlink_to(tmp_path / "gone.jsonl")
    for link, target in (("a.jsonl", "b.jsonl"), ("moved.jsonl", "gone.jsonl")):
        with pytest.raises(UserError) as exc:
            read_rows(tmp_path / link)
        assert f"{link}: is a link to {tmp_path / target}, which leads to no file (missing, or a loop)" in one_line(exc)
