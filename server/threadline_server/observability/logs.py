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
import json
import logging
import sys
import threading
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
        return self._time_text(record.created, int(record.msecs))

    def _time_text(self, created: float, msecs: int) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return f"{self._second_text},{msecs:03d}"

    def access_line(self, name: str, message: str, _fields: Mapping[str, Any]) -> str:
        """Return what format() returns for an INFO record of logger name, made now."""
        created = time.time()
        # What LogRecord computes (gh-89047), for the same milliseconds.
        msecs = int((created - int(created)) * 1000)
        return f"{self._time_text(created, msecs)} INFO {name} {message}"


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

    def access_line(self, name: str, message: str, fields: Mapping[str, Any]) -> str:
        """Return what format() returns for an INFO record of logger name, made now."""
        moment = datetime.datetime.fromtimestamp(time.time(), tz=datetime.UTC)
        line = {
            "time": moment.isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": name,
            "message": message,
        }
        line.update(fields)
        return json.dumps(line, ensure_ascii=False)


# How long an access-log line may wait to be written with the next ones.
ACCESS_FLUSH_SECONDS = 0.05
# The most access-log lines kept before they are written.
_ACCESS_BATCH = 256


class _Lines(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes access-log lines in batches.

    An access-log line per call, each its own write to stderr, was a few
    percent of the server's time under load (a profile: bench/README.md).
    Access-log lines now wait up to ACCESS_FLUSH_SECONDS (or 256 lines) and
    go in one write, by a thread of the handler's own; any other record is
    written at once, after the lines before it, so order is kept. A graceful
    stop writes what waits (logging.shutdown flushes); kill -9 can lose the
    last 50 ms of access lines, never another record.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self._waiting: list[str] = []
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Queue an access-log line; write any other record, and what waits, now."""
        # Handler.handle holds self.lock around emit.
        try:
            self._waiting.append(self.format(record) + self.terminator)
        except Exception:  # noqa: BLE001 - logging's own rule: report, never raise
            self.handleError(record)
            return
        if record.name != "threadline.access":
            self._write()
            return
        self._access_queued()

    def _access_queued(self) -> None:
        """Write a full batch now; else make sure the handler's thread will (lock held)."""
        if len(self._waiting) >= _ACCESS_BATCH:
            self._write()
            return
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_later, name="access log", daemon=True
            )
            self._writer.start()
        if not self._wake.is_set():
            self._wake.set()

    def _write_later(self) -> None:
        """Write the waiting lines ACCESS_FLUSH_SECONDS after the first (the handler's thread)."""
        while True:
            self._wake.wait()
            time.sleep(ACCESS_FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def _write(self) -> None:
        if self._waiting:
            try:
                self.stream.write("".join(self._waiting))
                self.stream.flush()
            finally:
                self._waiting.clear()

    def flush(self) -> None:
        """Write what waits."""
        self.acquire()
        try:
            self._write()
        finally:
            self.release()
        super().flush()


# The handler configure() installed, whose formatter makes access lines itself.
_installed: tuple[_Lines, _TextLines | _JsonLines] | None = None


def write_access_line(logger: logging.Logger, line: str, fields: Mapping[str, Any]) -> bool:
    """Queue an access-log line straight to the handler of configure(); tell whether it did.

    What ``logger.info(line, fields)`` would write, byte for byte (tests
    check), without a LogRecord or the logging machinery's calls, which cost
    the server about 0.04 ms a call end to end (bench/grpc_cost.py, the
    ``log`` and ``log-direct`` variants). Only when nothing else would see
    the record: the logger and those above it have no handler but the
    root's one of configure(), and neither the logger nor the handler has a
    filter (pytest's caplog, or a set-up of someone else's, get the record
    as before: the answer is then False and the caller logs it). The
    caller has checked that the logger is enabled for INFO.
    """
    installed = _installed
    if installed is None or logger.filters:
        return False
    handler, formatter = installed
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if node.handlers or not node.propagate:
            return False
        node = node.parent
    if (
        node is None
        or len(node.handlers) != 1
        or node.handlers[0] is not handler
        or handler.filters
        or handler.level > logging.INFO
        or handler.formatter is not formatter
    ):
        return False
    try:
        text = formatter.access_line(logger.name, line % fields, fields) + handler.terminator
    except Exception:  # noqa: BLE001 - logging's path reports it (handleError); never raise
        return False
    handler.acquire()
    try:
        handler._waiting.append(text)
        handler._access_queued()
    finally:
        handler.release()
    return True


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
    global _installed  # noqa: PLW0603 - the one handler of this process's logging
    handler = _Lines()
    formatter = _JsonLines() if log_format == "json" else _TextLines()
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    _installed = (handler, formatter)
