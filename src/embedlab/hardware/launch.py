"""`${launch_time:%H-%M-%S}`: the time a run was launched, the same in every rank of a torchrun launch.

Hydra's `${now:...}` is read by each process when it starts, and the ranks of one torchrun launch start a
moment apart: near a second boundary they would name different output folders. The distributed hardware
run folders (conf/train.yaml) are named with `${launch_time:...}` instead. Outside torchrun it is `now`. Under torchrun, rank 0 reads the clock and publishes it in the launch's rendezvous store (the
TCPStore torchrun already runs at MASTER_ADDR:MASTER_PORT); the other ranks wait for it there. The folder
itself is created by rank 0 alone (`${unique_folder:...}`, embedlab/folders.py), whose name the other ranks take
from the same store (`decided_by_rank_0`).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta

from embedlab.hardware import ranks

STORE_TIMEOUT = timedelta(minutes=5)  # ranks start within seconds; a rank 0 that never comes fails the launch


@functools.cache
def _rendezvous_store():
    """A client of the launch's TCPStore (hosted by torchrun's agent, or by rank 0 as init_process_group does)."""
    from torch.distributed import TCPStore

    agent_hosts_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    return TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        world_size=ranks.world_size(),
        is_master=not agent_hosts_store and ranks.is_main_process(),
        timeout=STORE_TIMEOUT,
        wait_for_workers=False,
        multi_tenant=True,  # init_process_group later reuses this server on rank 0
    )


def decided_by_rank_0(name: str, decide: Callable[[], str]) -> str:
    """`decide()` in this process; under torchrun on rank 0 only, whose answer the other ranks wait for in the
    launch's rendezvous store (a restarted launch decides again)."""
    if ranks.world_size() == 1 or "MASTER_ADDR" not in os.environ:
        return decide()
    store = _rendezvous_store()
    key = f"embedlab/{name}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    if ranks.is_main_process():
        store.set(key, decide())
    return store.get(key).decode()


@functools.cache
def launch_datetime() -> datetime:
    """Now, or under torchrun rank 0's now, read once per process."""
    now = lambda: datetime.now().replace(microsecond=0).isoformat()  # noqa: E731
    return datetime.fromisoformat(decided_by_rank_0("launch_time", now))


def launch_time(pattern: str) -> str:
    return launch_datetime().strftime(pattern)


def silence_launcher_schema_warning() -> None:
    """`conf/hydra/launcher/{joblib,submitit_slurm,ray}.yaml` carry the plugins' own names, so that the usual
    `hydra/launcher=joblib` picks our documented defaults. Where the plugin is installed, Hydra checks our file
    against the plugin's schema of the same name (good: a wrong key fails) and warns that this matching is
    deprecated; that warning alone is silenced."""
    warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/\w+' is validated against ConfigStore schema")
