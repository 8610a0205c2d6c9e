"""Where and in which precision a run trains, on one process or as one rank of a torchrun (DDP) launch."""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedlab.errors import UserError
from embedlab.hardware import ranks

log = logging.getLogger(__name__)

# the choices of hardware.device and hardware.precision: the schema (embedlab.schema.groups) checks them, from here
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a SLURM allocation), not the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cores_per_rank(ranks_here: int) -> int:
    """The cores each of the `ranks_here` processes torchrun starts on this machine may use (at least 1)."""
    return max(1, usable_cores() // ranks_here)


def cpu_has_fast_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 matmuls in hardware: AMX (`amx_bf16`) or AVX512-BF16 (`avx512_bf16`).

    Without them (e.g. AVX2-only CPUs) torch emulates bf16 and autocast is several times slower than fp32.
    Reads the Linux flags; elsewhere asks torch (which checks the same CPUID bits).
    """
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith("flags"):
                return bool({"amx_bf16", "avx512_bf16"} & set(line.split(":", 1)[1].split()))
    except OSError:
        pass
    import torch

    # Private: torch has no public "bf16 in hardware" query (torch.backends.cpu.get_cpu_capability() names the
    # vector ISA, not bf16 support). Used only where /proc/cpuinfo cannot be read; tests/hardware/test_device.py
    # fails loudly if a torch release renames these.
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def encoding_autocast(device: str, precision: str) -> contextlib.AbstractContextManager:
    """The context every encode runs under: bf16 autocast when `precision` is bf16, else nothing.

    Weights stay fp32 (autocast casts each matmul's inputs), so `precision=fp32` is the exact fp32 path and a
    bf16 run's checkpoints are fp32 files.
    """
    if precision != "bf16":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cuda" if device == "cuda" else "cpu", dtype=torch.bfloat16)


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


@dataclass
class Hardware:
    """A hardware preset, resolved against what this machine has.

    Args:
        device: auto | cpu | cuda | mps; auto picks cuda, then mps, then cpu.
        precision: auto | fp32 | bf16 | fp16; auto is bf16 where the GPU supports it, else fp16 on cuda; on the
            CPU bf16 where it has AMX or AVX512-BF16 (`cpu_has_fast_bf16`), else fp32; fp32 on mps. bf16 is
            mixed precision: fp32 weights, training and every encode under torch autocast.
        tf32: allow TF32 matmuls on Ampere+ GPUs.
        pin_memory: pin dataloader memory; auto = on for cuda.
        dataloader_workers: dataloader worker processes.
        compile: wrap the model with torch.compile (opt-in).
        threads: torch intra-op threads; auto = the cores this process may use, shared among the ranks on
            this machine.
        distributed: expect a torchrun launch (DDP); gloo on CPU, nccl on cuda. Each rank uses the GPU of its
            LOCAL_RANK. Without torchrun it is a single process (world size 1): `distributed` is then false,
            and one line says so.
        loss_kwargs: arguments given to every loss that accepts them, unless the loss config sets them itself;
            e.g. `gather_across_devices: true` makes the MNRL family (MNRL, CachedMNRL, GIST, ...) take
            in-batch negatives from all ranks.
    """

    device: str = "auto"
    precision: str = "auto"
    tf32: bool = False
    pin_memory: bool | str = "auto"
    dataloader_workers: int = 0
    compile: bool = False
    threads: int | str = "auto"
    distributed: bool = False
    loss_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import torch

        if self.distributed and not ranks.launched_by_torchrun():
            log.warning("hardware.distributed=true without torchrun: training as one process (world size 1)")
            self.distributed = False
            # nothing to gather from: sentence-transformers would warn at every step that it cannot
            self.loss_kwargs = {k: v for k, v in self.loss_kwargs.items() if k != "gather_across_devices"}

        if self.device == "auto":
            self.device = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
        if self.device == "cuda":
            self._check_cuda(torch)
        if self.device == "mps" and not _mps_available():
            raise UserError("hardware.device=mps but torch sees no MPS device (Apple GPU); use hardware=cpu or auto")
        if self.precision == "auto":
            if self.device == "cuda":
                self.precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            elif self.device == "cpu":
                self.precision = "bf16" if cpu_has_fast_bf16() else "fp32"
            else:
                self.precision = "fp32"
        if self.precision == "fp16" and self.device != "cuda":
            raise UserError(
                f"hardware.precision=fp16 needs hardware.device=cuda (got {self.device}); expected "
                "hardware.precision=bf16, fp32 or auto"
            )
        if self.pin_memory == "auto":
            self.pin_memory = self.device == "cuda"
        if self.threads == "auto":
            self.threads = cores_per_rank(ranks.local_world_size() if self.distributed else 1)

    def _check_cuda(self, torch) -> None:
        if not torch.cuda.is_available():
            raise UserError("hardware.device=cuda but torch sees no CUDA device; expected a GPU (or use hardware=cpu)")
        if self.distributed and ranks.local_rank() >= torch.cuda.device_count():
            raise UserError(
                f"hardware.device=cuda: rank {ranks.rank()} needs GPU {ranks.local_rank()} but this machine has "
                f"{torch.cuda.device_count()}; expected torchrun --nproc_per_node <= {torch.cuda.device_count()}"
            )

    @property
    def world_size(self) -> int:
        return ranks.world_size() if self.distributed else 1

    def apply(self) -> None:
        """Process-wide torch settings."""
        import torch

        torch.set_num_threads(int(self.threads))
        if self.device == "cuda":
            if self.distributed:
                torch.cuda.set_device(ranks.local_rank())  # "cuda" is now this rank's GPU, for the model too
            if self.tf32:
                torch.backends.cuda.matmul.allow_tf32 = True
                torch.backends.cudnn.allow_tf32 = True

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for encoding outside the trainer (test evaluation, mining): see `encoding_autocast`."""
        return encoding_autocast(self.device, self.precision)

    def training_kwargs(self) -> dict[str, Any]:
        """The matching SentenceTransformerTrainingArguments fields."""
        return {
            "use_cpu": self.device == "cpu",
            "bf16": self.precision == "bf16",
            "fp16": self.precision == "fp16",
            "dataloader_pin_memory": bool(self.pin_memory),
            "dataloader_num_workers": int(self.dataloader_workers),
            "torch_compile": bool(self.compile),
            "ddp_backend": ("nccl" if self.device == "cuda" else "gloo") if self.distributed else None,
        }

    def configure_losses(self, parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Loss configs (part name -> config) with `loss_kwargs` added to every loss that takes them.

        A loss takes an argument when its `_target_`'s signature names it; wrappers are searched too (the
        `loss:` that MatryoshkaLoss wraps). A value the loss config sets itself is kept.
        """
        return {name: _with_kwargs(cfg, self.loss_kwargs) for name, cfg in parts.items()}

    def run_params(self, args) -> dict[str, Any]:
        """MLflow params of every run: what the device, precision and batch sizes resolved to."""
        per_device = int(args.per_device_train_batch_size)
        return {
            "device": self.device,
            "precision": self.precision,
            "world_size": self.world_size,
            "per_device_batch_size": per_device,
            "effective_batch_size": per_device * self.world_size * int(args.gradient_accumulation_steps),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "distributed": self.distributed,
            "world_size": self.world_size,
            "loss_kwargs": self.loss_kwargs,
        }


def _accepts(target: str, name: str) -> bool:
    from embedlab.config import ALLOWED_TARGETS

    if not target.startswith(ALLOWED_TARGETS):  # build() rejects it later, with the config path
        return False
    from hydra.utils import get_object

    try:
        return name in inspect.signature(get_object(target)).parameters
    except (ImportError, ValueError, TypeError):
        return False


def _with_kwargs(node: Any, kwargs: dict[str, Any]) -> Any:
    if not kwargs or not isinstance(node, dict):
        return node
    out = {key: _with_kwargs(value, kwargs) if key == "loss" else value for key, value in node.items()}
    target = node.get("_target_")
    if isinstance(target, str):
        out.update({k: v for k, v in kwargs.items() if k not in node and _accepts(target, k)})
    return out
