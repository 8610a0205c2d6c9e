"""A grid (`-m a=1,2`) is checked point by point with the run's own plan before its first job (grid_check.py)."""

from __future__ import annotations

import pytest

from embedlab_testing import run_train

CUDA = __import__("torch").cuda.is_available()


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ("training.batch_size=range(4,4)", "training.batch_size=range(4,4) gives no values"),
        ("training.batch_size=range(8,16,0)", "training.batch_size=range(8,16,0) has step 0"),
        ("training.lr=interval(1e-5,1e-4)", "which only an Optuna study samples"),
        ("training.lr=tag(log,interval(1e-5,1e-4))", "which only an Optuna study samples"),
        (  # jobs compared by two metrics: a loss ranked as a score
            "optimized_metric=ndcg_at_10,val_loss",
            "optimized_metric=ndcg_at_10,val_loss: a sweep compares its jobs by one optimized_metric",
        ),
        (
            "optimized_metric=spearman training.lr=1e-4,2e-4",
            "grid point 0 (training.lr=0.0001) cannot run: optimized_metric=spearman is not logged",
        ),
        pytest.param(  # what only torch can tell, as a single run checks it: before the first job, not per job
            "hardware=cpu,cuda",
            "grid point 1 (hardware=cuda) cannot run: hardware.device=cuda but torch sees no CUDA device",
            marks=pytest.mark.skipif(CUDA, reason="this machine has a GPU"),
        ),
        ("training.batch_size=8,1", "grid point 1 (training.batch_size=1) cannot run: training.batch_size=1 is too"),
        ("phase=contrastive,two_phase dataset=ncert_social", "phase.stages.phase2: phase=hard_negatives needs a"),
        (  # round 2 trains on validation: the grid would choose its best job by fit
            "experiment=retrieval training.lr=1e-4,5e-5",
            "phase.stages.phase2.dataset.train_on_validation=true in a sweep: validation pairs would also train",
        ),
    ],
)
def test_a_grid_that_cannot_run_is_one_line_before_any_job(sweep, expected, sweep_args, sweep_runs, tmp_path):
    args = [a for a in sweep_args if not (a.startswith("dataset.path=") and "dataset=" in sweep)]
    result = run_train("-m", *args, *sweep.split())
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-3000:]
    assert sweep_runs() == ([], [])  # no parent run, no job's run
    assert not list((tmp_path / "multirun").rglob("checkpoints"))


def test_a_check_that_cannot_finish_stops_the_grid_with_its_traceback(sweep_args, sweep_runs, tmp_path, monkeypatch):
    """Hydra turns a callback's exception into a warning and launches anyway: a bug in a check must not."""
    from embedlab.sweeps import grid_check

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in a check")

    monkeypatch.setattr(grid_check, "plan_run", broken)
    result = run_train("-m", *sweep_args, "training.lr=1e-4,2e-4")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "RuntimeError: a bug in a check" in result.stderr
    assert sweep_runs() == ([], [])  # no job was launched
