"""Log output: one line per record on stderr, as text or as one JSON object.

JSON lines come from python-json-logger, the maintained formatter for the
standard logging package: every record is an object with ``time`` (ISO 8601,
UTC, milliseconds), ``level``, ``logger`` and ``message``, plus whatever the
call passed as ``extra``, the fields of the access log (which formats its
line from one mapping: those become keys), and ``exc_info`` with the traceback
when there is one. Log collectors then read fields, not patterns.

Text lines are what they always were: ``time level logger message``.
"""

from __future__ import annotations

import datetime
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _TextLines(logging.Formatter):
    """The text format, with the time's text made once per second, not per record.

    An access log writes a record per call; formatting its time with
    strftime is a good part of a record's cost.
    """

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging.Formatter's name
        """Return ``YYYY-MM-DD HH:MM:SS,mmm`` in local time, as logging.Formatter does."""
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"


class _JsonLines(JsonFormatter):
    """JSON objects whose first key is the time, in ISO 8601 UTC."""

    def __init__(self) -> None:
        super().__init__(
            ["asctime", "levelname", "name", "message"],
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Add the record's fields, and those of a mapping it was formatted with.

        The access log passes its fields as the one mapping its line is
        formatted with (``"rpc=%(rpc)s …", {"rpc": …}``): here they become keys.
        """
        super().add_fields(log_data, record, message_dict)
        if isinstance(record.args, Mapping):
            log_data.update(record.args)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging.Formatter's name
        """Return the record's time as ISO 8601 in UTC, to the millisecond."""
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return moment.isoformat(timespec="milliseconds")


def configure(level: str, log_format: str) -> None:
    """Send every log record to stderr in the chosen format (text or json).

    Neither format shows a record's thread, process or source line, so
    logging is told not to collect them: the "Optimization" settings of the
    logging HOWTO, which save a few microseconds per record (one access log
    record per call).
    """
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the HOWTO: no sys._getframe() per record
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines() if log_format == "json" else _TextLines())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
