"""`torchrun --nproc_per_node=2 -m train hardware=ddp_cpu`, as a user runs it, against one process with the same
effective batch.

Why the two models must agree: with `gather_across_devices`, each rank scores its 2 anchors against the 4
positives of both ranks, the all-gather sends the gradients back to the rank that made each embedding, and DDP
averages the two ranks' gradients. The sum is the gradient of MNRL over the 4 anchors and 4 candidates that one
process sees with batch 4 (accelerate hands rank r the batches r, r+2, ... of the same seeded order, so the two
runs see the same pairs at each step). Dropout is off (its masks are the one random draw that would differ).

Why a tolerance at all: float32 sums in a different order. DDP adds two half-batch gradients in an all-reduce
where one process adds them inside one matmul, with another thread count. Each step differs by about one unit
in the last place (1e-7 relative); AdamW scales updates by the gradient's running RMS, so such differences stay
of that size instead of growing. Measured here: 1.4e-7 largest weight difference after 4 steps at lr 1e-3, while
training moved the weights by 2e-3. We allow 1e-5: 70x what was measured and 200x below the training's own
movement, so a real mismatch (e.g. no gathering: each rank's negatives are only its own 2 positives, measured
4e-3 apart) fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedlab_testing import run_train, runs

TOLERANCE = 1e-5
COMMON = [
    "training.max_steps=4",
    "training.eval_steps=4",
    "training.lr=1e-3",
    "sampler=batch_sampler",
    "tracking.log_model=false",
]


def weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    (file,) = model_dir.glob("*.safetensors")
    return load_file(str(file))


def largest_difference(a: dict, b: dict) -> float:
    return max((a[name] - b[name]).abs().max().item() for name in a)


@pytest.fixture(scope="module")
def ddp_run(still_model_path, physics_folder, tmp_path_factory):
    """torchrun with 2 CPU ranks, batch 2 per rank, run from an empty folder (so outputs/ is the launch's own)."""
    cwd = tmp_path_factory.mktemp("ddp")
    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun),
        "--nproc_per_node=2",
        "-m",
        "train",
        "hardware=ddp_cpu",
        "training.batch_size=2",
        f"model.name_or_path={still_model_path}",
        f"dataset.path={physics_folder}",
        *COMMON,
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result, uri, cwd


@pytest.fixture(scope="module")
def single_run(still_model_path, physics_folder, tmp_path_factory):
    """One process, hardware=cpu, batch 4: the same effective batch."""
    tmp = tmp_path_factory.mktemp("single")
    result = run_train(
        "hardware=cpu",
        "hardware.precision=fp32",  # as hardware=ddp_cpu pins it (auto would be bf16 on an AMX CPU)
        "training.batch_size=4",
        f"model.name_or_path={still_model_path}",
        f"dataset.path={physics_folder}",
        *COMMON,
        f"hydra.run.dir={tmp / 'run'}",
        env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp / "run"


def test_ddp_writes_one_finished_run_with_the_effective_batch(ddp_run):
    _, uri, _ = ddp_run
    [run] = runs(uri)  # rank 1 opened no run of its own
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["world_size"] == "2"
    assert params["per_device_batch_size"] == "2"
    assert params["effective_batch_size"] == "4"
    assert (params["device"], params["precision"]) == ("cpu", "fp32")
    assert params["hardware.loss_kwargs.gather_across_devices"] == "True"


def test_all_ranks_share_one_output_folder_and_rank_0_writes_it(ddp_run):
    result, _, cwd = ddp_run
    [run_dir] = [p for p in (cwd / "outputs").glob("*/*") if p.is_dir()]  # not one folder per rank
    assert (run_dir / ".hydra" / "config.yaml").exists()
    assert (run_dir / "best" / "model.safetensors").exists()
    assert result.stdout.count("best checkpoint:") == 1  # the summary comes from rank 0 alone


def test_ddp_model_matches_one_process_with_the_same_effective_batch(ddp_run, single_run, still_model_path):
    _, _, cwd = ddp_run
    [ddp_best] = (cwd / "outputs").glob("*/*/best")
    ddp, single, start = weights(ddp_best), weights(single_run / "best"), weights(Path(still_model_path))
    assert largest_difference(start, single) > 200 * TOLERANCE  # training moved the weights well past the tolerance
    assert largest_difference(ddp, single) < TOLERANCE
