"""Where log lines go under Hydra: the filters that conf/hydra/job_logging/embedlab.yaml routes them with.

embedlab's modules log their messages (`logging.getLogger(__name__)`, all under the `embedlab` logger) instead
of printing them, so that the job log `<run dir>/train.log` holds them. On the console they look as they did
when printed: `OwnMessages` sends them, unadorned, to stdout or (errors) stderr; `OtherLoggers` keeps every
other library's lines in Hydra's format. Imports nothing but the standard library: Hydra builds these while it
starts a job.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

OURS = "embedlab"


def is_ours(record: logging.LogRecord) -> bool:
    return record.name == OURS or record.name.startswith(OURS + ".")


class OwnMessages(logging.Filter):
    """Passes embedlab's records: those at ERROR and above (`errors=True`), or those below ERROR (`errors=False`)."""

    def __init__(self, errors: bool) -> None:
        super().__init__()
        self.errors = errors

    def filter(self, record: logging.LogRecord) -> bool:
        return is_ours(record) and (record.levelno >= logging.ERROR) == self.errors


class OtherLoggers(logging.Filter):
    """Passes every record that is not embedlab's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_ours(record)


@contextlib.contextmanager
def also_logged_in(folder: Path) -> Iterator[None]:
    """While the block runs, the job log's lines also go to the file of that name in `folder` (appended): a resumed
    run's own folder, whose `train.log` holds the first part of the run; Hydra's job log is the new command's. A
    chain's stage folder (`<run>/phase1`) has none of its own: the chain's, one folder up, goes on."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not files:
        yield
        return
    name = Path(files[0].baseFilename).name
    log_file = (
        folder.parent / name if not (folder / name).exists() and (folder.parent / name).exists() else folder / name
    )
    if any(log_file.resolve() == Path(h.baseFilename).resolve() for h in files):  # already written (a chain's)
        yield
        return
    handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    handler.setFormatter(files[0].formatter)
    handler.setLevel(files[0].level)
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def to_job_log_only(logger: logging.Logger, message: str, exc_info: BaseException | None = None) -> None:
    """`message` at ERROR into the job log (`<job dir>/train.log`) alone, not the console: a sweep's job that failed
    records why in its own log, while the sweeper reports it once for the sweep (`Trial 3: FAIL (…)`, a grid's
    one `error:` line)."""
    info = (type(exc_info), exc_info, exc_info.__traceback__) if exc_info is not None else None
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, None, info)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
