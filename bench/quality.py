"""Quality on real data: a plain sentence-transformers script vs embedlab's default vs `experiment=retrieval`.

    python -m bench.quality --data <BEIR folder with qrels/train.tsv and qrels/test.tsv> [--threads 1]

All sides get the same folder. They train on qrels/train.tsv (embedlab makes its validation split out of it,
10% of the training queries; the plain script has none) and never see qrels/test.tsv, the held-out split every
model is scored on here, over the whole corpus: the embedlab commands get a view of the folder without it
(`dataset.fractions=[0.9,0.1,0.0]`, so they make no test split of their own and spend no time on one):
    base      the starting model, untrained
    plain     SentenceTransformerTrainer, MNRL scale 20, every training pair, 1 epoch, batch 32, lr 5e-5,
              warmup 10%, no-duplicates sampler, no validation: the script a user would write by hand
    default   python -m train dataset=local dataset.kind=retrieval dataset.path=<folder> (embedlab's defaults)
    retrieval python -m train experiment=retrieval dataset.path=<folder> (two rounds of batches of neighbours)
Each embedlab side runs as the real command in a subprocess; wall time is that command's, start to end.
Metrics (ndcg@10, mrr@10, acc@1, recall@10; binary relevance, self-hits skipped) come with a 95% bootstrap
interval over the held-out queries, and each side's difference to `plain` with a paired bootstrap interval.
Prints a Markdown table and writes JSON to --out.

    python -m bench.quality --data <folder> --split dev --score default=<model> margin_off=<model> ...

scores models you trained yourself (e.g. a recipe's variants) on qrels/<split>.tsv instead, each difference
paired against the first one named.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import (
    REPO,
    ArgumentParser,
    bench_env,
    check_beir_folder,
    check_counts,
    check_file,
    check_model,
    check_out,
    check_train_overrides,
    exit_code,
    minilm_path,
)
from embedlab.errors import UserError

SIDES = ("base", "plain", "default", "retrieval")
METRICS = ("ndcg_at_10", "mrr_at_10", "acc_at_1", "recall_at_10")


def read_split(folder: Path, split: str) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """corpus, queries and qrels of one qrels/<split>.tsv, read by embedlab's own BEIR reader."""
    from embedlab.data.beir import qrels_rows
    from embedlab.data.readers import read_texts

    corpus = read_texts(folder / "corpus.jsonl", with_title=True)
    queries = read_texts(folder / "queries.jsonl", with_title=False)
    relevant: dict[str, set[str]] = {}
    for row in qrels_rows(folder / "qrels" / f"{split}.tsv", queries, corpus):
        relevant.setdefault(row["query_id"], set()).add(row["doc_id"])
    return corpus, {q: queries[q] for q in relevant}, relevant


def score_model(path: str, corpus: dict[str, str], queries: dict[str, str], relevant: dict[str, set[str]]):
    """`per_query_scores` of the model saved at `path`, on the CPU, inputs cut at 256 tokens."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = 256
    return per_query_scores(model, corpus, queries, relevant)


def per_query_scores(model, corpus: dict[str, str], queries: dict[str, str], relevant: dict[str, set[str]]):
    """query id -> {metric: value} for one model; a corpus entry with the query's id or text is skipped."""
    doc_ids, query_ids = sorted(corpus), sorted(queries)
    q = model.encode([queries[i] for i in query_ids], batch_size=64, normalize_embeddings=True)
    d = model.encode([corpus[i] for i in doc_ids], batch_size=64, normalize_embeddings=True)
    return ranked_scores(np.asarray(q) @ np.asarray(d).T, corpus, queries, relevant)


def lexical_scores(corpus: dict[str, str], queries: dict[str, str], relevant: dict[str, set[str]]):
    """`per_query_scores` of a TF-IDF ranking (scikit-learn: sublinear tf, English stop words, 1- and 2-grams, fit
    on the corpus; settings chosen once, not tuned): the lexical reference a dense model is compared with."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    doc_ids, query_ids = sorted(corpus), sorted(queries)
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english", ngram_range=(1, 2))
    d = tfidf.fit_transform([corpus[i] for i in doc_ids])
    q = tfidf.transform([queries[i] for i in query_ids])
    return ranked_scores((q @ d.T).toarray(), corpus, queries, relevant)


def ranked_scores(similarity: np.ndarray, corpus: dict[str, str], queries: dict[str, str], relevant):
    """query id -> {metric: value} from a (sorted query ids x sorted corpus ids) similarity matrix."""
    doc_ids = sorted(corpus)
    docs = [corpus[d] for d in doc_ids]
    query_ids = sorted(queries)
    out = {}
    for row, query_id in enumerate(query_ids):
        scores = similarity[row].copy()
        for col, doc_id in enumerate(doc_ids):
            if doc_id == query_id or docs[col] == queries[query_id]:
                scores[col] = -np.inf
        top = [doc_ids[i] for i in np.argsort(-scores, kind="stable")[:10]]
        gold = relevant[query_id]
        hits = [doc in gold for doc in top]
        dcg = sum(1 / np.log2(rank + 2) for rank, hit in enumerate(hits) if hit)
        idcg = sum(1 / np.log2(rank + 2) for rank in range(min(len(gold), 10)))
        out[query_id] = {
            "ndcg_at_10": dcg / idcg,
            "mrr_at_10": next((1 / (rank + 1) for rank, hit in enumerate(hits) if hit), 0.0),
            "acc_at_1": float(hits[0]),
            "recall_at_10": sum(hits) / len(gold),
        }
    return out


def bootstrap(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (one per query), resampling queries."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def train_plain(folder: Path, model_path: str, out: Path, seed: int = 42, max_steps: int | None = None) -> Path:
    """The hand-written script: every (query, gold passage) pair of qrels/train.tsv, one epoch, no validation."""
    corpus, queries, relevant = read_split(folder, "train")
    pairs = [(queries[q], corpus[d]) for q in sorted(relevant) if q in queries for d in sorted(relevant[q])]
    return train_plain_pairs(pairs, model_path, out, seed, max_seq_length=256, max_steps=max_steps)


def train_plain_pairs(
    pairs: list[tuple[str, str]],
    model_path: str,
    out: Path,
    seed: int = 42,
    max_seq_length: int | None = None,
    max_steps: int | None = None,
) -> Path:
    """`SentenceTransformerTrainer` with MNRL (scale 20) on (anchor, positive) pairs: 1 epoch, batch 32, lr 5e-5,
    warmup 10%, no-duplicates sampler, no validation. Saves and returns `out/final`. `max_steps` cuts the epoch
    short (smoke runs only)."""
    from datasets import Dataset
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import set_seed

    set_seed(seed)
    model = SentenceTransformer(model_path, device="cpu")
    if max_seq_length:
        model.max_seq_length = max_seq_length
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=32,
        num_train_epochs=1,
        max_steps=max_steps or -1,
        learning_rate=5e-5,
        warmup_steps=0.1,
        weight_decay=0.01,
        lr_scheduler_type="linear",
        save_strategy="no",
        logging_steps=5,
        report_to="none",
        seed=seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        use_cpu=True,
    )
    train = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=MultipleNegativesRankingLoss(model, scale=20.0)
    ).train()
    model.save(str(out / "final"))
    return out / "final"


def training_view(folder: Path, out: Path) -> Path:
    """`folder` without its held-out qrels/test.tsv (links to the corpus, the queries and the other qrels)."""
    view = out / "train_view"
    (view / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/dev.tsv"):
        if (folder / name).exists() and not (view / name).exists():
            (view / name).symlink_to((folder / name).resolve())
    return view


def train_embedlab(side: str, folder: Path, out: Path, threads: int, extra: list[str]) -> Path:
    """Run the real `python -m train` command for `side` on `folder` minus its test split; returns the best model."""
    recipe = {
        "default": ["dataset=local", "dataset.kind=retrieval"],
        "retrieval": [  # every split mines anew: the cost a user pays
            "experiment=retrieval",
            *(f"phase.stages.{stage}.phase.cache_dir=null" for stage in ("phase1", "phase2")),
        ],
    }[side]
    if any(o.startswith("experiment=") for o in extra):  # a variant (bench --recipe-overrides experiment=...)
        recipe = []
    out.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "train",
        *recipe,
        f"dataset.path={training_view(folder, out)}",
        "dataset.fractions=[0.9,0.1,0.0]",  # the recipe's own; the default side's 10% test carve would go unused
        f"hardware.threads={threads}",
        "hardware=cpu",
        f"tracking.uri=sqlite:///{out.resolve() / 'mlflow.db'}",
        "tracking.log_model=false",
        f"hydra.run.dir={out.resolve()}",
        *extra,
    ]
    log = out / "train.log"
    with log.open("w") as f:
        result = subprocess.run(command, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=bench_env())
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {result.returncode}; see {log}")
    return kept_model(out)


def kept_model(out: Path) -> Path:
    """The model a `python -m train` run in `out` kept: a chain's last stage's (`<stage>/best`), else `best`."""
    from omegaconf import OmegaConf

    stages = list(OmegaConf.load(out / ".hydra" / "config.yaml").phase.get("stages") or [])
    return out / stages[-1] / "best" if stages else out / "best"


def named_model(item: str) -> tuple[str, Path]:
    """One `--score` argument, NAME=MODEL, MODEL a folder that exists: the argparse type, so a slip is one line."""
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{item!r} is not NAME=MODEL (e.g. default=outputs/<run>/phase2/best)")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{item!r}: {folder} is no folder; expected a saved model folder")
    return name, folder


def main() -> int:
    parser = ArgumentParser(prog="python -m bench.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="BEIR folder with qrels/train.tsv, qrels/test.tsv")
    parser.add_argument("--model", default=None, help="starting model (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every side (default 1)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "quality")
    parser.add_argument(
        "--merge", nargs="+", type=Path, default=None, help="quality.json files of runs over the same --data: one table"
    )
    parser.add_argument(
        "--score", nargs="+", type=named_model, metavar="NAME=MODEL", default=None,
        help="score these model folders instead of training; the Δ column is against the first",
    )  # fmt: skip
    parser.add_argument("--split", default="test", help="the qrels/<split>.tsv to score on (default test)")
    parser.add_argument("overrides", nargs="*", help="extra overrides for both embedlab sides, e.g. training.lr=3e-5")
    args = parser.parse_args()
    folder = args.data.expanduser().resolve()
    if args.merge:  # sides measured by separate invocations (e.g. side by side on two cores): no torch needed
        results = {}
        for path in args.merge:
            check_file(path, "--merge", "a quality.json of an earlier run")
        for path in args.merge:
            try:
                results.update(json.loads(path.read_text(encoding="utf-8"))["per_query"])
            except (ValueError, KeyError, TypeError) as exc:  # not JSON, or JSON without per_query
                raise UserError(
                    f"--merge {path}: not a quality.json ({type(exc).__name__}: {str(exc)[:80]}); expected the"
                    " quality.json of an earlier run"
                ) from None
        order = [side for side in SIDES if side in results] + [name for name in results if name not in SIDES]
        results = {name: results[name] for name in order}
        print(summarize(results, folder, args)["table"])
        return 0
    check_beir_folder(folder, ("corpus.jsonl", "queries.jsonl", f"qrels/{args.split}.tsv"))
    corpus, queries, relevant = read_split(folder, args.split)  # a missing or bad file: one line, before torch
    check_model(args.model)
    check_counts(threads=args.threads)
    check_out(args.out)
    check_train_overrides(args.overrides, "dataset=local", "dataset.kind=retrieval")
    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model_path = args.model or minilm_path()
    run_out = args.out / time.strftime("%Y%m%d-%H%M%S")
    results = {}
    for name, path in args.score or []:
        scores = score_model(str(path), corpus, queries, relevant)
        results[name] = {"model": str(path), "wall_s": None, "queries": scores}
        print(f"[quality] scored {name}", flush=True)
    for side in [] if args.score else args.sides:
        start = time.perf_counter()
        if side == "base":
            path = model_path
        elif side == "plain":
            path = train_plain(folder, model_path, run_out / side)
        else:
            path = train_embedlab(side, folder, run_out / side, args.threads, args.overrides)
        wall = time.perf_counter() - start if side != "base" else 0.0
        results[side] = {
            "model": str(path),
            "wall_s": wall,
            "queries": score_model(str(path), corpus, queries, relevant),
        }
        print(f"[quality] {side}: {wall:.0f} s", flush=True)
    report = summarize(results, folder, args)
    run_out.mkdir(parents=True, exist_ok=True)
    (run_out / "quality.json").write_text(json.dumps({**report, "per_query": results}, indent=1), encoding="utf-8")
    print(report["table"])
    print(f"\nJSON: {run_out / 'quality.json'}")
    return 0


def summarize(results: dict, folder: Path, args) -> dict:
    """Means with bootstrap intervals, paired differences to `plain` (or the first side), and the Markdown table."""
    reference = "plain" if "plain" in results else next(iter(results))
    query_ids = sorted(next(iter(results.values()))["queries"])
    lines = [
        f"scored on: {folder}/qrels/{args.split}.tsv, {len(query_ids)} queries; threads {args.threads}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| side | " + " | ".join(METRICS) + f" | Δ ndcg@10 vs {reference} | wall s |",
        "|---|" + "---|" * (len(METRICS) + 2),
    ]
    summary = {}
    for side, r in results.items():
        values = {m: np.array([r["queries"][q][m] for q in query_ids]) for m in METRICS}
        cells = []
        for m in METRICS:
            low, high = bootstrap(values[m])
            summary.setdefault(side, {})[m] = {"mean": float(values[m].mean()), "ci95": [low, high]}
            cells.append(f"{values[m].mean():.4f} [{low:.3f}, {high:.3f}]")
        delta = "-"
        if side != reference:
            diff = values["ndcg_at_10"] - np.array([results[reference]["queries"][q]["ndcg_at_10"] for q in query_ids])
            low, high = bootstrap(diff)
            summary[side][f"delta_ndcg_vs_{reference}"] = {"mean": float(diff.mean()), "ci95": [low, high]}
            delta = f"{diff.mean():+.4f} [{low:+.3f}, {high:+.3f}]"
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
        lines.append(f"| {side} | " + " | ".join(cells) + f" | {delta} | {wall} |")
    return {"summary": summary, "table": "\n".join(lines), "data": str(folder), "threads": args.threads}


if __name__ == "__main__":
    raise SystemExit(exit_code(main))
