"""Part 8: `experiment=retrieval` against a plain sentence-transformers script, on repeated held-out splits.

    python -m bench --parts recipe --data <BEIR folder> [--splits 5 | --seeds 0 2] [--threads 1]
    python -m bench.recipe <row.json ...>     # one table of splits run by several processes (one per core)

One carved split says little: +0.048 on one split of SciFact became -0.015 on another. So for each of `--splits`
seeds k, this part carves a held-out test split from the folder's training queries (qrels/train.tsv, else the
folder's only qrels file): 20% of the queries, chosen by seed k. Both sides then train on the same other 80%,
with seed k, and are scored on the held-out queries over the whole corpus (bench.quality's scorer):
    plain     bench.quality.train_plain: MNRL, every training pair, 1 epoch, no validation (seed k)
    recipe    python -m train experiment=retrieval seed=k on the same rows, as a user runs it (bench.quality's
              train_embedlab: the real command in a subprocess, its own validation carve, no test carve)
`--plain-from ROWS` takes each split's plain side (score and wall time) from an earlier run's rows under ROWS
instead of training it again: for variants of the recipe (`--recipe-overrides`), at half the cost.
Reported per split: ndcg@10 of base, plain and recipe and of a TF-IDF ranking (`bench.quality.lexical_scores`,
the lexical reference: on SciQ it beats both trained models), the recipe's gain over plain, both wall times and
their ratio, and the recipe's stages from its MLflow store (wall time, mining time, kept step). Then the mean gain and
ratio over the splits, with their spread (sd, min, max). Choices are made on these dev splits only.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import Settings, check_train_overrides
from embedlab.errors import UserError

HELD_OUT = 0.2


def training_qrels(folder: Path) -> Path:
    for name in ("qrels/train.tsv", "qrels.tsv"):
        if (folder / name).exists():
            return folder / name
    found = sorted(str(p.relative_to(folder)) for p in folder.glob("qrels/*.tsv")) or ["none"]
    raise FileNotFoundError(f"{folder} has no qrels/train.tsv or qrels.tsv to carve from (found: {', '.join(found)})")


def held_out(folder: Path, seed: int) -> tuple[str, dict[str, list[str]], set[str]]:
    """The qrels header, each query's qrels rows, and the 20% of queries that seed `seed` holds out. Writes nothing."""
    lines = training_qrels(folder).read_text(encoding="utf-8").splitlines()
    header, rows = (lines[0], lines[1:]) if lines and not lines[0].split("\t")[-1].strip().isdigit() else ("", lines)
    by_query: dict[str, list[str]] = {}
    for row in filter(str.strip, rows):
        by_query.setdefault(row.split("\t")[0], []).append(row)
    query_ids = sorted(by_query)
    random.Random(seed).shuffle(query_ids)
    return header, by_query, set(query_ids[: max(1, round(len(query_ids) * HELD_OUT))])


def carve(folder: Path, seed: int, out: Path) -> tuple[Path, int, int]:
    """A view of `folder` whose qrels/train.tsv holds 80% of the training queries and qrels/test.tsv the other
    20%, chosen by `seed`; the corpus and queries are linked. Returns (view, train queries, test queries)."""
    header, by_query, test = held_out(folder, seed)
    view = out / "data"
    (view / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (view / name).exists():
            (view / name).symlink_to((folder / name).resolve())
    for split, keep in (("train", lambda q: q not in test), ("test", lambda q: q in test)):
        kept = [row for q in sorted(by_query) if keep(q) for row in by_query[q]]
        (view / "qrels" / f"{split}.tsv").write_text("\n".join([header or "query-id\tcorpus-id\tscore", *kept]) + "\n")
    return view, len(by_query) - len(test), len(test)


def stages(store: Path) -> list[dict[str, Any]]:
    """Each MLflow run of the recipe's store, oldest first: name, wall seconds, mining seconds, kept step, and the
    precision it trained in (`hardware.precision=auto` is bf16 on a CPU with bf16 units; the plain script: fp32)."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    out = []
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]):
            metrics = run.data.metrics
            end = run.info.end_time or run.info.start_time
            out.append(
                {
                    "name": run.info.run_name,
                    "wall_s": (end - run.info.start_time) / 1000,
                    "mining_s": metrics.get("mining_total_s"),
                    "kept_step": metrics.get("kept_step", metrics.get("best_step")),
                    "precision": run.data.params.get("precision"),
                }
            )
    return out


def plain_in_a_process(view: Path, model: str, out: Path, seed: int, threads: int, smoke: bool) -> Path:
    """The plain script in a process of its own, as the recipe's command runs in one: the same imports paid, the
    same torch threads, and its memory given back before the recipe trains (two trainings at once fit in 24 GiB)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(plain_side, view, model, out, seed, threads, smoke).result()


def plain_side(view: Path, model: str, out: Path, seed: int, threads: int, smoke: bool) -> Path:
    import torch

    from bench.quality import train_plain

    torch.set_num_threads(threads)
    return train_plain(view, model, out, seed=seed, max_steps=2 if smoke else None)


def earlier_plain(rows: Path, folder: Path, seed: int, n_train: int, n_test: int) -> dict[str, Any]:
    """`--plain-from ROWS`: the plain side of split `seed` as an earlier run of this part measured it (its score
    and wall time, and which row they came from), so that a variant of the recipe trains only the recipe. The
    plain script's score on a split has been the same in every run (on two CPUs); its wall time was measured
    beside that earlier run's recipe, not this one's. Rows written before 2026-12-07 name no folder: for them the
    seed and the carve's counts must match."""
    for path in sorted(rows.rglob(f"split{seed}/row.json")):
        row = json.loads(path.read_text(encoding="utf-8"))
        same = (row.get("seed"), row.get("train_queries"), row.get("test_queries")) == (seed, n_train, n_test)
        if same and row.get("data", str(folder)) == str(folder) and "plain_ndcg_at_10" in row:
            return {
                "plain_ndcg_at_10": row["plain_ndcg_at_10"],
                "plain_wall_s": row["plain_wall_s"],
                "plain_from": str(path),
            }
    raise UserError(
        f"--plain-from {rows}: no split{seed}/row.json of {folder} with {n_train} training and {n_test} test queries;"
        " expected an earlier --out of --parts recipe on the same folder and seeds"
    )


def check(settings: Settings) -> None:
    """Before any part runs (a mistake is one line, not a traceback after the other parts' hours): the variant's
    overrides compose and pass the schema, and each split's plain side can be found under --plain-from."""
    check_train_overrides(list(settings.recipe_overrides), "experiment=retrieval", "dataset.kind=retrieval")
    rows = settings.plain_from
    if rows is None:
        return
    for seed in settings.seeds or range(settings.splits):
        _, by_query, test = held_out(settings.data, seed)
        earlier_plain(rows, settings.data, seed, len(by_query) - len(test), len(test))


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def run(settings: Settings) -> dict[str, Any]:
    import torch

    torch.set_num_threads(settings.threads)  # scoring here: the same threads as both sides
    from bench.quality import lexical_scores, read_split, score_model, train_embedlab

    folder = settings.data
    smoke = settings.smoke
    extra = ["training.max_steps=2", "training.eval_steps=1"] if smoke else []
    extra += list(settings.recipe_overrides)
    root = settings.out / "recipe" / time.strftime("%Y%m%d-%H%M%S")
    seeds = settings.seeds or range(settings.splits)
    views = {seed: carve(folder, seed, root / f"split{seed}") for seed in seeds}
    rows = settings.plain_from
    earlier = {s: earlier_plain(rows, folder, s, *views[s][1:]) for s in seeds} if rows else {}
    splits = []
    for seed in seeds:
        out = root / f"split{seed}"
        view, n_train, n_test = views[seed]
        corpus, queries, relevant = read_split(view, "test")
        row: dict[str, Any] = {"seed": seed, "data": str(folder), "train_queries": n_train, "test_queries": n_test}
        row.update(earlier.get(seed, {}))
        for side in ("recipe",) if seed in earlier else ("plain", "recipe"):
            start = time.perf_counter()
            if side == "plain":
                path = plain_in_a_process(view, settings.model, out / side, seed, settings.threads, smoke)
            else:
                path = train_embedlab("retrieval", view, out / side, settings.threads, [f"seed={seed}", *extra])
                row["recipe_stages"] = stages(out / side / "mlflow.db")
            row[f"{side}_wall_s"] = time.perf_counter() - start
            row[f"{side}_ndcg_at_10"] = mean_ndcg(score_model(str(path), corpus, queries, relevant))
        if not settings.skip_base:  # SciFact: one more pass over 5,183 abstracts, 17 min on one thread
            row["base_ndcg_at_10"] = mean_ndcg(score_model(settings.model, corpus, queries, relevant))
        row["tfidf_ndcg_at_10"] = mean_ndcg(lexical_scores(corpus, queries, relevant))  # seconds, no model
        row["gain"] = row["recipe_ndcg_at_10"] - row["plain_ndcg_at_10"]
        row["wall_ratio"] = row["recipe_wall_s"] / row["plain_wall_s"]
        splits.append(row)
        # kept if a later split fails; `python -m bench.recipe` merges the rows of several processes
        (out / "row.json").write_text(json.dumps(row, indent=2, default=str), encoding="utf-8")
        print(f"[bench] recipe split {seed}: gain {row['gain']:+.4f}, {row['wall_ratio']:.2f}x wall", flush=True)
    return {
        "data": str(folder),
        "held_out_fraction": HELD_OUT,
        "threads": settings.threads,
        "splits": splits,
        "gain": spread([s["gain"] for s in splits]),
        "wall_ratio": spread([s["wall_ratio"] for s in splits]),
    }


def mean_ndcg(per_query: dict[str, dict[str, float]]) -> float:
    return statistics.fmean(scores["ndcg_at_10"] for scores in per_query.values())


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown: one line per split (TF-IDF, base, plain, recipe, gain, walls and ratio), then the mean and spread."""
    lines = [
        "| split | test queries | TF-IDF | base | plain | recipe | gain | plain s | recipe s | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r["seed"]):
        base, tfidf = (f"{r[k]:.4f}" if k in r else "-" for k in ("base_ndcg_at_10", "tfidf_ndcg_at_10"))
        plain_s = f"{r['plain_wall_s']:.0f}" + (" ¹" if "plain_from" in r else "")
        lines.append(
            f"| {r['seed']} | {r['test_queries']} | {tfidf} | {base} | {r['plain_ndcg_at_10']:.4f} "
            f"| {r['recipe_ndcg_at_10']:.4f} | {r['gain']:+.4f} | {plain_s} | {r['recipe_wall_s']:.0f} | {r['wall_ratio']:.2f} |"
        )
    if any("plain_from" in r for r in rows):
        lines.append(
            "\n¹ the plain side from an earlier run (--plain-from): its time was measured beside that run's recipe"
        )
    for name in ("gain", "wall_ratio"):
        s = spread([r[name] for r in rows])
        lines.append(f"\n{name}: mean {s['mean']:+.4f}, sd {s['sd']:.4f}, min {s['min']:+.4f}, max {s['max']:+.4f}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(table([json.loads(Path(path).read_text(encoding="utf-8")) for path in sys.argv[1:]]))
