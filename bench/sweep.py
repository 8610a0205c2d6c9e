"""Part 6: a pruned Optuna study against the full grid of the same physics search space.

conf/hparams_search/physics.yaml searches batch_size {16, 32, 64}, epochs {1, 2, 3}, loss.scale in
[10, 40] and lr in [1e-5, 2e-4] (log). A grid needs discrete values, so both sides search the same
discretized space: the grid runs every point with `hydra/sweeper=embedlab_grid`, the study draws from the
same points as `choice(...)` with `hparams_search=physics` (TPE sampler, median pruner). Both are the real
`python -m train -m` command, in one process each, with their own MLflow and Optuna stores.

Sizes (`--sweep-size`):
    full   3 x 3 x 3 x 3 = 81 grid points, no step cap, eval every 10 steps; studies of 20 trials, TPE after
           10 random trials, pruning after 5 finished trials. Hours on a 2-core CPU.
    medium lr {1e-5, 4.5e-5, 2e-4} x scale {10, 20, 40} x batch_size {16, 32, 64} = 27 points, 16 steps
           each (`max_steps` wins over `epochs`, as in transformers), eval every 4 steps; studies of 27
           trials (the grid's size: repeats are reused at no cost, pruned trials cost the steps they ran),
           TPE after 8 random trials, pruning after 4 finished trials. 40 min for the grid and 15–28 min per
           study on a 2-core CPU.
    quick  lr {1e-5, 5e-5, 2e-4} x scale {10, 20, 40} = 9 points at batch 16, capped at 8 steps (epochs fixed
           at 1: the cap makes it irrelevant), eval every 2 steps; studies of 9 trials (the grid's budget),
           TPE after 3 random trials, pruning after 2 finished trials.
    smoke  2 points, 4 steps; one study of 1 trial (tests only).

The grid is deterministic; a study depends on its sampler's seed, so it runs once per seed (`SEEDS`, each
with its own stores) and the medians over seeds are reported next to every seed's numbers.

Counted per run: the steps it trained (its last evaluation step: a pruned run stops at one, and that
evaluation is logged) and its objective (ndcg_at_10 at its best checkpoint; pruned runs have none).
Reported: the best objective of each side, the steps each spent until its first run within 0.005 of the
grid's best (in the order the runs happened; None if a study never got there), and the full grid's steps,
which is what a grid costs before it knows its best.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import REPO, Settings, bench_env

TOLERANCE = 0.005
SEEDS = (42, 43, 44)
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "space": {
            "training.batch_size": ["16", "32", "64"],
            "training.epochs": ["1", "2", "3"],
            "loss.scale": ["10.0", "20.0", "40.0"],
            "training.lr": ["1e-05", "4.5e-05", "0.0002"],
        },
        "fixed": ["training.eval_steps=10"],
        "n_trials": 20,
        "random_trials": 10,
        "n_startup_trials": 5,
    },
    "medium": {
        "space": {
            "training.batch_size": ["16", "32", "64"],
            "loss.scale": ["10.0", "20.0", "40.0"],
            "training.lr": ["1e-05", "4.5e-05", "0.0002"],
        },
        "fixed": ["training.epochs=1", "training.max_steps=16", "training.eval_steps=4"],
        "n_trials": 27,
        "random_trials": 8,
        "n_startup_trials": 4,
    },
    "quick": {
        "space": {"training.lr": ["1e-05", "5e-05", "0.0002"], "loss.scale": ["10.0", "20.0", "40.0"]},
        "fixed": ["training.batch_size=16", "training.epochs=1", "training.max_steps=8", "training.eval_steps=2"],
        "n_trials": 9,
        "random_trials": 3,
        "n_startup_trials": 2,
    },
    "smoke": {
        "space": {"training.lr": ["1e-05", "0.0002"], "loss.scale": ["20.0"]},
        "fixed": ["training.batch_size=8", "training.epochs=1", "training.max_steps=4", "training.eval_steps=2"],
        "n_trials": 1,
        "random_trials": 1,
        "n_startup_trials": 1,
    },
}


def store_uri(folder: Path) -> str:
    """The MLflow store a sweep in `folder` writes to."""
    return f"sqlite:///{folder / 'mlflow.db'}"


def sweep(overrides: list[str], folder: Path) -> list[dict[str, Any]]:
    """Run `python -m train -m <overrides>`; return its runs in start order: steps trained and objective."""
    command = [sys.executable, "-m", "train", "-m", *overrides, f"hydra.sweep.dir={folder / 'multirun'}"]
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, env=bench_env(MLFLOW_TRACKING_URI=store_uri(folder))
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return read_runs(folder)


def read_runs(folder: Path) -> list[dict[str, Any]]:
    """The runs a sweep left in `folder/mlflow.db`, in start order: parameters, state, steps and objective."""
    import mlflow

    client = mlflow.MlflowClient(store_uri(folder))
    experiments = [e.experiment_id for e in client.search_experiments()]
    children = [r for r in client.search_runs(experiments) if "mlflow.parentRunId" in r.data.tags]
    runs = []
    for run in sorted(children, key=lambda r: r.info.start_time):
        evaluated = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "ndcg_at_10")}
        kept_step = run.data.metrics.get("kept_step")
        runs.append(
            {
                "params": run.data.tags.get("sweep_overrides", ""),
                "state": run.data.tags.get("sweep_state", run.info.status),
                "steps": max(evaluated, default=0),
                "objective": evaluated.get(int(kept_step)) if kept_step is not None else None,
            }
        )
    return runs


def steps_to_reach(runs: list[dict[str, Any]], target: float) -> int | None:
    spent = 0
    for run in runs:
        spent += run["steps"]
        if run["objective"] is not None and run["objective"] >= target:
            return spent
    return None


def run(settings: Settings) -> dict[str, Any]:
    size = "smoke" if settings.smoke else settings.sweep_size
    plan = SIZES[size]
    fixed = [f"model.name_or_path={settings.model}", f"dataset.path={settings.train_data}", "tracking.log_model=false"]
    fixed += plan["fixed"]
    grid_args = ["hydra/sweeper=embedlab_grid", *fixed, *(f"{k}={','.join(v)}" for k, v in plan["space"].items())]
    params = ", ".join(f"{k}: 'choice({','.join(v)})'" for k, v in plan["space"].items())
    seeds = SEEDS[:1] if settings.smoke else SEEDS
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        (Path(tmp) / "grid").mkdir()
        grid = sweep(grid_args, Path(tmp) / "grid")
        studies = {}
        for seed in seeds:
            folder = Path(tmp) / f"study-{seed}"
            folder.mkdir()
            studies[seed] = sweep(
                [
                    "hparams_search=physics",
                    *fixed,
                    f"hydra.sweeper.params={{{params}}}",
                    f"hydra.sweeper.n_trials={plan['n_trials']}",
                    f"hydra.sweeper.storage=sqlite:///{folder}/optuna.db",
                    f"hydra.sweeper.sampler.seed={seed}",
                    f"hydra.sweeper.sampler.n_startup_trials={plan['random_trials']}",
                    f"hydra.sweeper.pruner.n_startup_trials={plan['n_startup_trials']}",
                ],
                folder,
            )
    return {
        "size": size,
        "space": plan["space"],
        "fixed": plan["fixed"],
        "seeds": list(seeds),
        **summary(grid, studies),
    }


def summary(grid: list[dict[str, Any]], studies: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """Best objective, steps to within TOLERANCE of the grid's best and steps in all: the grid, each study, medians."""
    grid_best = max((r["objective"] for r in grid if r["objective"] is not None), default=None)
    target = grid_best - TOLERANCE if grid_best is not None else float("inf")
    grid_total = sum(r["steps"] for r in grid)
    per_seed = {
        seed: {
            "best": max((r["objective"] for r in runs if r["objective"] is not None), default=None),
            "steps_to_within_0.005": steps_to_reach(runs, target),
            "steps_total": sum(r["steps"] for r in runs),
            "pruned": sum(r["state"] == "PRUNED" for r in runs),
        }
        for seed, runs in studies.items()
    }
    # a study that never got within 0.005 counts as needing more than the whole grid (it is a failure)
    reach = [s["steps_to_within_0.005"] or float("inf") for s in per_seed.values()]
    median_reach = statistics.median(reach)
    bests = [s["best"] for s in per_seed.values() if s["best"] is not None]
    return {
        "runs": {"grid": grid, "study": studies},
        "grid": {"best": grid_best, "steps_total": grid_total, "steps_to_within_0.005": steps_to_reach(grid, target)},
        "study": per_seed,
        "study_median": {
            "best": statistics.median(bests) if bests else None,
            "steps_to_within_0.005": median_reach,
            "steps_total": statistics.median(s["steps_total"] for s in per_seed.values()),
            "pruned": statistics.median(s["pruned"] for s in per_seed.values()),
            "reached": sum(s["steps_to_within_0.005"] is not None for s in per_seed.values()),
        },
        "study_vs_full_grid": median_reach / grid_total if grid_total else None,
    }
