"""Hydra's composition errors as one line (embedlab.schema.composition): each kind of error Hydra raises while
composing, turned into what was wrong, where and what was expected. The real command's exit code and stderr for
the same inputs are checked in tests/test_bad_inputs.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import CompactHydraException, MissingConfigException

from embedlab.schema.composition import composition_error_line, one_line_composition_errors
from embedlab_testing import run_train

CONF = Path(__file__).resolve().parents[2] / "conf"


def hydra_refuses(*overrides: str) -> CompactHydraException:
    """The exception Hydra's compose API raises for these overrides (the same `python -m train` gets)."""
    with pytest.raises(CompactHydraException) as refused:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            compose(config_name="train", overrides=list(overrides))
    return refused.value


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            ["dataset=quroa"],
            "dataset=quroa is not an option of dataset; expected one of local, ml_concepts, ncert_social, physics, "
            "quora, word_association; did you mean quora?",
        ),
        (
            ["loss=mixed", "loss@loss.parts.labeled=cosin"],
            "loss/cosin (in the defaults of conf/loss/mixed.yaml) is not an option of loss; expected one of angle,",
        ),
        (
            ["datset=physics"],
            "datset is not a key of the config; did you mean dataset?; to add a new key, write +datset",
        ),
        # no `+` advice where `+` would only meet the schema's refusal: every training key is in its YAML
        (["training.lrr=1e-5"], "training.lrr is not a key of training; did you mean training.lr?"),
        (
            ["dataset.train_on_validation=true"],  # dataset=physics's loader reads no such key
            "dataset.train_on_validation is not a key of dataset; expected one of name, path, optimized_metric, "
            "training_eval_steps, fractions",
        ),
        (
            ["dataset=ml_concepts", "dataset.train_on_validation=true"],  # load_table reads it: `+` adds it
            "dataset.train_on_validation is not a key of dataset; expected one of name, kind, path, fractions, "
            "optimized_metric; to add a new key, write +dataset.train_on_validation=true",
        ),
        (  # CosineSimilarityLoss takes no scale: `+loss.scale=10` was refused in turn, as not its argument
            ["loss=cosine", "loss.scale=10"],
            "loss.scale is not a key of loss; expected one of cos_score_transformation, data_kinds, loss_fct",
        ),
        (  # MNRL takes it: `+` adds it
            ["loss.hardness_strength=9"],
            "loss.hardness_strength is not a key of loss; expected one of scale, similarity_fct, data_kinds, "
            "min_batch_size; to add a new key, write +loss.hardness_strength=9",
        ),
        (["training.lr=["], "training.lr=[ is not an override Hydra can read (no viable alternative at input '[')"),
        (["dataset.path=~/x.jsonl"], "dataset.path=~/x.jsonl is not an override Hydra can read at character 14 ('~')"),
        (["loss=mnrl,cosent"], "loss=mnrl,cosent has several values; expected one value: to sweep over them add -m"),
        (
            ["training.lr=interval(1e-5,1e-4)"],  # which -m alone (the grid) would refuse in turn
            "training.lr=interval(1e-5,1e-4) is a range of real numbers, which a single run cannot take and only an "
            "Optuna study samples; expected one value (training.lr=<value>), or a study over it: python -m train -m "
            "hparams_search=<preset> training.lr=interval(1e-5,1e-4) (it joins the preset's search space)",
        ),
        (["training.batch_size=choice(8,16)"], "training.batch_size=choice(8,16) is a sweep over several values"),
        (["loss=glob(mn*)"], "loss=glob(mn*) is a sweep over several values"),
        (
            ["hydra.sweeper.n_trials=30"],
            "hydra.sweeper.n_trials is a setting of the Optuna sweeper, but this command's sweeper is the grid (its "
            "settings: max_batch_size, params); expected -m hparams_search=<preset> (physics, quora_mixed) with it",
        ),
        (["hydra/sweeper/pruner=none"], "hydra/sweeper/pruner is a setting of the Optuna sweeper, but this command's"),
        (
            ["hparams_search=physics", "hydra.sweeper.n_trails=30"],
            "hydra.sweeper.n_trails is not a setting of this command's sweeper; expected one of ",
        ),
        (
            ["hydra.sweeper.params.training.lr=interval(1,2)"],
            "hydra.sweeper.params.training.lr=interval(1,2): a search space's parameter is set by its own key",
        ),
    ],
)
def test_each_composition_error_is_one_line_naming_what_and_where(overrides, line):
    said = composition_error_line(hydra_refuses(*overrides))
    assert said.startswith(line)
    assert "\n" not in said


def test_a_composition_error_exits_2_with_one_line_and_hydras_switch_is_put_back(capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    error = hydra_refuses("dataset=quroa")
    with pytest.raises(SystemExit) as exited, one_line_composition_errors():
        assert os.environ["HYDRA_FULL_ERROR"] == "1"  # Hydra raises instead of printing its own lines
        raise error
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {composition_error_line(error)}"]
    assert "HYDRA_FULL_ERROR" not in os.environ


def test_a_user_who_asks_for_hydras_full_error_gets_the_exception(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(MissingConfigException), one_line_composition_errors():
        raise hydra_refuses("dataset=quroa")
    assert os.environ["HYDRA_FULL_ERROR"] == "1"


@pytest.mark.parametrize(
    "override", ["training.lrr=1e-5", "dataset.train_on_validation=true", "phase.foo=1", "loss=cosine loss.scale=10"]
)
def test_no_plus_advice_where_the_schema_would_refuse_the_key_it_adds(override):
    """`+dataset.train_on_validation=true`, as advised, was refused in turn: dataset=physics reads no such key."""
    assert "+" not in composition_error_line(hydra_refuses(*override.split()))


def test_a_sweep_under_torchrun_is_refused_before_anything_is_made(tmp_path):
    """Under torchrun every process ran the whole sweep: a grid got a second, empty parent run; a study's second
    process was refused by the first and torchrun ended in a traceback."""
    torchrun = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}
    result = run_train("-m", "training.lr=1e-4,2e-4", cwd=tmp_path, env=torchrun)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [errors[0]] and "-m under torchrun: each of its processes would run the whole sweep" in errors[0]
    assert "expected" in errors[0]
    assert not (tmp_path / "multirun").exists() and not (tmp_path / "mlflow.db").exists()
