"""The report as a Markdown table: one row per measured quantity, ours against the baseline."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def measured(parts: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The part's results; None when it was not run or failed (a failed part gets its own FAILED row)."""
    part = parts.get(name)
    return part if part is not None and "error" not in part else None


def rows(parts: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(quantity, ours, baseline, ratio, target) per row."""
    out = []
    if p := measured(parts, "overhead"):
        o, b = p["median"]["ours"], p["median"]["plain"]
        label = f"train {p['steps']} steps, eval every {p['eval_steps']}"
        out.append(
            (f"overhead: wall, {label} (s)", fmt(o["wall_s"], 1), fmt(b["wall_s"], 1), fmt(p["wall_ratio"]), "<= 1.03")
        )
        out.append(("overhead: wall, ours minus plain (s)", fmt(p["extra_wall_s"], 1), "", "", ""))
        out.append(("overhead: time to first step (s)", fmt(o["first_step_s"], 1), fmt(b["first_step_s"], 1),
                    fmt(p["first_step_ratio"]), ""))  # fmt: skip
        out.append(("overhead: training loop (s)", fmt(o["loop_s"], 1), fmt(b["loop_s"], 1), fmt(p["loop_ratio"]), ""))
        out.append(("overhead: same loss curve", fmt(p["same_loss_curve"]),
                    f"max diff {p['loss_curve']['max_abs_diff']:.1e}", "", "True"))  # fmt: skip
        if "store_creation_s" in p:
            out.append(("overhead: creating the MLflow store, first run only (s)", fmt(p["store_creation_s"]),
                        "", "", ""))  # fmt: skip
    if p := measured(parts, "startup"):
        for name, args in (("cfg_job", "--cfg job"), ("help", "--help")):
            heavy = ",".join(p["heavy_imports"][name]) or "none"
            out.append((f"startup: train {args} (s); heavy imports: {heavy}", fmt(p["median_s"][name]),
                        f"python -c pass {fmt(p['bare_python_s'])}", "", "~1 s, no torch"))  # fmt: skip
    if p := measured(parts, "throughput"):
        for loss, r in p["cpu"].items():
            out.append((f"throughput: {loss}, batch 32, CPU (samples/s; peak RSS MB)", fmt(r["samples_per_s"], 1),
                        f"RSS {r['peak_rss_mb']:.0f}", "", ""))  # fmt: skip
        if isinstance(p["gpu"], str):
            out.append(("throughput: GPU", p["gpu"], "", "", ""))
        else:
            for key, r in p["gpu"].items():  # "<loss>@<batch>"
                loss, batch = key.split("@")
                out.append((f"throughput: {loss}, batch {batch}, GPU bf16 (samples/s; peak GPU memory MB)",
                            fmt(r["samples_per_s"], 1), f"GPU {r['peak_gpu_mb']:.0f} MB", "", ""))  # fmt: skip
    if p := measured(parts, "mining"):
        o, b = p["median"]["ours"], p["median"]["theirs"]
        size = f"{p['pairs']} pairs, {p['corpus']} passages"
        out.append((f"mining total (s), {size}", fmt(o["total_s"]), fmt(b["total_s"]), fmt(p["total_ratio"]), "<= 1"))
        out.append(("mining: encoding (s)", fmt(o["encode_s"]), fmt(b["encode_s"]), fmt(p["encode_ratio"]), ""))
        out.append(("mining: search + filtering (s)", f"{o['search_s']:.3f} + {o['filter_s']:.3f}",
                    f"{b['search_filter_s']:.3f} ({p.get('library_search', 'faiss')})", "", "<< encoding"))  # fmt: skip
        count = p["triplets"]
        out.append(("mining: overlap of negatives", fmt(p["overlap"], 3),
                    f"triplets: ours {count['ours']}, theirs {count['theirs']}", "", "1.0"))  # fmt: skip
    if p := measured(parts, "evaluation"):
        s, q = p["same_data"], p["queries_in_corpus"]
        size = f"{s['queries']} queries, {s['corpus']} docs"
        out.append((f"evaluation time (s), {size}", fmt(s["median_s"]["ours"]), fmt(s["median_s"]["theirs"]),
                    fmt(s["time_ratio"]), "<= 1"))  # fmt: skip
        out.append(("evaluation: ndcg@10 / mrr@10 / acc@1", " / ".join(fmt(v, 4) for v in s["ours"].values()),
                    " / ".join(fmt(v, 4) for v in s["theirs"].values()), f"diff {s['max_abs_diff']:.1e}", "identical"))  # fmt: skip
        out.append((f"evaluation, queries in corpus ({q['queries']}): ndcg@10 / acc@1",
                    f"{q['ours']['ndcg_at_10']:.4f} / {q['ours']['acc_at_1']:.4f}",
                    f"{q['theirs']['ndcg_at_10']:.4f} / {q['theirs']['acc_at_1']:.4f}", "", "ours excludes self"))  # fmt: skip
    if p := measured(parts, "precision"):
        m, x, z = p["median"], p["speedup"], p["sizes"]
        note = f"CPU bf16 hardware: {p['cpu_has_fast_bf16']}, auto = {p['auto_resolves_to']}"
        out.append((f"precision: bf16 vs plain fp32 ({note}); training MNRL batch 32 (samples/s)",
                    fmt(m["train_samples_per_s"]["bf16"], 1), fmt(m["train_samples_per_s"]["fp32"], 1),
                    fmt(x["training"]), ">= 1.7"))  # fmt: skip
        out.append((f"precision: encode {z['encode_texts']} passages (texts/s)", fmt(m["encode_texts_per_s"]["bf16"], 1),
                    fmt(m["encode_texts_per_s"]["fp32"], 1), fmt(x["encode"]), ">= 2.5"))  # fmt: skip
        out.append((f"precision: mining {z['mining_pairs']} pairs x {z['mining_corpus']} passages (s)",
                    fmt(m["mining_s"]["bf16"]), fmt(m["mining_s"]["fp32"]), fmt(x["mining"]), ">= 2.5"))  # fmt: skip
        out.append((f"precision: evaluation {z['eval_queries']} queries x {z['eval_corpus']} docs (s)",
                    fmt(m["evaluation_s"]["bf16"]), fmt(m["evaluation_s"]["fp32"]), fmt(x["evaluation"]), ">= 2.5"))  # fmt: skip
        d = p["ndcg_delta"]
        out.append(("precision: ndcg@10 bf16 - fp32, base / trained", f"{d['base']:+.4f} / {d['trained']:+.4f}",
                    "", "", "abs <= 0.005"))  # fmt: skip
    if p := measured(parts, "recipe"):
        g, w, n = p["gain"], p["wall_ratio"], len(p["splits"])
        out.append((f"recipe: held-out ndcg@10, experiment=retrieval - plain script (mean of {n} splits; sd, min, max)",
                    f"{g['mean']:+.4f}", "", f"sd {g['sd']:.4f}, {g['min']:+.4f} to {g['max']:+.4f}", ">= +0.02"))  # fmt: skip
        out.append((f"recipe: wall time, experiment=retrieval / plain script (mean of {n} splits)",
                    fmt(w["mean"]), "", f"{w['min']:.2f} to {w['max']:.2f}", "<= 2.0"))  # fmt: skip
    if p := measured(parts, "sweep"):
        g, m, n = p["grid"], p["study_median"], len(p["seeds"])
        out.append((f"sweep ({p['size']}): best ndcg@10 (study, median of {n} seeds / grid "
                    f"{len(p['runs']['grid'])} points)", fmt(m["best"], 4), fmt(g["best"], 4), "", ""))  # fmt: skip
        seeds = ", ".join(fmt(s["steps_to_within_0.005"]) for s in p["study"].values())
        out.append((f"sweep: steps to within 0.005 of grid best (study: median [{seeds}]; grid: in grid order / all)",
                    fmt(m["steps_to_within_0.005"]), f"{fmt(g['steps_to_within_0.005'])} / {g['steps_total']}",
                    fmt(p["study_vs_full_grid"]), "<= 0.5 of full grid"))  # fmt: skip
        out.append(("sweep: study steps in all / trials pruned (medians) / seeds that got within 0.005",
                    f"{fmt(m['steps_total'])} / {fmt(m['pruned'])} / {m['reached']} of {n}", "", "", ""))  # fmt: skip
    for name, part in parts.items():
        if "error" in part:
            out.append((f"{name}: FAILED", part["error"].strip().splitlines()[-1][:80], "", "", ""))
    return out


def raw_times(parts: dict[str, Any]) -> list[str]:
    """Each comparison's times run by run, in run order: the medians above come from these."""

    def runs(values: list[float]) -> str:
        return " / ".join(f"{v:.1f}" if v >= 10 else f"{v:.2f}" for v in values)

    out = []
    if p := measured(parts, "overhead"):
        ours, plain = ([r["wall_s"] for r in p["raw"][side]] for side in ("ours", "plain"))
        out.append(f"- overhead wall (s): ours {runs(ours)}; plain {runs(plain)}")
    if p := measured(parts, "mining"):
        ours, theirs = ([r["total_s"] for r in p["raw"][side]] for side in ("ours", "theirs"))
        out.append(f"- mining total (s): ours {runs(ours)}; theirs {runs(theirs)}")
    if p := measured(parts, "evaluation"):
        t = p["same_data"]["raw_s"]
        out.append(f"- evaluation (s): ours {runs(t['ours'])}; theirs {runs(t['theirs'])}")
    if p := measured(parts, "precision"):
        for name, values in p["raw"].items():
            flat = {side: [t for r in v for t in (r if isinstance(r, list) else [r])] for side, v in values.items()}
            out.append(f"- precision {name}: bf16 {runs(flat['bf16'])}; fp32 {runs(flat['fp32'])}")
    if p := measured(parts, "startup"):
        t = p["raw_s"]
        out.append(f"- startup (s): --cfg job {runs(t['cfg_job'])}; --help {runs(t['help'])}")
    return ["", "Raw times, run by run:", *out] if out else []


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    head = [
        f"Machine: {m['cores']} cores ({m['usable_cores']} usable), {m['cpu']}, torch {m['torch']} "
        f"({m['torch_threads']} threads), device {m['device']}; sentence-transformers {m['sentence_transformers']}; "
        f"load avg {m['load_avg_1m']:.1f} at start",
        f"Data: {report['data']} (training parts: {report['train_data']})",
        "",
        "| quantity | embedlab | baseline (sentence-transformers) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    table = [f"| {' | '.join(r)} |" for r in rows(report["parts"])]
    return "\n".join(head + table + raw_times(report["parts"]))
