"""The trainer: a run shorter than one evaluation interval is evaluated, kept or compared, and said truthfully;
evaluators and losses are handed to sentence-transformers as it takes them; checkpoints are written by rank 0, and
a failed write is one line. The one private transformers hook embedlab overrides is checked against the library."""

from __future__ import annotations

import csv
import errno
import inspect
import re
from pathlib import Path

import pytest

from embedlab_testing import runs, tiny_overrides, train_in


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
    data = write_pairs_csv(tmp_path / "small.csv", rows)
    result, uri = train_in(  # not debug=tiny: the default batch and evaluation interval are what is tested
        tmp_path,
        f"model.name_or_path={tiny_model_path}",
        "dataset=local",
        f"dataset.path={data}",
        "dataset.fractions=[0.5,0.25,0.25]" if rows < 40 else "dataset.fractions=[0.8,0.1,0.1]",
        "hardware=cpu",
        "hardware.precision=fp32",  # as debug=tiny pins it: in bf16 (auto on a CPU with AVX512-BF16) the one tiny
        "tracking.log_model=false",  # step moved val_loss less than bf16 resolves (0.875 at steps 0 and 1)
    )
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
    _, uri = train_in(
        tmp_path,
        *tiny_overrides(tiny_model_path, physics_folder),
        "training.max_steps=3",
        "training.eval_steps=2",
        "training.keep_checkpoints=true",  # a FINISHED run removes them by default
    )
    [run] = runs(uri)
    assert sorted(history(uri, run.info.run_id, "val_loss")) == [0, 2, 3]
    checkpoints = [p.name for p in (tmp_path / "run" / "checkpoints").iterdir()]
    assert max(int(name.split("-")[1]) for name in checkpoints if re.fullmatch(r"checkpoint-\d+", name)) == 3


class RecordingTracker:
    def __init__(self) -> None:
        self.logged: dict[int, dict[str, float]] = {}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.logged.setdefault(step, {}).update(metrics)


MNRL = {"_target_": "sentence_transformers.sentence_transformer.losses.MultipleNegativesRankingLoss", "_partial_": True}


@pytest.fixture
def physics_trainer(tiny_model_path, physics_folder, tmp_path):
    """What run.train() builds, on the physics data: the real `make_trainer`, 2 steps, evaluated and saved each."""
    from sentence_transformers.sentence_transformer import SentenceTransformer

    from embedlab.data.physics import load_physics
    from embedlab.hardware.device import Hardware
    from embedlab.run import make_trainer
    from embedlab.training.arguments import training_arguments
    from embedlab.training.sampling import Sampling

    data = load_physics(path=str(physics_folder))
    model = SentenceTransformer(tiny_model_path, device="cpu")
    hardware = Hardware(device="cpu", precision="fp32")
    args = training_arguments(
        tmp_path / "checkpoints",
        hardware,
        Sampling(),
        max_nonfinite_steps=3,
        length_buckets=4,
        max_steps=2,
        eval_steps=1,
        batch_size=8,
    )
    tracker = RecordingTracker()
    trainer = make_trainer(model, args, data, {"pairs": MNRL}, tracker, [], "ndcg_at_10")
    return trainer, tracker, data


def test_the_run_logs_its_validation_evaluators_metrics_under_their_own_names(physics_trainer):
    trainer, tracker, data = physics_trainer
    evaluators = data.evaluators("validation")
    own = {name for evaluator in evaluators for name in evaluator(trainer.model)}
    trainer.evaluate()
    assert set(tracker.logged[0]) == own | {"val_loss"}  # the trainer's wrapper adds no name and drops none


def test_a_full_disk_while_checkpointing_is_one_line_and_removes_only_that_checkpoint(physics_trainer, monkeypatch):
    import torch

    from embedlab.errors import UserError
    from embedlab.training.checkpoint import COMPLETE

    trainer, _, _ = physics_trainer
    save = torch.save

    def disk_full_at_step_2(obj, f, *args, **kwargs):
        if "checkpoint-2" in str(f):
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", disk_full_at_step_2)
    checkpoints = Path(trainer.args.output_dir)
    with pytest.raises(UserError, match=r"^saving checkpoint .*checkpoint-2 failed: No space left on device$"):
        trainer.train()
    assert sorted(p.name for p in checkpoints.glob("checkpoint-*")) == ["checkpoint-1"]  # step 1's stays
    assert (checkpoints / "checkpoint-1" / COMPLETE).exists()


def test_a_full_disk_in_safetensors_is_one_line_as_well(physics_trainer, monkeypatch):
    """safetensors reports a full disk with its own error, which is no OSError: the same one line."""
    import transformers.modeling_utils
    from safetensors import SafetensorError

    from embedlab.errors import UserError

    trainer, _, _ = physics_trainer
    save_file = transformers.modeling_utils.safe_save_file  # what save_pretrained writes weights with

    def disk_full_at_step_2(tensors, filename, *args, **kwargs):
        if "checkpoint-2" in str(filename):
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return save_file(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", disk_full_at_step_2)
    with pytest.raises(UserError, match=r"checkpoint-2 failed: No space left on device \(os error 28\)$"):
        trainer.train()
    assert sorted(p.name for p in Path(trainer.args.output_dir).glob("checkpoint-*")) == ["checkpoint-1"]


def test_a_step_evaluated_first_on_resume_is_weighed_for_the_best_checkpoint(physics_trainer):
    """`eval_on_start` evaluates without weighing the result for the best checkpoint (right for step 0, whose
    model is no checkpoint); the step a resumed run's stop left unevaluated is weighed, as if it had not stopped."""
    trainer, tracker, _ = physics_trainer
    trainer.state.global_step = 2
    trainer._evaluate(None, None, skip_scheduler=True)  # what eval_on_start calls
    assert trainer.state.best_metric is None and 2 in tracker.logged
    trainer.evaluate_first(2)
    assert trainer.args.eval_on_start
    trainer._evaluate(None, None, skip_scheduler=True)
    assert (trainer.state.best_global_step, trainer.unevaluated_step) == (2, None)
    assert trainer.state.best_metric == tracker.logged[2]["val_loss"]


def test_only_the_rank_that_saves_writes_the_model(physics_trainer, tmp_path, monkeypatch):
    trainer, _, _ = physics_trainer
    monkeypatch.setattr(type(trainer.args), "should_save", property(lambda self: False))  # a DDP rank other than 0
    trainer.save_model(str(tmp_path / "other-rank"))
    assert not (tmp_path / "other-rank").exists()
    monkeypatch.undo()
    trainer.save_model(str(tmp_path / "rank-0"))
    assert (tmp_path / "rank-0" / "modules.json").exists()


def test_the_two_private_hooks_are_still_where_transformers_calls_them():
    """EmbeddingTrainer overrides two private methods. `_save_checkpoint(model, trial)`: if transformers renames
    it, changes its arguments or stops calling it, a full disk would no longer be one line. `_evaluate(trial,
    ignore_keys_for_eval, skip_scheduler)`, which `eval_on_start` calls: a resumed run's step that its stop left
    unevaluated would be evaluated but not weighed for the best checkpoint. This fails first."""
    import transformers.trainer
    from transformers import Trainer

    from embedlab.training.trainer import EmbeddingTrainer

    methods = [name for name, value in vars(EmbeddingTrainer).items() if inspect.isfunction(value)]
    private = [name for name in methods if name.startswith("_") and not name.startswith("__")]
    assert private == ["_evaluate", "_save_checkpoint"]
    assert list(inspect.signature(Trainer._save_checkpoint).parameters) == ["self", "model", "trial"]
    assert "self._save_checkpoint(model, trial)" in inspect.getsource(transformers.trainer)
    assert "self.save_model(" in inspect.getsource(Trainer._save_checkpoint)  # the model through the public hook
    parameters = ["self", "trial", "ignore_keys_for_eval", "skip_scheduler"]
    assert list(inspect.signature(Trainer._evaluate).parameters) == parameters
    assert "if args.eval_on_start:\n            self._evaluate(" in inspect.getsource(Trainer._inner_training_loop)
    assert list(inspect.signature(Trainer._determine_best_metric).parameters) == ["self", "metrics", "trial"]


def test_an_optimized_metric_the_validation_split_cannot_give_stops_at_step_0(tiny_model_path, tmp_path):
    """Labels that are all the same make a correlation nan at every step: a sweep would optimize nan and a run
    would report `-`. The run stops at its step-0 evaluation, before any training step."""
    from embedlab_testing import run_train

    rows = [
        "sentence1\tsentence2\tlabel",
        *(f"first text {i} on physics\tsecond text {i} on motion\t1" for i in range(60)),
    ]
    (tmp_path / "same_label.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(
        f"model.name_or_path={tiny_model_path}",
        "dataset=local",
        "dataset.kind=labeled_pairs",
        f"dataset.path={tmp_path / 'same_label.tsv'}",
        "loss=cosine",
        "optimized_metric=spearman",
        f"tracking.uri={uri}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert result.returncode == 2, result.stderr[-3000:]
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "optimized_metric=spearman is nan for the starting model (step 0)" in line
    assert [r.info.status for r in runs(uri)] == ["FAILED"]
    assert not list((tmp_path / "run").rglob("checkpoint-*"))  # no training step
