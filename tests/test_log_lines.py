"""The log handler writes access-log lines in batches, and every other record at once, in order."""

from __future__ import annotations

import io
import logging
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
