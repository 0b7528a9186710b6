"""The log handler writes access-log lines in batches, and every other record at once, in order."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest
from threadline_server.observability import logs

pytestmark = pytest.mark.unit


def _record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)


def test_access_lines_wait_other_records_do_not_and_order_holds():
    handler = logs._Lines()
    stream = io.StringIO()
    handler.setStream(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    try:
        handler.handle(_record("threadline.access", "call 1"))
        handler.handle(_record("threadline.access", "call 2"))
        assert stream.getvalue() == "", "access lines wait to be written together"
        handler.handle(_record("threadline", "started"))
        assert stream.getvalue().splitlines() == [
            "threadline.access call 1",
            "threadline.access call 2",
            "threadline started",
        ]
        handler.handle(_record("threadline.access", "call 3"))
        deadline = time.monotonic() + 5
        while "call 3" not in stream.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        waited = 5 - (deadline - time.monotonic())
        assert stream.getvalue().splitlines()[-1] == "threadline.access call 3"
        assert waited < 1, f"an access line waited {waited:.2f} s"
        for index in range(300):  # a full batch is written without waiting
            handler.handle(_record("threadline.access", f"burst {index}"))
        assert "burst 255" in stream.getvalue()
    finally:
        handler.flush()
        handler.close()


@pytest.fixture
def configured():
    """logs.configure()'s set-up, its handler writing to a StringIO; the old set-up after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logs._installed, logging._srcfile)
    streams = []

    def configure(log_format: str) -> tuple[logs._Lines, io.StringIO]:
        logs.configure("INFO", log_format)
        handler = root.handlers[0]
        assert isinstance(handler, logs._Lines)
        stream = io.StringIO()
        handler.setStream(stream)
        streams.append(handler)
        return handler, stream

    try:
        yield configure
    finally:
        for handler in streams:
            handler.flush()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logs._installed = saved[2]
        logging._srcfile = saved[3]


ACCESS = logging.getLogger("threadline.access")
LINE = "rpc=%(rpc)s code=%(code)s duration_ms=%(duration_ms).2f peer=%(peer)s"
FIELDS = {"rpc": "threadline.v1.ThreadService/GetThread", "code": "OK", "duration_ms": 0.126}


def _both_ways(handler: logs._Lines, stream: io.StringIO, peer: str) -> list[str]:
    """Write one access line straight to the handler, then one through logging."""
    fields = {**FIELDS, "peer": peer}
    assert logs.write_access_line(ACCESS, LINE, fields), "the fast path is taken"
    ACCESS.info(LINE, fields)
    handler.flush()
    return stream.getvalue().splitlines()


def test_an_access_line_written_straight_is_the_line_logging_writes_as_text(configured):
    handler, stream = configured("text")
    straight, logged = _both_ways(handler, stream, "ipv4:127.0.0.1:50000")
    time_text = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.match(time_text, straight), straight
    assert straight.split(" ", 2)[2] == logged.split(" ", 2)[2]
    assert logged.split(" ", 2)[2] == (
        "INFO threadline.access rpc=threadline.v1.ThreadService/GetThread code=OK "
        "duration_ms=0.13 peer=ipv4:127.0.0.1:50000"
    )


def test_an_access_line_written_straight_is_the_line_logging_writes_as_json(configured):
    handler, stream = configured("json")
    # Not ASCII, and a quote: both are written as logging writes them.
    straight, logged = _both_ways(handler, stream, 'unix:/tmp/sö"cket')
    assert re.fullmatch(r"\{\"time\": \"[0-9T:.+-]+\", .*\}", straight), straight
    fast, slow = json.loads(straight), json.loads(logged)
    assert (
        list(fast)
        == list(slow)
        == [
            "time",
            "level",
            "logger",
            "message",
            "rpc",
            "code",
            "duration_ms",
            "peer",
        ]
    )
    del fast["time"], slow["time"]
    assert fast == slow
    assert straight.split('"level"', 1)[1] == logged.split('"level"', 1)[1]


def test_an_access_line_goes_through_logging_when_anything_else_would_see_it(configured, counts):
    handler, stream = configured("text")
    fields = {**FIELDS, "peer": "unix:"}
    other = logging.Handler()
    refused = []
    for change, undo in (
        (
            lambda: logging.getLogger().addHandler(other),
            lambda: logging.getLogger().removeHandler(other),
        ),
        (lambda: ACCESS.addHandler(other), lambda: ACCESS.removeHandler(other)),
        (lambda: ACCESS.addFilter(other), lambda: ACCESS.removeFilter(other)),
        (lambda: handler.addFilter(other), lambda: handler.removeFilter(other)),
        (lambda: handler.setLevel(logging.WARNING), lambda: handler.setLevel(logging.NOTSET)),
        (lambda: setattr(ACCESS, "propagate", False), lambda: setattr(ACCESS, "propagate", True)),
    ):
        change()
        try:
            refused.append(not logs.write_access_line(ACCESS, LINE, fields))
        finally:
            undo()
    counts(f"access lines: the straight path refused {sum(refused)} of {len(refused)} set-ups")
    assert all(refused), refused
    handler.flush()
    assert stream.getvalue() == "", "nothing was written straight"
    logs._installed = None
    assert not logs.write_access_line(ACCESS, LINE, fields), "no handler of configure()"
