"""Properties of the package's imports that the README and STYLE.md state: no cycles, no torch before data."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from embedlab_testing import REPO, write_jsonl

SRC = REPO / "src"


def module_imports() -> dict[str, set[str]]:
    """Each module of src/ -> the modules of src/ it imports anywhere in its body (functions included)."""
    files = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[name] = {m for m in imported if m in files and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt] if nxt in path else [node, nxt, node]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = module_imports()
    assert {"embedlab.run", "embedlab.job", "embedlab.phases.chain"} <= set(graph)
    assert "embedlab.run" not in graph["embedlab.phases.chain"]  # the chain gets the run function passed in
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_importing_the_run_loads_no_torch():
    code = (
        "import json, sys, embedlab.job, embedlab.run, embedlab.report;"
        "print(json.dumps([m for m in ('torch', 'transformers', 'sentence_transformers', 'mlflow') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert json.loads(out.stdout) == []


def test_bad_data_fails_before_torch_is_imported(tmp_path: Path):
    bad = write_jsonl(tmp_path / "pairs.jsonl", [{"anchor": "a question", "positive": ""}])
    uri = f"sqlite:///{tmp_path}/m.db"
    result = subprocess.run(
        # its folder named: made in the repository, and removed on refusal, it fails another worker's check there
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "train",
            "dataset=local",
            f"dataset.path={bad}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "hydra" in imported  # the import log is there to read
    assert not {"torch", "transformers", "sentence_transformers", "mlflow"} & imported
    assert not (tmp_path / "m.db").exists()  # nothing was started
