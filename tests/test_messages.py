"""MessageService against the real in-process server over a real SQLite file.

Every test asserts what the proto comments in protos/threadline/v1/message.proto
document, and every rejected call is followed by a read that proves it wrote
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2, timestamp_pb2
from threadline.v1 import message_pb2, thread_pb2

from tests.conftest import expect_failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
SERVER_MESSAGE_ID = re.compile(r"msg_[0-9a-z]{26}")
UNKNOWN_THREAD = "thr_0000000000000000000000zzzz"
UNKNOWN_MESSAGE = "msg_0000000000000000000000zzzz"

USER = message_pb2.MESSAGE_ROLE_USER
AGENT = message_pb2.MESSAGE_ROLE_AGENT
SYSTEM = message_pb2.MESSAGE_ROLE_SYSTEM
TOOL = message_pb2.MESSAGE_ROLE_TOOL


# -- helpers -----------------------------------------------------------------


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """Return a Struct holding a plain JSON object."""
    result = struct_pb2.Struct()
    result.update(values)
    return result


def value(plain: Any) -> struct_pb2.Value:
    """Return a Value holding any plain JSON value."""
    result = struct_pb2.Value()
    json_format.ParseDict(plain, result)
    return result


def as_json(message: struct_pb2.Struct | struct_pb2.Value) -> Any:
    """Return a Struct or Value as plain Python values."""
    return json_format.MessageToDict(message)


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    """Return a FieldMask of the given paths."""
    return field_mask_pb2.FieldMask(paths=list(paths))


def micros(stamp: timestamp_pb2.Timestamp) -> int:
    """Return a Timestamp in microseconds since the epoch."""
    return stamp.ToMicroseconds()


def no_kind_struct() -> struct_pb2.Struct:
    """Return a Struct with a Value that has no kind set: not JSON."""
    result = struct_pb2.Struct()
    result.fields["broken"].CopyFrom(struct_pb2.Value())
    return result


def nan_struct() -> struct_pb2.Struct:
    """Return a Struct holding NaN, which is not JSON."""
    result = struct_pb2.Struct()
    result.fields["n"].number_value = math.nan
    return result


def text(content: str) -> message_pb2.Part:
    """Return a text part."""
    return message_pb2.Part(text=content)


def encoded(payload: str) -> str:
    """Return text as an unpadded base64url string, like the server's tokens."""
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


async def new_thread(client, thread_id: str = "", **fields: Any) -> thread_pb2.Thread:
    """Create a thread."""
    created: thread_pb2.Thread = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(**fields), thread_id=thread_id)
    )
    return created


async def get_thread(client, thread_id: str) -> thread_pb2.Thread:
    """Read a thread (BASIC view)."""
    thread: thread_pb2.Thread = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id)
    )
    return thread


async def post(client, thread_id: str, message: message_pb2.Message) -> message_pb2.Message:
    """Append a message."""
    created: message_pb2.Message = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=message)
    )
    return created


async def say(client, thread_id: str, content: str, role: int = USER) -> message_pb2.Message:
    """Append a one-part text message."""
    return await post(
        client,
        thread_id,
        message_pb2.Message(role=role, parts=[text(content)]),  # type: ignore[arg-type]
    )


async def page(client, thread_id: str, **fields: Any) -> message_pb2.ListMessagesResponse:
    """Return one page of a thread's messages."""
    response: message_pb2.ListMessagesResponse = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread_id, **fields)
    )
    return response


async def texts(client, thread_id: str, order_by: str = "") -> list[str]:
    """Return the first part's text of every message, in the order asked for."""
    response = await page(client, thread_id, page_size=100, order_by=order_by)
    assert response.next_page_token == ""
    return [m.parts[0].text for m in response.messages]


async def walk(client, thread_id: str, page_size: int, order_by: str = "") -> list[list[str]]:
    """Walk every page; return each page's texts."""
    pages: list[list[str]] = []
    token = ""
    for _ in range(100):
        response = await page(
            client, thread_id, page_size=page_size, page_token=token, order_by=order_by
        )
        pages.append([m.parts[0].text for m in response.messages])
        token = response.next_page_token
        if not token:
            return pages
    raise AssertionError("listing did not end")


# -- CreateMessage and GetMessage ----------------------------------------------

TOOL_ARGUMENTS: dict[str, Any] = {
    "query": "weather in Paris",
    "limit": 5,
    "ratio": 0.25,
    "exact": False,
    "cursor": None,
    "units": ["metric", "kelvin"],
    "filters": {"since": "2024-01-01", "nested": {"deep": [1, {"x": True}]}},
}

EVERY_KIND = message_pb2.Message(
    role=AGENT,
    parts=[
        text("Let me look that up."),
        message_pb2.Part(
            tool_call=message_pb2.ToolCall(
                id="call_1", name="search", arguments=struct(TOOL_ARGUMENTS)
            )
        ),
        message_pb2.Part(tool_call=message_pb2.ToolCall(id="call_2", name="no_arguments")),
        message_pb2.Part(
            tool_result=message_pb2.ToolResult(
                tool_call_id="call_1", json=value({"temp": 21.5, "sky": "clear", "alerts": []})
            )
        ),
        message_pb2.Part(
            tool_result=message_pb2.ToolResult(
                tool_call_id="call_2", text="service unavailable", is_error=True
            )
        ),
        message_pb2.Part(
            media=message_pb2.Media(
                uri="https://example.com/cat.png",
                mime_type="image/png",
                name="cat.png",
                size_bytes=123_456_789_012,
            )
        ),
        message_pb2.Part(
            media=message_pb2.Media(uri="s3://bucket/key.pdf", mime_type="application/pdf")
        ),
        message_pb2.Part(
            media=message_pb2.Media(
                uri="data:text/plain;base64,aGk=", mime_type="text/plain; charset=utf-8"
            )
        ),
        text('Done ✓ — «unicode» "quotes" \n newline'),
    ],
    metadata=struct({"source": "test", "n": 1, "ok": True, "none": None, "deep": {"a": [1]}}),
)


async def test_create_message_with_every_part_kind_round_trips(client):
    thread = await new_thread(client)
    before = time.time_ns() // 1000
    created = await post(client, thread.thread_id, EVERY_KIND)

    assert SERVER_MESSAGE_ID.fullmatch(created.message_id)
    assert quote(created.message_id, safe="") == created.message_id
    assert created.thread_id == thread.thread_id
    assert created.role == AGENT
    assert list(created.parts) == list(EVERY_KIND.parts)
    assert [p.WhichOneof("kind") for p in created.parts] == [
        "text",
        "tool_call",
        "tool_call",
        "tool_result",
        "tool_result",
        "media",
        "media",
        "media",
        "text",
    ]
    assert as_json(created.parts[1].tool_call.arguments) == TOOL_ARGUMENTS
    assert created.parts[1].tool_call.arguments.fields["cursor"].WhichOneof("kind") == (
        "null_value"
    )
    assert created.parts[3].tool_result.WhichOneof("output") == "json"
    assert as_json(created.parts[3].tool_result.json) == {
        "temp": 21.5,
        "sky": "clear",
        "alerts": [],
    }
    assert not created.parts[3].tool_result.is_error
    assert created.parts[4].tool_result.WhichOneof("output") == "text"
    assert created.parts[4].tool_result.is_error
    assert created.parts[5].media.size_bytes == 123_456_789_012
    assert as_json(created.metadata) == as_json(EVERY_KIND.metadata)
    assert created.run_id == ""
    assert micros(created.created_at) >= before
    assert created.updated_at == created.created_at

    got = await client.messages.GetMessage(
        message_pb2.GetMessageRequest(thread_id=thread.thread_id, message_id=created.message_id)
    )
    assert got == created


@pytest.mark.parametrize(
    "output",
    [
        {"a": 1},
        [1, "two", None, {"three": [3]}],
        "plain string",
        42,
        -0.5,
        True,
        False,
        None,
        {},
        [],
        "",
    ],
    ids=[
        "object",
        "list",
        "string",
        "integer",
        "fraction",
        "true",
        "false",
        "null",
        "empty-object",
        "empty-list",
        "empty-string",
    ],
)
async def test_tool_result_json_holds_any_json_value(client, output):
    thread = await new_thread(client)
    result = message_pb2.ToolResult(tool_call_id="call_1", json=value(output))
    created = await post(
        client,
        thread.thread_id,
        message_pb2.Message(role=TOOL, parts=[message_pb2.Part(tool_result=result)]),
    )
    got = await client.messages.GetMessage(
        message_pb2.GetMessageRequest(thread_id=thread.thread_id, message_id=created.message_id)
    )
    for message in (created, got):
        stored = message.parts[0].tool_result
        assert stored.WhichOneof("output") == "json"
        assert stored.json == result.json
        assert as_json(stored.json) == output


@pytest.mark.parametrize("is_error", [False, True])
async def test_tool_result_text(client, is_error):
    thread = await new_thread(client)
    result = message_pb2.ToolResult(tool_call_id="c", text="line 1\nline 2", is_error=is_error)
    created = await post(
        client,
        thread.thread_id,
        message_pb2.Message(role=TOOL, parts=[message_pb2.Part(tool_result=result)]),
    )
    assert created.parts[0].tool_result == result
    listed = await page(client, thread.thread_id)
    assert listed.messages[0].parts[0].tool_result == result


@pytest.mark.parametrize("role", [USER, AGENT, SYSTEM, TOOL])
async def test_every_role_round_trips(client, role):
    thread = await new_thread(client)
    created = await say(client, thread.thread_id, "hi", role)
    assert created.role == role
    listed = await page(client, thread.thread_id)
    assert [m.role for m in listed.messages] == [role]


async def test_empty_text_is_allowed_beside_other_content(client):
    thread = await new_thread(client)
    parts = [
        text(""),
        message_pb2.Part(tool_call=message_pb2.ToolCall(id="c", name="n")),
    ]
    created = await post(client, thread.thread_id, message_pb2.Message(role=AGENT, parts=parts))
    assert list(created.parts) == parts
    assert created.parts[0].WhichOneof("kind") == "text"


async def test_message_with_only_empty_text_is_invalid(client):
    # Part.text "may be empty only when other parts carry the content".
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id, message=message_pb2.Message(role=USER, parts=[text("")])
            )
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields
    assert all(f.startswith("message.parts") for f in failed.fields), failed.fields
    assert (await get_thread(client, thread.thread_id)).message_count == 0


async def test_server_sets_ids_thread_run_and_times(client):
    thread = await new_thread(client)
    other = await new_thread(client)
    before = time.time_ns() // 1000
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMicroseconds(1_000_000)
    created = await post(
        client,
        thread.thread_id,
        message_pb2.Message(
            message_id="msg_mine",
            thread_id=other.thread_id,
            run_id="run_sneaky",
            role=USER,
            parts=[text("hello")],
            created_at=stamp,
            updated_at=stamp,
        ),
    )
    assert SERVER_MESSAGE_ID.fullmatch(created.message_id)
    assert created.thread_id == thread.thread_id
    assert created.run_id == ""
    assert micros(created.created_at) >= before
    assert micros(created.updated_at) >= before
    assert await texts(client, other.thread_id) == []
    assert (await get_thread(client, other.thread_id)).message_count == 0


async def test_message_ids_are_unique(client):
    thread = await new_thread(client)
    made = [(await say(client, thread.thread_id, str(i))).message_id for i in range(10)]
    assert len(set(made)) == 10
    assert all(SERVER_MESSAGE_ID.fullmatch(m) for m in made)


async def test_messages_move_the_thread(client):
    thread = await new_thread(client, ttl=duration_pb2.Duration(seconds=600))
    previous = thread
    for expected_count in (1, 2, 3):
        message = await say(client, thread.thread_id, f"m{expected_count}")
        now = await get_thread(client, thread.thread_id)
        assert now.message_count == expected_count
        assert micros(now.last_activity_at) > micros(previous.last_activity_at)
        assert micros(now.last_activity_at) >= micros(message.created_at)
        assert micros(now.expire_time) == micros(now.last_activity_at) + 600 * 1_000_000
        assert now.updated_at == thread.updated_at  # the thread's own fields did not change
        assert now.etag != previous.etag
        previous = now


async def test_a_message_pushes_back_the_thread_expiry(client):
    thread = await new_thread(client, ttl=duration_pb2.Duration(seconds=1))
    await asyncio.sleep(0.6)
    await say(client, thread.thread_id, "still here")
    await asyncio.sleep(0.6)
    # 1.2 s after creation, but only 0.6 s after the last message.
    alive = await get_thread(client, thread.thread_id)
    assert alive.message_count == 1
    await asyncio.sleep(0.6)
    failed = await expect_failure(
        client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id))
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "THREAD_NOT_FOUND"


async def test_get_message_unknown_is_not_found(client):
    thread = await new_thread(client)
    await say(client, thread.thread_id, "hi")
    failed = await expect_failure(
        client.messages.GetMessage(
            message_pb2.GetMessageRequest(thread_id=thread.thread_id, message_id=UNKNOWN_MESSAGE)
        )
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "MESSAGE_NOT_FOUND"
    assert failed.error_metadata["field"] == "message_id"
    assert failed.error_metadata["id"] == UNKNOWN_MESSAGE


async def test_message_is_only_found_under_its_own_thread(client):
    first = await new_thread(client)
    second = await new_thread(client)
    message = await say(client, first.thread_id, "mine")
    calls: list[Callable[[], Any]] = [
        lambda: client.messages.GetMessage(
            message_pb2.GetMessageRequest(thread_id=second.thread_id, message_id=message.message_id)
        ),
        lambda: client.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=second.thread_id,
                    message_id=message.message_id,
                    metadata=struct({"x": 1}),
                ),
                update_mask=mask("metadata"),
            )
        ),
        lambda: client.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(
                thread_id=second.thread_id, message_id=message.message_id
            )
        ),
    ]
    for start in calls:
        failed = await expect_failure(start())
        assert failed.code == NOT_FOUND
        assert failed.reason == "MESSAGE_NOT_FOUND"
    got = await client.messages.GetMessage(
        message_pb2.GetMessageRequest(thread_id=first.thread_id, message_id=message.message_id)
    )
    assert got == message
    assert (await get_thread(client, first.thread_id)).message_count == 1
    assert (await get_thread(client, second.thread_id)).message_count == 0


def unknown_thread_call(client, rpc: str) -> tuple[Any, str]:
    """Start a MessageService call on UNKNOWN_THREAD; return it and the field it names."""
    if rpc == "create":
        return (
            client.messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=UNKNOWN_THREAD,
                    message=message_pb2.Message(role=USER, parts=[text("x")]),
                )
            ),
            "thread_id",
        )
    if rpc == "get":
        return (
            client.messages.GetMessage(
                message_pb2.GetMessageRequest(thread_id=UNKNOWN_THREAD, message_id=UNKNOWN_MESSAGE)
            ),
            "thread_id",
        )
    if rpc == "list":
        return (
            client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id=UNKNOWN_THREAD)),
            "thread_id",
        )
    if rpc == "update":
        return (
            client.messages.UpdateMessage(
                message_pb2.UpdateMessageRequest(
                    message=message_pb2.Message(
                        thread_id=UNKNOWN_THREAD, message_id=UNKNOWN_MESSAGE
                    ),
                    update_mask=mask("metadata"),
                )
            ),
            "message.thread_id",
        )
    return (
        client.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(thread_id=UNKNOWN_THREAD, message_id=UNKNOWN_MESSAGE)
        ),
        "thread_id",
    )


@pytest.mark.parametrize("rpc", ["create", "get", "list", "update", "delete"])
async def test_unknown_thread_is_not_found_and_nothing_is_written(client, rpc):
    call, field = unknown_thread_call(client, rpc)
    failed = await expect_failure(call)
    assert failed.code == NOT_FOUND
    assert failed.reason == "THREAD_NOT_FOUND"
    assert failed.error_metadata["field"] == field
    assert failed.error_metadata["id"] == UNKNOWN_THREAD
    count = await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
    assert count.count == 0


# -- CreateMessage validation ------------------------------------------------


def media(**fields: Any) -> message_pb2.Part:
    """Return a media part with a good URI and type unless overridden."""
    values: dict[str, Any] = {"uri": "https://example.com/a.png", "mime_type": "image/png"}
    values.update(fields)
    return message_pb2.Part(media=message_pb2.Media(**values))


def tool_call(**fields: Any) -> message_pb2.Part:
    """Return a tool-call part with a good id and name unless overridden."""
    values: dict[str, Any] = {"id": "call_1", "name": "search"}
    values.update(fields)
    return message_pb2.Part(tool_call=message_pb2.ToolCall(**values))


def tool_result(**fields: Any) -> message_pb2.Part:
    """Return a tool-result part."""
    return message_pb2.Part(tool_result=message_pb2.ToolResult(**fields))


def nan_value() -> struct_pb2.Value:
    """Return a Value holding NaN."""
    return struct_pb2.Value(number_value=math.nan)


def message(*parts: message_pb2.Part, role: int = USER, **fields: Any) -> message_pb2.Message:
    """Return a message with the given parts."""
    return message_pb2.Message(role=role, parts=list(parts), **fields)  # type: ignore[arg-type]


BAD_MESSAGES: list[Any] = [
    pytest.param(
        message(text("hi"), role=message_pb2.MESSAGE_ROLE_UNSPECIFIED), "message.role", id="no-role"
    ),
    pytest.param(message(text("hi"), role=99), "message.role", id="unknown-role"),
    pytest.param(message(), "message.parts", id="no-parts"),
    pytest.param(message(text("a"), message_pb2.Part()), "message.parts[1]", id="part-no-kind"),
    pytest.param(message(*[text("p") for _ in range(101)]), "message.parts", id="101-parts"),
    pytest.param(
        message(text("x" * 600_000), text("y" * 600_000)), "message.parts", id="text-over-1mib"
    ),
    pytest.param(message(tool_call(id="")), "message.parts[0].tool_call.id", id="call-no-id"),
    pytest.param(
        message(tool_call(id="c" * 129)), "message.parts[0].tool_call.id", id="call-id-too-long"
    ),
    pytest.param(message(tool_call(name="")), "message.parts[0].tool_call.name", id="call-no-name"),
    pytest.param(
        message(tool_call(arguments=no_kind_struct())),
        "message.parts[0].tool_call.arguments",
        id="call-arguments-no-kind",
    ),
    pytest.param(
        message(tool_call(arguments=nan_struct())),
        "message.parts[0].tool_call.arguments",
        id="call-arguments-nan",
    ),
    pytest.param(
        message(tool_result(text="out")),
        "message.parts[0].tool_result.tool_call_id",
        id="result-no-call-id",
    ),
    pytest.param(
        message(tool_result(tool_call_id="c")),
        "message.parts[0].tool_result",
        id="result-no-output",
    ),
    pytest.param(
        message(tool_result(tool_call_id="c", json=nan_value())),
        "message.parts[0].tool_result.json",
        id="result-json-nan",
    ),
    pytest.param(
        message(tool_result(tool_call_id="c", json=struct_pb2.Value())),
        "message.parts[0].tool_result.json",
        id="result-json-no-kind",
    ),
    pytest.param(
        message(text("see"), media(uri="example.com/cat.png")),
        "message.parts[1].media.uri",
        id="media-no-scheme",
    ),
    pytest.param(message(media(uri="")), "message.parts[0].media.uri", id="media-no-uri"),
    pytest.param(
        message(media(uri="https://e.com/" + "a" * 4096)),
        "message.parts[0].media.uri",
        id="media-uri-too-long",
    ),
    pytest.param(
        message(media(mime_type="")), "message.parts[0].media.mime_type", id="media-no-mime"
    ),
    pytest.param(
        message(media(mime_type="png")), "message.parts[0].media.mime_type", id="media-bad-mime"
    ),
    pytest.param(
        message(media(name="n" * 257)), "message.parts[0].media.name", id="media-name-too-long"
    ),
    pytest.param(
        message(media(size_bytes=-1)), "message.parts[0].media.size_bytes", id="media-negative-size"
    ),
    pytest.param(message(text("hi"), metadata=nan_struct()), "message.metadata", id="metadata-nan"),
    pytest.param(
        message(text("hi"), metadata=no_kind_struct()), "message.metadata", id="metadata-no-kind"
    ),
    pytest.param(
        message(text("hi"), metadata=struct({f"k{i}": i for i in range(101)})),
        "message.metadata",
        id="metadata-101-keys",
    ),
]


@pytest.mark.parametrize(("bad", "field"), BAD_MESSAGES)
async def test_create_message_rejects_bad_input_and_writes_nothing(client, bad, field):
    thread = await new_thread(client)
    await say(client, thread.thread_id, "existing")
    before = await get_thread(client, thread.thread_id)
    failed = await expect_failure(
        client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread.thread_id, message=bad)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == [field]
    assert failed.error_metadata["field"] == field
    assert await get_thread(client, thread.thread_id) == before
    assert await texts(client, thread.thread_id) == ["existing"]


async def test_create_message_names_every_bad_field_at_once(client):
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id,
                message=message(
                    message_pb2.Part(),
                    tool_call(id=""),
                    media(uri="nope"),
                    role=message_pb2.MESSAGE_ROLE_UNSPECIFIED,
                    metadata=nan_struct(),
                ),
            )
        )
    )
    assert failed.code == INVALID
    assert set(failed.fields) == {
        "message.role",
        "message.metadata",
        "message.parts[0]",
        "message.parts[1].tool_call.id",
        "message.parts[2].media.uri",
    }
    assert await texts(client, thread.thread_id) == []


@pytest.mark.parametrize(
    ("thread_id", "with_message"),
    [("a/b", True), ("", True), ("x" * 129, True), ("ok", False)],
    ids=["slash", "empty", "too-long", "no-message"],
)
async def test_create_message_bad_request_shape(client, thread_id, with_message):
    await new_thread(client, thread_id="ok")
    request = message_pb2.CreateMessageRequest(thread_id=thread_id)
    if with_message:
        request.message.CopyFrom(message(text("hi")))
    failed = await expect_failure(client.messages.CreateMessage(request))
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["thread_id" if with_message else "message"]
    assert await texts(client, "ok") == []


@pytest.mark.parametrize("rpc", ["get", "delete"])
@pytest.mark.parametrize(
    ("thread_id", "message_id", "field"),
    [("a/b", "msg_x", "thread_id"), ("ok", "msg/x", "message_id"), ("ok", "", "message_id")],
    ids=["bad-thread", "bad-message", "empty-message"],
)
async def test_malformed_ids_are_invalid(client, rpc, thread_id, message_id, field):
    await new_thread(client, thread_id="ok")
    kept = await say(client, "ok", "kept")
    if rpc == "get":
        call = client.messages.GetMessage(
            message_pb2.GetMessageRequest(thread_id=thread_id, message_id=message_id)
        )
    else:
        call = client.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(thread_id=thread_id, message_id=message_id)
        )
    failed = await expect_failure(call)
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == [field]
    assert (await page(client, "ok")).messages[0] == kept


# -- ListMessages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("", ["a", "b", "c", "d"]),
        ("created_at", ["a", "b", "c", "d"]),
        ("created_at desc", ["d", "c", "b", "a"]),
    ],
    ids=["default", "created-at", "created-at-desc"],
)
async def test_list_messages_order(client, order_by, expected):
    thread = await new_thread(client)
    for content in ("a", "b", "c", "d"):
        await say(client, thread.thread_id, content)
    assert await texts(client, thread.thread_id, order_by) == expected
    pages = await walk(client, thread.thread_id, 1, order_by)
    assert [item for one in pages for item in one] == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("", [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6"]]),
        ("created_at desc", [["m6", "m5", "m4"], ["m3", "m2", "m1"], ["m0"]]),
    ],
    ids=["oldest-first", "newest-first"],
)
async def test_list_messages_pages_through_with_tokens(client, order_by, expected):
    thread = await new_thread(client)
    written = [await say(client, thread.thread_id, f"m{i}") for i in range(7)]
    assert await walk(client, thread.thread_id, 3, order_by) == expected
    # Listed messages are the stored ones, whole.
    listed = await page(client, thread.thread_id, page_size=100)
    assert list(listed.messages) == written


async def test_list_messages_of_an_empty_thread(client):
    thread = await new_thread(client)
    response = await page(client, thread.thread_id)
    assert not response.messages
    assert response.next_page_token == ""


async def test_list_messages_default_page_size_is_20(client):
    thread = await new_thread(client)
    for i in range(21):
        await say(client, thread.thread_id, f"m{i:02}")
    first = await page(client, thread.thread_id)
    assert len(first.messages) == 20
    assert first.next_page_token
    second = await page(client, thread.thread_id, page_token=first.next_page_token)
    assert [m.parts[0].text for m in second.messages] == ["m20"]
    assert second.next_page_token == ""


async def test_list_messages_paging_is_stable_while_others_write(client):
    thread = await new_thread(client)
    for i in range(4):
        await say(client, thread.thread_id, f"m{i}")
    first = await page(client, thread.thread_id, page_size=2)
    assert [m.parts[0].text for m in first.messages] == ["m0", "m1"]
    # Others delete a message already read and append new ones.
    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(
            thread_id=thread.thread_id, message_id=first.messages[0].message_id
        )
    )
    await say(client, thread.thread_id, "m4")
    rest: list[str] = []
    token = first.next_page_token
    while token:
        response = await page(client, thread.thread_id, page_size=2, page_token=token)
        rest.extend(m.parts[0].text for m in response.messages)
        token = response.next_page_token
    assert rest == ["m2", "m3", "m4"]


@pytest.mark.parametrize("page_size", [-1, 101, 1000])
async def test_list_messages_bad_page_size(client, page_size):
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread.thread_id, page_size=page_size)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_size"]


@pytest.mark.parametrize("order_by", ["title", "updated_at", "created_at sideways", "role desc"])
async def test_list_messages_bad_order_by(client, order_by):
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread.thread_id, order_by=order_by)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["order_by"]


async def test_list_messages_names_every_bad_field_at_once(client):
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(
                thread_id=thread.thread_id, page_size=1000, order_by="title"
            )
        )
    )
    assert failed.code == INVALID
    assert set(failed.fields) == {"page_size", "order_by"}


async def test_page_token_from_another_thread_is_invalid(client):
    first = await new_thread(client)
    second = await new_thread(client)
    for i in range(3):
        await say(client, first.thread_id, f"a{i}")
        await say(client, second.thread_id, f"b{i}")
    token = (await page(client, first.thread_id, page_size=1)).next_page_token
    assert token
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(
                thread_id=second.thread_id, page_size=1, page_token=token
            )
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_token"]
    # The token still works where it came from.
    rest = await page(client, first.thread_id, page_size=5, page_token=token)
    assert [m.parts[0].text for m in rest.messages] == ["a1", "a2"]


async def test_page_token_with_another_order_is_invalid(client):
    thread = await new_thread(client)
    for i in range(3):
        await say(client, thread.thread_id, f"m{i}")
    token = (await page(client, thread.thread_id, page_size=1)).next_page_token
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(
                thread_id=thread.thread_id,
                page_size=1,
                page_token=token,
                order_by="created_at desc",
            )
        )
    )
    assert failed.code == INVALID
    assert failed.fields == ["page_token"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="word"),
        pytest.param("!!!!", id="punctuation"),
        pytest.param(encoded("{}"), id="empty-object"),
        pytest.param(encoded("null"), id="null"),
        pytest.param(encoded('{"v": 1, "k": 1, "q": "0000000000000000"}'), id="foreign-query"),
        pytest.param(encoded('{"v": Infinity, "k": Infinity, "q": "0"}'), id="infinity"),
        pytest.param("\u00e9t\u00e9", id="non-ascii"),
    ],
)
async def test_garbage_page_token_is_invalid(client, token):
    thread = await new_thread(client)
    await say(client, thread.thread_id, "m")
    failed = await expect_failure(
        client.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread.thread_id, page_token=token)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_token"]


# -- UpdateMessage --------------------------------------------------------------


async def test_update_message_replaces_metadata_only(client):
    thread = await new_thread(client)
    original = await post(
        client,
        thread.thread_id,
        message(text("hello"), role=USER, metadata=struct({"old": 1, "keep": "no"})),
    )
    thread_before = await get_thread(client, thread.thread_id)
    updated = await client.messages.UpdateMessage(
        message_pb2.UpdateMessageRequest(
            message=message_pb2.Message(
                thread_id=thread.thread_id,
                message_id=original.message_id,
                # Role and parts are not in the mask and must not change.
                role=SYSTEM,
                parts=[text("tampered")],
                metadata=struct({"new": {"nested": [1, 2.5, None, True]}}),
            ),
            update_mask=mask("metadata"),
        )
    )
    assert as_json(updated.metadata) == {"new": {"nested": [1, 2.5, None, True]}}
    assert updated.message_id == original.message_id
    assert updated.thread_id == thread.thread_id
    assert updated.role == USER
    assert list(updated.parts) == list(original.parts)
    assert updated.created_at == original.created_at
    assert micros(updated.updated_at) > micros(original.updated_at)
    got = await client.messages.GetMessage(
        message_pb2.GetMessageRequest(thread_id=thread.thread_id, message_id=original.message_id)
    )
    assert got == updated
    thread_after = await get_thread(client, thread.thread_id)
    assert thread_after.message_count == 1
    assert thread_after.etag != thread_before.etag


async def test_update_message_clears_metadata_named_but_unset(client):
    thread = await new_thread(client)
    original = await post(client, thread.thread_id, message(text("x"), metadata=struct({"a": 1})))
    updated = await client.messages.UpdateMessage(
        message_pb2.UpdateMessageRequest(
            message=message_pb2.Message(thread_id=thread.thread_id, message_id=original.message_id),
            update_mask=mask("metadata"),
        )
    )
    assert as_json(updated.metadata) == {}
    assert (await page(client, thread.thread_id)).messages[0] == updated


@pytest.mark.parametrize(
    "paths",
    [
        ("role",),
        ("parts",),
        ("metadata", "role"),
        ("created_at",),
        ("updated_at",),
        ("run_id",),
        ("thread_id",),
        ("message_id",),
        ("nope",),
        (),
    ],
    ids=[
        "role",
        "parts",
        "metadata-and-role",
        "created-at",
        "updated-at",
        "run-id",
        "thread-id",
        "message-id",
        "unknown",
        "empty",
    ],
)
async def test_update_message_bad_mask_is_invalid_and_changes_nothing(client, paths):
    thread = await new_thread(client)
    original = await post(client, thread.thread_id, message(text("x"), metadata=struct({"a": 1})))
    thread_before = await get_thread(client, thread.thread_id)
    failed = await expect_failure(
        client.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=thread.thread_id,
                    message_id=original.message_id,
                    role=SYSTEM,
                    metadata=struct({"b": 2}),
                ),
                update_mask=mask(*paths),
            )
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["update_mask"]
    assert (await page(client, thread.thread_id)).messages[0] == original
    assert await get_thread(client, thread.thread_id) == thread_before


@pytest.mark.parametrize(
    "metadata",
    [nan_struct(), no_kind_struct(), struct({f"k{i}": i for i in range(101)})],
    ids=["nan", "no-kind", "101-keys"],
)
async def test_update_message_bad_metadata_is_invalid(client, metadata):
    thread = await new_thread(client)
    original = await say(client, thread.thread_id, "x")
    failed = await expect_failure(
        client.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=thread.thread_id, message_id=original.message_id, metadata=metadata
                ),
                update_mask=mask("metadata"),
            )
        )
    )
    assert failed.code == INVALID
    assert failed.fields == ["message.metadata"]
    assert (await page(client, thread.thread_id)).messages[0] == original


async def test_update_unknown_message_is_not_found(client):
    thread = await new_thread(client)
    failed = await expect_failure(
        client.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=thread.thread_id,
                    message_id=UNKNOWN_MESSAGE,
                    metadata=struct({"a": 1}),
                ),
                update_mask=mask("metadata"),
            )
        )
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "MESSAGE_NOT_FOUND"
    assert failed.error_metadata["field"] == "message.message_id"
    assert (await get_thread(client, thread.thread_id)) == thread


@pytest.mark.parametrize(
    ("thread_id", "message_id", "field"),
    [
        ("a/b", "msg_x", "message.thread_id"),
        ("", "msg_x", "message.thread_id"),
        ("ok", "", "message.message_id"),
        ("ok", "msg x", "message.message_id"),
    ],
    ids=["bad-thread", "no-thread", "no-message", "bad-message"],
)
async def test_update_message_malformed_ids(client, thread_id, message_id, field):
    await new_thread(client, thread_id="ok")
    failed = await expect_failure(
        client.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(thread_id=thread_id, message_id=message_id),
                update_mask=mask("metadata"),
            )
        )
    )
    assert failed.code == INVALID
    assert failed.fields == [field]


# -- DeleteMessage --------------------------------------------------------------


async def test_delete_message(client):
    thread = await new_thread(client)
    written = [await say(client, thread.thread_id, t) for t in ("a", "b", "c")]
    before = await get_thread(client, thread.thread_id)

    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(
            thread_id=thread.thread_id, message_id=written[1].message_id
        )
    )

    after = await get_thread(client, thread.thread_id)
    assert after.message_count == 2
    assert micros(after.last_activity_at) > micros(before.last_activity_at)
    assert after.etag != before.etag
    assert after.updated_at == before.updated_at
    assert await texts(client, thread.thread_id) == ["a", "c"]
    assert await texts(client, thread.thread_id, "created_at desc") == ["c", "a"]
    full = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread.thread_id, view=thread_pb2.THREAD_VIEW_FULL)
    )
    assert list(full.messages) == [written[0], written[2]]

    failed = await expect_failure(
        client.messages.GetMessage(
            message_pb2.GetMessageRequest(
                thread_id=thread.thread_id, message_id=written[1].message_id
            )
        )
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "MESSAGE_NOT_FOUND"

    # A second delete finds nothing and changes nothing.
    failed = await expect_failure(
        client.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(
                thread_id=thread.thread_id, message_id=written[1].message_id
            )
        )
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "MESSAGE_NOT_FOUND"
    assert failed.error_metadata["field"] == "message_id"
    assert await get_thread(client, thread.thread_id) == after

    # Deleting every message leaves an empty thread that still exists.
    for kept in (written[0], written[2]):
        await client.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(thread_id=thread.thread_id, message_id=kept.message_id)
        )
    empty = await get_thread(client, thread.thread_id)
    assert empty.message_count == 0
    assert await texts(client, thread.thread_id) == []
