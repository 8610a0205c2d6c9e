"""A run shorter than one evaluation interval: its training is evaluated, kept or compared, and said truthfully."""

from __future__ import annotations

import csv
import re

import pytest

from embedlab_testing import run_train, runs


def write_pairs_csv(path, n: int):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["anchor", "positive"])
        writer.writerows(
            [f"question {i} about topic {i % 7}", f"answer {i},\nabout {i * 3}"] for i in range(n)
        )  # a quoted line break
    return path


def history(uri: str, run_id: str, key: str) -> dict[int, float]:
    import mlflow

    return {m.step: m.value for m in mlflow.MlflowClient(uri).get_metric_history(run_id, key)}


@pytest.mark.slow
@pytest.mark.parametrize("rows", [12, 40])  # 1 training step at the default batch of 32, evaluation every 10
def test_a_file_smaller_than_one_evaluation_interval_trains_and_evaluates_its_step(tiny_model_path, tmp_path, rows):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = write_pairs_csv(tmp_path / "small.csv", rows)
    result = run_train(
        f"model.name_or_path={tiny_model_path}",
        "dataset=local",
        f"dataset.path={data}",
        "dataset.fractions=[0.5,0.25,0.25]" if rows < 40 else "dataset.fractions=[0.8,0.1,0.1]",
        "hardware=cpu",
        "tracking.log_model=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs(uri)
    val_loss = history(uri, run.info.run_id, "val_loss")
    assert sorted(val_loss) == [0, 1]  # the starting model and the one step trained: evaluated at its step
    assert val_loss[1] != val_loss[0]  # that step changed the weights (warmup did not take it at learning rate 0)
    assert set(history(uri, run.info.run_id, "train_loss")) == {1}  # logged, though logging_steps is 5
    assert history(uri, run.info.run_id, "lr")[1] > 0
    line = next(line for line in result.stdout.splitlines() if line.startswith(("best checkpoint", "kept the")))
    if run.data.tags["best_is_base"] == "true":  # the line names the checkpoint it was compared with, and its value
        assert (
            f"no checkpoint beat its val_loss {val_loss[0]:.4f} (1 checkpoint evaluated, the best is step 1 at "
            f"{val_loss[1]:.4f};" in line
        )
    else:
        assert line.startswith(f"best checkpoint: step 1, val_loss {val_loss[1]:.4f}")


@pytest.mark.slow
def test_the_last_step_is_evaluated_when_it_is_not_a_multiple_of_eval_steps(tiny_model_path, physics_folder, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "training.max_steps=3",
        "training.eval_steps=2",
        "training.batch_size=8",
        "hardware=cpu",
        "tracking.log_model=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs(uri)
    assert sorted(history(uri, run.info.run_id, "val_loss")) == [0, 2, 3]
    assert (
        sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir() if re.fullmatch(r"checkpoint-\d+", p.name))[
            -1
        ]
        == "checkpoint-3"
    )
