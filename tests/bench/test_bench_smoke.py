"""`python -m bench --smoke`: every benchmark part runs once on the tiny model and tiny data. Times nothing."""

from __future__ import annotations

import json

from embedlab_testing import run_bench


def test_every_part_runs_and_reports(tiny_model_path, physics_folder, tmp_path):
    command = ["--smoke", "--model", tiny_model_path, "--data", str(physics_folder), "--out", str(tmp_path)]
    result = run_bench("bench", *command)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    parts = report["parts"]
    assert set(parts) == {"startup", "overhead", "throughput", "mining", "evaluation", "precision", "sweep"}
    assert report["machine"]["cores"] >= 1 and report["machine"]["torch"]
    assert parts["overhead"]["same_loss_curve"]
    assert parts["startup"]["heavy_imports"] == {"cfg_job": [], "help": []}
    assert set(parts["throughput"]["cpu"]) == {"mnrl", "cached_mnrl", "cosine"}
    assert parts["mining"]["overlap"] == 1.0
    assert parts["evaluation"]["same_data"]["max_abs_diff"] < 1e-6
    grid, studies = parts["sweep"]["runs"]["grid"], parts["sweep"]["runs"]["study"]
    assert sorted(r["params"] for r in grid) == ["training.lr=0.0002", "training.lr=1e-05"]  # the swept key
    assert list(studies) == ["42"] and len(studies["42"]) == 1  # one seed, one trial
    precision = parts["precision"]
    assert precision["auto_resolves_to"] == ("bf16" if precision["cpu_has_fast_bf16"] else "fp32")
    assert set(precision["speedup"]) == {"training", "encode", "mining", "evaluation"}
    assert abs(precision["ndcg_delta"]["base"]) < 0.1  # the same model in two precisions ranks alike
    assert "| precision: encode" in result.stdout
    assert "| quantity | embedlab |" in result.stdout
    assert "- overhead wall (s): ours " in result.stdout  # raw times under the table
