"""Where log lines go under Hydra: the filters that conf/hydra/job_logging/embedlab.yaml routes them with.

embedlab's modules log their messages (`logging.getLogger(__name__)`, all under the `embedlab` logger) instead
of printing them, so that the job log `<run dir>/train.log` holds them. On the console they look as they did
when printed: `OwnMessages` sends them, unadorned, to stdout or (errors) stderr; `OtherLoggers` keeps every
other library's lines in Hydra's format. Imports nothing but `logging`: Hydra builds these while it starts a job.
"""

from __future__ import annotations

import logging

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
