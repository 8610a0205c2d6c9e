"""The benchmark commands check their inputs before any work: a missing folder, file or model is one `error:`
line naming it, exit 2, no traceback, before any part runs (bench/common.py: check_beir_folder, check_file, check_model, exit_code)."""

from __future__ import annotations

import pytest

from embedlab_testing import run_bench


def commands(tmp_path, physics_folder) -> dict[str, tuple[list[str], str]]:
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    test_only = tmp_path / "test_only"  # a BEIR folder with held-out judgements only
    (test_only / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        (test_only / name).write_bytes((physics_folder / name).read_bytes())
    (test_only / "qrels" / "test.tsv").write_bytes((physics_folder / "qrels.tsv").read_bytes())
    return {
        "bench data": (["bench", "--data", str(missing)], f"--data {missing}: no such folder; expected a BEIR folder"),
        "bench data lacks files": (["bench", "--data", str(empty)], f"--data {empty}: lacks corpus.jsonl"),
        "bench recipe without training judgements": (
            ["bench", "--parts", "recipe", "--data", str(test_only)],
            f"--data {test_only}: has no qrels/train.tsv or qrels.tsv; expected one for --parts recipe",
        ),
        "bench recipe plain side not found": (
            ["bench", "--parts", "startup", "recipe", "--data", str(physics_folder), "--plain-from", str(empty)],
            f"--plain-from {empty}: no split0/row.json of {physics_folder}",
        ),
        "bench threads 0": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--threads", "0"],
            "--threads 0: expected an integer >= 1",
        ),
        "bench no splits": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--splits", "0"],
            "--splits 0: expected an integer >= 1",
        ),
        "bench negative repeats": (["bench", "--parts", "startup", "--repeats", "-1"], "--repeats -1: expected"),
        "bench out not writable": (
            ["bench", "--parts", "startup", "--out", str(physics_folder / "qrels.tsv" / "x")],
            "cannot be written",
        ),
        "bench recipe override typo": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--recipe-overrides", "trainig.lr=1e-5"],
            "trainig is not a key of the config; did you mean training?",
        ),
        "quality override typo": (
            [
                "bench.quality",
                "--data",
                str(test_only),
                "--split",
                "test",
                "--sides",
                "plain",
                "default",
                "--",
                "training.lr=abc",
            ],
            "training.lr=abc is not a number",
        ),
        "quality threads 0": (
            ["bench.quality", "--data", str(test_only), "--split", "test", "--threads", "0"],
            "--threads 0: expected an integer >= 1",
        ),
        "quality merge not json": (
            ["bench.quality", "--data", str(physics_folder), "--merge", str(physics_folder / "qrels.tsv")],
            "not a quality.json",
        ),
        "bench model": (
            ["bench", "--data", str(physics_folder), "--model", str(missing)],
            f"--model={missing} does not exist or is not a model folder",
        ),
        "quality data": (["bench.quality", "--data", str(missing)], f"--data {missing}: no such folder"),
        "quality split": (
            ["bench.quality", "--data", str(physics_folder)],
            f"--data {physics_folder}: lacks qrels/test.tsv",
        ),
        "quality merge": (
            ["bench.quality", "--data", str(physics_folder), "--merge", str(missing)],
            f"--merge {missing}: no such file",
        ),
        "quora data": (
            ["bench.quora_heldout", "--data", str(missing), "--stsb", str(missing)],
            f"--data {missing}: no such file; expected the Quora release TSV",
        ),
        "bench unknown part": (["bench", "--parts", "foo"], "python -m bench: argument --parts: invalid choice: 'foo'"),
        "bench parts without a value": (["bench", "--parts"], "argument --parts: expected at least one argument"),
        "bench repeats not a number": (["bench", "--repeats", "abc"], "argument --repeats: invalid int value: 'abc'"),
        "quality unknown side": (
            ["bench.quality", "--data", str(missing), "--sides", "foo"],
            "python -m bench.quality: argument --sides: invalid choice: 'foo'",
        ),
        "quora without its files": (["bench.quora_heldout"], "the following arguments are required: --data, --stsb"),
        "bench data is a file": (
            ["bench", "--data", str(physics_folder / "qrels.tsv")],
            f"--data {physics_folder / 'qrels.tsv'}: is a file, not a folder; expected a BEIR folder",
        ),
        "bench negative seed": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--seeds", "-1"],
            "--seeds -1: out of range; expected integers from 0 to 2^32-1",
        ),
        "bench repeated seed": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--seeds", "1", "1"],
            "--seeds 1 1: repeats 1; expected distinct seeds",
        ),
        "bench more threads than cores": (
            ["bench", "--parts", "recipe", "--data", str(physics_folder), "--threads", "1000"],
            "--threads 1000: more than the",
        ),
        "quora model": (
            [
                "bench.quora_heldout",
                "--data",
                str(physics_folder / "qrels.tsv"),
                "--stsb",
                str(physics_folder / "queries.jsonl"),
                "--models",
                "base",
                str(missing),
            ],
            f"--models={missing} does not exist",
        ),  # fmt: skip
    }


@pytest.fixture
def cases(tmp_path, physics_folder):
    return commands(tmp_path, physics_folder)


NAMES = [
    "bench data",
    "bench data lacks files",
    "bench recipe without training judgements",
    "bench recipe plain side not found",
    "bench threads 0",
    "bench no splits",
    "bench negative repeats",
    "bench out not writable",
    "bench recipe override typo",
    "quality override typo",
    "quality threads 0",
    "quality merge not json",
    "bench model",
    "quality data",
    "quality split",
    "quality merge",
    "quora data",
    "quora model",
    "bench unknown part",  # argparse's refusals: its usage over several lines, then `python -m bench: error: ...`
    "bench parts without a value",
    "bench repeats not a number",
    "quality unknown side",
    "quora without its files",
    "bench data is a file",  # said "no such folder"
    "bench negative seed",  # a ValueError traceback in the recipe part, after the plain side loaded
    "bench repeated seed",  # carved the same split twice into one folder
    "bench more threads than cores",  # python -m train refuses it (tests/test_plan.py)
]


@pytest.mark.parametrize("name", NAMES)
def test_a_missing_input_is_one_error_line_and_exit_2(cases, name):
    args, expected = cases[name]
    result = run_bench(*args, timeout=120)
    assert set(cases) == set(NAMES)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert "[bench]" not in result.stdout  # before any part ran
