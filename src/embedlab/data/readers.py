"""Read user files (JSONL, CSV, TSV, Parquet, BEIR folders) and reject bad rows with one clear line."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from embedlab.errors import UserError

TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
BEIR_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")
log = logging.getLogger(__name__)


def not_found(path: Path) -> UserError:
    """A missing file; when its folder is a file (`dataset.path=<a file>` where a folder was expected), that; when it
    is a link to nowhere (a missing target or a loop of links), where the link points."""
    if path.parent.is_file():
        return UserError(f"{path.parent}: is a file; expected a folder holding {path.name}")
    if path.is_symlink():
        return UserError(
            f"{path}: is a link to {os.readlink(path)}, which leads to no file (missing, or a loop); expected a file"
        )
    return UserError(
        f"{path}: file not found; expected an existing file (a relative path is read from the current folder)"
    )


class _RepeatedKey(ValueError):
    """A JSON object names one key twice: json keeps the last value and drops the other without a word."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen[key] = value
    return seen


def _loads(text: str) -> Any:
    """json.loads that refuses an object naming a key twice (`_RepeatedKey`)."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def _repeated_key(path: Path, where: str, exc: _RepeatedKey) -> UserError:
    return UserError(f"{path}: {where} names key '{exc.args[0]}' twice in one object; expected each key once")


def _check_regular(path: Path) -> None:
    """A named pipe, socket or device would block the read (a pipe waits for a writer forever)."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise UserError(f"{path}: is not a regular file (a pipe, socket or device); expected a file")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise not_found(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory; expected a file ({', '.join(TABLE_SUFFIXES)})")
    _check_regular(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}: line {line} is not valid UTF-8; expected UTF-8 text") from None
    if not text.strip():
        raise UserError(f"{path}: file is empty; expected at least one row")
    return text.lstrip("\ufeff")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file, or of a .json/.jsonl file that holds one JSON list of objects."""
    text = _read_text(path)
    try:
        document = _loads(text)
    except _RepeatedKey as exc:
        if not _first_line_is_an_object(text):  # one JSON document: no line to name
            raise _repeated_key(path, "a row", exc) from None
        document = None  # JSON Lines: the line is named below
    except json.JSONDecodeError as exc:
        if not _first_line_is_an_object(text):  # not JSON Lines either: a broken document, e.g. a list
            raise UserError(f"{path}: line {exc.lineno} is not valid JSON ({exc.msg}); expected a list of objects")
        document = None  # JSON Lines, read line by line below
    if isinstance(document, list):
        return _check_json_list(path, document)
    if document is not None and not _is_one_row(path, document, text):
        raise UserError(f"{path}: {_describe_json(document)}; expected a list of rows ([{{...}}, ...]) or JSON Lines")
    rows = []
    # Split on newlines only: str.splitlines would also cut at U+2028 and friends inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = _loads(line)
        except _RepeatedKey as exc:
            raise _repeated_key(path, f"line {number}", exc) from None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: line {number} is not valid JSON ({exc.msg}); expected one object per line")
        if not isinstance(row, dict):
            raise UserError(f"{path}: line {number} is {_json_type(row)}; expected a JSON object")
        rows.append(row)
    return rows


def _first_line_is_an_object(text: str) -> bool:
    first = next((line for line in text.split("\n") if line.strip()), "")
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def _is_one_row(path: Path, document: Any, text: str) -> bool:
    """A JSON Lines file of one row parses as one object too: an object on one line, in a .jsonl file, or in a
    .json file when no value is an object or a list of objects (as in `{"data": [...]}`)."""
    if not isinstance(document, dict) or "\n" in text.strip():
        return False
    nested = any(isinstance(value, dict) or _is_list_of_objects(value) for value in document.values())
    return path.suffix.lower() == ".jsonl" or not nested


def _is_list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _describe_json(document: Any) -> str:
    """What a JSON file holds instead of a list of rows, e.g. `holds a JSON object (keys 'data', 'version'), ...`."""
    if not isinstance(document, dict):
        return f"holds JSON that is {_json_type(document)} ({json.dumps(document)[:40]}), not a list of rows"
    keys = ", ".join(f"'{key}'" for key in list(document)[:5]) + (", ..." if len(document) > 5 else "")
    found = f"holds a JSON object (keys {keys}) where a list of rows belongs" if document else "holds an empty object"
    lists = [key for key, value in document.items() if _is_list_of_objects(value)]
    return found + (f"; the rows may be the list under '{lists[0]}' (save that list alone)" if lists else "")


def _check_json_list(path: Path, rows: list[Any]) -> list[dict[str, Any]]:
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise UserError(f"{path}: item {number} is {_json_type(row)}; expected a JSON object")
    if not rows:
        raise UserError(f"{path}: file is an empty list; expected at least one row")
    return rows


# Long passages are legitimate: read fields of any size (the csv module's default limit is 131,072 characters).
FIELD_SIZE_LIMIT = 2**31 - 1
QUOTING = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


def _read_delimited(path: Path, delimiter: str, quoting: str = "csv") -> list[dict[str, Any]]:
    """Rows of a CSV/TSV file, read as the csv module and pandas write them: a quoted field may hold delimiters,
    doubled quotes and line breaks. What that grammar cannot read is refused, never guessed at: a quote that
    never closes, text after a closing quote, or a row with more or fewer fields than the header."""
    if quoting not in QUOTING:
        raise UserError(f"dataset.quoting={quoting} is unknown; expected one of {', '.join(QUOTING)}")
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))  # process-wide; only ever raised
    text = _read_text(path)
    # A file object, not lines: quoted fields may hold newlines. strict: a stray quote is an error, not a guess.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=QUOTING[quoting], strict=True)
    header: list[str] = []
    rows: list[dict[str, Any]] = []
    last_line = 0  # the line the previous record ended on: a record starts on the next one
    try:
        for fields in reader:
            start, last_line = last_line + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            if not header:
                header = _check_header(path, fields)
                continue
            if len(fields) != len(header):
                raise UserError(_field_count_message(path, header, fields, start, last_line, quoting))
            rows.append(dict(zip(header, fields)))
    except csv.Error as exc:
        raise UserError(_quote_message(path, text, delimiter, last_line + 1, reader.line_num, str(exc))) from None
    if not rows:
        raise UserError(f"{path}: has a header but no rows; expected at least one row")
    if quoting == "none":
        _refuse_fragments(path, delimiter, len(rows))
    spanning = sum(1 for row in rows for value in row.values() if "\n" in value)
    if spanning:
        log.info(
            "%s: %d rows; %d quoted fields hold line breaks (read as part of the field)", path, len(rows), spanning
        )
    return rows


def _refuse_fragments(path: Path, delimiter: str, count: int) -> None:
    """dataset.quoting=none on a file that reads cleanly as CSV into other rows would train on pieces of them."""
    try:
        as_csv = len(_read_delimited(path, delimiter, "csv"))
    except UserError:
        return  # not valid CSV (a stray quote): what quoting=none is for
    if as_csv != count:
        raise UserError(
            f"{path}: dataset.quoting=none reads {count} rows where the file read as CSV has {as_csv} (quoted fields "
            "span lines); expected dataset.quoting=csv for this file"
        )


def _check_header(path: Path, header: list[str]) -> list[str]:
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise UserError(f"{path}: line 1 (the header) repeats column '{repeated[0]}'; expected distinct column names")
    return header


def _field_count_message(path: Path, header: list[str], fields: list[str], start: int, end: int, quoting: str) -> str:
    lines = f"line {start}" if start == end else f"lines {start}-{end} (a quoted field spans them)"
    count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}"
    more = "more" if len(fields) > len(header) else "fewer"
    shown = repr(fields) if len(repr(fields)) <= 200 else repr(fields)[:200] + "..."
    found = f"{path}: {lines} has {count}, {more} than the header's {len(header)} {header}: {shown}"
    if quoting == "none" and any('"' in field for field in fields):
        return found + (
            "; expected one row per line (with dataset.quoting=none a quoted field cannot hold delimiters or line "
            "breaks; try dataset.quoting=csv)"
        )
    return found + "; expected one field per column (quote a field that holds the delimiter)"


def _quote_message(path: Path, text: str, delimiter: str, start: int, end: int, reason: str) -> str:
    """A quote the csv grammar cannot close: name the line and column where the quoted field opened."""
    line = text.split("\n")[start - 1] if start <= text.count("\n") + 1 else ""
    fields = line.split(delimiter)
    opened = next((i for i, field in enumerate(fields) if field.lstrip().startswith('"')), None)
    header = text.split("\n", 1)[0].rstrip("\r").split(delimiter)
    column = f" column '{header[opened]}'" if opened is not None and opened < len(header) else ""
    if "unexpected end of data" in reason:
        problem = f"opens a quoted field that never closes (it runs to the end of the file, line {end})"
    else:
        problem = f"opens a quoted field with text after its closing quote on line {end} ({reason})"
    return (
        f'{path}: line {start}{column} {problem}; expected a field quoted whole (a literal " as ""), '
        "or read quote characters as text with dataset.quoting=none"
    )


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    if not path.exists():
        raise not_found(path)
    _check_regular(path)
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise UserError(
            f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); expected a Parquet file as "
            "pandas or pyarrow write it (or a .csv, .tsv, .jsonl, .json file)"
        ) from None
    if not rows:
        raise UserError(f"{path}: file is empty; expected at least one row")
    return rows


DELIMITERS = {".csv": ",", ".tsv": "\t"}  # the files read as delimited text, where `quoting` applies


def read_rows(path: str | Path, quoting: str = "csv") -> list[dict[str, Any]]:
    """Rows of a JSONL, CSV, TSV or Parquet file as dicts; the format follows the file extension.

    Args:
        path: the file.
        quoting: for CSV/TSV: ``csv`` (a field may be quoted, as the csv module writes it) or ``none``
            (quote characters are text).
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if path.is_dir():
        raise UserError(_directory_message(path))
    if suffix in (".jsonl", ".json"):
        return _read_jsonl(path)
    if suffix in DELIMITERS:
        return _read_delimited(path, DELIMITERS[suffix], quoting)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise UserError(f"{path}: unsupported file extension '{suffix}'; expected one of {', '.join(TABLE_SUFFIXES)}")


def _directory_message(path: Path) -> str:
    if (path / "corpus.jsonl").exists() or (path / "qrels").is_dir() or (path / "qrels.tsv").exists():
        return (
            f"{path}: is a BEIR folder (corpus.jsonl, queries.jsonl, qrels); expected dataset.kind=retrieval to read it"
        )
    return f"{path}: is a directory; expected a file ({', '.join(TABLE_SUFFIXES)}), or a BEIR folder with dataset.kind=retrieval"


def read_hub(dataset_id: str, subset: str | None = None, split: str = "train", hint: str = "") -> list[dict[str, Any]]:
    """Rows of one split of a Hugging Face hub dataset, from the hub or from the local datasets cache.

    Fails in seconds, not minutes, when neither can serve it: with HF_HUB_OFFLINE=1 the cache answers at
    once, and otherwise an unreachable hub is detected before `datasets` starts its retries.

    Args:
        dataset_id: e.g. ``"sentence-transformers/quora-duplicates"``.
        subset: the dataset's config name (e.g. ``"pair"``), if it has several.
        split: which split to read.
        hint: appended to the error, e.g. how to pass a local file instead.
    """
    from datasets import load_dataset
    from huggingface_hub import constants

    name = dataset_id + (f" (subset {subset})" if subset else "") + f" split {split}"
    if not constants.HF_HUB_OFFLINE and not hub_reachable(constants.ENDPOINT):
        raise UserError(
            f"hub dataset {name}: {constants.ENDPOINT} cannot be reached; set HF_HUB_OFFLINE=1 to use a cached copy{hint}"
        )
    try:
        dataset = load_dataset(dataset_id, subset, split=split)
    except Exception as exc:  # datasets raises ConnectionError, FileNotFoundError, ValueError, ... for the same cause
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = (
            hint or "; expected a dataset id on the hub, or one in the local cache (HF_HUB_OFFLINE=1 reads only that)"
        )
        raise UserError(f"hub dataset {name}: not on the hub or in the local cache ({reason}){where}") from None
    rows = dataset.to_list()
    if not rows:
        raise UserError(f"hub dataset {name}: has no rows; expected at least one row")
    return rows


def hub_reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """Whether the hub endpoint takes a TCP connection (or a proxy is set, which then decides)."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # a proxy decides; let the hub client try
    url = urlparse(endpoint)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def require_columns(rows: list[dict[str, Any]], columns: list[str], where: str) -> None:
    """Fail on the first row that lacks one of `columns`."""
    for number, row in enumerate(rows, start=1):
        missing = [column for column in columns if column not in row]
        if missing:
            raise UserError(f"{where}: row {number} has no column '{missing[0]}'; expected columns {columns}")


def clean_text(value: Any, where: str, row: int, column: str) -> str:
    """A text cell: a string (a number is taken as its text); a list, object or true/false is refused."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise UserError(f"{where}: row {row} column '{column}' is empty; expected text")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        shown = json.dumps(value, default=str)[:60]
        raise UserError(
            f"{where}: row {row} column '{column}' is {_json_type(value)} ({shown}); expected text (a string)"
        )
    text = str(value).strip()
    if not text:
        raise UserError(f"{where}: row {row} column '{column}' is empty; expected text")
    try:  # JSON's "\ud800" escapes decode to lone surrogates, which no UTF-8 writer (MLflow, Arrow) accepts
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UserError(
            f"{where}: row {row} column '{column}' holds {text[exc.start]!r}, half of a UTF-16 pair (a JSON "
            "\\u escape without its other half); expected text that is valid Unicode"
        ) from None
    return text


def _json_type(value: Any) -> str:
    """What a parsed value is, with its article, in JSON's words: `an object`, `a list`, `a number`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (int, float)):
        return "a number"
    name = "string" if isinstance(value, str) else type(value).__name__  # parquet: bytes, a timestamp, ...
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def clean_score(value: Any, where: str, row: int, column: str) -> float:
    cell, expected = f"{where}: row {row} column '{column}'", "a score in [0, 1]"
    score = _cell_number(value, cell, expected, not_a_number="is not a number")
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise UserError(f"{cell}={value!r} is outside [0, 1]; expected {expected}")
    return score


def clean_label(value: Any, where: str, row: int, column: str) -> float:
    cell, expected = f"{where}: row {row} column '{column}'", "a label 0 or 1"
    label = _cell_number(value, cell, expected, not_a_number="is not numeric")
    if label not in (0.0, 1.0):
        raise UserError(f"{cell}={value!r} is not 0 or 1; expected {expected}")
    return label


def _cell_number(value: Any, cell: str, expected: str, not_a_number: str) -> float:
    """The number in a cell; one line when it is a boolean, a list or an object, or float() cannot read it."""
    if isinstance(value, (bool, list, tuple, dict)):
        raise UserError(f"{cell} is {_json_type(value)} ({value!r}); expected {expected}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{cell}={value!r} {not_a_number}; expected {expected}") from None


def read_beir(folder: str | Path, use_title: bool = True) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """Read a BEIR folder: corpus.jsonl {_id, title?, text}, queries.jsonl {_id, text}, qrels.tsv.

    Returns:
        corpus (id -> text, title prepended when present and `use_title`), queries (id -> text), qrels (query id -> doc ids
        with score > 0).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder}: not a directory; expected a BEIR folder with {', '.join(BEIR_FILES)}")
    missing = [name for name in BEIR_FILES if not (folder / name).exists()]
    if missing:
        raise UserError(f"{folder}: missing {', '.join(missing)}; expected a BEIR folder with {', '.join(BEIR_FILES)}")
    corpus = read_texts(folder / "corpus.jsonl", with_title=use_title)
    queries = read_texts(folder / "queries.jsonl", with_title=False)
    return corpus, queries, read_qrels(folder / "qrels.tsv", queries, corpus)


def read_qrels(path: Path, queries: dict[str, str], corpus: dict[str, str]) -> dict[str, set[str]]:
    """A qrels TSV (query-id, corpus-id[, score]) as query id -> relevant doc ids; score 0 is not relevant.
    Every id must be in `queries` / `corpus`, and every score a number."""
    rows = _read_delimited(path, "\t")
    header = [str(name).strip() for name in rows[0]] if rows else []
    if header and "query-id" not in header and header[0] in queries:  # TREC's `qid 0 docid rel` has no header
        raise UserError(
            f"{path}: line 1 ({' '.join(header)}) is a row, not a header: query-id '{header[0]}' is a query; "
            "expected a first line query-id<TAB>corpus-id<TAB>score above the rows (BEIR's qrels)"
        )
    require_columns(rows, ["query-id", "corpus-id"], str(path))
    relevant: dict[str, set[str]] = {}
    for number, row in enumerate(rows, start=2):
        query_id, doc_id = str(row["query-id"]).strip(), str(row["corpus-id"]).strip()
        if query_id not in queries:
            raise UserError(
                f"{path}: line {number} names query-id '{query_id}', which queries.jsonl lacks; expected the _id "
                "of a line of queries.jsonl"
            )
        if doc_id not in corpus:
            raise UserError(
                f"{path}: line {number} names corpus-id '{doc_id}', which corpus.jsonl lacks; expected the _id of "
                "a line of corpus.jsonl"
            )
        if _qrels_score(row.get("score"), path, number) > 0:
            relevant.setdefault(query_id, set()).add(doc_id)
    return relevant


def _qrels_score(value: Any, path: Path, line: int) -> float:
    if value is None:
        return 1.0  # no score column: every listed pair is relevant
    if not value.strip():
        return 0.0
    try:
        score = float(value)
    except ValueError:
        raise UserError(f"{path}: line {line} has score {value!r}; expected a number (> 0 = relevant)") from None
    if not math.isfinite(score):
        raise UserError(f"{path}: line {line} has score {value!r}; expected a finite number (> 0 = relevant)")
    return score


def _clean_id(value: Any, path: Path, row: int) -> str:
    if value is None or isinstance(value, (bool, list, dict)) or not str(value).strip():
        shown = "null" if value is None else json.dumps(value)
        raise UserError(f"{path}: row {row} has _id {shown}; expected a non-empty string or number")
    return str(value).strip()


def read_texts(path: Path, with_title: bool) -> dict[str, str]:
    """id -> text of a BEIR corpus or queries file.

    With `with_title` (a corpus), a document is its title and text, as BEIR defines it: `title. text`, or either
    one alone when the other is empty; a document with neither is refused. Without it (queries), `text` is required.
    """
    rows = _read_jsonl(path)
    require_columns(rows, ["_id", "text"], str(path))
    out: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        key = _clean_id(row["_id"], path, number)
        if key in out:
            raise UserError(f"{path}: row {number} repeats _id '{key}'; expected unique ids")
        title = _optional_text(row.get("title"), path, number, "title") if with_title else ""
        if title and not _optional_text(row["text"], path, number, "text"):
            out[key] = title  # BEIR's title-only documents
            continue
        text = clean_text(row["text"], str(path), number, "text")
        out[key] = f"{title}. {text}" if title else text
    return out


def _optional_text(value: Any, path: Path, row: int, column: str) -> str:
    """A cell that may be empty or null ("" then); anything else must be text, as `clean_text` takes it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    return clean_text(value, str(path), row, column)
