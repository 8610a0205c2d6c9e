"""Quora on held-out questions: does `python -m train dataset=quora loss=mixed` give a better model than the base?

    python -m bench.quora_heldout --data <quora_duplicate_questions.tsv> --stsb <stsb dev.jsonl> \
        [--models base <model folder> ...] [--plain] [--threads 1] [--out DIR]

Scores each model on
  (a) held-out Quora retrieval: embedlab's own Quora loader (`embedlab.data.quora.load_quora`, default
      fractions and seed, as `dataset=quora` uses them) split by question id, and its *test* split taken whole:
      one query per held-out duplicate cluster, its duplicates the relevant docs, ranked among every held-out
      question (validation and test, none of which any training row contains). The run's own test split is
      the same kind of set capped at 300 queries and 5,000 questions; taking it whole gives several times the
      queries, so differences of 0.01 ndcg@10 are not lost in the noise of 300 (`--corpus N` caps the
      questions ranked: the relevant docs, then seeded distractors);
  (b) STS-B dev: Spearman of cosine similarity against the gold scores.
`--plain` also trains and times the plain sentence-transformers script on the loader's training pairs
(MNRL scale 20, 1 epoch, batch 32, lr 5e-5, warmup 10%, no-duplicates sampler, no validation): the cost
baseline of the issue's "at most 3x the plain script's wall time". `base` is the starting model (--model, default the packaged all-MiniLM-L6-v2).
Prints a Markdown table (retrieval metrics with 95% bootstrap intervals over queries, ndcg@10 difference
to the base with a paired interval) and writes JSON to --out.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from bench.common import REPO, ArgumentParser, check_file, check_model, exit_code, minilm_path
from bench.quality import bootstrap, per_query_scores, train_plain_pairs


def heldout_retrieval(
    tsv: Path, pairs: int | None = 6700, corpus: int | None = None, every_question: bool = False
) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]], list[tuple[str, str]]]:
    """Corpus, queries and relevant docs of the loader's whole test split, and `pairs` of its training pairs.

    The retrieval set does not depend on `pairs`: the loader draws it from the split with its own seed.
    `every_question` adds every other question of the file (the training side's too) as a distractor, as
    BEIR's Quora ranks among all questions: the queries and their relevant docs stay held out.
    """
    from embedlab.data.quora import load_quora
    from embedlab.data.readers import read_rows

    data = load_quora(path=str(tsv), pairs=pairs, queries=None, corpus=corpus)
    test = data.retrieval["test"]
    train_pairs = [(r["anchor"], r["positive"]) for r in data.parts["pairs"].splits["train"]]
    docs = dict(data.corpus)
    if every_question:
        taken = set(docs.values()) | set(test.queries.values()) | set(data.retrieval["validation"].queries.values())
        others = sorted({str(r[c]).strip() for r in read_rows(tsv) for c in ("question1", "question2")} - taken)
        docs.update({f"x{n}": text for n, text in enumerate(others) if text})
    return docs, test.queries, test.relevant, train_pairs


def stsb_spearman(model, path: Path) -> float:
    from scipy.stats import spearmanr

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    a = model.encode([r["sentence1"] for r in rows], batch_size=64, normalize_embeddings=True)
    b = model.encode([r["sentence2"] for r in rows], batch_size=64, normalize_embeddings=True)
    return float(spearmanr((np.asarray(a) * np.asarray(b)).sum(axis=1), [r["score"] for r in rows]).statistic)


def main() -> int:
    parser = ArgumentParser(prog="python -m bench.quora_heldout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the Quora release TSV (or the shared sample)")
    parser.add_argument("--stsb", type=Path, required=True, help="STS-B dev.jsonl (sentence1, sentence2, score)")
    parser.add_argument("--models", nargs="*", default=["base"], help="'base' or model folders (e.g. a run's best/)")
    parser.add_argument("--model", default=None, help="the starting model (default: the packaged all-MiniLM-L6-v2)")
    parser.add_argument("--plain", action="store_true", help="also train, time and score the plain script")
    parser.add_argument("--pairs", type=int, default=6700, help="the plain script's training pairs (dataset.pairs)")
    parser.add_argument("--corpus", type=int, default=None, help="held-out questions to rank (default: all)")
    parser.add_argument(
        "--every-question", action="store_true", help="rank among every question of --data, not only held-out ones"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "quora_heldout")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, help="quora_heldout.json files: one table")
    parser.add_argument("--names", nargs="+", default=None, help="with --merge: rename the models, in order")
    args = parser.parse_args()
    if args.merge:  # models scored by separate invocations (e.g. side by side on two cores)
        results = {}
        for path in args.merge:
            check_file(path, "--merge", "a quora_heldout.json of an earlier run")
        for path in args.merge:
            results.update(json.loads(path.read_text(encoding="utf-8"))["per_query"])
        if args.names:
            results = dict(zip(args.names, results.values(), strict=True))
        n_queries = len(next(iter(results.values()))["queries"])
        print(
            summarize(
                results, n_queries, json.loads(args.merge[0].read_text()).get("corpus", args.corpus), args.threads
            )
        )
        return 0
    check_file(args.data, "--data", "the Quora release TSV")  # mistakes are one line before torch loads
    check_file(args.stsb, "--stsb", "STS-B dev.jsonl (sentence1, sentence2, score)")
    for model in [args.model, *(name for name in args.models if name != "base")]:
        check_model(model, "--models" if model != args.model else "--model")
    import torch
    from sentence_transformers.sentence_transformer import SentenceTransformer

    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run_out = args.out / time.strftime("%Y%m%d-%H%M%S")
    corpus, queries, relevant, train_pairs = heldout_retrieval(args.data, args.pairs, args.corpus, args.every_question)
    print(f"[quora] held-out: {len(queries)} queries over {len(corpus)} questions; {len(train_pairs)} train pairs")
    start_model = args.model or minilm_path()
    models = {name: (start_model if name == "base" else name) for name in args.models}
    walls = {name: None for name in models}
    if args.plain:
        start = time.perf_counter()
        models["plain"] = str(train_plain_pairs(train_pairs, start_model, run_out / "plain"))
        walls["plain"] = time.perf_counter() - start
        print(f"[quora] plain script: {walls['plain']:.0f} s", flush=True)
    results = {}
    for name, path in models.items():
        model = SentenceTransformer(str(path), device="cpu")
        results[name] = {
            "model": str(path),
            "wall_s": walls[name],
            "stsb_dev_spearman": stsb_spearman(model, args.stsb),
            "queries": per_query_scores(model, corpus, queries, relevant),
        }
        print(f"[quora] scored {name}", flush=True)
    table = summarize(results, len(queries), len(corpus), args.threads)
    run_out.mkdir(parents=True, exist_ok=True)
    (run_out / "quora_heldout.json").write_text(
        json.dumps({"table": table, "corpus": len(corpus), "per_query": results}), encoding="utf-8"
    )
    print(table)
    print(f"\nJSON: {run_out / 'quora_heldout.json'}")
    return 0


def summarize(results: dict, n_queries: int, n_corpus: int, threads: int) -> str:
    query_ids = sorted(next(iter(results.values()))["queries"])
    lines = [
        f"held-out Quora: {n_queries} queries over {n_corpus} questions; threads {threads}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| model | ndcg@10 | acc@1 | Δ ndcg@10 vs base | STS-B dev Spearman | train wall s |",
        "|---|---|---|---|---|---|",
    ]
    base = results.get("base")
    for name, r in results.items():
        ndcg = np.array([r["queries"][q]["ndcg_at_10"] for q in query_ids])
        acc = np.array([r["queries"][q]["acc_at_1"] for q in query_ids])
        cells = [f"{v.mean():.4f} [{bootstrap(v)[0]:.3f}, {bootstrap(v)[1]:.3f}]" for v in (ndcg, acc)]
        delta = "-"
        if base is not None and name != "base":
            diff = ndcg - np.array([base["queries"][q]["ndcg_at_10"] for q in query_ids])
            low, high = bootstrap(diff)
            delta = f"{diff.mean():+.4f} [{low:+.3f}, {high:+.3f}]"
        wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
        lines.append(f"| {name} | {' | '.join(cells)} | {delta} | {r['stsb_dev_spearman']:.4f} | {wall} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(exit_code(main))
