"""Run folders: every run gets its own, none is written by two processes, none replaces an earlier run's model.

* `${unique_folder:<path>}` (conf/train.yaml's `hydra.run.dir` and `hydra.sweep.dir`) creates the folder with
  `os.mkdir`, which fails when the folder exists; then it tries `<path>-1`, `<path>-2`, ... So two runs started
  in the same second get two folders, whatever the clock says. Under torchrun rank 0 creates it and the other
  ranks take its answer (`embedlab.hardware.launch.decided_by_rank_0`; the path holds `${launch_time:...}`,
  rank 0's clock, so it is the same in every rank). The answer is kept per command and path, and OmegaConf
  caches it in the config, which Hydra copies into each job's config (joblib pickles it with the config), so a
  run or sweep that reads its folder again gets the same one.
* `check_new_run_folder`: a run that is not a resume refuses a folder that already holds an earlier run's kept
  model (`best/`) or checkpoints (an explicit `hydra.run.dir` given twice), before any work and before Hydra
  writes into it (`RefuseUsedRunFolder`).
* `held_run_folder`: the process that trains into a folder holds a lock on it (`.run.lock`, `flock`), which the
  system drops when the process ends, however it ends; a second process (two resumes of one run) is refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from embedlab.errors import UserError, user_errors_exit

LOCK_FILE = ".run.lock"
EARLIER_WORK = ("best", "checkpoints")  # what a run leaves that a new run in the same folder would overwrite
_claimed: dict[str, str] = {}  # path asked for -> folder claimed, by this command


def claim_folder(path: str) -> str:
    """Create `path`, or the first of `path-1`, `path-2`, ... that does not exist yet; return its name."""
    base = Path(path)
    number = 0
    while True:
        candidate = base if number == 0 else base.with_name(f"{base.name}-{number}")
        try:
            candidate.mkdir(parents=True)  # its parents too: a refused command removes them when it left them empty
        except FileExistsError:
            number += 1
        except FileNotFoundError:  # a parent removed by a refused command between two of mkdir's steps: again
            continue
        else:
            return str(candidate)


def launch_stamp(pattern: str = "%m%d-%H%M%S", folder: str | None = None) -> str:
    """`1206-093015`: when this command started (`${launch_time:...}`, the clock its folder is named by), and
    `1206-093015-1` when its folder is that second's second one (`claim_folder` added `-1`). Run, chain and grid
    names end with it: two commands started in the same second get two names, as they get two folders. `folder`:
    the claimed folder to take the suffix from (a grid's sweep folder); by default the one this command claimed.

    A process that claimed no folder (a job in a launcher's worker, which gets its folder with its config) reads
    the clock now: a worker runs many jobs, and its launch time is its first job's."""
    from embedlab.hardware.launch import launch_time

    claimed = {p: final for p, final in _claimed.items() if folder is None or final == folder}
    if not claimed:
        return time.strftime(pattern)
    suffixes = [Path(final).name[len(Path(path).name) :] for path, final in claimed.items()]
    return launch_time(pattern) + max(suffixes, key=len)


HYDRA_LEFTOVERS = {".hydra", "train.log", "multirun.yaml"}  # what Hydra writes into a run's or sweep's folder
# before its first line or job
_working: set[Path] = set()  # folders of this command where a run has started (`work_started`)


def work_started(folder: Path) -> None:
    """From here on a run records into `folder` (its MLflow run names it): a refusal no longer discards it."""
    _working.add(folder.resolve())


def discard_refused_folder(folder: Path) -> None:
    """Remove the folder this command claimed for a single run that was refused before its work started (a mistyped
    value, a file it cannot read, a `resume=` with nothing to resume), when it holds only what Hydra wrote into
    it: the error line says all of it, and `outputs/` would fill with a folder per refusal. A folder the user
    named (`hydra.run.dir=...`), one where a run started (`work_started`), or one holding anything else, stays."""
    if not folder.is_dir() or folder.resolve() in _working:
        return
    asked = next(
        (Path(path) for path, claimed in _claimed.items() if Path(claimed).resolve() == folder.resolve()), None
    )
    if asked is None:  # not a folder this command claimed
        return
    if {entry.name for entry in folder.iterdir()} <= HYDRA_LEFTOVERS:
        shutil.rmtree(folder, ignore_errors=True)
        for parent in [] if asked.is_absolute() else list(asked.parents)[:-1]:  # outputs/<date>, outputs: if empty
            try:
                parent.rmdir()
            except OSError:  # not empty (another run's folder), or gone
                break


@contextlib.contextmanager
def discarded_when_refused() -> Iterator[None]:
    """A command refused in one line (exit 2) removes each folder it claimed that holds only what Hydra wrote into
    it (`discard_refused_folder`): a refused run leaves no `outputs/<date>/<time>/`, a refused sweep (`-m`) no
    `multirun/<date>/<time>/`. A sweep whose jobs ran keeps its folder: it holds theirs."""
    try:
        yield
    except SystemExit as exc:
        if exc.code == 2:
            for folder in list(_claimed.values()):
                discard_refused_folder(Path(folder))
        raise


def unique_folder(path: str) -> str:
    """The resolver `${unique_folder:<path>}`: a folder no other run has, the same for all ranks of a torchrun.

    Asked again for the same path by the same command (Hydra reads `hydra.sweep.dir` once per batch of jobs, and
    from more than one copy of the config), it answers the same folder."""
    from embedlab.hardware.launch import decided_by_rank_0

    if path not in _claimed:
        _claimed[path] = decided_by_rank_0(f"folder/{path}", lambda: claim_folder(path))
    return _claimed[path]


def register_run_folders() -> None:
    """Register `${launch_time:...}` and `${unique_folder:...}` (conf/train.yaml's `hydra.run.dir` and
    `hydra.sweep.dir`). Called as a command starts: its clock is read anew and it has claimed no folder yet (the
    tests run `python -m train` many times in one process)."""
    from embedlab.hardware.launch import launch_datetime, launch_time

    launch_datetime.cache_clear()
    _claimed.clear()
    if not OmegaConf.has_resolver("launch_time"):
        OmegaConf.register_new_resolver("launch_time", launch_time, use_cache=True)
    if not OmegaConf.has_resolver("unique_folder"):
        OmegaConf.register_new_resolver("unique_folder", unique_folder, use_cache=True)


def resume_requested(resume: Any) -> bool:
    """Whether `resume` asks for a resume: true or a run id (false, null and the string "false" do not)."""
    return resume not in (None, False, "false")


def resume_newest(resume: Any) -> bool:
    """Whether `resume` asks for the newest unfinished run of this config (`resume=true`), not a run by its id."""
    return resume is True or str(resume).lower() == "true"


def check_new_run_folder(run_dir: Path, cfg: DictConfig) -> None:
    """One line if a new run's folder (or, for a chain, a stage's) holds an earlier run's kept model or checkpoints.
    A resume (`resume=true|<run id>`) continues in its run's own folder and is not checked here."""
    if resume_requested(cfg.get("resume")):
        return
    stages = list(cfg.phase.stages) if "stages" in cfg.get("phase", {}) else []
    for folder in [run_dir, *(run_dir / name for name in stages)]:
        found = [name for name in EARLIER_WORK if (folder / name).is_dir() and any((folder / name).iterdir())]
        if found:
            raise UserError(
                f"the run folder {folder} already holds an earlier run's {' and '.join(f'{n}/' for n in found)}; "
                "expected a new folder (another hydra.run.dir, or none for a new one under outputs/), "
                "or resume=true / resume=<run id> to continue the run that made it"
            )


@contextlib.contextmanager
def held_run_folder(folder: Path) -> Iterator[Path]:
    """Hold `folder` for this process while the block runs; one line if another live process holds it."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a+", encoding="utf-8") as lock:
        lock_or_refuse(folder, lock)
        lock.truncate(0)
        lock.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        lock.flush()
        try:
            yield folder
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class RefuseUsedRunFolder(Callback):
    """`check_new_run_folder` for a single run as Hydra starts it, before Hydra writes its `.hydra/` record into
    the folder (conf/train.yaml's `hydra.callbacks`). Jobs of a multirun are checked by `embedlab.job.run_job`."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with user_errors_exit():  # Hydra turns a callback's exception into a warning and goes on: not this one
            folder = Path(str(OmegaConf.select(config, "hydra.run.dir")))
            check_usable_folder(folder)
            check_not_held(folder)  # before Hydra rewrites .hydra/ of a run that is still training there
            check_new_run_folder(folder, config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """A sweep's folder takes Hydra's `multirun.yaml` first, before any job: one line if it takes no file."""
        with user_errors_exit():
            check_usable_folder(Path(str(OmegaConf.select(config, "hydra.sweep.dir"))), "hydra.sweep.dir")


def check_usable_folder(folder: Path, key: str = "hydra.run.dir") -> None:
    """One line if the folder cannot be created, or exists and takes no file (a file of that name, a read-only
    folder or file system, a virtual one): tried by writing a temporary file into it, or, while it does not exist,
    into the nearest folder above it, where it would be made (a refused command leaves no folder behind)."""
    import errno
    import tempfile

    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        if not probe.is_dir():
            raise OSError(errno.ENOTDIR, f"{probe} is a file, not a folder")
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise UserError(
            f"{key}={folder} cannot be used as a {'sweep' if 'sweep' in key else 'run'} folder "
            f"({exc.strerror or exc}); "
            "expected a folder that can be created and written"
        ) from None


def check_not_held(folder: Path) -> None:
    """One line if a live process holds `folder` (see `held_run_folder`); the lock is only probed, not kept."""
    import fcntl

    if not (folder / LOCK_FILE).exists():
        return
    with open(folder / LOCK_FILE, encoding="utf-8") as lock:
        lock_or_refuse(folder, lock)
        fcntl.flock(lock, fcntl.LOCK_UN)


def lock_or_refuse(folder: Path, lock) -> None:
    """Take the run folder's lock (open as `lock`), or one line naming the live process that holds it."""
    take_lock_or_refuse(
        lock,
        lambda owner: (
            f"the run folder {folder} is in use by {owner}; expected that run to end first "
            "(or another folder for a new run)"
        ),
    )


def take_lock_or_refuse(lock, refusal: Callable[[str], str]) -> None:
    """An exclusive `flock` on the open file `lock` (released by the OS when the process ends), or one line,
    `refusal(owner)`, where owner is what the process holding it wrote in the file."""
    import fcntl

    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        raise UserError(refusal(lock.read().strip() or "another process")) from None
