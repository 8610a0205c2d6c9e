"""Every option of every config group composes, and builds into a real object (found by walking conf/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from embedlab.config import build
from embedlab.errors import UserError

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [(group, f.stem) for group in GROUPS for f in sorted((CONF / group).rglob("*.yaml"))]


def compose_with(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def test_walk_finds_the_groups():
    assert {"model", "dataset", "loss", "sampler", "phase", "hardware", "training", "tracking"} <= set(GROUPS)
    assert len(OPTIONS) >= 8


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes(group, option):
    cfg = compose_with(f"{group}={option}")
    assert cfg.seed == 42
    if group not in ("experiment", "hparams_search"):
        assert {"_target_", "parts", "stages"} & set(cfg[group]), f"{group}/{option}.yaml has no _target_"


def _built(group: str, option: str, cfg, tiny_model_path: str, tmp_path: Path):
    node = cfg[group]
    if group == "training":
        from embedlab.hardware.device import Hardware
        from embedlab.training.sampling import Sampling

        return build(node, where=group, output_dir=tmp_path, hardware=Hardware(device="cpu"), sampling=Sampling())
    if group == "dataset":
        return build(node, where=group, seed=cfg.seed)
    if group == "loss":
        from sentence_transformers.sentence_transformer import SentenceTransformer

        model = SentenceTransformer(tiny_model_path, device="cpu")
        if option == "gist":
            node.guide.name_or_path = tiny_model_path
        if option == "matryoshka":
            node.dims = [32, 16]
        parts = node.parts if "parts" in node else {"all": node}
        return {name: build(part, where=f"{group}.{name}")(model) for name, part in parts.items()}
    return build(node, where=group)


BUILDABLE = [(g, o) for g, o in OPTIONS if g not in ("experiment", "hparams_search", "model")]


@pytest.mark.parametrize(("group", "option"), BUILDABLE, ids=[f"{g}={o}" for g, o in BUILDABLE])
def test_option_builds(group, option, tiny_model_path, tmp_path, mlflow_uri):
    cfg = compose_with(f"{group}={option}")
    try:
        assert _built(group, option, cfg, tiny_model_path, tmp_path) is not None
    except UserError as exc:
        # Options that need something this machine lacks must say so in one line, naming what to provide.
        message = str(exc)
        assert "\n" not in message
        assert (group == "hardware" and "device" in message) or (group == "dataset" and "dataset.path" in message)


def test_model_option_loads_the_packaged_minilm():
    cfg = compose_with("model=minilm")
    model = build(cfg.model, where="model", device="cpu")
    assert model.get_embedding_dimension() == 384
    assert model.max_seq_length == 256


@pytest.mark.parametrize("stop", ["sigterm", "pruned", "mistake"])
def test_build_lets_a_stop_through_and_turns_other_errors_into_one_line(stop, monkeypatch):
    import optuna

    import embedlab.errors
    from embedlab.errors import Interrupted

    raised = {"sigterm": Interrupted(15), "pruned": optuna.TrialPruned("step 2"), "mistake": ValueError("bad")}[stop]

    def fails(**kwargs):
        raise raised

    monkeypatch.setattr(embedlab.errors, "fails_for_test", fails, raising=False)
    expected = UserError if stop == "mistake" else type(raised)
    with pytest.raises(expected) as error:
        build({"_target_": "embedlab.errors.fails_for_test"}, where="phase", model=object())
    assert stop != "mistake" or str(error.value) == "phase: ValueError: bad"


def test_the_readmes_group_table_names_every_option():
    readme = (CONF.parent / "README.md").read_text(encoding="utf-8")
    rows = {
        cells[1].strip("` "): cells[2]
        for line in readme.splitlines()
        if line.startswith("| `") and len(cells := line.split("|")) >= 4
    }
    for group in GROUPS:
        assert group in rows, f"README's config-group table has no row for {group}"
        missing = [o for g, o in OPTIONS if g == group and f"`{o}`" not in rows[group]]
        assert not missing, f"README's row for {group} lacks {missing}"
