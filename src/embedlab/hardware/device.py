"""Where and in which precision a run trains."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from embedlab.errors import UserError

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class Hardware:
    """A hardware preset, resolved against what this machine has.

    Args:
        device: auto | cpu | cuda | mps; auto picks cuda, then mps, then cpu.
        precision: auto | fp32 | bf16 | fp16; auto is bf16 where the GPU supports it, else fp16 on cuda, else fp32.
        tf32: allow TF32 matmuls on Ampere+ GPUs.
        pin_memory: pin dataloader memory; auto = on for cuda.
        dataloader_workers: dataloader worker processes.
        compile: wrap the model with torch.compile (opt-in).
        threads: torch intra-op threads; auto = the cores this process may use.
        distributed: expect a torchrun launch (DDP); gloo on CPU, nccl on cuda.
    """

    device: str = "auto"
    precision: str = "auto"
    tf32: bool = False
    pin_memory: bool | str = "auto"
    dataloader_workers: int = 0
    compile: bool = False
    threads: int | str = "auto"
    distributed: bool = False

    def __post_init__(self) -> None:
        import torch

        if self.device not in DEVICES:
            raise UserError(f"hardware.device={self.device} is unknown; expected one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise UserError(f"hardware.precision={self.precision} is unknown; expected one of {', '.join(PRECISIONS)}")
        if self.device == "auto":
            mps = getattr(torch.backends, "mps", None)
            self.device = "cuda" if torch.cuda.is_available() else "mps" if mps and mps.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise UserError("hardware=cuda but torch sees no CUDA device; expected a GPU (or use hardware=cpu)")
        if self.precision == "auto":
            if self.device == "cuda":
                self.precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            else:
                self.precision = "fp32"
        if self.pin_memory == "auto":
            self.pin_memory = self.device == "cuda"
        if self.threads == "auto":
            self.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    def apply(self) -> None:
        """Process-wide torch settings."""
        import torch

        torch.set_num_threads(int(self.threads))
        if self.device == "cuda" and self.tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

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

    def describe(self) -> dict[str, Any]:
        return {"device": self.device, "precision": self.precision, "threads": self.threads}
