"""The cycle collector is paused for start-up, skips the loaded model's heap during a run, and is whole after it."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

from embedlab.training.heap import collector_skips_existing_objects
from embedlab_testing import REPO


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the cycle collector frees it


def test_a_run_collects_its_own_garbage_and_leaves_the_collector_as_it_found_it():
    gc.disable()  # as `python -m train` leaves it during start-up
    try:
        before = Node()
        before_ref = weakref.ref(before)
        with collector_skips_existing_objects():
            assert gc.isenabled()
            during = Node()
            during_ref = weakref.ref(during)
            del before, during
            gc.collect()
            assert during_ref() is None  # garbage made during the run is collected
            assert before_ref() is not None  # what existed at its start is left alone
        assert gc.get_freeze_count() == 0  # the next run of an in-process sweep starts from a whole collector
        gc.collect()
        assert before_ref() is None
    finally:
        gc.enable()


def test_exit_freezes_the_heap_and_other_exit_handlers_still_run():
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('handler ran, frozen:', gc.get_freeze_count() > 0))\n"
        "from embedlab.training.heap import skip_collection_at_exit\n"
        "skip_collection_at_exit()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "handler ran, frozen: True"
