"""phase.reranker: a local folder that is not a cross-encoder is refused when the config is built, before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from embedlab.errors import UserError
from embedlab.mining.reranker import CrossEncoderReranker
from embedlab_testing import run_train, runs


def model_folder(tmp_path: Path, config: dict, st_config: dict | None = None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if st_config is not None:
        (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("config", "st_config"),
    [
        ({"architectures": ["BertForSequenceClassification"]}, None),  # a transformers / ST < 4 cross-encoder
        ({"architectures": ["BertForSequenceClassification"]}, {"model_type": "CrossEncoder"}),  # ST >= 4
        ({"architectures": ["Qwen3ForCausalLM"]}, {"model_type": "CrossEncoder"}),  # an LLM reranker
        ({"model_type": "bert"}, None),  # no architectures: cannot be told, left to the loader
    ],
)
def test_cross_encoder_folders_are_taken(tmp_path, config, st_config):
    assert CrossEncoderReranker(str(model_folder(tmp_path, config, st_config))).enabled


@pytest.mark.parametrize(
    ("config", "st_config", "found"),
    [
        ({"architectures": ["BertModel"]}, {"__version__": {}}, "config_sentence_transformers.json has no model_type"),
        ({"architectures": ["BertModel"]}, {"model_type": "SparseEncoder"}, "a SparseEncoder (bi-encoder) folder"),
        ({"architectures": ["BertModel"]}, None, "config.json's architectures ['BertModel'] have no scoring head"),
    ],
)
def test_other_folders_are_one_line_naming_what_was_found(tmp_path, config, st_config, found):
    folder = model_folder(tmp_path, config, st_config)
    with pytest.raises(UserError) as exc:
        CrossEncoderReranker(str(folder))
    message = str(exc.value)
    assert "\n" not in message and message.startswith(f"phase.reranker.model={folder} is ")
    assert found in message and "expected a cross-encoder folder" in message


@pytest.mark.slow
def test_a_bi_encoder_as_reranker_fails_the_command_before_any_work(tiny_model_path, physics_folder, tmp_path):
    reranker = shutil.copytree(tiny_model_path, tmp_path / "bi-encoder")  # what sentence-transformers saves
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_train(
        "phase=hard_negatives",
        f"phase.reranker.model={reranker}",
        f"model.name_or_path={tiny_model_path}",
        f"dataset.path={physics_folder}",
        "hardware=cpu",
        f"hydra.run.dir={tmp_path / 'run'}",
        env={"MLFLOW_TRACKING_URI": uri},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: phase.reranker.model={reranker} is a SentenceTransformer (bi-encoder) folder: "
        "config_sentence_transformers.json gives model_type SentenceTransformer; expected a cross-encoder folder "
        "(config.json architectures *ForSequenceClassification, e.g. cross-encoder/ms-marco-MiniLM-L6-v2), "
        "or phase.reranker.model=null"
    ]
    assert runs(uri) == []  # nothing started, nothing encoded
