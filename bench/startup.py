"""Part 2: how fast `python -m train --cfg job` and `--help` answer, and whether they import torch."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from bench.common import REPO, bench_env, median

COMMANDS = {"cfg_job": ["--cfg", "job"], "help": ["--help"]}
HEAVY = ("torch", "sentence_transformers", "transformers", "mlflow")


def imported_heavy(args: list[str]) -> list[str]:
    """Top-level heavy packages that `python -X importtime -m train <args>` imports."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "train", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=bench_env(),
    )
    modules = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    return [name for name in HEAVY if name in modules]


def run(settings) -> dict[str, Any]:
    repeats = 1 if settings.smoke else max(5, settings.repeats)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeats):
        for name, args in COMMANDS.items():  # alternate the two commands
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "train", *args], cwd=REPO, capture_output=True, env=bench_env(), check=True
            )
            times[name].append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=REPO, capture_output=True, env=bench_env(), check=True)
    bare = time.perf_counter() - start
    return {
        "repeats": repeats,
        "raw_s": times,
        "median_s": {name: median(t) for name, t in times.items()},
        "bare_python_s": bare,
        "heavy_imports": {name: imported_heavy(args) for name, args in COMMANDS.items()},
    }
