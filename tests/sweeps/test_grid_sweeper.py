"""`python -m train -m hydra/sweeper=embedlab_grid a=1,2 b=3,4`: a grid whose runs share one parent run."""

from __future__ import annotations


def test_grid_lands_as_grouped_runs(run_sweep, sweep_runs):
    result = run_sweep("hydra/sweeper=embedlab_grid", "training.lr=1e-4,2e-4", "loss.scale=10,20")
    (parent,), children = sweep_runs()
    assert len(children) == 4 and parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.data.tags["sweep"] for c in children} == {parent.data.tags["sweep"]}
    assert {(c.data.params["training.lr"], c.data.params["loss.scale"]) for c in children} == {
        ("1e-4", "10"),
        ("1e-4", "20"),
        ("2e-4", "10"),
        ("2e-4", "20"),
    }  # numbers as run names write them: one spelling everywhere
    assert {c.data.tags["sweep_overrides"] for c in children} == {
        "training.lr=0.0001 loss.scale=10",
        "training.lr=0.0001 loss.scale=20",
        "training.lr=0.0002 loss.scale=10",
        "training.lr=0.0002 loss.scale=20",
    }  # only the swept keys: what tells the runs apart in the MLflow UI
    assert parent.data.tags["sweep"] in result.stdout
