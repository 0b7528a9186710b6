"""Idempotent creation (AIP-155): request_id on CreateThread, CreateMessage, CreateRun and Chat.

Against the real in-process server over a real SQLite file, and over HTTP.
Rows are counted in the database itself before and after, so "writes
nothing" means no row changed. The concurrency test fires many identical
calls at once (over gRPC; then half over gRPC and half over HTTP) and counts
what was written: exactly one creation each.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import psycopg
import pytest
from google.protobuf import struct_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.domain import idempotency
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
TABLES = ("threads", "messages", "runs", "events", "request_ids")
CONCURRENT = 20
DAY_US = 24 * 3600 * 1_000_000


@dataclass
class Stubs:
    """A server (with its HTTP side) and stubs for every service."""

    server: ThreadlineServer
    # The --database value: a SQLite file's path, or a PostgreSQL URL.
    database: str
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    http: str


@pytest.fixture
async def stubs(database_value: str) -> AsyncIterator[Stubs]:
    database = database_value
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(database),
            grace_period=1.0,
        )
    )
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Stubs(
            server,
            database,
            thread_pb2_grpc.ThreadServiceStub(channel),
            message_pb2_grpc.MessageServiceStub(channel),
            run_pb2_grpc.RunServiceStub(channel),
            f"http://127.0.0.1:{server.http_port}",
        )
    finally:
        await channel.close(None)
        await server.stop(grace=1.0)


def rows(database: str | Path) -> dict[str, int]:
    """Count the rows of each table, in a SQLite file or a PostgreSQL database (by its URL)."""
    if isinstance(database, str) and database.startswith("postgresql://"):
        with psycopg.connect(database) as pg:
            return {
                table: pg.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()[0]  # type: ignore[index]
                for table in TABLES
            }
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in TABLES
        }


def age_request_ids(database: str, micros: int) -> None:
    """Make every remembered call older by micros, as the clock would."""
    if database.startswith("postgresql://"):
        with psycopg.connect(database) as pg:
            pg.execute(b"UPDATE request_ids SET created_at = created_at - %s", (micros,))
        return
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE request_ids SET created_at = created_at - ?", (micros,))


def user(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


def new_id() -> str:
    return str(uuid.uuid4())


async def settled(stubs: Stubs, thread_id: str) -> None:
    """Wait until the thread has no run in flight (runs write events as they go)."""
    for _ in range(500):
        listed = await stubs.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
        if all(
            r.status not in (run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING)
            for r in listed.runs
        ):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("runs did not end")


async def new_thread(stubs: Stubs) -> str:
    return (await stubs.threads.CreateThread(thread_pb2.CreateThreadRequest())).thread_id


# Each creating method: a request with a given request_id, the call, the
# table its creation adds one row to, and what identifies its result.
Call = Callable[[Stubs, str, str], Awaitable[Any]]


async def create_thread(stubs: Stubs, thread_id: str, request_id: str) -> Any:
    del thread_id
    return await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread=thread_pb2.Thread(title="once"), request_id=request_id
        )
    )


async def create_message(stubs: Stubs, thread_id: str, request_id: str) -> Any:
    return await stubs.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread_id, message=user("once"), request_id=request_id
        )
    )


async def create_run(stubs: Stubs, thread_id: str, request_id: str) -> Any:
    return await stubs.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user("once")],
            request_id=request_id,
        )
    )


async def chat(stubs: Stubs, thread_id: str, request_id: str) -> Any:
    del thread_id
    return await stubs.runs.Chat(
        run_pb2.ChatRequest(message="once", agent_id="echo", request_id=request_id)
    )


METHODS: dict[str, tuple[Call, str, Callable[[Any], str]]] = {
    "CreateThread": (create_thread, "threads", lambda r: r.thread_id),
    "CreateMessage": (create_message, "messages", lambda r: r.message_id),
    "CreateRun": (create_run, "runs", lambda r: r.run_id),
    "Chat": (chat, "runs", lambda r: f"{r.thread_id}/{r.run_id}"),
}


def _without_progress(answer: Any) -> bytes:
    """Return an answer serialized without the fields a run's progress changes."""
    if not isinstance(answer, run_pb2.Run):
        return bytes(answer.SerializeToString())
    stable = run_pb2.Run()
    stable.CopyFrom(answer)
    # What a run's progress changes (a retry answers with the run as it is now).
    stable.ClearField("status")
    stable.ClearField("response")
    stable.ClearField("tool_calls")
    stable.ClearField("iterations")
    stable.ClearField("usage")
    stable.ClearField("error")
    stable.ClearField("started_at")
    stable.ClearField("ended_at")
    return bytes(stable.SerializeToString())


@pytest.mark.timeout(120)
async def test_concurrent_retries_write_once(stubs, counts):
    written: dict[str, int] = {}
    for name, (call, table, identity) in METHODS.items():
        thread_id = await new_thread(stubs)
        request_id = new_id()
        before = rows(stubs.database)
        answers = await asyncio.gather(
            *(call(stubs, thread_id, request_id) for _ in range(CONCURRENT))
        )
        assert len({identity(answer) for answer in answers}) == 1, name
        # Every answer is what the first call made "as it is now" (docs/api.md):
        # a run may have moved on between answers, nothing else may differ.
        assert len({_without_progress(answer) for answer in answers}) == 1, name
        await settled(stubs, thread_id)
        for answer in answers:
            if name == "Chat":
                await settled(stubs, answer.thread_id)
        after = rows(stubs.database)
        written[name] = after[table] - before[table]
        assert after["request_ids"] - before["request_ids"] == 1, name
        # And a retry now writes nothing at all.
        again = await call(stubs, thread_id, request_id)
        assert identity(again) == identity(answers[0])
        assert rows(stubs.database) == after, name
    counts(
        f"idempotency: {len(METHODS)} methods x {CONCURRENT} concurrent retries, "
        + ", ".join(f"{name} {count} write" for name, count in written.items())
    )
    assert written == dict.fromkeys(METHODS, 1)


async def test_a_retry_returns_the_first_result(stubs):
    request = thread_pb2.CreateThreadRequest(
        thread=thread_pb2.Thread(title="t"), request_id="retry-1"
    )
    first = await stubs.threads.CreateThread(request)
    assert await stubs.threads.CreateThread(request) == first
    thread_id = first.thread_id
    message_request = message_pb2.CreateMessageRequest(
        thread_id=thread_id, message=user("hello"), request_id="retry-1"
    )
    message = await stubs.messages.CreateMessage(message_request)
    assert await stubs.messages.CreateMessage(message_request) == message
    listed = await stubs.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id=thread_id))
    assert [m.message_id for m in listed.messages] == [message.message_id]


async def test_the_same_id_with_another_request_is_refused_and_writes_nothing(stubs):
    thread_id = await new_thread(stubs)
    await create_message(stubs, thread_id, "taken")
    before = rows(stubs.database)
    failed = await expect_failure(
        stubs.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread_id, message=user("something else"), request_id="taken"
            )
        )
    )
    assert (failed.code, failed.reason, failed.fields) == (
        INVALID,
        "REQUEST_ID_REUSED",
        ["request_id"],
    )
    assert failed.error_metadata["field"] == "request_id"
    assert rows(stubs.database) == before
    # Another thread is another request too.
    other = await new_thread(stubs)
    failed = await expect_failure(create_message(stubs, other, "taken"))
    assert failed.reason == "REQUEST_ID_REUSED"


async def test_request_ids_are_scoped_to_the_method(stubs):
    thread_id = await new_thread(stubs)
    shared = new_id()
    thread = await create_thread(stubs, "", shared)
    message = await create_message(stubs, thread_id, shared)
    run = await create_run(stubs, thread_id, shared)
    assert thread.thread_id != thread_id
    assert message.message_id
    await settled(stubs, thread_id)
    # StreamRun's ids are apart from CreateRun's: the same request makes a second run.
    stream = stubs.runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user("once")],
            request_id=shared,
        )
    )
    events = [event async for event in stream]
    assert events[0].type == "run.created"
    assert events[0].run_id != run.run_id


async def test_a_stream_run_retry_streams_the_first_run_again(stubs):
    thread_id = await new_thread(stubs)
    request = run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="echo",
        input_messages=[user("one two three")],
        request_id=new_id(),
    )
    first = [event async for event in stubs.runs.StreamRun(request)]
    again = [event async for event in stubs.runs.StreamRun(request)]
    assert [e.event_id for e in again] == [e.event_id for e in first]
    assert first[-1].type == "run.completed"
    listed = await stubs.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert len(listed.runs) == 1


async def test_chat_retries_wait_for_the_one_run(stubs):
    context = struct_pb2.Struct()
    context.update({"delay_ms": 40})
    request = run_pb2.ChatRequest(
        message="a b c d e", agent_id="echo", context=context, request_id=new_id()
    )
    first = asyncio.ensure_future(stubs.runs.Chat(request))
    await asyncio.sleep(0.05)
    retries = await asyncio.gather(*(stubs.runs.Chat(request) for _ in range(5)))
    answer = await first
    assert answer.status == run_pb2.RUN_STATUS_COMPLETED
    assert answer.response == "a b c d e"
    assert all(retry == answer for retry in retries)
    listed = await stubs.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=answer.thread_id))
    assert [run.run_id for run in listed.runs] == [answer.run_id]
    # Later, the retry answers at once from the ended run.
    assert await stubs.runs.Chat(request) == answer


async def test_a_failed_call_is_not_remembered(stubs):
    thread_id = await new_thread(stubs)
    context = struct_pb2.Struct()
    context.update({"delay_ms": 30})
    busy = await stubs.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id, agent_id="echo", input_messages=[user("a b c")], context=context
        )
    )
    request = run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="echo", request_id=new_id())
    failed = await expect_failure(stubs.runs.CreateRun(request))
    assert failed.reason == "THREAD_BUSY"
    await stubs.runs.WaitRun(run_pb2.WaitRunRequest(run_id=busy.run_id))
    run = await stubs.runs.CreateRun(request)
    assert run.run_id != busy.run_id
    assert (await stubs.runs.CreateRun(request)).run_id == run.run_id


async def test_a_retry_after_the_resource_was_deleted_is_not_found(stubs):
    request = thread_pb2.CreateThreadRequest(request_id=new_id())
    thread = await stubs.threads.CreateThread(request)
    await stubs.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread.thread_id))
    before = rows(stubs.database)
    failed = await expect_failure(stubs.threads.CreateThread(request))
    assert (failed.code, failed.reason, failed.fields) == (
        grpc.StatusCode.NOT_FOUND,
        "THREAD_NOT_FOUND",
        [],
    )
    assert failed.error_metadata["field"] == "request_id"
    assert rows(stubs.database) == before


@pytest.mark.parametrize("request_id", ["has space", "x" * 129, "é", "a/b"])
async def test_a_malformed_request_id_is_invalid(stubs, request_id):
    before = rows(stubs.database)
    failed = await expect_failure(create_thread(stubs, "", request_id))
    assert (failed.code, failed.reason, failed.fields) == (
        INVALID,
        "VALIDATION_ERROR",
        ["request_id"],
    )
    assert rows(stubs.database) == before


async def test_after_24_hours_a_request_id_is_forgotten(stubs):
    request_id = new_id()
    first = await create_thread(stubs, "", request_id)
    # Age the remembered call by a day and a second, as the clock would.
    age_request_ids(stubs.database, DAY_US + 1)
    second = await create_thread(stubs, "", request_id)
    assert second.thread_id != first.thread_id
    assert rows(stubs.database)["request_ids"] == 1  # the old row was replaced
    age_request_ids(stubs.database, DAY_US + 1)
    await create_thread(stubs, "", new_id())  # a fresh one stays
    assert await idempotency.forget_old(stubs.server.store) == 1
    assert rows(stubs.database)["request_ids"] == 1


async def test_request_id_over_http(stubs):
    async with aiohttp.ClientSession() as session:

        async def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with session.post(stubs.http + path, json=body) as response:
                return response.status, await response.json()

        request_id = new_id()
        status, first = await post(
            "/v1/threads", {"thread": {"title": "h"}, "requestId": request_id}
        )
        assert status == 200
        status, again = await post(
            "/v1/threads", {"thread": {"title": "h"}, "requestId": request_id}
        )
        assert (status, again["threadId"]) == (200, first["threadId"])
        status, refused = await post(
            "/v1/threads", {"thread": {"title": "other"}, "requestId": request_id}
        )
        assert status == 400
        assert [d["reason"] for d in refused["details"] if "reason" in d] == ["REQUEST_ID_REUSED"]
        # CreateMessage's body is the message: its request_id is a query parameter.
        path = f"/v1/threads/{first['threadId']}/messages?requestId={request_id}"
        body = {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "hi"}]}
        status, message = await post(path, body)
        assert status == 200
        status, again = await post(path, body)
        assert again["messageId"] == message["messageId"]
        status, chat_first = await post(
            "/v1/chat", {"message": "hi", "agentId": "echo", "requestId": request_id}
        )
        status, chat_again = await post(
            "/v1/chat", {"message": "hi", "agentId": "echo", "requestId": request_id}
        )
        assert status == 200
        assert chat_again == chat_first


async def test_concurrent_retries_over_grpc_and_http_together_write_once(stubs, counts):
    """The same request_id from gRPC and HTTP clients at once: one write, one answer."""
    half = CONCURRENT // 2

    def over_http(name: str, thread_id: str, request_id: str) -> tuple[str, dict[str, Any]]:
        if name == "CreateThread":
            return "/v1/threads", {"thread": {"title": "once"}, "requestId": request_id}
        if name == "CreateMessage":
            return (
                f"/v1/threads/{thread_id}/messages?requestId={request_id}",
                {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "once"}]},
            )
        if name == "CreateRun":
            return f"/v1/threads/{thread_id}/runs", {
                "agentId": "echo",
                "inputMessages": [{"role": "MESSAGE_ROLE_USER", "parts": [{"text": "once"}]}],
                "requestId": request_id,
            }
        return "/v1/chat", {"message": "once", "agentId": "echo", "requestId": request_id}

    json_identity: dict[str, Callable[[Any], str]] = {
        "CreateThread": lambda r: r["threadId"],
        "CreateMessage": lambda r: r["messageId"],
        "CreateRun": lambda r: r["runId"],
        "Chat": lambda r: f"{r['threadId']}/{r['runId']}",
    }
    written: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:

        async def post(path: str, body: dict[str, Any]) -> Any:
            async with session.post(stubs.http + path, json=body) as response:
                assert response.status == 200, await response.text()
                return await response.json()

        for name, (call, table, identity) in METHODS.items():
            thread_id = await new_thread(stubs)
            request_id = new_id()
            before = rows(stubs.database)
            path, body = over_http(name, thread_id, request_id)
            answers = await asyncio.gather(
                *(call(stubs, thread_id, request_id) for _ in range(half)),
                *(post(path, body) for _ in range(half)),
            )
            ids = {identity(a) for a in answers[:half]} | {
                json_identity[name](a) for a in answers[half:]
            }
            assert len(ids) == 1, (name, ids)
            await settled(stubs, thread_id)
            for answer in answers[:half]:
                if name == "Chat":
                    await settled(stubs, answer.thread_id)
            after = rows(stubs.database)
            written[name] = after[table] - before[table]
            assert after["request_ids"] - before["request_ids"] == 1, name
    counts(
        f"idempotency, gRPC and HTTP at once: {len(METHODS)} methods x {half} gRPC + {half} "
        "HTTP retries of one request_id, "
        + ", ".join(f"{name} {count} write" for name, count in written.items())
    )
    assert written == dict.fromkeys(METHODS, 1)
