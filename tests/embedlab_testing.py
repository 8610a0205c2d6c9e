"""Helpers the tests share: tiny data folders written on the fly, and the real command run in-process or as a
subprocess."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import json
import os
import runpy
import signal
import struct
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]

TOPICS = {
    "lens": (
        "A convex lens converges parallel rays to its focal point.",
        "Where do rays meet after a convex lens?",
    ),
    "ohm": (
        "Current through a resistor is proportional to the voltage across it.",
        "How does current depend on voltage?",
    ),
    "gravity": (
        "Every mass attracts every other mass with a force inversely proportional to distance squared.",
        "What happens to gravitational pull when distance doubles?",
    ),
    "heat": (
        "Heat flows from a hotter body to a colder body until both reach the same temperature.",
        "Which way does heat move between two bodies?",
    ),
    "photon": (
        "Light of frequency f comes in quanta of energy h times f.",
        "What is the energy of one photon?",
    ),
    "wave": (
        "The speed of a wave equals its frequency times its wavelength.",
        "How are wave speed and wavelength related?",
    ),
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_physics_folder(folder: Path, copies: int = 4) -> Path:
    """A physics-shaped folder: pairs.jsonl + a small BEIR retrieval set with one gold passage per query."""
    pairs, corpus, queries, qrels = [], [], [], ["query-id\tcorpus-id\tscore"]
    for n in range(copies):
        for name, (passage, question) in TOPICS.items():
            pairs.append({"anchor": f"{name} concept {n}", "positive": f"{passage} (note {n})"})
            corpus.append({"_id": f"{name}{n}", "title": name, "text": f"{passage} Variant {n}."})
            queries.append({"_id": f"q{name}{n}", "text": f"{question} ({n})"})
            qrels.append(f"q{name}{n}\t{name}{n}\t1")
    write_jsonl(folder / "pairs.jsonl", pairs)
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def write_checkpoint(folder: Path) -> Path:
    """A complete-marked checkpoint-N folder with what the trainer writes and a resume restores (one tiny tensor)."""
    folder.mkdir(parents=True)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    (folder / "trainer_state.json").write_text('{"global_step": 2}')
    for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (folder / name).write_bytes(b"state")
    from embedlab.training.checkpoint import COMPLETE

    (folder / COMPLETE).write_text("ok\n")
    return folder


@dataclass
class Finished:
    """What a test reads of a finished command, as `subprocess.CompletedProcess` has it."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def signal_handlers_restored():
    """SIGINT's and SIGTERM's handlers and the blocked-signal mask as they were before the block, so one in-process
    run leaves no signal state to the next: src/train.py blocks them during its imports (a run that ends before
    it unblocks them, e.g. `--cfg`, leaves them blocked), and an interrupted run leaves them ignored."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in previous.items():
            signal.signal(s, handler)


def names_its_folder(overrides: tuple[str, ...] | list[str], cwd: Path) -> None:
    """A command run from the repository makes its run folder there unless it names one: Hydra's outputs/ (or
    multirun/ with -m), removed again when the run is refused before work. Another pytest worker's check that
    no test writes into the repository (conftest.py) then sees it, and fails a test that wrote nothing. So each
    command run from the repository names its folder (or only prints its config or help)."""
    if Path(cwd).resolve() != REPO.resolve():
        return
    if any(o.startswith(("--cfg", "--help", "--hydra-help", "--info")) or o in ("-c", "-h", "-i") for o in overrides):
        return
    multirun = any(o in ("-m", "--multirun") for o in overrides)
    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    if not any(o.startswith(key) for o in overrides):
        raise AssertionError(
            f"python -m train {' '.join(overrides)}: run from the repository without {key}, it makes its folder "
            f"there; give {key}<a folder under tmp_path>, or cwd="
        )


def run_train(*overrides: str, cwd: Path = REPO, env: dict | None = None) -> Finished:
    """`python -m train <overrides>`, run in this process: the same entry point (`src/train.py` as `__main__`,
    Hydra's own argument parsing and exit codes) without the ~8 s of importing torch & co again per command.
    The environment (all of it), working folder and sys.argv are set for the call and restored after it."""
    names_its_folder(overrides, cwd)
    out, err = io.StringIO(), io.StringIO()
    returncode = 0
    with (
        signal_handlers_restored(),  # an interrupted run leaves SIGINT/SIGTERM ignored, as a process about to exit
        mock.patch.dict(os.environ, env or {}),
        contextlib.chdir(cwd),
        mock.patch.object(sys, "argv", ["train", *overrides]),
    ):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                runpy.run_module("train", run_name="__main__", alter_sys=False)
            except SystemExit as exc:
                returncode = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # noqa: BLE001  what an uncaught exception does to the real command
                traceback.print_exc()
                returncode = 1
    gc.enable()  # src/train.py pauses collection until a model is loaded; a run that failed first left it off
    return Finished(returncode, out.getvalue(), err.getvalue())


def run_train_subprocess(*overrides: str, cwd: Path = REPO, env: dict | None = None, timeout: int = 600):
    """`python -m train <overrides>` as a user runs it, in its own process: for exit on signals, start-up time
    and what only a fresh interpreter shows. Returns the CompletedProcess."""
    names_its_folder(overrides, cwd)
    return subprocess.run(
        [sys.executable, "-m", "train", *overrides],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def run_bench(module: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` from the repository root, as bench/README.md runs the benchmarks."""
    command = [sys.executable, "-m", module, *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def tiny_overrides(tiny_model: str, data: Path | str | None = None) -> list[str]:
    """`debug=tiny` (conf/debug/tiny.yaml: 2 steps of 8 examples on the CPU in fp32, evaluated after each, no model
    logged) on the tiny model, and `data` as `dataset.path` when given. A test adds what its assertions need."""
    return ["debug=tiny", f"model.name_or_path={tiny_model}", *([f"dataset.path={data}"] if data else [])]


def tiny_chain_overrides(tiny_model: str, out: Path, data: Path | str | None = None) -> list[str]:
    """`tiny_overrides` for a two-stage chain: phase 2 mines without a margin, its cache under `out`."""
    return [
        *tiny_overrides(tiny_model, data),
        "phase.stages.phase2.phase.relative_margin=null",  # the untrained tiny model scores everything alike
        f"phase.stages.phase2.phase.cache_dir={out / 'cache'}",
    ]


def train_in(folder: Path, *overrides: str, run_dir: str = "run", cwd: Path = REPO) -> tuple[Finished, str]:
    """`python -m train <overrides>` in-process with its MLflow store at `folder/mlflow.db` (MLFLOW_TRACKING_URI)
    and its run folder `folder/<run_dir>`; the test fails, showing stderr, unless it exits 0. Returns the result and
    the store's URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    result = run_train(*overrides, f"hydra.run.dir={folder / run_dir}", cwd=cwd, env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr[-3000:]
    return result, uri


def linked_versions(model) -> list[tuple[str, str]]:
    """The registered versions a logged model's page names: MLflow's tag `mlflow.modelVersions` on the model."""
    import json

    return [(v["name"], str(v["version"])) for v in json.loads(model.tags.get("mlflow.modelVersions", "[]"))]


def runs(uri: str, experiment: str | None = None):
    """All MLflow runs in the store, newest first."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments() if experiment in (None, e.name)]
    return client.search_runs(experiments, order_by=["attributes.start_time DESC"]) if experiments else []


# Duplicate clusters as in the Quora release: three ways to ask one question, and a related question that
# is not a duplicate. Each cluster gets qids 10k+1 .. 10k+4.
QUORA_CLUSTERS = [
    (
        "How do I learn Python quickly?",
        "What is the fastest way to learn Python?",
        "How can I learn Python in a short time?",
        "Is Python harder to learn than Java?",
    ),
    (
        "What is the best way to lose weight?",
        "How can I lose weight fast?",
        "What should I do to reduce my weight?",
        "Why do people gain weight in winter?",
    ),
    (
        "How do I get a job at Google?",
        "What does it take to be hired by Google?",
        "How can I join Google as an engineer?",
        "What is it like to work at Microsoft?",
    ),
    (
        "Why is the sky blue?",
        "What makes the sky look blue?",
        "Why does the sky appear blue during the day?",
        "Why are sunsets red?",
    ),
    (
        "How can I improve my English speaking?",
        "What are ways to speak English fluently?",
        "How do I become fluent in spoken English?",
        "Which English novels should I read first?",
    ),
    (
        "What is the meaning of life?",
        "What is the purpose of human life?",
        "Why are we alive?",
        "What is the meaning of the word 'life' in biology?",
    ),
    (
        "How do I start a startup?",
        "What are the first steps to start a company?",
        "How should I begin building a startup?",
        "Why do most startups fail?",
    ),
    (
        "How does a black hole form?",
        "What causes black holes to form?",
        "How are black holes created?",
        "What is inside a black hole?",
    ),
]
QUORA_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]


def quora_rows() -> list[list[str]]:
    """Rows in the release layout: per cluster two duplicate pairs and two non-duplicate pairs."""
    rows = []
    for k, (a, b, c, other) in enumerate(QUORA_CLUSTERS):
        qid = {text: str(10 * k + i) for i, text in enumerate((a, b, c, other), start=1)}
        for first, second, label in ((a, b, 1), (a, c, 1), (b, other, 0), (c, other, 0)):
            rows.append([str(len(rows)), qid[first], qid[second], first, second, str(label)])
    return rows


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def sweep_failures(output: str) -> str:
    """A sweep's lines that say why a trial failed (`Trial 0: FAIL (...)`, errors and tracebacks' last lines)."""
    return "\n".join(line for line in output.splitlines() if "FAIL" in line or "rror" in line)[-3000:]


HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "mlflow")  # seconds to import, each


def run_train_logging_imports(*overrides: str, env: dict | None = None) -> tuple[Finished, set[str]]:
    """`python -X importtime -m train <overrides>` in a fresh interpreter: what the user saw (stderr without the
    import log) and every module it imported, so that a test can assert what a command did NOT load."""
    names_its_folder(overrides, REPO)
    command = [sys.executable, "-X", "importtime", "-m", "train", *overrides]
    env = {**os.environ, **(env or {})}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)  # a hang guard
    lines = done.stderr.splitlines(keepends=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in lines if line.startswith("import time:")}
    stderr = "".join(line for line in lines if not line.startswith("import time:"))
    return Finished(done.returncode, done.stdout, stderr), imported


def assert_refused_in_one_line(result: Finished, expected: str, uri: str) -> None:
    """Bad input as the user sees it: exit 2, no traceback, one `error:` line that contains `expected`, and no
    MLflow run left RUNNING in the store at `uri` (a store that was never created has none)."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert expected in errors[0]
    assert "expected" in errors[0] or "did you mean" in errors[0], errors[0]  # what to give instead
    store = Path(uri.removeprefix("sqlite:///"))
    assert not store.exists() or all(run.info.status != "RUNNING" for run in runs(uri))
