"""Swept values written short, so the MLflow UI's narrow columns show them whole: run names and value tags.

`training.lr=4.816414530e-05` reads "4.81641453…" in a params column; here it is `lr=4.82e-5`.
"""

from __future__ import annotations

import re

from embedlab.folders import launch_stamp

SHORT_KEYS = {
    "batch_size": "bs",
    "learning_rate": "lr",
    "warmup_ratio": "warmup",
    "weight_decay": "wd",
    "max_steps": "steps",
    "eval_steps": "eval_every",
}
STAGE_TAG = "embedlab.stage"  # on a chain's stage run: its name (`phase2`), which also starts the run's name
VALUE_TAG_PREFIX = "value."  # value.training.lr = 4.82e-5: the swept value in a form whose exponent stays visible


def short_number(text: str) -> str:
    """`4.816414530e-05` -> `4.82e-5`, `14.70001` -> `14.7`, `32` -> `32`; anything else unchanged."""
    if re.fullmatch(r"[+-]?\d+", text.strip()):
        return text.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    out = f"{value:.2e}" if value and not 1e-3 <= abs(value) < 1e5 else f"{value:.3g}"  # 2.91e-4, not 0.000291
    out = re.sub(r"\.?0+e", "e", out)  # 1.00e-04 -> 1e-04
    return re.sub(r"e([+-])0*(\d)", lambda m: f"e{'' if m[1] == '+' else '-'}{m[2]}", out)


def parse_overrides(overrides: str | list[str]) -> list[tuple[str, str]]:
    """`"training.lr=1e-05 loss=mixed"` or a list of overrides -> [(key, value), ...], `+`/`~` prefixes dropped."""
    items = overrides.split() if isinstance(overrides, str) else list(overrides)
    pairs = []
    for item in items:
        if "=" in item:
            key, value = item.split("=", 1)
            pairs.append((key.lstrip("+~"), value.strip("'\"")))
    return pairs


NAMED_ELSEWHERE = ("dataset", "loss", "phase")  # choices a single run's name already starts with
NOT_NAMED = ("tracking.", "hardware.threads", "resume", "reproduce", "sweep.")  # where a run goes, not what it is


def named_overrides(overrides: list[str]) -> list[str]:
    """The overrides that say what a single run changes: no paths (`dataset.path=/x`), no tracking or output
    settings, and not the dataset/loss/phase choices its name starts with; a key given twice counts once."""
    chosen: dict[str, str] = {}  # a key given twice (a reproduction with a key changed): its last value
    for key, value in parse_overrides(overrides):
        if key in NAMED_ELSEWHERE or key.startswith(NOT_NAMED) or "/" in value:
            continue
        chosen[key] = value
    return [f"{key}={value}" for key, value in chosen.items()]


def short_key(key: str, keys: list[str]) -> str:
    """The last dotted part (`training.batch_size` -> `bs`), or the whole key when two keys would share it."""
    last = key.rsplit(".", 1)[-1]
    if sum(k.rsplit(".", 1)[-1] == last for k in keys) > 1:
        return key
    return SHORT_KEYS.get(last, last)


def values_name(overrides: str | list[str]) -> str:
    """`training.batch_size=32 loss.scale=14.70001 training.lr=4.816e-05` -> `bs=32 scale=14.7 lr=4.82e-5`."""
    pairs = parse_overrides(overrides)
    keys = [key for key, _ in pairs]
    return " ".join(f"{short_key(key, keys)}={short_number(value)}" for key, value in pairs)


def short_value_tags(overrides: str | list[str]) -> dict[str, str]:
    """One tag per swept number, written short: {"value.training.lr": "4.82e-5"}."""
    return {
        f"{VALUE_TAG_PREFIX}{key}": short_number(value)
        for key, value in parse_overrides(overrides)
        if short_number(value) != value
    }


def timed_name(*parts: str) -> str:
    """The non-empty `parts` and when the run started (`1206-101500`, `1206-101500-1` for the second run started
    in that second: `embedlab.folders.launch_stamp`), space-separated: every run's name ends so."""
    return " ".join(part for part in (*parts, launch_stamp()) if part)


def unique_run_name(client, run) -> str:
    """The name a run just created keeps: its own, unless another run of its experiment has it too (two commands
    started in the same second with the same overrides, each in a folder named on the command line, or on two
    machines sharing a server); then the name and the start of its run id (`physics-mnrl 1207-222342 3f2a91`).

    Decided by each run once it exists: the later of two sees the earlier, so at most one keeps the plain name,
    in any store (a server's too, where no lock file reaches). Returns the name the run has now."""
    name, experiment = run.info.run_name, run.info.experiment_id
    if "'" in name and '"' in name:  # no way to quote it in a filter: the experiment's last day, compared here
        found = client.search_runs([experiment], f"attributes.start_time >= {run.info.start_time - 86_400_000}")
    else:
        quoted = f"'{name}'" if "'" not in name else f'"{name}"'
        found = client.search_runs([experiment], f"attributes.run_name = {quoted}", max_results=2)
    if any(other.info.run_id != run.info.run_id and other.info.run_name == name for other in found):
        name = f"{name} {run.info.run_id[:6]}"
        client.update_run(run.info.run_id, name=name)
    return name
