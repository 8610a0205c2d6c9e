"""Hardware presets resolved against this machine; what DDP changes (threads, losses, params, tracking)."""

from __future__ import annotations

import pytest
import torch

from embedlab.errors import UserError
from embedlab.hardware.device import Hardware, cpu_has_fast_bf16, encoding_autocast, usable_cores


@pytest.fixture
def two_ranks(monkeypatch):
    """The environment torchrun gives rank 1 of `--nproc_per_node=2`."""
    for name, value in {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)


def test_cpu_auto_precision_is_bf16_only_with_bf16_hardware_without_pinned_memory_on_the_usable_cores():
    hardware = Hardware(device="cpu", precision="auto", pin_memory="auto")
    expected = "bf16" if cpu_has_fast_bf16() else "fp32"
    assert (hardware.precision, hardware.pin_memory, hardware.threads) == (expected, False, usable_cores())
    assert hardware.training_kwargs()["use_cpu"] is True
    assert hardware.training_kwargs()["bf16"] is (expected == "bf16")
    assert hardware.training_kwargs()["ddp_backend"] is None


@pytest.mark.parametrize(
    ("flags", "fast"),
    [("fpu avx2 avx512f amx_bf16 amx_tile", True), ("fpu avx2 avx512f avx512_bf16", True), ("fpu sse avx2 fma", False)],
)
def test_cpu_bf16_is_detected_from_the_cpuinfo_flags(tmp_path, flags, fast):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    assert cpu_has_fast_bf16(cpuinfo) is fast


def test_without_cpuinfo_bf16_is_asked_of_torchs_private_cpuid_checks(tmp_path):
    # cpu_has_fast_bf16's fallback calls these two private functions: a torch release that renames them fails here
    assert isinstance(torch.cpu._is_amx_tile_supported(), bool)
    assert isinstance(torch.cpu._is_avx512_bf16_supported(), bool)
    expected = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert cpu_has_fast_bf16(tmp_path / "no-cpuinfo") is expected


def test_fp32_keeps_the_plain_path_and_bf16_autocasts_matmuls_with_fp32_weights():
    layer = torch.nn.Linear(8, 8)
    x = torch.randn(2, 8)
    with Hardware(device="cpu", precision="fp32").autocast():
        assert not torch.is_autocast_enabled("cpu")
        assert layer(x).dtype == torch.float32
    with Hardware(device="cpu", precision="bf16").autocast():
        assert layer(x).dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32
    assert not torch.is_autocast_enabled("cpu")  # nothing left switched on
    with encoding_autocast("cuda", "fp16"):  # fp16 is the trainer's business (GradScaler), not the encoder's
        assert not torch.is_autocast_enabled("cuda")


def test_fp16_off_cuda_is_one_line():
    with pytest.raises(UserError, match="hardware.precision=fp16 needs hardware.device=cuda"):
        Hardware(device="cpu", precision="fp16")


def test_ranks_on_one_machine_share_its_cores(two_ranks):
    hardware = Hardware(device="cpu", distributed=True)
    assert hardware.threads == max(1, usable_cores() // 2)
    assert hardware.world_size == 2
    assert hardware.training_kwargs()["ddp_backend"] == "gloo"


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_an_absent_device_is_one_line_naming_it(device):
    present = torch.cuda.is_available() if device == "cuda" else torch.backends.mps.is_available()
    if present:
        pytest.skip(f"this machine has {device}")
    with pytest.raises(UserError, match=f"hardware.device={device}") as error:
        Hardware(device=device)
    assert "\n" not in str(error.value)


def test_effective_batch_is_per_device_times_ranks_times_accumulation(two_ranks):
    class Args:
        per_device_train_batch_size = 16
        gradient_accumulation_steps = 3

    params = Hardware(device="cpu", precision="fp32", distributed=True).run_params(Args())
    assert params == {
        "device": "cpu",
        "precision": "fp32",
        "world_size": 2,
        "per_device_batch_size": 16,
        "effective_batch_size": 96,
    }
    assert Hardware(device="cpu").run_params(Args())["effective_batch_size"] == 48  # not distributed: 1 process


LOSSES = "sentence_transformers.sentence_transformer.losses."


def test_loss_kwargs_reach_every_loss_that_takes_them_and_only_those():
    hardware = Hardware(device="cpu", loss_kwargs={"gather_across_devices": True})
    parts = {
        "mnrl": {"_target_": LOSSES + "MultipleNegativesRankingLoss", "scale": 20.0},
        "cached": {"_target_": LOSSES + "CachedMultipleNegativesRankingLoss"},
        "gist": {"_target_": LOSSES + "GISTEmbedLoss", "guide": {"_target_": "embedlab.models.x.load"}},
        "matryoshka": {
            "_target_": "embedlab.losses.matryoshka.matryoshka",
            "loss": {"_target_": LOSSES + "MultipleNegativesRankingLoss"},
        },
        "cosine": {"_target_": LOSSES + "CosineSimilarityLoss"},
        "chosen": {"_target_": LOSSES + "MultipleNegativesRankingLoss", "gather_across_devices": False},
    }
    out = hardware.configure_losses(parts)
    assert out["mnrl"]["gather_across_devices"] is True and out["mnrl"]["scale"] == 20.0
    assert out["cached"]["gather_across_devices"] is True
    assert out["gist"]["gather_across_devices"] is True and "gather_across_devices" not in out["gist"]["guide"]
    assert out["matryoshka"]["loss"]["gather_across_devices"] is True
    assert "gather_across_devices" not in out["matryoshka"]
    assert "gather_across_devices" not in out["cosine"]
    assert out["chosen"]["gather_across_devices"] is False  # the loss config's own value wins
    assert Hardware(device="cpu").configure_losses(parts) == parts  # single process: nothing added


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_is_bf16_where_supported_with_tf32_and_pinned_memory():
    hardware = Hardware(device="cuda", precision="auto", tf32=True, pin_memory="auto")
    assert hardware.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    assert hardware.pin_memory is True
    hardware.apply()
    assert torch.backends.cuda.matmul.allow_tf32


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_faiss_search_on_the_gpu_matches_the_cpu():
    import numpy as np

    from embedlab.mining.search import gpu_available, search

    if not gpu_available():
        pytest.skip("faiss-gpu is not installed (pip install -e '.[gpu]')")
    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((500, 32)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    _, on_cpu = search(corpus, corpus[:20], k=10, use_gpu=False)
    _, on_gpu = search(corpus, corpus[:20], k=10, use_gpu=True)
    assert (on_cpu == on_gpu).all()


def test_distributed_without_torchrun_is_one_process(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    hardware = Hardware(  # hardware=ddp_cpu, python -m train
        device="cpu", precision="fp32", distributed=True, loss_kwargs={"gather_across_devices": True}
    )
    assert (hardware.distributed, hardware.world_size) == (False, 1)
    assert hardware.training_kwargs()["ddp_backend"] is None  # no process group to initialize
    assert hardware.loss_kwargs == {}  # nothing to gather from: the losses would warn at every step
