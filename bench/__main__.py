"""`python -m bench [--data DIR] [--parts ...] [--repeats N] [--sweep-size quick|medium|full] [--overhead-steps N]
[--splits N] [--threads N] [--smoke]`. `--parts recipe` (hours on a real folder) runs only when named."""

from __future__ import annotations

import importlib
import json
import time
import traceback
from pathlib import Path

from bench.common import (
    BUNDLED_PHYSICS,
    REPO,
    ArgumentParser,
    Settings,
    check_beir_folder,
    check_counts,
    check_model,
    check_out,
    check_seeds,
    exit_code,
    machine,
    minilm_path,
)
from bench.table import render
from embedlab.errors import UserError

PARTS = ("startup", "overhead", "throughput", "mining", "evaluation", "precision", "sweep", "recipe")
DEFAULT_PARTS = [part for part in PARTS if part != "recipe"]


# The parts that read --data's BEIR files (the others train on its pairs.jsonl, else on the bundled physics set).
READS_QRELS_TSV = ("mining", "evaluation", "precision")


def check_data(data: Path, parts: list[str]) -> None:
    """--data must exist, and hold the files the chosen parts read: qrels.tsv, or for `recipe` qrels/train.tsv."""
    files = ("corpus.jsonl", "queries.jsonl") if set(parts) & {*READS_QRELS_TSV, "recipe"} else ()
    check_beir_folder(data, (*files, *(["qrels.tsv"] if set(parts) & set(READS_QRELS_TSV) else [])))
    if "recipe" in parts and not any((data / name).is_file() for name in ("qrels/train.tsv", "qrels.tsv")):
        raise UserError(f"--data {data}: has no qrels/train.tsv or qrels.tsv; expected one for --parts recipe")


def main() -> int:
    parser = ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--data", type=Path, default=BUNDLED_PHYSICS, help="BEIR folder (default: bundled physics)")
    parser.add_argument("--model", default=None, help="model folder (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=DEFAULT_PARTS)
    parser.add_argument("--repeats", type=int, default=Settings.repeats, help="repeats per side; medians are reported")
    parser.add_argument("--sweep-size", choices=("quick", "medium", "full"), default=Settings.sweep_size)
    parser.add_argument(
        "--overhead-steps", type=int, default=Settings.overhead_steps, help="training steps of the overhead job"
    )
    parser.add_argument("--splits", type=int, default=Settings.splits, help="recipe: held-out splits (one seed each)")
    parser.add_argument("--seeds", type=int, nargs="+", default=(), help="recipe: these split seeds instead of 0..N-1")
    parser.add_argument("--skip-base", action="store_true", help="recipe: do not score the base model per split")
    parser.add_argument("--recipe-overrides", nargs="+", default=(), help="recipe: overrides for a variant")
    parser.add_argument("--threads", type=int, default=Settings.threads, help="recipe: torch threads per side")
    parser.add_argument(
        "--plain-from", type=Path, default=None, help="recipe: the plain side's score and time from these earlier rows"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: proves the parts run")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results", help="results folder (default: bench/results)"
    )
    args = parser.parse_args()
    data = args.data.expanduser().resolve()
    check_data(data, args.parts)  # a missing folder or model is one line before any part runs, not a traceback per part
    check_model(args.model)
    check_counts(repeats=args.repeats, splits=args.splits, threads=args.threads, overhead_steps=args.overhead_steps)
    check_seeds(args.seeds)
    check_out(args.out)
    if args.plain_from is not None and not args.plain_from.is_dir():
        raise UserError(f"--plain-from {args.plain_from}: not a folder; expected an earlier --out of --parts recipe")
    settings = Settings(
        model=args.model or minilm_path(),
        data=data,
        out=args.out,
        repeats=1 if args.smoke else args.repeats,
        smoke=args.smoke,
        sweep_size=args.sweep_size,
        overhead_steps=args.overhead_steps,
        splits=1 if args.smoke else args.splits,
        threads=args.threads,
        seeds=tuple(args.seeds),
        skip_base=args.skip_base,
        recipe_overrides=tuple(args.recipe_overrides),
        plain_from=args.plain_from,
    )
    for name in args.parts:  # each part's own checks, before any part works
        check = getattr(importlib.import_module(f"bench.{name}"), "check", None)
        if check is not None:
            check(settings)
    report = {
        "command": "python -m bench " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "model": settings.model,
        "data": str(data),
        "train_data": str(settings.train_data),
        "parts": {},
    }
    failed = []
    for name in args.parts:
        print(f"[bench] {name} ...", flush=True)
        start = time.perf_counter()
        try:
            report["parts"][name] = importlib.import_module(f"bench.{name}").run(settings)
        except Exception:  # one broken part must not cost the others' numbers
            report["parts"][name] = {"error": traceback.format_exc()}
            failed.append(name)
        report["parts"][name]["bench_s"] = time.perf_counter() - start
        print(f"[bench] {name} done in {report['parts'][name]['bench_s']:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(report, indent=2, default=str)
    path.write_text(text, encoding="utf-8")
    (args.out / "latest.json").write_text(text, encoding="utf-8")
    print(render(report))
    print(f"\nJSON: {path}")
    for name in failed:
        print(f"\n[bench] {name} failed:\n{report['parts'][name]['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(exit_code(main))
