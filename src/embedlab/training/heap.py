"""Python's cycle collector in a training process: what start-up builds lives until the process ends.

Importing torch, transformers, sentence-transformers and MLflow and loading the model leaves the collector
tracking millions of objects. Every full collection walks all of them: a `python -m train` start-up triggered
nine, 1.4 s in all, and the interpreter's last collection at exit took another ~1.5 s (both measured on this
repository's 2-core machine, with `gc.callbacks` and with the time from the last line printed to the end of the
process). None of these objects is garbage before the run ends, so the collector can leave them alone:

- `pause_collection_during_startup()`: no cycle collection while modules import (they are never freed);
- `collector_skips_existing_objects()`: from the loaded model on, collections walk only newer objects;
- `skip_collection_at_exit()`: the last collection is skipped; the operating system reclaims the memory.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator


def pause_collection_during_startup() -> None:
    """Reference counting still frees everything acyclic; `collector_skips_existing_objects` turns cycle
    collection back on once the model is loaded."""
    gc.disable()


@contextlib.contextmanager
def collector_skips_existing_objects() -> Iterator[None]:
    """Collections inside the block skip every object alive at its start (`gc.freeze`). They are collectable
    again after it, so the runs of one in-process sweep do not pile up."""
    gc.freeze()
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()


def skip_collection_at_exit() -> None:
    """At exit, freeze the heap before the interpreter's final collection walks it. Every other atexit handler
    (MLflow's, torch's, logging's) still runs: freezing only keeps the collector off the objects."""
    atexit.register(gc.freeze)
