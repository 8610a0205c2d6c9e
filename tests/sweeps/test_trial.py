"""What a trial reports to the pruner: the objective against training examples seen, `val_loss` of a mixed loss."""

from __future__ import annotations

import mlflow

from embedlab_testing import QUORA_HEADER, quora_rows, run_train, write_tsv


def test_mixed_loss_val_loss_is_reported_against_examples_seen(
    tiny_model_path, optuna_storage, study, sweep_runs, mlflow_uri, tmp_path
):
    quora = write_tsv(tmp_path / "quora.tsv", QUORA_HEADER, quora_rows())
    result = run_train(
        "-m",
        "hparams_search=quora_mixed",
        f"model.name_or_path={tiny_model_path}",
        "training.max_steps=4",
        "training.eval_steps=2",
        "training.epochs=1",
        "tracking.log_model=false",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
        f"hydra.sweeper.storage={optuna_storage}",
        f"dataset.path={quora}",
        "dataset.queries=3",
        "dataset.corpus=30",
        "++hydra.sweeper.params={training.batch_size: 'choice(4, 8)'}",
        "loss.scale=20.0",
        "optimized_metric=val_loss",
        "hydra.sweeper.direction=minimize",
        "hydra.sweeper.n_trials=2",
        "hydra/sweeper/sampler=random",
        "hydra.sweeper.sampler._target_=optuna.samplers.BruteForceSampler",  # each batch size once
        "hydra/sweeper/pruner=none",
        "hydra.sweeper.pruner._target_=optuna.pruners.ThresholdPruner",
        "+hydra.sweeper.pruner.upper=-1.0",  # every loss is above: pruned at the first report
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    trials = study().trials
    assert sorted(t.params["training.batch_size"] for t in trials) == [4, 8]
    assert [t.state.name for t in trials] == ["PRUNED", "PRUNED"]
    _, children = sweep_runs()
    client = mlflow.MlflowClient(mlflow_uri)
    for trial in trials:
        # reported at step 2 (eval_steps=2): 2 x batch size examples, the same val_loss that MLflow has there
        assert list(trial.intermediate_values) == [2 * trial.params["training.batch_size"]]
        (run,) = [c for c in children if c.data.tags["sweep_trial"] == str(trial.number)]
        logged = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "val_loss")}
        assert trial.intermediate_values[2 * trial.params["training.batch_size"]] == logged[2]
