"""ThreadService against the real in-process server over a real SQLite file.

Every test asserts what the proto comments in protos/threadline/v1/thread.proto
document, and every rejected call is followed by a read that proves it wrote
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
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
SERVER_THREAD_ID = re.compile(r"thr_[0-9a-z]{26}")
SERVER_MESSAGE_ID = re.compile(r"msg_[0-9a-z]{26}")
UNKNOWN_THREAD = "thr_0000000000000000000000zzzz"

IDLE = thread_pb2.THREAD_STATUS_IDLE
USER = thread_pb2.PARTICIPANT_TYPE_USER
AGENT = thread_pb2.PARTICIPANT_TYPE_AGENT
TOOL = thread_pb2.PARTICIPANT_TYPE_TOOL


# -- helpers -----------------------------------------------------------------


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """Return a Struct holding a plain JSON object."""
    result = struct_pb2.Struct()
    result.update(values)
    return result


def as_json(value: struct_pb2.Struct) -> dict[str, Any]:
    """Return a Struct as plain Python values."""
    return json_format.MessageToDict(value)


def seconds(value: float) -> duration_pb2.Duration:
    """Return a Duration of the given seconds."""
    result = duration_pb2.Duration()
    result.FromNanoseconds(round(value * 1e9))
    return result


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    """Return a FieldMask of the given paths."""
    return field_mask_pb2.FieldMask(paths=list(paths))


def micros(value: timestamp_pb2.Timestamp) -> int:
    """Return a Timestamp in microseconds since the epoch."""
    return value.ToMicroseconds()


def now_micros() -> int:
    """Return the wall-clock time in microseconds since the epoch."""
    return time.time_ns() // 1000


def timestamp_from_micros(value: int) -> timestamp_pb2.Timestamp:
    """Return a Timestamp for microseconds since the epoch."""
    result = timestamp_pb2.Timestamp()
    result.FromMicroseconds(value)
    return result


def no_kind_struct() -> struct_pb2.Struct:
    """Return a Struct with a Value that has no kind set: not JSON."""
    result = struct_pb2.Struct()
    result.fields["broken"].CopyFrom(struct_pb2.Value())
    return result


def nested_no_kind_struct() -> struct_pb2.Struct:
    """Return a Struct whose nested object holds a Value with no kind set."""
    result = struct({"fine": 1})
    result.fields["outer"].struct_value.fields["inner"].CopyFrom(struct_pb2.Value())
    return result


def number_struct(number: float) -> struct_pb2.Struct:
    """Return a Struct holding one number (NaN and infinities are not JSON)."""
    result = struct_pb2.Struct()
    result.fields["n"].number_value = number
    return result


def listed_no_kind_struct() -> struct_pb2.Struct:
    """Return a Struct whose list holds a Value with no kind set."""
    result = struct_pb2.Struct()
    result.fields["items"].list_value.values.add()
    return result


FULL_METADATA: dict[str, Any] = {
    "string": "hello",
    "integer": 42,
    "float": 2.5,
    "negative": -7,
    "yes": True,
    "no": False,
    "nothing": None,
    "list": [1, "two", False, None, {"three": 3}],
    "nested": {"deep": {"deeper": {"k": "v"}}, "zero": 0, "empty": {}},
    "unicode": 'Zoë "quoted" \n newline',
}


def full_thread(**overrides: Any) -> thread_pb2.Thread:
    """Return a thread with every client-settable field set."""
    fields: dict[str, Any] = {
        "title": "Refund for order 1234",
        "metadata": struct(FULL_METADATA),
        "agent_id": "agent-support",
        "user_id": "user-42",
        "external_ref": "ZD-1234",
        "locale": thread_pb2.Locale(language="en", country="GB", time_zone="Europe/London"),
        "participants": [
            thread_pb2.Participant(id="u1", name="Ada", type=USER, role="customer"),
            thread_pb2.Participant(id="a1", name="Helper", type=AGENT, role="assistant"),
            thread_pb2.Participant(id="t1", name="Search", type=TOOL),
        ],
        "ttl": seconds(3600),
    }
    fields.update(overrides)
    return thread_pb2.Thread(**fields)


CLIENT_FIELDS = (
    "title",
    "metadata",
    "agent_id",
    "user_id",
    "external_ref",
    "locale",
    "participants",
    "ttl",
)


def client_fields(thread: thread_pb2.Thread) -> dict[str, Any]:
    """Return the client-settable fields of a thread, comparable with ==."""
    return {
        "title": thread.title,
        "metadata": as_json(thread.metadata),
        "agent_id": thread.agent_id,
        "user_id": thread.user_id,
        "external_ref": thread.external_ref,
        "locale": (
            (thread.locale.language, thread.locale.country, thread.locale.time_zone)
            if thread.HasField("locale")
            else ("", "", "")
        ),
        "participants": [(p.id, p.name, p.type, p.role) for p in thread.participants],
        "ttl": thread.ttl.ToNanoseconds() if thread.HasField("ttl") else None,
    }


async def create(client, thread_id: str = "", **fields: Any) -> thread_pb2.Thread:
    """Create a thread with the given fields."""
    created: thread_pb2.Thread = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(**fields), thread_id=thread_id)
    )
    return created


async def get(client, thread_id: str, view: int = 0) -> thread_pb2.Thread:
    """Read a thread."""
    thread: thread_pb2.Thread = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id, view=view)  # type: ignore[arg-type]
    )
    return thread


async def add_message(client, thread_id: str, text: str) -> message_pb2.Message:
    """Append a user text message to a thread."""
    message: message_pb2.Message = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread_id,
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER,
                parts=[message_pb2.Part(text=text)],
                metadata=struct({"text": text}),
            ),
        )
    )
    return message


async def count(client, **filter_fields: Any) -> int:
    """Count the threads that match a filter."""
    response = await client.threads.CountThreads(
        thread_pb2.CountThreadsRequest(filter=thread_pb2.ThreadFilter(**filter_fields))
    )
    return int(response.count)


async def list_all(client, order_by: str = "", page_size: int = 100, **filter_fields: Any):
    """Walk every page of a listing; return the thread ids in the order given."""
    ids: list[str] = []
    token = ""
    for _ in range(100):
        response = await client.threads.ListThreads(
            thread_pb2.ListThreadsRequest(
                filter=thread_pb2.ThreadFilter(**filter_fields),
                order_by=order_by,
                page_size=page_size,
                page_token=token,
            )
        )
        ids.extend(t.thread_id for t in response.threads)
        token = response.next_page_token
        if not token:
            return ids
    raise AssertionError("listing did not end")


async def message_texts(client, thread_id: str) -> list[str]:
    """Return the texts of every message of a thread, oldest first."""
    response = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100)
    )
    return [m.parts[0].text for m in response.messages]


# -- CreateThread and GetThread ------------------------------------------------


async def test_create_thread_with_every_field_round_trips(client):
    before = now_micros()
    created = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=full_thread())
    )
    after = now_micros()

    assert SERVER_THREAD_ID.fullmatch(created.thread_id)
    assert created.title == "Refund for order 1234"
    assert as_json(created.metadata) == FULL_METADATA
    assert created.metadata.fields["integer"].number_value == 42
    assert created.metadata.fields["yes"].WhichOneof("kind") == "bool_value"
    assert created.metadata.fields["nothing"].WhichOneof("kind") == "null_value"
    assert created.metadata.fields["nested"].struct_value.fields["empty"].WhichOneof("kind") == (
        "struct_value"
    )
    assert created.agent_id == "agent-support"
    assert created.user_id == "user-42"
    assert created.external_ref == "ZD-1234"
    assert created.locale == thread_pb2.Locale(
        language="en", country="GB", time_zone="Europe/London"
    )
    assert [(p.id, p.name, p.type, p.role) for p in created.participants] == [
        ("u1", "Ada", USER, "customer"),
        ("a1", "Helper", AGENT, "assistant"),
        ("t1", "Search", TOOL, ""),
    ]
    assert created.ttl == seconds(3600)

    # Server fields.
    assert created.status == IDLE
    assert created.message_count == 0
    assert before <= micros(created.created_at) <= after
    assert created.updated_at == created.created_at
    assert created.last_activity_at == created.created_at
    assert micros(created.expire_time) == micros(created.last_activity_at) + 3600 * 1_000_000
    assert created.etag
    assert not created.messages

    # A read gives back exactly what the create returned.
    assert await get(client, created.thread_id) == created


async def test_create_thread_with_no_fields(client):
    created = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    assert SERVER_THREAD_ID.fullmatch(created.thread_id)
    assert created.title == ""
    assert as_json(created.metadata) == {}
    assert not created.HasField("ttl")
    assert not created.HasField("expire_time")
    assert not created.participants
    assert client_fields(created)["locale"] == ("", "", "")
    assert created.status == IDLE
    assert created.HasField("created_at")
    assert await get(client, created.thread_id) == created


async def test_server_made_ids_are_prefixed_unique_and_url_safe(client):
    made = [(await create(client)).thread_id for _ in range(5)]
    assert len(set(made)) == 5
    for thread_id in made:
        assert SERVER_THREAD_ID.fullmatch(thread_id), thread_id
        assert quote(thread_id, safe="") == thread_id


async def test_title_at_the_limit_is_accepted(client):
    title = "é" * 256  # the limit counts characters, not bytes
    created = await create(client, title=title)
    assert (await get(client, created.thread_id)).title == title


@pytest.mark.parametrize("ttl", [1, 3650 * 24 * 3600], ids=["1s", "3650d"])
async def test_ttl_at_the_limits_is_accepted(client, ttl):
    created = await create(client, ttl=seconds(ttl))
    assert created.ttl == seconds(ttl)
    assert micros(created.expire_time) == micros(created.last_activity_at) + ttl * 1_000_000


async def test_limits_themselves_are_accepted(client):
    metadata = struct({f"k{i:03}": i for i in range(100)})
    participants = [participant(f"p{i}", name="n" * 256, role="r" * 128) for i in range(100)]
    created = await create(
        client,
        thread_id="x" * 128,
        metadata=metadata,
        agent_id="a" * 128,
        user_id="u" * 128,
        external_ref="e" * 256,
        participants=participants,
        locale=thread_pb2.Locale(language="haw", country="US", time_zone="Pacific/Honolulu"),
    )
    assert await get(client, created.thread_id) == created
    assert len(created.metadata.fields) == 100
    assert len(created.participants) == 100
    twenty = struct({f"k{i:03}": i for i in range(20)})
    assert await count(client, metadata=twenty) == 1
    assert await count(client, thread_ids=[f"t{i}" for i in range(99)] + ["x" * 128]) == 1


async def test_output_only_fields_are_ignored_on_create(client):
    before = now_micros()
    created = await create(
        client,
        title="t",
        status=thread_pb2.THREAD_STATUS_BUSY,
        message_count=7,
        created_at=timestamp_from_micros(1_000_000),
        updated_at=timestamp_from_micros(1_000_000),
        last_activity_at=timestamp_from_micros(1_000_000),
        expire_time=timestamp_from_micros(1_000_000),
        etag="made-up",
        messages=[
            message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="sneaky")]
            )
        ],
    )
    assert created.status == IDLE
    assert created.message_count == 0
    assert micros(created.created_at) >= before
    assert micros(created.last_activity_at) >= before
    assert not created.HasField("expire_time")
    assert created.etag != "made-up"
    full = await get(client, created.thread_id, thread_pb2.THREAD_VIEW_FULL)
    assert not full.messages
    assert full.message_count == 0


@pytest.mark.parametrize(
    "thread_id", ["my-thread", "A.b_c~d-9", "x" * 128, "0"], ids=["dash", "mixed", "max", "one"]
)
async def test_client_chosen_thread_id(client, thread_id):
    created = await create(client, thread_id=thread_id, title="chosen")
    assert created.thread_id == thread_id
    assert (await get(client, thread_id)).title == "chosen"
    assert await list_all(client) == [thread_id]


@pytest.mark.parametrize(
    "if_exists",
    [thread_pb2.IF_EXISTS_UNSPECIFIED, thread_pb2.IF_EXISTS_RAISE],
    ids=["default", "raise"],
)
async def test_taken_thread_id_is_already_exists(client, if_exists):
    original = await create(client, thread_id="support-1", title="first")
    failed = await expect_failure(
        client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="support-1",
                thread=thread_pb2.Thread(title="second", agent_id="other"),
                if_exists=if_exists,
            )
        )
    )
    assert failed.code == grpc.StatusCode.ALREADY_EXISTS
    assert failed.reason == "THREAD_ALREADY_EXISTS"
    assert failed.error_metadata["field"] == "thread_id"
    assert failed.error_metadata["id"] == "support-1"
    assert await get(client, "support-1") == original
    assert await count(client) == 1


async def test_do_nothing_returns_the_existing_thread_unchanged(client):
    await create(client, thread_id="support-1", title="first", metadata=struct({"a": 1}))
    await add_message(client, "support-1", "hello")
    existing = await get(client, "support-1")

    returned = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread_id="support-1",
            thread=thread_pb2.Thread(title="second", metadata=struct({"b": 2}), ttl=seconds(5)),
            if_exists=thread_pb2.IF_EXISTS_DO_NOTHING,
        )
    )
    assert returned == existing
    assert returned.title == "first"
    assert returned.message_count == 1
    assert await get(client, "support-1") == existing
    assert await count(client) == 1
    assert await message_texts(client, "support-1") == ["hello"]


async def test_do_nothing_creates_when_the_id_is_free(client):
    created = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread_id="fresh",
            thread=thread_pb2.Thread(title="new"),
            if_exists=thread_pb2.IF_EXISTS_DO_NOTHING,
        )
    )
    assert created.thread_id == "fresh"
    assert created.title == "new"
    assert await count(client) == 1


@pytest.mark.parametrize(
    "view",
    [thread_pb2.THREAD_VIEW_UNSPECIFIED, thread_pb2.THREAD_VIEW_BASIC],
    ids=["unspecified", "basic"],
)
async def test_get_thread_basic_view_has_no_messages(client, view):
    thread = await create(client)
    for text in ("one", "two", "three"):
        await add_message(client, thread.thread_id, text)
    basic = await get(client, thread.thread_id, view)
    assert not basic.messages
    assert basic.message_count == 3


async def test_unknown_enum_values_are_invalid(client):
    thread = await create(client, thread_id="t")
    failed = await expect_failure(
        client.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id="t", view=99)  # type: ignore[arg-type]
        )
    )
    assert failed.code == INVALID
    assert failed.fields == ["view"]
    failed = await expect_failure(
        client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="t2",
                if_exists=99,  # type: ignore[arg-type]
            )
        )
    )
    assert failed.code == INVALID
    assert failed.fields == ["if_exists"]
    assert await list_all(client) == [thread.thread_id]


async def test_get_thread_full_view_has_messages_oldest_first(client):
    thread = await create(client)
    written = [await add_message(client, thread.thread_id, t) for t in ("one", "two", "three")]
    full = await get(client, thread.thread_id, thread_pb2.THREAD_VIEW_FULL)
    assert full.message_count == 3
    assert list(full.messages) == written
    assert [m.parts[0].text for m in full.messages] == ["one", "two", "three"]
    # Apart from the messages, FULL and BASIC agree.
    full.ClearField("messages")
    assert full == await get(client, thread.thread_id)


def unknown_thread_call(client, rpc: str) -> tuple[Any, str]:
    """Start a ThreadService call that names UNKNOWN_THREAD; return it and the field it names."""
    if rpc == "get":
        return (
            client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=UNKNOWN_THREAD)),
            "thread_id",
        )
    if rpc == "update":
        return (
            client.threads.UpdateThread(
                thread_pb2.UpdateThreadRequest(
                    thread=thread_pb2.Thread(thread_id=UNKNOWN_THREAD, title="x"),
                    update_mask=mask("title"),
                )
            ),
            "thread.thread_id",
        )
    if rpc == "delete":
        return (
            client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=UNKNOWN_THREAD)),
            "thread_id",
        )
    return (
        client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id=UNKNOWN_THREAD)),
        "thread_id",
    )


@pytest.mark.parametrize("rpc", ["get", "update", "delete", "copy"])
async def test_unknown_thread_is_not_found(client, rpc):
    await create(client, title="bystander")
    call, field = unknown_thread_call(client, rpc)
    failed = await expect_failure(call)
    assert failed.code == NOT_FOUND
    assert failed.reason == "THREAD_NOT_FOUND"
    assert failed.error_metadata["field"] == field
    assert failed.error_metadata["id"] == UNKNOWN_THREAD
    assert await count(client) == 1


@pytest.mark.parametrize("bad_id", ["a/b", "x" * 129, ""], ids=["slash", "too-long", "empty"])
async def test_malformed_thread_id_is_invalid(client, bad_id):
    thread = await create(client, title="bystander")
    calls: list[tuple[Any, str]] = [
        (
            lambda: client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=bad_id)),
            "thread_id",
        ),
        (
            lambda: client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=bad_id)),
            "thread_id",
        ),
        (
            lambda: client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id=bad_id)),
            "thread_id",
        ),
        (
            lambda: client.threads.UpdateThread(
                thread_pb2.UpdateThreadRequest(
                    thread=thread_pb2.Thread(thread_id=bad_id, title="x"),
                    update_mask=mask("title"),
                )
            ),
            "thread.thread_id",
        ),
    ]
    for start, field in calls:
        failed = await expect_failure(start())
        assert failed.code == INVALID
        assert failed.reason == "VALIDATION_ERROR"
        assert failed.fields == [field]
    assert await count(client) == 1
    assert await get(client, thread.thread_id) == thread


# -- CreateThread validation -------------------------------------------------


def participant(pid: str, kind: int = USER, **fields: Any) -> thread_pb2.Participant:
    """Return a participant."""
    return thread_pb2.Participant(id=pid, type=kind, **fields)  # type: ignore[arg-type]


BAD_THREADS: list[Any] = [
    pytest.param(thread_pb2.Thread(title="x" * 257), "", "thread.title", id="title-too-long"),
    pytest.param(
        thread_pb2.Thread(metadata=no_kind_struct()), "", "thread.metadata", id="metadata-no-kind"
    ),
    pytest.param(
        thread_pb2.Thread(metadata=nested_no_kind_struct()),
        "",
        "thread.metadata",
        id="metadata-nested-no-kind",
    ),
    pytest.param(
        thread_pb2.Thread(metadata=listed_no_kind_struct()),
        "",
        "thread.metadata",
        id="metadata-list-no-kind",
    ),
    pytest.param(
        thread_pb2.Thread(metadata=number_struct(math.nan)),
        "",
        "thread.metadata",
        id="metadata-nan",
    ),
    pytest.param(
        thread_pb2.Thread(metadata=number_struct(math.inf)),
        "",
        "thread.metadata",
        id="metadata-inf",
    ),
    pytest.param(
        thread_pb2.Thread(metadata=struct({f"k{i}": i for i in range(101)})),
        "",
        "thread.metadata",
        id="metadata-101-keys",
    ),
    pytest.param(
        thread_pb2.Thread(metadata=struct({"big": "x" * (64 * 1024)})),
        "",
        "thread.metadata",
        id="metadata-too-big",
    ),
    pytest.param(
        thread_pb2.Thread(agent_id="a" * 129), "", "thread.agent_id", id="agent-id-too-long"
    ),
    pytest.param(
        thread_pb2.Thread(user_id="u\x00"), "", "thread.user_id", id="user-id-control-char"
    ),
    pytest.param(
        thread_pb2.Thread(external_ref="r" * 257),
        "",
        "thread.external_ref",
        id="external-ref-too-long",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(time_zone="Mars/Olympus")),
        "",
        "thread.locale.time_zone",
        id="time-zone-mars",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(time_zone="../etc/passwd")),
        "",
        "thread.locale.time_zone",
        id="time-zone-path",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(language="english")),
        "",
        "thread.locale.language",
        id="language-english",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(language="EN")),
        "",
        "thread.locale.language",
        id="language-upper",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(country="gb")),
        "",
        "thread.locale.country",
        id="country-lower",
    ),
    pytest.param(
        thread_pb2.Thread(locale=thread_pb2.Locale(country="GBR")),
        "",
        "thread.locale.country",
        id="country-alpha3",
    ),
    pytest.param(
        thread_pb2.Thread(
            participants=[participant("p1"), participant("p2"), participant("p1", AGENT)]
        ),
        "",
        "thread.participants[2].id",
        id="participant-duplicate-id",
    ),
    pytest.param(
        thread_pb2.Thread(
            participants=[participant("p1", thread_pb2.PARTICIPANT_TYPE_UNSPECIFIED)]
        ),
        "",
        "thread.participants[0].type",
        id="participant-type-unspecified",
    ),
    pytest.param(
        thread_pb2.Thread(participants=[participant("p1"), participant("p2", 99)]),
        "",
        "thread.participants[1].type",
        id="participant-type-unknown",
    ),
    pytest.param(
        thread_pb2.Thread(participants=[participant("")]),
        "",
        "thread.participants[0].id",
        id="participant-no-id",
    ),
    pytest.param(
        thread_pb2.Thread(participants=[participant("p1", name="n" * 257)]),
        "",
        "thread.participants[0].name",
        id="participant-name-too-long",
    ),
    pytest.param(
        thread_pb2.Thread(participants=[participant(f"p{i}") for i in range(101)]),
        "",
        "thread.participants",
        id="participants-101",
    ),
    pytest.param(thread_pb2.Thread(ttl=seconds(0.5)), "", "thread.ttl", id="ttl-half-second"),
    pytest.param(thread_pb2.Thread(ttl=seconds(0)), "", "thread.ttl", id="ttl-zero"),
    pytest.param(thread_pb2.Thread(ttl=seconds(-5)), "", "thread.ttl", id="ttl-negative"),
    pytest.param(
        thread_pb2.Thread(ttl=seconds(3651 * 24 * 3600)), "", "thread.ttl", id="ttl-3651-days"
    ),
    pytest.param(thread_pb2.Thread(), "a/b", "thread_id", id="thread-id-slash"),
    pytest.param(thread_pb2.Thread(), "has space", "thread_id", id="thread-id-space"),
    pytest.param(thread_pb2.Thread(), "x" * 129, "thread_id", id="thread-id-too-long"),
    pytest.param(thread_pb2.Thread(), "naïve", "thread_id", id="thread-id-non-ascii"),
]


@pytest.mark.parametrize(("thread", "thread_id", "field"), BAD_THREADS)
async def test_create_thread_rejects_bad_input_and_writes_nothing(client, thread, thread_id, field):
    failed = await expect_failure(
        client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread, thread_id=thread_id)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == [field]
    assert failed.error_metadata["field"] == field
    assert await count(client) == 0
    assert await list_all(client) == []


async def test_create_thread_names_every_bad_field_at_once(client):
    failed = await expect_failure(
        client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="a/b",
                thread=thread_pb2.Thread(
                    title="x" * 300,
                    locale=thread_pb2.Locale(
                        language="english", country="gb", time_zone="Mars/Olympus"
                    ),
                    participants=[participant("p"), participant("p")],
                ),
            )
        )
    )
    assert failed.code == INVALID
    assert set(failed.fields) == {
        "thread_id",
        "thread.title",
        "thread.locale.language",
        "thread.locale.country",
        "thread.locale.time_zone",
        "thread.participants[1].id",
    }
    assert await count(client) == 0


# -- Expiry --------------------------------------------------------------------


async def test_expired_thread_reads_as_not_found(client):
    doomed = await create(client, thread_id="doomed", title="short-lived", ttl=seconds(1))
    message = await add_message(client, "doomed", "bye")
    keeper = await create(client, title="keeper")
    doomed = await get(client, "doomed")
    assert micros(doomed.expire_time) == micros(doomed.last_activity_at) + 1_000_000
    assert await count(client) == 2

    await asyncio.sleep(1.2)

    calls: list[tuple[Any, str]] = [
        (
            client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="doomed")),
            "THREAD_NOT_FOUND",
        ),
        (
            client.threads.UpdateThread(
                thread_pb2.UpdateThreadRequest(
                    thread=thread_pb2.Thread(thread_id="doomed", title="x"),
                    update_mask=mask("title"),
                )
            ),
            "THREAD_NOT_FOUND",
        ),
        (
            client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id="doomed")),
            "THREAD_NOT_FOUND",
        ),
        (
            client.messages.GetMessage(
                message_pb2.GetMessageRequest(thread_id="doomed", message_id=message.message_id)
            ),
            "THREAD_NOT_FOUND",
        ),
        (
            client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id="doomed")),
            "THREAD_NOT_FOUND",
        ),
        (
            client.messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id="doomed",
                    message=message_pb2.Message(
                        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="late")]
                    ),
                )
            ),
            "THREAD_NOT_FOUND",
        ),
        (
            client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="doomed")),
            "THREAD_NOT_FOUND",
        ),
    ]
    for call, reason in calls:
        failed = await expect_failure(call)
        assert failed.code == NOT_FOUND
        assert failed.reason == reason

    assert await list_all(client) == [keeper.thread_id]
    assert await count(client) == 1
    assert await count(client, thread_ids=["doomed"]) == 0

    # The id is free again, and the new thread starts empty.
    reborn = await create(client, thread_id="doomed", title="reborn")
    assert reborn.message_count == 0
    assert reborn.etag != doomed.etag
    assert await message_texts(client, "doomed") == []


# -- ListThreads and CountThreads filters -----------------------------------------

SEED: dict[str, dict[str, Any]] = {
    "t-plain": {"agent_id": "agent-a", "user_id": "user-1", "external_ref": "ticket-1"},
    "t-gold": {
        "agent_id": "agent-a",
        "user_id": "user-2",
        "external_ref": "ticket-2",
        "metadata": {
            "tier": "gold",
            "n": 1,
            "flag": True,
            "cfg": {"a": 1, "b": [1, 2]},
            "maybe": None,
            "tags": ["x", "y"],
        },
    },
    "t-silver": {
        "agent_id": "agent-b",
        "user_id": "user-1",
        "metadata": {
            "tier": "silver",
            "n": "1",
            "flag": 1,
            "cfg": {"a": 1, "b": [1, 2], "c": 3},
            "a.b": "dot",
            "jsonish": '{"a":1}',
        },
    },
    "t-float": {
        "agent_id": "agent-b",
        "user_id": "user-3",
        "metadata": {"n": 1.5, "flag": False, "cfg": {"b": [1.0, 2], "a": 1.0}, "tags": ["y", "x"]},
    },
    "t-unicode": {
        "metadata": {"name": 'Zoë "q"', "obj": {"s": 'é\n"', "k": "ünï"}, "zero": 0},
    },
}


async def seed(client) -> None:
    """Create the SEED threads, in order, with their names as thread ids."""
    for name, fields in SEED.items():
        values = dict(fields)
        if "metadata" in values:
            values["metadata"] = struct(values["metadata"])
        await create(client, thread_id=name, title=name, **values)


ALL_SEEDED = set(SEED)

FILTERS: list[Any] = [
    pytest.param({}, ALL_SEEDED, id="no-filter"),
    pytest.param({"agent_id": "agent-a"}, {"t-plain", "t-gold"}, id="agent"),
    pytest.param({"agent_id": "agent-zzz"}, set(), id="agent-unknown"),
    pytest.param({"user_id": "user-1"}, {"t-plain", "t-silver"}, id="user"),
    pytest.param({"external_ref": "ticket-2"}, {"t-gold"}, id="external-ref"),
    pytest.param({"agent_id": "agent-b", "user_id": "user-1"}, {"t-silver"}, id="agent-and-user"),
    pytest.param({"statuses": [IDLE]}, ALL_SEEDED, id="status-idle"),
    pytest.param({"statuses": [thread_pb2.THREAD_STATUS_BUSY]}, set(), id="status-busy"),
    pytest.param(
        {
            "statuses": [
                thread_pb2.THREAD_STATUS_BUSY,
                thread_pb2.THREAD_STATUS_INTERRUPTED,
                thread_pb2.THREAD_STATUS_ERROR,
            ]
        },
        set(),
        id="status-not-idle",
    ),
    pytest.param({"statuses": [thread_pb2.THREAD_STATUS_ERROR, IDLE]}, ALL_SEEDED, id="status-any"),
    pytest.param(
        {"thread_ids": ["t-gold", "t-float", "t-missing"]}, {"t-gold", "t-float"}, id="thread-ids"
    ),
    pytest.param(
        {"thread_ids": ["t-gold"], "agent_id": "agent-b"}, set(), id="thread-ids-and-agent"
    ),
    pytest.param({"metadata": {"tier": "gold"}}, {"t-gold"}, id="md-string"),
    pytest.param({"metadata": {"tier": "bronze"}}, set(), id="md-string-no-match"),
    pytest.param({"metadata": {"n": 1}}, {"t-gold"}, id="md-number-1"),
    pytest.param({"metadata": {"n": 1.0}}, {"t-gold"}, id="md-number-1.0"),
    pytest.param({"metadata": {"n": "1"}}, {"t-silver"}, id="md-string-not-number"),
    pytest.param({"metadata": {"n": 1.5}}, {"t-float"}, id="md-number-fraction"),
    pytest.param({"metadata": {"flag": True}}, {"t-gold"}, id="md-bool-not-number"),
    pytest.param({"metadata": {"flag": 1}}, {"t-silver"}, id="md-number-not-bool"),
    pytest.param({"metadata": {"flag": False}}, {"t-float"}, id="md-false"),
    pytest.param({"metadata": {"flag": 0}}, set(), id="md-zero-not-false"),
    pytest.param({"metadata": {"zero": False}}, set(), id="md-false-not-zero"),
    pytest.param({"metadata": {"zero": 0}}, {"t-unicode"}, id="md-zero"),
    pytest.param({"metadata": {"maybe": None}}, {"t-gold"}, id="md-null-not-missing"),
    pytest.param(
        {"metadata": {"cfg": {"a": 1, "b": [1, 2]}}}, {"t-gold", "t-float"}, id="md-nested-whole"
    ),
    pytest.param(
        {"metadata": {"cfg": {"b": [1, 2], "a": 1.0}}},
        {"t-gold", "t-float"},
        id="md-nested-key-order",
    ),
    pytest.param({"metadata": {"cfg": {"a": 1}}}, set(), id="md-nested-partial"),
    pytest.param(
        {"metadata": {"cfg": {"a": 1, "b": [1, 2], "c": 3}}}, {"t-silver"}, id="md-nested-superset"
    ),
    pytest.param(
        {"metadata": {"cfg": {"a": "1", "b": [1, 2]}}}, set(), id="md-nested-string-not-number"
    ),
    pytest.param(
        {"metadata": {"obj": {"s": 'é\n"', "k": "ünï"}}}, {"t-unicode"}, id="md-nested-unicode"
    ),
    pytest.param({"metadata": {"name": 'Zoë "q"'}}, {"t-unicode"}, id="md-unicode-string"),
    pytest.param({"metadata": {"tags": ["x", "y"]}}, {"t-gold"}, id="md-list-in-order"),
    pytest.param({"metadata": {"tags": ["x"]}}, set(), id="md-list-partial"),
    pytest.param({"metadata": {"tier": "gold", "n": 1}}, {"t-gold"}, id="md-two-keys"),
    pytest.param({"metadata": {"tier": "gold", "n": 2}}, set(), id="md-two-keys-one-wrong"),
    pytest.param({"metadata": {"absent": "x"}}, set(), id="md-missing-key"),
    pytest.param({"metadata": {"a.b": "dot"}}, {"t-silver"}, id="md-dotted-key"),
    pytest.param({"metadata": {"a": {"b": "dot"}}}, set(), id="md-dotted-key-not-path"),
    pytest.param({"metadata": {"jsonish": '{"a":1}'}}, {"t-silver"}, id="md-json-text"),
    pytest.param({"metadata": {"jsonish": {"a": 1}}}, set(), id="md-object-not-text"),
    pytest.param({"metadata": {"cfg": '{"a":1,"b":[1,2]}'}}, set(), id="md-text-not-object"),
    pytest.param(
        {"metadata": {"tier": "gold"}, "agent_id": "agent-a"}, {"t-gold"}, id="md-and-agent"
    ),
]


@pytest.mark.parametrize(("filter_fields", "expected"), FILTERS)
async def test_list_and_count_threads_filter(client, filter_fields, expected):
    await seed(client)
    fields = dict(filter_fields)
    if "metadata" in fields:
        fields["metadata"] = struct(fields["metadata"])
    listed = await list_all(client, **fields)
    assert len(listed) == len(set(listed))
    assert set(listed) == expected
    assert await count(client, **fields) == len(expected)


async def test_filter_by_created_and_updated_time_ranges(client):
    first = await create(client, thread_id="first")
    second = await create(client, thread_id="second")
    third = await create(client, thread_id="third")
    assert micros(first.created_at) < micros(second.created_at) < micros(third.created_at)

    at_second = second.created_at
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"created_after": at_second}, ["third", "second"]),  # at or after
        ({"created_before": at_second}, ["first"]),  # strictly before
        (
            {"created_after": first.created_at, "created_before": third.created_at},
            ["second", "first"],
        ),
        ({"created_after": timestamp_from_micros(micros(third.created_at) + 1)}, []),
        ({"created_before": timestamp_from_micros(micros(first.created_at))}, []),
    ]
    for filter_fields, expected in cases:
        assert await list_all(client, **filter_fields) == expected, filter_fields
        assert await count(client, **filter_fields) == len(expected), filter_fields

    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="first", title="changed"), update_mask=mask("title")
        )
    )
    assert micros(updated.updated_at) > micros(third.updated_at)
    cases = [
        ({"updated_after": updated.updated_at}, ["first"]),
        ({"updated_before": updated.updated_at}, ["third", "second"]),
        (
            {"updated_after": second.updated_at, "updated_before": updated.updated_at},
            ["third", "second"],
        ),
        ({"updated_after": updated.updated_at, "created_before": at_second}, ["first"]),
    ]
    for filter_fields, expected in cases:
        assert await list_all(client, **filter_fields) == expected, filter_fields
        assert await count(client, **filter_fields) == len(expected), filter_fields


async def test_messages_do_not_change_updated_at_for_the_updated_filter(client):
    thread = await create(client, thread_id="quiet")
    await add_message(client, "quiet", "hello")
    after_message = await get(client, "quiet")
    assert after_message.updated_at == thread.updated_at
    assert micros(after_message.last_activity_at) > micros(thread.last_activity_at)
    assert (
        await count(client, updated_before=timestamp_from_micros(micros(thread.updated_at) + 1))
        == 1
    )


# -- ListThreads order and paging ------------------------------------------------


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("", ["c", "b", "a"]),
        ("created_at desc", ["c", "b", "a"]),
        ("created_at", ["a", "b", "c"]),
        ("updated_at", ["b", "c", "a"]),
        ("updated_at desc", ["a", "c", "b"]),
    ],
    ids=["default", "created-desc", "created", "updated", "updated-desc"],
)
async def test_list_threads_order_by(client, order_by, expected):
    for name in ("a", "b", "c"):
        await create(client, thread_id=name)
    await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="a", title="touched"), update_mask=mask("title")
        )
    )
    assert await list_all(client, order_by=order_by) == expected
    # The same order a page at a time.
    assert await list_all(client, order_by=order_by, page_size=1) == expected


async def test_list_threads_returns_no_messages(client):
    thread = await create(client, title="with messages")
    await add_message(client, thread.thread_id, "hi")
    response = await client.threads.ListThreads(thread_pb2.ListThreadsRequest())
    assert len(response.threads) == 1
    assert not response.threads[0].messages
    assert response.threads[0] == await get(client, thread.thread_id)
    assert response.next_page_token == ""


async def test_list_threads_pages_through_with_tokens(client):
    made = [(await create(client, thread_id=f"t{i}")).thread_id for i in range(7)]
    pages: list[list[str]] = []
    token = ""
    while True:
        response = await client.threads.ListThreads(
            thread_pb2.ListThreadsRequest(page_size=3, page_token=token, order_by="created_at")
        )
        pages.append([t.thread_id for t in response.threads])
        token = response.next_page_token
        if not token:
            break
    assert pages == [made[0:3], made[3:6], made[6:7]]


async def test_list_threads_default_page_size_is_20(client):
    for i in range(21):
        await create(client, thread_id=f"t{i:02}")
    first = await client.threads.ListThreads(thread_pb2.ListThreadsRequest())
    assert len(first.threads) == 20
    assert first.next_page_token
    second = await client.threads.ListThreads(
        thread_pb2.ListThreadsRequest(page_token=first.next_page_token)
    )
    assert [t.thread_id for t in second.threads] == ["t00"]
    assert second.next_page_token == ""
    full = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=100))
    assert len(full.threads) == 21
    assert full.next_page_token == ""


@pytest.mark.parametrize("order_by", ["", "created_at"])
async def test_walk_by_created_at_is_stable_while_others_write(client, order_by):
    for i in range(6):
        await create(client, thread_id=f"keep-{i}")
    await create(client, thread_id="gone")
    seen: list[str] = []
    token = ""
    step = 0
    while True:
        response = await client.threads.ListThreads(
            thread_pb2.ListThreadsRequest(page_size=2, page_token=token, order_by=order_by)
        )
        seen.extend(t.thread_id for t in response.threads)
        token = response.next_page_token
        if not token:
            break
        # Between pages others create, delete and update threads.
        await create(client, thread_id=f"new-{step}")
        await client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id="keep-3", title=f"edit {step}"),
                update_mask=mask("title"),
            )
        )
        if step == 0:
            await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="gone"))
        step += 1
    assert len(seen) == len(set(seen))
    assert {s for s in seen if s.startswith("keep-")} == {f"keep-{i}" for i in range(6)}


@pytest.mark.parametrize("page_size", [-1, 101, 1000])
async def test_list_threads_bad_page_size(client, page_size):
    await create(client)
    failed = await expect_failure(
        client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=page_size))
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_size"]


@pytest.mark.parametrize("page_size", [1, 100])
async def test_list_threads_page_size_limits_are_accepted(client, page_size):
    for i in range(2):
        await create(client, thread_id=f"t{i}")
    response = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=page_size))
    assert len(response.threads) == min(page_size, 2)
    assert bool(response.next_page_token) == (page_size == 1)


@pytest.mark.parametrize(
    "order_by", ["title", "created_at sideways", "message_count desc", "created_at,updated_at"]
)
async def test_list_threads_bad_order_by(client, order_by):
    failed = await expect_failure(
        client.threads.ListThreads(thread_pb2.ListThreadsRequest(order_by=order_by))
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["order_by"]


async def test_list_threads_names_every_bad_field_at_once(client):
    failed = await expect_failure(
        client.threads.ListThreads(
            thread_pb2.ListThreadsRequest(
                page_size=1000,
                order_by="title",
                filter=thread_pb2.ThreadFilter(statuses=[thread_pb2.THREAD_STATUS_UNSPECIFIED]),
            )
        )
    )
    assert failed.code == INVALID
    assert set(failed.fields) == {"page_size", "order_by", "filter.statuses[0]"}


def encoded(payload: str) -> str:
    """Return text as an unpadded base64url string, like the server's tokens."""
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


GARBAGE_TOKENS = [
    pytest.param("garbage", id="word"),
    pytest.param("!!!!", id="punctuation"),
    pytest.param("%%%%====", id="percent"),
    pytest.param(encoded("{}"), id="empty-object"),
    pytest.param(encoded("[1, 2]"), id="list"),
    pytest.param(encoded('"text"'), id="string"),
    pytest.param(encoded('{"v": 1, "k": 1, "q": "0000000000000000"}'), id="foreign-query"),
    pytest.param(encoded('{"v": "x", "k": 1, "q": "0"}'), id="text-sort-value"),
    pytest.param(encoded('{"v": NaN, "k": 1, "q": "0"}'), id="nan"),
    pytest.param(encoded('{"v": Infinity, "k": 1, "q": "0"}'), id="infinity"),
    pytest.param(encoded('{"v": 1e999, "k": 1, "q": "0"}'), id="huge-float"),
]


@pytest.mark.parametrize("token", GARBAGE_TOKENS)
async def test_list_threads_garbage_page_token(client, token):
    await create(client)
    failed = await expect_failure(
        client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_token=token))
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_token"]


async def test_list_threads_tampered_page_token(client):
    for i in range(3):
        await create(client, thread_id=f"t{i}")
    first = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=1))
    token = first.next_page_token
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["v"] = 2**80  # a sort value no row can have, and too big for SQLite
    failed = await expect_failure(
        client.threads.ListThreads(
            thread_pb2.ListThreadsRequest(page_size=1, page_token=encoded(json.dumps(payload)))
        )
    )
    assert failed.code == INVALID
    assert failed.fields == ["page_token"]


@pytest.mark.parametrize(
    "second_request",
    [
        thread_pb2.ListThreadsRequest(page_size=1, order_by="created_at"),
        thread_pb2.ListThreadsRequest(page_size=1, order_by="updated_at desc"),
        thread_pb2.ListThreadsRequest(page_size=1, filter=thread_pb2.ThreadFilter(agent_id="x")),
        thread_pb2.ListThreadsRequest(
            page_size=1, filter=thread_pb2.ThreadFilter(metadata=struct({"a": 1}))
        ),
    ],
    ids=["other-order", "other-column", "other-filter", "other-metadata"],
)
async def test_list_threads_token_only_works_with_its_query(client, second_request):
    for i in range(3):
        await create(client, thread_id=f"t{i}", agent_id="x", metadata=struct({"a": 1}))
    first = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=1))
    assert first.next_page_token
    second_request.page_token = first.next_page_token
    failed = await expect_failure(client.threads.ListThreads(second_request))
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["page_token"]
    # A page size change is not a different query.
    again = await client.threads.ListThreads(
        thread_pb2.ListThreadsRequest(page_size=2, page_token=first.next_page_token)
    )
    assert [t.thread_id for t in again.threads] == ["t1", "t0"]


BAD_FILTERS: list[Any] = [
    pytest.param(
        thread_pb2.ThreadFilter(statuses=[thread_pb2.THREAD_STATUS_UNSPECIFIED]),
        "filter.statuses[0]",
        id="status-unspecified",
    ),
    pytest.param(
        thread_pb2.ThreadFilter(statuses=[IDLE, thread_pb2.THREAD_STATUS_UNSPECIFIED]),
        "filter.statuses[1]",
        id="status-unspecified-second",
    ),
    pytest.param(
        thread_pb2.ThreadFilter(thread_ids=["a/b"]), "filter.thread_ids[0]", id="thread-id-slash"
    ),
    pytest.param(
        thread_pb2.ThreadFilter(thread_ids=[""]), "filter.thread_ids[0]", id="thread-id-empty"
    ),
    pytest.param(
        thread_pb2.ThreadFilter(thread_ids=[f"t{i}" for i in range(101)]),
        "filter.thread_ids",
        id="thread-ids-101",
    ),
    pytest.param(
        thread_pb2.ThreadFilter(agent_id="a" * 129), "filter.agent_id", id="agent-too-long"
    ),
    pytest.param(thread_pb2.ThreadFilter(user_id="u\n"), "filter.user_id", id="user-control-char"),
    pytest.param(
        thread_pb2.ThreadFilter(external_ref="r" * 257), "filter.external_ref", id="ref-too-long"
    ),
    pytest.param(
        thread_pb2.ThreadFilter(metadata=no_kind_struct()), "filter.metadata", id="metadata-no-kind"
    ),
    pytest.param(
        thread_pb2.ThreadFilter(metadata=number_struct(math.nan)),
        "filter.metadata",
        id="metadata-nan",
    ),
    pytest.param(
        thread_pb2.ThreadFilter(metadata=struct({f"k{i}": i for i in range(21)})),
        "filter.metadata",
        id="metadata-21-keys",
    ),
]


@pytest.mark.parametrize(("bad_filter", "field"), BAD_FILTERS)
async def test_bad_filter_is_invalid_for_list_and_count(client, bad_filter, field):
    await create(client)
    calls: list[Callable[[], Any]] = [
        lambda: client.threads.ListThreads(thread_pb2.ListThreadsRequest(filter=bad_filter)),
        lambda: client.threads.CountThreads(thread_pb2.CountThreadsRequest(filter=bad_filter)),
    ]
    for call in calls:
        failed = await expect_failure(call())
        assert failed.code == INVALID
        assert failed.reason == "VALIDATION_ERROR"
        assert failed.fields == [field]


async def test_count_threads_counts_past_one_page(client):
    for i in range(25):
        await create(client, thread_id=f"t{i:02}", agent_id="busy" if i % 2 else "calm")
    assert await count(client) == 25
    assert await count(client, agent_id="busy") == 12
    assert await count(client, agent_id="calm") == 13
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="t01"))
    assert await count(client, agent_id="busy") == 11


# -- UpdateThread ----------------------------------------------------------------

NEW_VALUES: dict[str, Any] = {
    "title": "A new title",
    "metadata": struct({"replaced": True, "nested": {"n": 2}}),
    "agent_id": "agent-new",
    "user_id": "user-new",
    "external_ref": "ZD-9999",
    "locale": thread_pb2.Locale(language="fr", country="FR", time_zone="Europe/Paris"),
    "participants": [thread_pb2.Participant(id="x9", name="Xavier", type=USER, role="reviewer")],
    "ttl": seconds(7200),
}


@pytest.mark.parametrize("path", CLIENT_FIELDS)
async def test_update_thread_sets_each_field(client, path):
    original = await create(
        client, thread_id="u", **{f: getattr(full_thread(), f) for f in CLIENT_FIELDS}
    )
    # The request also carries other values that are NOT in the mask.
    request_thread = thread_pb2.Thread(thread_id="u", title="ignored", agent_id="ignored-agent")
    if path in ("title", "agent_id"):
        request_thread.ClearField(path)
    if path == "participants":
        request_thread.participants.extend(NEW_VALUES["participants"])
    elif isinstance(NEW_VALUES[path], str):
        setattr(request_thread, path, NEW_VALUES[path])
    else:
        getattr(request_thread, path).CopyFrom(NEW_VALUES[path])

    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(thread=request_thread, update_mask=mask(path))
    )

    expected = client_fields(original)
    expected[path] = client_fields(thread_pb2.Thread(**{path: NEW_VALUES[path]}))[path]
    assert client_fields(updated) == expected
    assert updated.created_at == original.created_at
    assert micros(updated.updated_at) > micros(original.updated_at)
    assert updated.last_activity_at == updated.updated_at
    assert updated.etag != original.etag
    assert updated.status == IDLE
    ttl = NEW_VALUES["ttl"] if path == "ttl" else original.ttl
    assert micros(updated.expire_time) == micros(updated.last_activity_at) + ttl.ToMicroseconds()
    assert await get(client, "u") == updated


@pytest.mark.parametrize("path", CLIENT_FIELDS)
async def test_update_thread_clears_a_named_field_left_unset(client, path):
    original = await create(
        client, thread_id="u", **{f: getattr(full_thread(), f) for f in CLIENT_FIELDS}
    )
    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="u"), update_mask=mask(path)
        )
    )
    expected = client_fields(original)
    expected[path] = client_fields(thread_pb2.Thread())[path]
    assert client_fields(updated) == expected
    if path == "ttl":
        assert not updated.HasField("ttl")
        assert not updated.HasField("expire_time")
    if path == "locale":
        assert client_fields(updated)["locale"] == ("", "", "")
    assert await get(client, "u") == updated


async def test_update_thread_several_fields_at_once(client):
    await create(client, thread_id="u", title="old", user_id="someone", ttl=seconds(60))
    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(
                thread_id="u",
                title="new",
                metadata=struct({"k": "v"}),
                locale=thread_pb2.Locale(language="de"),
            ),
            update_mask=mask("title", "metadata", "locale", "ttl", "title"),
        )
    )
    assert updated.title == "new"
    assert as_json(updated.metadata) == {"k": "v"}
    assert client_fields(updated)["locale"] == ("de", "", "")
    assert updated.user_id == "someone"
    assert not updated.HasField("ttl")
    assert not updated.HasField("expire_time")
    assert await get(client, "u") == updated


async def test_update_thread_with_current_etag(client):
    original = await create(client, thread_id="u", title="v1")
    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="u", title="v2", etag=original.etag),
            update_mask=mask("title"),
        )
    )
    assert updated.title == "v2"
    assert updated.etag not in ("", original.etag)
    again = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="u", title="v3", etag=updated.etag),
            update_mask=mask("title"),
        )
    )
    assert again.title == "v3"
    assert len({original.etag, updated.etag, again.etag}) == 3


async def test_update_thread_with_stale_etag_is_aborted_and_changes_nothing(client):
    original = await create(client, thread_id="u", title="v1")
    current = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="u", title="v2"), update_mask=mask("title")
        )
    )
    for stale in (original.etag, "not-an-etag"):
        failed = await expect_failure(
            client.threads.UpdateThread(
                thread_pb2.UpdateThreadRequest(
                    thread=thread_pb2.Thread(thread_id="u", title="v3", etag=stale),
                    update_mask=mask("title"),
                )
            )
        )
        assert failed.code == grpc.StatusCode.ABORTED
        assert failed.reason == "ETAG_MISMATCH"
        assert failed.error_metadata["field"] == "thread.etag"
        assert await get(client, "u") == current


async def test_etag_changes_on_every_change_and_not_on_reads(client):
    thread = await create(client, thread_id="u")
    etags = [thread.etag]
    assert (await get(client, "u")).etag == thread.etag
    await client.threads.ListThreads(thread_pb2.ListThreadsRequest())
    assert (await get(client, "u")).etag == thread.etag

    await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="u", title="x"), update_mask=mask("title")
        )
    )
    etags.append((await get(client, "u")).etag)
    message = await add_message(client, "u", "hello")
    etags.append((await get(client, "u")).etag)
    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(thread_id="u", message_id=message.message_id)
    )
    etags.append((await get(client, "u")).etag)
    assert len(set(etags)) == len(etags), etags

    # After a message was written, an etag read before it is stale.
    failed = await expect_failure(
        client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="u", etag=etags[1]))
    )
    assert failed.code == grpc.StatusCode.ABORTED


async def test_update_thread_empty_mask_is_invalid(client):
    original = await create(client, thread_id="u", title="v1")
    failed = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(thread=thread_pb2.Thread(thread_id="u", title="v2"))
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["update_mask"]
    assert await get(client, "u") == original


@pytest.mark.parametrize(
    "path",
    [
        "status",
        "created_at",
        "updated_at",
        "last_activity_at",
        "message_count",
        "expire_time",
        "messages",
        "thread_id",
        "nope",
        "Title",
        "",
        "metadata.",
        "metadata..a",
        "title.x",
    ],
)
async def test_update_thread_unknown_or_output_only_path_is_invalid(client, path):
    original = await create(client, thread_id="u", title="v1")
    failed = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id="u", title="v2"),
                update_mask=mask("title", path),
            )
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["update_mask"]
    assert await get(client, "u") == original


@pytest.mark.parametrize(
    ("path", "thread", "field"),
    [
        (
            "locale",
            thread_pb2.Thread(locale=thread_pb2.Locale(time_zone="Mars/Olympus")),
            "thread.locale.time_zone",
        ),
        (
            "locale",
            thread_pb2.Thread(locale=thread_pb2.Locale(language="english")),
            "thread.locale.language",
        ),
        (
            "locale",
            thread_pb2.Thread(locale=thread_pb2.Locale(country="gb")),
            "thread.locale.country",
        ),
        ("title", thread_pb2.Thread(title="t" * 257), "thread.title"),
        ("metadata", thread_pb2.Thread(metadata=no_kind_struct()), "thread.metadata"),
        ("metadata", thread_pb2.Thread(metadata=number_struct(math.nan)), "thread.metadata"),
        (
            "participants",
            thread_pb2.Thread(participants=[participant("p"), participant("p")]),
            "thread.participants[1].id",
        ),
        (
            "participants",
            thread_pb2.Thread(
                participants=[participant("p", thread_pb2.PARTICIPANT_TYPE_UNSPECIFIED)]
            ),
            "thread.participants[0].type",
        ),
        ("ttl", thread_pb2.Thread(ttl=seconds(0.25)), "thread.ttl"),
    ],
    ids=[
        "tz",
        "language",
        "country",
        "title",
        "md-no-kind",
        "md-nan",
        "dup-participant",
        "type",
        "ttl",
    ],
)
async def test_update_thread_bad_value_is_invalid_and_changes_nothing(client, path, thread, field):
    original = await create(
        client, thread_id="u", **{f: getattr(full_thread(), f) for f in CLIENT_FIELDS}
    )
    thread.thread_id = "u"
    failed = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(thread=thread, update_mask=mask(path))
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == [field]
    assert await get(client, "u") == original


# -- DeleteThread ----------------------------------------------------------------


async def test_delete_thread_removes_it_and_its_messages_and_nothing_else(client):
    doomed = await create(client, thread_id="doomed")
    other = await create(client, thread_id="other")
    doomed_messages = [await add_message(client, "doomed", t) for t in ("a", "b", "c")]
    other_messages = [await add_message(client, "other", t) for t in ("x", "y")]

    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=doomed.thread_id))

    failed = await expect_failure(
        client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="doomed"))
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "THREAD_NOT_FOUND"
    for message in doomed_messages:
        failed = await expect_failure(
            client.messages.GetMessage(
                message_pb2.GetMessageRequest(thread_id="doomed", message_id=message.message_id)
            )
        )
        assert failed.code == NOT_FOUND

    # The other thread and its messages are untouched.
    assert await list_all(client) == [other.thread_id]
    assert await count(client) == 1
    assert (await get(client, "other")).message_count == 2
    assert await message_texts(client, "other") == ["x", "y"]
    for message in other_messages:
        got = await client.messages.GetMessage(
            message_pb2.GetMessageRequest(thread_id="other", message_id=message.message_id)
        )
        assert got == message

    # A new thread with the same id does not inherit the old messages.
    reborn = await create(client, thread_id="doomed")
    assert reborn.message_count == 0
    assert await message_texts(client, "doomed") == []
    for message in doomed_messages:
        failed = await expect_failure(
            client.messages.GetMessage(
                message_pb2.GetMessageRequest(thread_id="doomed", message_id=message.message_id)
            )
        )
        assert failed.code == NOT_FOUND
        assert failed.reason == "MESSAGE_NOT_FOUND"

    # Deleting twice: the second time there is nothing to delete.
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="doomed"))
    failed = await expect_failure(
        client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="doomed"))
    )
    assert failed.code == NOT_FOUND
    assert failed.reason == "THREAD_NOT_FOUND"
    assert failed.error_metadata["field"] == "thread_id"


async def test_delete_thread_with_current_etag(client):
    thread = await create(client, thread_id="d")
    await client.threads.DeleteThread(
        thread_pb2.DeleteThreadRequest(thread_id="d", etag=thread.etag)
    )
    assert await count(client) == 0


async def test_delete_thread_with_stale_etag_is_aborted_and_deletes_nothing(client):
    original = await create(client, thread_id="d")
    await add_message(client, "d", "kept")
    current = await get(client, "d")
    failed = await expect_failure(
        client.threads.DeleteThread(
            thread_pb2.DeleteThreadRequest(thread_id="d", etag=original.etag)
        )
    )
    assert failed.code == grpc.StatusCode.ABORTED
    assert failed.reason == "ETAG_MISMATCH"
    assert failed.error_metadata["field"] == "etag"
    assert await get(client, "d") == current
    assert await message_texts(client, "d") == ["kept"]


async def test_etag_of_a_deleted_thread_does_not_match_its_successor(client):
    old = await create(client, thread_id="same")
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="same"))
    new = await create(client, thread_id="same")
    assert new.etag != old.etag
    failed = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id="same", title="x", etag=old.etag),
                update_mask=mask("title"),
            )
        )
    )
    assert failed.code == grpc.StatusCode.ABORTED
    assert await get(client, "same") == new


# -- CopyThread ------------------------------------------------------------------


async def test_copy_thread_copies_fields_and_messages_in_order(client):
    source = await create(
        client, thread_id="src", **{f: getattr(full_thread(), f) for f in CLIENT_FIELDS}
    )
    written = [await add_message(client, "src", t) for t in ("one", "two", "three", "four")]
    await client.messages.UpdateMessage(
        message_pb2.UpdateMessageRequest(
            message=message_pb2.Message(
                thread_id="src", message_id=written[1].message_id, metadata=struct({"edited": True})
            ),
            update_mask=mask("metadata"),
        )
    )
    source_before = await get(client, "src", thread_pb2.THREAD_VIEW_FULL)

    before = now_micros()
    copy = await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id="src"))

    assert SERVER_THREAD_ID.fullmatch(copy.thread_id)
    assert client_fields(copy) == client_fields(source)
    assert copy.status == IDLE
    assert copy.message_count == 4
    assert micros(copy.created_at) >= before
    assert copy.updated_at == copy.created_at
    assert copy.last_activity_at == copy.created_at
    assert micros(copy.expire_time) == micros(copy.last_activity_at) + 3600 * 1_000_000
    assert copy.etag != source.etag
    assert not copy.messages

    full = await get(client, copy.thread_id, thread_pb2.THREAD_VIEW_FULL)
    originals = list(source_before.messages)
    assert len(full.messages) == 4
    for copied, original in zip(full.messages, originals, strict=True):
        assert SERVER_MESSAGE_ID.fullmatch(copied.message_id)
        assert copied.thread_id == copy.thread_id
        assert copied.role == original.role
        assert list(copied.parts) == list(original.parts)
        assert copied.metadata == original.metadata
    assert [m.parts[0].text for m in full.messages] == ["one", "two", "three", "four"]
    assert {m.message_id for m in full.messages}.isdisjoint(m.message_id for m in originals)
    assert as_json(full.messages[1].metadata) == {"edited": True}

    # The source is untouched, and the two threads are independent from now on.
    assert await get(client, "src", thread_pb2.THREAD_VIEW_FULL) == source_before
    await add_message(client, copy.thread_id, "five")
    assert (await get(client, "src")).message_count == 4
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="src"))
    assert await message_texts(client, copy.thread_id) == ["one", "two", "three", "four", "five"]
    listed = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=copy.thread_id)
    )
    copied_first = await client.messages.GetMessage(
        message_pb2.GetMessageRequest(
            thread_id=copy.thread_id, message_id=listed.messages[0].message_id
        )
    )
    assert copied_first == listed.messages[0]


async def test_copy_thread_of_an_empty_thread(client):
    await create(client, thread_id="empty", title="nothing yet")
    copy = await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id="empty"))
    assert copy.title == "nothing yet"
    assert copy.message_count == 0
    assert not copy.HasField("expire_time")
    assert await message_texts(client, copy.thread_id) == []
    assert await count(client) == 2


async def test_copy_thread_with_chosen_id(client):
    await create(client, thread_id="src", title="hello")
    await add_message(client, "src", "m")
    copy = await client.threads.CopyThread(
        thread_pb2.CopyThreadRequest(thread_id="src", new_thread_id="my.copy~1")
    )
    assert copy.thread_id == "my.copy~1"
    assert (await get(client, "my.copy~1")).title == "hello"
    assert await message_texts(client, "my.copy~1") == ["m"]


async def test_copy_thread_onto_a_taken_id_is_already_exists(client):
    await create(client, thread_id="src", title="source")
    await add_message(client, "src", "m")
    taken = await create(client, thread_id="taken", title="taken")
    failed = await expect_failure(
        client.threads.CopyThread(
            thread_pb2.CopyThreadRequest(thread_id="src", new_thread_id="taken")
        )
    )
    assert failed.code == grpc.StatusCode.ALREADY_EXISTS
    assert failed.reason == "THREAD_ALREADY_EXISTS"
    assert failed.error_metadata["field"] == "new_thread_id"
    assert await get(client, "taken") == taken
    assert await message_texts(client, "taken") == []
    assert await count(client) == 2

    # Copying onto itself is the same case.
    failed = await expect_failure(
        client.threads.CopyThread(
            thread_pb2.CopyThreadRequest(thread_id="src", new_thread_id="src")
        )
    )
    assert failed.code == grpc.StatusCode.ALREADY_EXISTS
    assert (await get(client, "src")).message_count == 1


@pytest.mark.parametrize("new_thread_id", ["a/b", "x" * 129, "sp ace"])
async def test_copy_thread_bad_new_id_is_invalid(client, new_thread_id):
    await create(client, thread_id="src")
    failed = await expect_failure(
        client.threads.CopyThread(
            thread_pb2.CopyThreadRequest(thread_id="src", new_thread_id=new_thread_id)
        )
    )
    assert failed.code == INVALID
    assert failed.reason == "VALIDATION_ERROR"
    assert failed.fields == ["new_thread_id"]
    assert await count(client) == 1


async def test_update_thread_mask_may_name_metadata_keys(client):
    # The HTTP mapping infers paths such as metadata.channel from a PATCH body.
    await create(
        client, thread_id="k", metadata=struct({"channel": "web", "tier": 1, "a": {"b": 1}})
    )
    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(
                thread_id="k", metadata=struct({"channel": "sms", "a": {"c": 2}})
            ),
            update_mask=mask("metadata.channel", "metadata.tier", "metadata.a.c"),
        )
    )
    assert json_format.MessageToDict(updated.metadata) == {"channel": "sms", "a": {"b": 1, "c": 2}}


async def test_update_thread_mask_with_etag_uses_it_as_a_precondition_only(client):
    original = await create(client, thread_id="e", title="v1")
    updated = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="e", title="v2", etag=original.etag),
            update_mask=mask("title", "etag"),
        )
    )
    assert updated.title == "v2"
    failed = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id="e", title="v3"), update_mask=mask("etag")
            )
        )
    )
    assert (failed.code, failed.fields) == (INVALID, ["update_mask"])
