"""The read path's row conversions, made faster, give exactly what the library calls gave.

store/sqlite/messages.py reads a stored JSON column with the C scanner
instead of json.loads, and store/sqlite/threads.py sets timestamps without
FromMicroseconds (bench/README.md: ListMessages converts forty timestamps a
page). Each is compared here with the call it replaced, over values that
try its edges.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import timestamp_pb2
from threadline_server.store.sqlite import messages, threads

# Before the epoch, at it, a microsecond either side, a second's edges, now, far ahead.
MICROS = (
    -62_135_596_800_000_000,
    -1_000_001,
    -1,
    0,
    1,
    999_999,
    1_000_000,
    1_764_684_000_123_456,
    253_402_300_799_999_999,
)


@pytest.mark.unit
def test_set_time_equals_from_microseconds():
    for micros in MICROS:
        expected, got = timestamp_pb2.Timestamp(), timestamp_pb2.Timestamp()
        expected.FromMicroseconds(micros)
        threads.set_time(got, micros)
        assert got == expected, micros


@pytest.mark.unit
def test_loads_equals_json_loads_and_fails_as_it_does():
    good = (
        '[{"text":"hello"}]',
        ' [{"text":"with space before"}]',
        '[{"text":"and after"}] ',
        '[{"text":"\\u00e9\\ud83d\\ude00 escapes"},{"data":{"a":[1,2.5,null,true]}}]',
        "[]",
        "{}",
    )
    for text in good:
        assert messages._loads(text) == json.loads(text), text
    bad = ('[{"text":"x"}] trailing', "", "[", "nope")
    for text in bad:
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
        with pytest.raises(json.JSONDecodeError):
            messages._loads(text)


@pytest.mark.unit
def test_a_message_row_converts_as_before():
    # Any: a plain dict stands in for the sqlite3.Row the store reads.
    row: Any = {
        "pk": 7,
        "message_id": "m-1",
        "role": 1,
        "parts": json.dumps([{"text": "hi"}, {"tool_call": {"id": "c-1", "name": "search"}}]),
        "metadata": '{"a":1}',
        "run_id": "r-1",
        "created_at": 1_764_684_000_123_456,
        "updated_at": 1_764_684_001_000_000,
    }
    message = messages.to_message(row, "t-1")
    created = timestamp_pb2.Timestamp()
    created.FromMicroseconds(row["created_at"])
    assert message.created_at == created
    assert message.updated_at.seconds == 1_764_684_001
    assert message.updated_at.nanos == 0
    assert [part.WhichOneof("kind") for part in message.parts] == ["text", "tool_call"]
    assert message.parts[0].text == "hi"
    assert message.metadata["a"] == 1
    assert (message.thread_id, message.message_id, message.run_id) == ("t-1", "m-1", "r-1")
