"""A stored message is returned without reading its row back: it must be exactly what the row gives.

messages.insert (both stores) no longer uses RETURNING and a parse of the
row; it returns messages.as_stored of what it was given. These tests hold
the shortcut to the row: for messages of every kind of part, odd text and
nested metadata, as_stored equals to_message of the row insert writes (the
same columns, made by the same functions), field for field and byte for
byte, and unknown fields a newer client sent are dropped as the row drops
them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf import struct_pb2
from threadline.v1 import message_pb2
from threadline_server.store.sqlite import messages

pytestmark = pytest.mark.unit


def _row(message: message_pb2.Message) -> sqlite3.Row:
    """Return the row insert writes for a message, read back as the store reads it."""
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    row = connection.execute(
        "SELECT 7 AS pk, ? AS message_id, ? AS role, ? AS parts, ? AS metadata, "
        "? AS run_id, ? AS created_at, ? AS updated_at",
        (
            message.message_id,
            message.role,
            messages._parts_json(message),
            messages._metadata_json(message),
            message.run_id,
            message.created_at.ToMicroseconds(),
            message.updated_at.ToMicroseconds(),
        ),
    ).fetchone()
    connection.close()
    assert isinstance(row, sqlite3.Row)
    return row


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def _messages() -> list[message_pb2.Message]:
    """Messages of every kind of part, as the domain builds them before insert."""
    text = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER,
        parts=[
            message_pb2.Part(text="a short message"),
            message_pb2.Part(text='quotes " \\ \u2028 é 𝄞 \x00 and <tags>'),
            message_pb2.Part(text=""),
        ],
    )
    tool_call = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_AGENT,
        run_id="run_01",
        parts=[
            message_pb2.Part(
                tool_call=message_pb2.ToolCall(
                    id="call_1",
                    name="search",
                    arguments=_struct({"q": "x", "n": 3, "f": 0.5, "deep": {"list": [1, None]}}),
                )
            )
        ],
        metadata=_struct({"source": "test", "count": 2, "nested": {"a": [True, "b"]}}),
    )
    tool_result = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_TOOL,
        parts=[
            message_pb2.Part(
                tool_result=message_pb2.ToolResult(
                    tool_call_id="call_1", json=struct_pb2.Value(number_value=-0.0), is_error=True
                )
            ),
            message_pb2.Part(tool_result=message_pb2.ToolResult(tool_call_id="c", text="done")),
        ],
    )
    media = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_SYSTEM,
        parts=[
            message_pb2.Part(
                media=message_pb2.Media(
                    uri="https://example.com/a.png", mime_type="image/png", size_bytes=2**40
                )
            )
        ],
    )
    built = []
    for number, message in enumerate((text, tool_call, tool_result, media)):
        message.message_id = f"msg_{number:026d}"
        message.thread_id = "thr_x"
        message.metadata.SetInParent()
        message.created_at.FromMicroseconds(1_700_000_000_123_456 + number)
        message.updated_at.FromMicroseconds(1_700_000_000_123_456 + number)
        built.append(message)
    return built


def test_as_stored_is_what_the_row_gives_back(counts: Callable[[str], None]) -> None:
    """Field for field and byte for byte, for every kind of part."""
    compared = 0
    for message in _messages():
        from_row = messages.to_message(_row(message), "thr_x")
        stored = messages.as_stored(message, "thr_x")
        assert stored == from_row
        assert stored.SerializeToString(deterministic=True) == from_row.SerializeToString(
            deterministic=True
        )
        compared += 1
    counts(f"message rows: {compared} messages, as_stored equal to the row read back")
    assert compared == 4


def test_as_stored_drops_unknown_fields_as_the_row_does() -> None:
    """A field this server does not know (a newer client's) is not echoed back or put in events."""
    message = _messages()[0]
    unknown = message.SerializeToString() + b"\xf8\x3e\x01"  # field 999, varint 1
    sent = message_pb2.Message.FromString(unknown)
    assert sent.SerializeToString() != message.SerializeToString()  # it carries the field
    stored = messages.as_stored(sent, "thr_x")
    assert stored.SerializeToString(deterministic=True) == messages.to_message(
        _row(sent), "thr_x"
    ).SerializeToString(deterministic=True)
    assert stored.SerializeToString() == message.SerializeToString()
