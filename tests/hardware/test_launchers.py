"""Launcher configs compose (submitit and ray without their plugins installed); the DDP output folder setting.

`hydra/launcher=joblib` is run by tests/sweeps/test_optuna_sweep.py::test_joblib_runs_trials_in_parallel_without_losing_runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import subprocess
import sys

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from embedlab_testing import REPO

CONF = REPO / "conf"
LAUNCHERS = sorted(p.stem for p in (CONF / "hydra" / "launcher").glob("*.yaml"))
TARGETS = {
    "joblib": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher",
    "ray": "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher",
}
# The plugin's schema for each file: checked where the plugin is installed (pip install -e ".[launchers]").
SCHEMAS = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher.config", "JobLibLauncherConf"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher.config", "SlurmQueueConf"),
    "ray": ("hydra_plugins.hydra_ray_launcher._config", "RayLauncherConf"),
}


def hydra_node(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True).hydra


def test_the_three_launchers_are_there():
    assert set(LAUNCHERS) == set(TARGETS)


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_launcher_composes(launcher):
    assert hydra_node(f"hydra/launcher={launcher}").launcher._target_ == TARGETS[launcher]


def test_slurm_keys_are_documented_and_overridable():
    launcher = hydra_node(
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_task=2",
        "hydra.launcher.timeout_min=30",
        "hydra.launcher.mem_gb=64",
    ).launcher
    assert (launcher.partition, launcher.gpus_per_task, launcher.timeout_min, launcher.mem_gb) == ("gpu", 2, 30, 64)
    text = (CONF / "hydra" / "launcher" / "submitit_slurm.yaml").read_text()
    for key in ("partition", "gpus_per_task", "timeout_min", "mem_gb"):
        assert re.search(rf"^{key}: .*# \S", text, re.MULTILINE), f"{key} has no comment"


def test_ray_takes_an_existing_cluster_address():
    launcher = hydra_node("hydra/launcher=ray", "hydra.launcher.ray.init.address=ray://head:10001").launcher
    assert launcher.ray.init.address == "ray://head:10001"


@pytest.mark.parametrize("launcher", ["submitit_slurm", "ray"])
def test_cfg_hydra_prints_the_launcher_without_its_plugin(launcher):
    result = subprocess.run(
        [sys.executable, "-m", "train", f"hydra/launcher={launcher}", "--cfg", "hydra"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard
    )
    assert result.returncode == 0, result.stderr
    assert TARGETS[launcher] in result.stdout
    assert "deprecated" not in result.stderr


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_keys_are_the_plugins_where_it_is_installed(launcher):
    module, name = SCHEMAS[launcher]
    try:
        schema = getattr(importlib.import_module(module), name)
    except ImportError:
        pytest.skip(f"the {launcher} plugin is not installed")
    fields = {f.name for f in dataclasses.fields(schema)}
    assert set(hydra_node(f"hydra/launcher={launcher}").launcher) <= fields


@pytest.mark.parametrize("hardware", ["cpu", "multi_gpu", "ddp_cpu"])
def test_every_option_claims_its_run_folder_named_by_launch_time(hardware):
    node = OmegaConf.to_container(hydra_node(f"hardware={hardware}"))  # unresolved: no folder is made here
    assert node["run"]["dir"] == "${unique_folder:outputs/${launch_time:%Y-%m-%d}/${launch_time:%H-%M-%S}}"
    assert node["sweep"]["dir"] == "${unique_folder:multirun/${launch_time:%Y-%m-%d}/${launch_time:%H-%M-%S}}"


def test_launch_time_outside_torchrun_is_this_process_clock_read_once(monkeypatch, request):
    from datetime import datetime

    from embedlab.hardware import launch

    clock = iter([datetime(2031, 12, 31, 23, 59, 59, 999999), datetime(2032, 1, 1, 0, 0, 1)])

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(clock)

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(launch, "datetime", Clock)
    monkeypatch.setattr(launch, "_rendezvous_store", lambda: pytest.fail("asked torchrun's store outside torchrun"))
    launch.launch_datetime.cache_clear()
    request.addfinalizer(launch.launch_datetime.cache_clear)  # later tests read the real clock again
    assert launch.launch_datetime() == datetime(2031, 12, 31, 23, 59, 59)  # to the second, as rank 0 publishes it
    assert launch.launch_time("%Y-%m-%d %H-%M-%S") == "2031-12-31 23-59-59"
    assert launch.launch_time("%Y") == "2031"  # not the year the clock has moved on to: read once per process


def test_joblib_launcher_is_quiet():
    result = subprocess.run(
        [sys.executable, "-m", "train", "hydra/launcher=joblib", "--cfg", "hydra"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard
    )
    assert result.returncode == 0, result.stderr
    assert "deprecated" not in result.stderr  # our joblib.yaml shadows the plugin's schema on purpose
