"""Which process of a torchrun launch this is.

Every rank trains (DDP needs them all); rank 0 alone writes the outputs and the one MLflow run. The rank comes
from the environment torchrun sets (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`), so these helpers
answer before any process group exists and without importing torch.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def world_size() -> int:
    """Processes in the launch; 1 outside torchrun."""
    return _env_int("WORLD_SIZE", 1)


def rank() -> int:
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's index on its machine: the GPU it uses."""
    return _env_int("LOCAL_RANK", 0)


def local_world_size() -> int:
    """Processes of this launch on this machine: they share its cores."""
    return _env_int("LOCAL_WORLD_SIZE", 1)


def is_main_process() -> bool:
    """True for rank 0, the one process that writes outputs and tracks the run."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    """True in a process that torchrun started (it sets the ranks' environment); False for `python -m train`."""
    return all(name in os.environ for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
