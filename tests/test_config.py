"""Every option of every config group composes, and builds into a real object (found by walking conf/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedlab.config import build

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [(group, f.stem) for group in GROUPS for f in sorted((CONF / group).rglob("*.yaml"))]
# Presets that set keys of other groups (`# @package _global_`: experiment, hparams_search, debug) build nothing of
# their own; the groups they set are built from the configs they compose.
PRESETS = {g for g, o in OPTIONS if (CONF / g / f"{o}.yaml").read_text().startswith("# @package _global_")}


def test_walk_finds_the_groups():
    assert {"model", "dataset", "loss", "sampler", "phase", "hardware", "training", "tracking"} <= set(GROUPS)
    assert len(OPTIONS) >= 8


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes(group, option, compose_config):
    cfg = compose_config(f"{group}={option}")
    assert cfg.seed == 42
    if group not in PRESETS:
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
    if group == "model":
        return build(node, where=group, device="cpu")
    return build(node, where=group)


# What an option needs that the repository does not ship: a data file of the user's (written here, tiny), or a
# device this machine may lack (torch is told it has one, so the preset's keys still meet the real class).
def _data_for(option: str, tmp_path: Path) -> list[str]:
    from embedlab_testing import QUORA_HEADER, quora_rows, write_jsonl, write_tsv

    if option == "quora":
        return [f"dataset.path={write_tsv(tmp_path / 'quora.tsv', QUORA_HEADER, quora_rows())}"]
    if option == "local":
        rows = [{"anchor": f"question {n}", "positive": f"answer number {n}"} for n in range(20)]
        return [f"dataset.path={write_jsonl(tmp_path / 'pairs.jsonl', rows)}"]
    return []


@pytest.fixture
def every_device(monkeypatch):
    import torch

    import embedlab.hardware.device as device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(device, "_mps_available", lambda: True)


BUILDABLE = [(g, o) for g, o in OPTIONS if g not in PRESETS]


@pytest.mark.parametrize(("group", "option"), BUILDABLE, ids=[f"{g}={o}" for g, o in BUILDABLE])
def test_option_builds(group, option, tiny_model_path, tmp_path, mlflow_uri, request, compose_config):
    if group == "hardware":
        request.getfixturevalue("every_device")
    overrides = _data_for(option, tmp_path) if group == "dataset" else []
    cfg = compose_config(f"{group}={option}", *overrides)
    built = _built(group, option, cfg, tiny_model_path, tmp_path)
    assert built is not None
    if group == "hardware":
        assert built.device == cfg.hardware.device if cfg.hardware.device != "auto" else built.device == "cuda"


def test_model_option_loads_the_packaged_minilm(compose_config):
    cfg = compose_config("model=minilm")
    model = build(cfg.model, where="model", device="cpu")
    assert model.get_embedding_dimension() == 384
    assert model.max_seq_length == 256


def test_walk_finds_the_presets():
    assert {"experiment", "hparams_search", "debug"} <= PRESETS


TINY = [(g, o) for g, o in OPTIONS if g in ("experiment", "dataset", "phase")]


@pytest.mark.parametrize(("group", "option"), TINY, ids=[f"debug=tiny,{g}={o}" for g, o in TINY])
def test_debug_tiny_shrinks_every_stage_of_any_run(group, option, tmp_path, compose_config):
    """`debug=tiny` (conf/debug/tiny.yaml) wins over any experiment, dataset or phase, in every stage of a chain:
    the training arguments and hardware built from each stage's config are the preset's."""
    from embedlab.phases.chain import stage_config
    from embedlab.training.sampling import Sampling

    cfg = compose_config("debug=tiny", f"{group}={option}")  # before the option: the defaults list orders them
    stages = cfg.phase.stages.items() if "stages" in cfg.phase else [("run", None)]
    for name, stage in stages:
        run = cfg if stage is None else stage_config(cfg, name, stage, None, parent_run_id="parent")
        hardware = build(run.hardware, where="hardware")
        args = build(run.training, where="training", output_dir=tmp_path, hardware=hardware, sampling=Sampling())
        assert (args.max_steps, args.eval_steps, args.per_device_train_batch_size) == (2, 1, 8), name
        assert (hardware.device, hardware.precision, run.tracking.log_model) == ("cpu", "fp32", False), name


def test_a_key_on_the_command_line_wins_over_debug_tiny(compose_config):
    cfg = compose_config("debug=tiny", "training.max_steps=6", "hardware=cuda")
    assert (cfg.training.max_steps, cfg.training.eval_steps, cfg.hardware.device) == (6, 1, "cuda")


@pytest.mark.parametrize("stop", ["sigterm", "pruned", "mistake"])
def test_build_lets_a_stop_through_and_turns_other_errors_into_one_line(stop, monkeypatch):
    import optuna

    import embedlab.errors
    from embedlab.errors import Interrupted, UserError

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
