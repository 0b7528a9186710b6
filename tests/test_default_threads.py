"""Default threads and ClearThread, against the real in-process server over a real SQLite file.

What thread.proto says of GetDefaultThread (made on the first call, the
same thread for every call after, whoever races; never deleted, its agent,
user and ttl fixed) and of ClearThread (every message gone at once, the
state and the runs kept; refused while a run is in flight). The database
decides which of two first calls made the thread: a unique index, shown
here by inserting a second default thread behind the domain's back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc
from threadline_server import ids
from threadline_server.config import Settings
from threadline_server.store.base import StoreTransaction
from threadline_server.store.records import DEFAULT_TENANT
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RunningServer, connect, expect_failure
from tests.test_state import get_state, plain, update
from tests.test_threads import struct

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
RACERS = 40


@pytest.fixture
async def server(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """A server with its HTTP side, so that calls race over both."""
    database = tmp_path / "default.db"
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=database_value if "://" in database_value else str(database),
            grace_period=1.0,
        )
    )
    port = await instance.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        yield RunningServer(instance, client, database)
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


async def default_thread(client: Any, agent_id: str = "", user_id: str = "") -> thread_pb2.Thread:
    """GetDefaultThread."""
    thread: thread_pb2.Thread = await client.threads.GetDefaultThread(
        thread_pb2.GetDefaultThreadRequest(agent_id=agent_id, user_id=user_id)
    )
    return thread


def user(text: str) -> message_pb2.Message:
    """A user message with one text part."""
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def test_the_first_call_makes_it_and_every_later_call_returns_it(client):
    made = await default_thread(client, "helpdesk", "user-7")
    assert made.is_default
    assert (made.agent_id, made.user_id) == ("helpdesk", "user-7")
    assert not made.HasField("ttl")
    assert not made.HasField("expire_time")
    assert made.status == thread_pb2.THREAD_STATUS_IDLE
    again = await default_thread(client, "helpdesk", "user-7")
    assert again.thread_id == made.thread_id
    got = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert got.is_default
    # Another user, another agent, and neither: each has a default thread of its own.
    others = {
        (await default_thread(client, *pair)).thread_id
        for pair in (("helpdesk", "user-8"), ("sales", "user-7"), ("", ""), ("", "user-7"))
    }
    assert len(others) == 4
    assert made.thread_id not in others
    assert (await default_thread(client)).thread_id in others
    # Ordinary threads of the same agent and user are not it.
    plain_thread = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread=thread_pb2.Thread(agent_id="helpdesk", user_id="user-7")
        )
    )
    assert not plain_thread.is_default
    assert (await default_thread(client, "helpdesk", "user-7")).thread_id == made.thread_id


async def test_concurrent_first_calls_all_get_the_same_thread(server, counts):
    """Calls race over gRPC (each on its own channel) and HTTP at once: one thread."""
    address = server.client.address
    channels = [grpc.aio.insecure_channel(address) for _ in range(RACERS)]
    base = f"http://127.0.0.1:{server.server.http_port}"

    async def over_grpc(channel: grpc.aio.Channel) -> str:
        stub = thread_pb2_grpc.ThreadServiceStub(channel)
        reply = await stub.GetDefaultThread(
            thread_pb2.GetDefaultThreadRequest(agent_id="racer", user_id="u")
        )
        return str(reply.thread_id)

    async def over_http(session: aiohttp.ClientSession) -> str:
        async with session.post(
            f"{base}/v1/threads:getDefault", json={"agentId": "racer", "userId": "u"}
        ) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["threadId"])

    try:
        async with aiohttp.ClientSession() as session:
            results = await asyncio.gather(
                *(over_grpc(channel) for channel in channels),
                *(over_http(session) for _ in range(RACERS)),
            )
    finally:
        for channel in channels:
            await channel.close(None)
    assert len(set(results)) == 1
    count = await server.client.threads.CountThreads(
        thread_pb2.CountThreadsRequest(filter=thread_pb2.ThreadFilter(agent_id="racer"))
    )
    assert count.count == 1
    counts(f"default thread: {2 * RACERS} concurrent first calls (gRPC and HTTP), 1 thread made")


async def test_the_database_refuses_a_second_default_thread(server):
    """A unique index decides, whatever the code above it does: a second insert is refused."""
    first = await default_thread(server.client, "solo", "u")

    async def insert_another(tx: StoreTransaction) -> object:
        thread = thread_pb2.Thread(
            thread_id=ids.new_thread_id(),
            agent_id="solo",
            user_id="u",
            status=thread_pb2.THREAD_STATUS_IDLE,
            is_default=True,
        )
        for stamp in (thread.created_at, thread.updated_at, thread.last_activity_at):
            stamp.FromMicroseconds(tx.now)
        return await tx.insert_thread(thread)

    assert await server.server.store.transaction(DEFAULT_TENANT, insert_another) is None
    assert (await default_thread(server.client, "solo", "u")).thread_id == first.thread_id


async def test_it_cannot_be_deleted(client):
    made = await default_thread(client, "a", "u")
    failure = await expect_failure(
        client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=made.thread_id))
    )
    assert (failure.code, failure.reason) == (FAILED_PRECONDITION, "DEFAULT_THREAD")
    assert failure.error_metadata["thread_id"] == made.thread_id
    still = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert still.thread_id == made.thread_id
    # A stale etag is still ABORTED first: the caller's precondition is checked first.
    stale = await expect_failure(
        client.threads.DeleteThread(
            thread_pb2.DeleteThreadRequest(thread_id=made.thread_id, etag="0-0")
        )
    )
    assert stale.reason == "ETAG_MISMATCH"


@pytest.mark.parametrize("path", ["agent_id", "user_id", "ttl"])
async def test_its_agent_user_and_ttl_cannot_change(client, path):
    made = await default_thread(client, "a", "u")
    changed = thread_pb2.Thread(
        thread_id=made.thread_id,
        agent_id="b",
        user_id="v",
        ttl=duration_pb2.Duration(seconds=60),
        title="new title",
    )
    failure = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=changed, update_mask=field_mask_pb2.FieldMask(paths=["title", path])
            )
        )
    )
    assert (failure.code, failure.reason) == (FAILED_PRECONDITION, "DEFAULT_THREAD")
    after = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert (after.title, after.agent_id, after.user_id) == ("", "a", "u")
    # Its other fields change as any thread's do.
    titled = await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=changed, update_mask=field_mask_pb2.FieldMask(paths=["title"])
        )
    )
    assert (titled.title, titled.is_default) == ("new title", True)


async def test_a_copy_of_it_is_an_ordinary_thread(client):
    made = await default_thread(client, "a", "u")
    copy = await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id=made.thread_id))
    assert not copy.is_default
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=copy.thread_id))


async def test_bad_requests(client):
    failure = await expect_failure(default_thread(client, "x" * 129, "u\x00"))
    assert failure.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failure.fields == ["agent_id", "user_id"]


# -- ClearThread ------------------------------------------------------------------------------


async def test_clear_deletes_every_message_and_keeps_the_rest(client):
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    made = await default_thread(client, "notes", "u")
    chat = await runs.Chat(
        run_pb2.ChatRequest(
            message="remember the door code", agent_id="notes", thread_id=made.thread_id
        )
    )
    await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=made.thread_id, message=user("more"))
    )
    before = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert before.message_count == 3
    cleared = await client.threads.ClearThread(
        thread_pb2.ClearThreadRequest(thread_id=made.thread_id, etag=before.etag)
    )
    assert cleared.message_count == 0
    assert cleared.etag != before.etag
    assert cleared.is_default
    page = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=made.thread_id)
    )
    assert list(page.messages) == []
    # The state, the runs and the events stay; thread.cleared marks the moment.
    assert plain((await get_state(client, made.thread_id)).values) == {"notes": ["the door code"]}
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=made.thread_id))
    assert [r.run_id for r in listed.runs] == [chat.run_id]
    watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=made.thread_id), timeout=10)
    seen = []
    async for event in watch:
        seen.append(event)
        if event.type == "thread.cleared":
            break
    watch.cancel()
    assert seen[-1].run_id == ""
    assert [e.type for e in seen].count("message.completed") == 3
    # The thread goes on: a new message, a new run.
    again = await runs.Chat(
        run_pb2.ChatRequest(
            message="what do you remember?", agent_id="notes", thread_id=made.thread_id
        )
    )
    assert again.response == "I remember: the door code."
    after = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert after.message_count == 2


async def test_clear_is_refused_while_a_run_is_in_flight(client):
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread.thread_id,
            agent_id="echo",
            input_messages=[user("one two three four five six")],
            context=struct({"delay_ms": 200}),
        )
    )
    failure = await expect_failure(
        client.threads.ClearThread(thread_pb2.ClearThreadRequest(thread_id=thread.thread_id))
    )
    assert (failure.code, failure.reason) == (FAILED_PRECONDITION, "THREAD_BUSY")
    assert run.run_id in failure.message
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id))
    await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
    cleared = await client.threads.ClearThread(
        thread_pb2.ClearThreadRequest(thread_id=thread.thread_id)
    )
    assert cleared.message_count == 0


async def test_clear_checks_the_etag_and_the_thread(client):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="c"))
    await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id="c", message=user("keep me"))
    )
    stale = await expect_failure(
        client.threads.ClearThread(thread_pb2.ClearThreadRequest(thread_id="c", etag=thread.etag))
    )
    assert (stale.code, stale.reason) == (grpc.StatusCode.ABORTED, "ETAG_MISMATCH")
    kept = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="c"))
    assert kept.message_count == 1
    missing = await expect_failure(
        client.threads.ClearThread(thread_pb2.ClearThreadRequest(thread_id="nope"))
    )
    assert (missing.code, missing.reason) == (grpc.StatusCode.NOT_FOUND, "THREAD_NOT_FOUND")
    # To empty the state as well: UpdateThreadState with the mask `values`.
    await update(client, "c", {"x": 1})
    emptied = await update(client, "c", {}, "values")
    assert plain(emptied.values) == {}
