"""Part 1: `python -m train` against a plain sentence-transformers script (bench/plain_train.py).

Fairness: both sides train the same model on identical rows (embedlab's split, exported to JSON for the
plain script) with the same seed, loss, sampler, optimizer, schedule and evaluation schedule (step 0, then
every `eval_steps`, best checkpoint loaded at the end, test metrics before and after, model saved). Our run
also tracks everything in MLflow and logs the model: that is the overhead being measured. Runs alternate
(ours, plain, ours, ...) and each side's loss at every step is compared, so both did the same work: ours runs
with `training.length_buckets=1` (one padded forward per column, as the plain script; with groups of similar
length the forwards draw other dropout masks, so the curves would differ by more than float rounding).

Our runs share one MLflow store, created untimed before the first of them: a user's store exists after their
first run (`make train` makes it). What creating it costs that first run is measured on its own and reported
(`store_creation_s`: opening a fresh SQLite store minus opening an existing one, in one process).

Reported: end-to-end wall time; time to first step (process launch to the first step's logged loss); the
training loop (first to last step's logged loss, evaluations included, the same on both sides).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Settings, bench_env, median, ratio, run_json


def export_split(train_data: Path, path: Path) -> None:
    """The rows embedlab trains and evaluates on, as the plain script reads them."""
    from embedlab.data.physics import load_physics

    data = load_physics(path=str(train_data), seed=42)
    split: dict[str, Any] = {"pairs": {}, "retrieval": {}}
    for name in ("train", "validation", "test"):
        split["pairs"][name] = [[r["anchor"], r["positive"]] for r in data.parts["pairs"].splits[name]]
        corpus, retrieval = data.retrieval_split(name)
        split["corpus"] = corpus
        split["retrieval"][name] = {
            "queries": retrieval.queries,
            "relevant": {q: sorted(d) for q, d in retrieval.relevant.items()},
        }
    path.write_text(json.dumps(split), encoding="utf-8")


STORE_CREATION = """
import json, sys, time, mlflow
def open_store(path):
    mlflow.set_tracking_uri(f"sqlite:///{path}")
    started = time.perf_counter()
    mlflow.set_experiment("bench-store-timing")
    return time.perf_counter() - started
warm_up, fresh, existing = sys.argv[1:]
open_store(warm_up)  # MLflow's lazy imports, which every run pays
print(json.dumps(open_store(fresh) - open_store(existing)))
"""


def store_creation_s(folder: Path, existing: Path) -> float:
    """Seconds the first run in a fresh store spends creating it (MLflow's tables and migrations)."""
    return run_json(["-c", STORE_CREATION, str(folder / "warm-up.db"), str(folder / "fresh.db"), str(existing)])


def run_ours(settings: Settings, steps: int, eval_steps: int, folder: Path, uri: str) -> dict[str, Any]:
    import subprocess
    import sys

    import mlflow

    overrides = [
        f"model.name_or_path={settings.model}",
        f"dataset.path={settings.train_data}",
        f"training.max_steps={steps}",
        f"training.eval_steps={eval_steps}",
        "training.logging_steps=1",
        "training.length_buckets=1",  # one padded forward per column, as the plain script: the same dropout draws
        f"hydra.run.dir={folder / 'run'}",
    ]
    started = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "train", *overrides],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        env=bench_env(MLFLOW_TRACKING_URI=uri),
    )
    ended = time.time()
    if result.returncode != 0:
        raise RuntimeError(f"python -m train exited {result.returncode}:\n{result.stderr[-3000:]}")
    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=1)
    history = sorted(client.get_metric_history(run.info.run_id, "train_loss"), key=lambda m: m.step)
    return {
        "started": started,
        "ended": ended,
        "steps": [{"step": m.step, "loss": m.value, "time": m.timestamp / 1000} for m in history],
    }


def run_plain(settings: Settings, steps: int, eval_steps: int, folder: Path, split: Path) -> dict[str, Any]:
    started = time.time()
    args = ["bench/plain_train.py", "--split", str(split), "--model", settings.model, "--steps", str(steps)]
    out = run_json([*args, "--eval-steps", str(eval_steps), "--out", str(folder)])
    out["started"] = started  # process launch, as for ours
    out["ended"] = time.time()
    return out


def timings(run: dict[str, Any]) -> dict[str, float]:
    steps = run["steps"]
    return {
        "wall_s": run["ended"] - run["started"],
        "first_step_s": steps[0]["time"] - run["started"],
        "loop_s": steps[-1]["time"] - steps[0]["time"],
    }


def run(settings: Settings) -> dict[str, Any]:
    steps = 4 if settings.smoke else settings.overhead_steps
    eval_steps = max(1, steps // 2)
    sides: dict[str, list[dict[str, float]]] = {"ours": [], "plain": []}
    curves: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        split = Path(tmp) / "split.json"
        export_split(settings.train_data, split)
        store = Path(tmp) / "mlflow.db"
        uri = f"sqlite:///{store}"
        import mlflow

        mlflow.MlflowClient(uri).search_experiments()  # the store, as a user's first run left it (untimed)
        creation = store_creation_s(Path(tmp), store)
        for i in range(settings.repeats):
            order = ("ours", "plain") if i % 2 == 0 else ("plain", "ours")  # alternate who goes first
            for side in order:
                folder = Path(tmp) / f"{side}{i}"
                folder.mkdir()
                result = (
                    run_ours(settings, steps, eval_steps, folder, uri)
                    if side == "ours"
                    else run_plain(settings, steps, eval_steps, folder, split)
                )
                sides[side].append(timings(result))
                curves[side] = [s["loss"] for s in result["steps"]]
    med = {side: {k: median([t[k] for t in runs]) for k in runs[0]} for side, runs in sides.items()}
    diff = max((abs(a - b) for a, b in zip(curves["ours"], curves["plain"])), default=float("nan"))
    return {
        "steps": steps,
        "eval_steps": eval_steps,
        "batch_size": 32,
        "repeats": settings.repeats,
        "raw": sides,
        "median": med,
        "wall_ratio": ratio(med["ours"]["wall_s"], med["plain"]["wall_s"]),
        "extra_wall_s": med["ours"]["wall_s"] - med["plain"]["wall_s"],  # the fixed cost of tracking, per run
        "first_step_ratio": ratio(med["ours"]["first_step_s"], med["plain"]["first_step_s"]),
        "loop_ratio": ratio(med["ours"]["loop_s"], med["plain"]["loop_s"]),
        "loss_curve": {"ours": curves["ours"], "plain": curves["plain"], "max_abs_diff": diff},
        "same_loss_curve": len(curves["ours"]) == len(curves["plain"]) == steps and diff <= 1e-4,
        "store_creation_s": creation,
    }
