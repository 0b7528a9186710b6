"""Memory and replies bounded in bytes, not counts.

A message is at most 1 MiB serialized whatever its parts, for clients,
workers and in-process agents alike; no reply a client gets is larger than
the 4 MiB a gRPC client accepts by default (every client here keeps that
default, so an oversized reply fails the test); the event tail in memory is
bounded in bytes; and a server process's memory stays bounded while large
messages are written with no reader. Each test checks rows in the database
for "nothing written".
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.domain import sizes, state, validation
from threadline_server.domain.agents import AgentEvent, AgentInput, IterationStarted, TextDelta
from threadline_server.domain.events import TAIL_BYTES
from threadline_server.errors import Violations
from threadline_server.transport.server import ThreadlineServer
from threadline_server.wire import CLIENT_RECEIVE_LIMIT

from tests.conftest import expect_failure

pytestmark = pytest.mark.api

MIB = 1024 * 1024
INVALID = grpc.StatusCode.INVALID_ARGUMENT
WORKER_AGENT = "idle-worker"
TABLES = ("threads", "messages", "runs", "events")


class BigTalker:
    """An in-process agent whose answer grows past a message's limit, 64 KiB at a time."""

    name = "big-talker"
    default_max_iterations = 1
    tools: tuple[str, ...] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, Any]:
        del request
        yield IterationStarted()
        for _ in range(24):
            yield TextDelta("x" * (64 * 1024))


@dataclass
class World:
    """A server with a worker agent nobody serves (its runs wait) and a big-talking agent."""

    server: ThreadlineServer
    database: Path
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    workers: worker_pb2_grpc.AgentWorkerServiceAsyncStub


async def start_world(tmp_path: Path, **settings: Any) -> tuple[World, grpc.aio.Channel]:
    database = tmp_path / "threadline.db"
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="",
            database=str(database),
            grace_period=1.0,
            worker_agents=(WORKER_AGENT,),
            agents=("big-talker=tests.test_limits:BigTalker",),
            **settings,
        )
    )
    port = await server.start()
    # The default receive limit (4 MiB): a larger reply fails the call.
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    world = World(
        server,
        database,
        thread_pb2_grpc.ThreadServiceStub(channel),
        message_pb2_grpc.MessageServiceStub(channel),
        run_pb2_grpc.RunServiceStub(channel),
        worker_pb2_grpc.AgentWorkerServiceStub(channel),
    )
    return world, channel


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world, channel = await start_world(tmp_path)
    try:
        yield world
    finally:
        await channel.close(None)
        await world.server.stop(grace=1.0)


def rows(database: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in TABLES
        }


def text_of_size(size: int) -> message_pb2.Message:
    """A user message of one text part that takes exactly size bytes as the limit counts."""
    length = size
    while sizes.text_message_size(length) > size:
        length -= 1
    message = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="x" * length)]
    )
    assert sizes.message_size(message) == size
    return message


def tool_results(count: int, each: int) -> message_pb2.Message:
    """A tool message of count JSON results, each a string of about each bytes."""
    message = message_pb2.Message(role=message_pb2.MESSAGE_ROLE_TOOL)
    for index in range(count):
        result = message_pb2.ToolResult(tool_call_id=f"c{index}")
        result.json.string_value = "r" * each
        message.parts.add(tool_result=result)
    return message


def big_message(index: int) -> message_pb2.Message:
    """A message just under the limit: 15 tool results of about 68 KiB, as the audit sent."""
    message = tool_results(15, 68 * 1024)
    message.parts[0].tool_result.json.string_value = f"{index}-" + "r" * (68 * 1024 - 10)
    assert sizes.message_size(message) <= sizes.MAX_MESSAGE_BYTES
    return message


async def new_thread(world: World) -> str:
    return (await world.threads.CreateThread(thread_pb2.CreateThreadRequest())).thread_id


async def fill(world: World, thread_id: str, count: int) -> list[str]:
    """Write count big messages to a thread; return their ids, oldest first."""
    ids = []
    for index in range(count):
        message = await world.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=big_message(index))
        )
        ids.append(message.message_id)
    return ids


# -- a message's size ------------------------------------------------------------


async def test_a_message_is_at_most_1_mib_whatever_its_parts(world, counts):
    thread_id = await new_thread(world)
    before = rows(world.database)
    audit = tool_results(15, 250 * 1024)  # each result within its own 256 KiB limit
    assert audit.ByteSize() > 3.6 * MIB
    refused = 0
    for call in (
        world.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=audit)
        ),
        world.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread_id, message=text_of_size(sizes.MAX_MESSAGE_BYTES + 1)
            )
        ),
        world.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="echo", input_messages=[audit])
        ),
        world.runs.Chat(
            run_pb2.ChatRequest(message="é" * (MIB // 2), agent_id="echo", thread_id=thread_id)
        ),
    ):
        failed = await expect_failure(call)
        assert failed.code == INVALID
        assert failed.fields in (["message.parts"], ["input_messages[0].parts"], ["message"])
        refused += 1
    assert rows(world.database) == before
    exact = await world.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread_id, message=text_of_size(sizes.MAX_MESSAGE_BYTES)
        )
    )
    assert sizes.message_size(exact) == sizes.MAX_MESSAGE_BYTES
    counts(
        f"message size: {refused} messages over 1 MiB refused (the largest "
        f"{audit.ByteSize()} bytes in 15 tool results), one of exactly 1 MiB accepted"
    )


async def test_a_metadata_update_cannot_take_a_message_past_its_limit(world):
    thread_id = await new_thread(world)
    message = await world.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread_id, message=text_of_size(sizes.MAX_MESSAGE_BYTES - 100)
        )
    )
    metadata = struct_pb2.Struct()
    metadata.update({"note": "n" * 1000})
    failed = await expect_failure(
        world.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=thread_id, message_id=message.message_id, metadata=metadata
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["metadata.note"]),
            )
        )
    )
    assert (failed.code, failed.fields) == (INVALID, ["message.metadata"])


async def test_thread_metadata_set_key_by_key_stays_within_64_kib(world):
    thread_id = await new_thread(world)
    for key in ("a", "b"):
        metadata = struct_pb2.Struct()
        metadata.update({key: "v" * (40 * 1024)})
        update = world.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id=thread_id, metadata=metadata),
                update_mask=field_mask_pb2.FieldMask(paths=[f"metadata.{key}"]),
            )
        )
        if key == "a":
            await update
        else:
            failed = await expect_failure(update)
            assert (failed.code, failed.fields) == (INVALID, ["thread.metadata"])
    thread = await world.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert set(thread.metadata.fields) == {"a"}


# -- replies within 4 MiB --------------------------------------------------------


@pytest.mark.timeout(120)
async def test_replies_fit_a_default_client_and_pages_continue(world, counts):
    thread_id = await new_thread(world)
    ids = await fill(world, thread_id, 30)
    full = await world.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id, view=thread_pb2.THREAD_VIEW_FULL)
    )
    assert full.ByteSize() <= CLIENT_RECEIVE_LIMIT
    kept = [m.message_id for m in full.messages]
    assert kept == ids[-len(kept) :]
    assert full.omitted_message_count == 30 - len(kept) > 0
    assert full.message_count == 30

    seen: list[str] = []
    pages = 0
    token = ""
    largest = 0
    while True:
        page = await world.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100, page_token=token)
        )
        largest = max(largest, page.ByteSize())
        seen.extend(m.message_id for m in page.messages)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == ids
    assert largest <= CLIENT_RECEIVE_LIMIT
    counts(
        f"replies: GetThread FULL on 30 messages of ~1 MiB returned {len(kept)} "
        f"({full.ByteSize()} bytes), omitted_message_count {full.omitted_message_count}; "
        f"ListMessages page_size 100 took {pages} pages, the largest {largest} bytes"
    )


@pytest.mark.timeout(120)
async def test_thread_and_run_pages_shrink_to_fit(world, counts):
    metadata = struct_pb2.Struct()
    metadata.update({f"k{i}": "m" * 600 for i in range(100)})  # about 62 KiB as JSON
    participants = [
        thread_pb2.Participant(
            id=f"p{i}-{'i' * 100}", name="n" * 256, type=thread_pb2.PARTICIPANT_TYPE_USER
        )
        for i in range(100)
    ]
    made = []
    for _ in range(60):
        thread = await world.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread=thread_pb2.Thread(metadata=metadata, participants=participants)
            )
        )
        made.append(thread.thread_id)
    walked, pages, largest = await walk_threads(world)
    assert sorted(walked) == sorted(made)
    assert pages > 1
    assert largest <= CLIENT_RECEIVE_LIMIT

    thread_id = await new_thread(world)
    context = struct_pb2.Struct()
    context.update({f"k{i}": "c" * 600 for i in range(100)})
    runs = []
    for _ in range(40):
        run = await world.runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread_id,
                agent_id=WORKER_AGENT,
                context=context,
                metadata=context,
                multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
            )
        )
        runs.append(run.run_id)
    seen: list[str] = []
    token = ""
    run_pages = 0
    run_largest = 0
    while True:
        page = await world.runs.ListRuns(
            run_pb2.ListRunsRequest(
                thread_id=thread_id, page_size=100, page_token=token, order_by="created_at"
            )
        )
        run_largest = max(run_largest, page.ByteSize())
        seen.extend(r.run_id for r in page.runs)
        run_pages += 1
        token = page.next_page_token
        if not token:
            break
    assert seen == runs
    assert run_pages > 1
    assert run_largest <= CLIENT_RECEIVE_LIMIT
    counts(
        f"pages: 60 threads of ~120 KB in {pages} pages (largest {largest} bytes), "
        f"40 runs of ~125 KB in {run_pages} pages (largest {run_largest} bytes)"
    )


async def walk_threads(world: World) -> tuple[list[str], int, int]:
    walked: list[str] = []
    token = ""
    pages = largest = 0
    while True:
        page = await world.threads.ListThreads(
            thread_pb2.ListThreadsRequest(page_size=100, page_token=token)
        )
        largest = max(largest, page.ByteSize())
        walked.extend(t.thread_id for t in page.threads)
        pages += 1
        token = page.next_page_token
        if not token:
            return walked, pages, largest


@pytest.mark.timeout(120)
async def test_streams_and_claims_fit_a_default_client(world):
    thread_id = await new_thread(world)
    ids = await fill(world, thread_id, 12)
    events = []
    call = world.runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id))
    async for event in call:
        events.append(event)
        assert event.ByteSize() <= 2 * MIB
        if len(events) == 2 * len(ids):
            call.cancel()
            break
    assert [e.message.message_id for e in events if e.type == "message.completed"] == ids

    await world.runs.CreateRun(run_pb2.CreateRunRequest(thread_id=thread_id, agent_id=WORKER_AGENT))
    claimed = await world.workers.ClaimRun(worker_pb2.ClaimRunRequest(agent_id=WORKER_AGENT))
    assert claimed.run.thread_id == thread_id
    assert claimed.ByteSize() <= CLIENT_RECEIVE_LIMIT
    kept = [m.message_id for m in claimed.messages]
    assert kept == ids[-len(kept) :]
    assert claimed.omitted_message_count == len(ids) - len(kept) > 0


# -- what agents write ------------------------------------------------------------


async def test_a_workers_answer_is_held_to_a_messages_limit(world):
    thread_id = await new_thread(world)
    await world.runs.CreateRun(run_pb2.CreateRunRequest(thread_id=thread_id, agent_id=WORKER_AGENT))
    claimed = await world.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(
            agent_id=WORKER_AGENT, lease_duration=duration_pb2.Duration(seconds=60)
        )
    )
    run_id, lease_id = claimed.run.run_id, claimed.lease_id
    half = "w" * (MIB // 2)
    await world.workers.ReportRunEvents(
        worker_pb2.ReportRunEventsRequest(
            run_id=run_id,
            lease_id=lease_id,
            events=[worker_pb2.WorkerEvent(text_delta=half)],
        )
    )
    before = rows(world.database)
    failed = await expect_failure(
        world.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run_id,
                lease_id=lease_id,
                events=[
                    worker_pb2.WorkerEvent(text_delta="ok"),
                    worker_pb2.WorkerEvent(text_delta=half),
                ],
            )
        )
    )
    assert (failed.code, failed.fields) == (INVALID, ["events[1].text_delta"])
    assert rows(world.database) == before
    big_result = message_pb2.ToolResult(tool_call_id="c", text="t" * (MIB + 10))
    failed = await expect_failure(
        world.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run_id,
                lease_id=lease_id,
                events=[
                    worker_pb2.WorkerEvent(
                        tool_call_finished=worker_pb2.ToolCallFinished(result=big_result)
                    )
                ],
            )
        )
    )
    assert (failed.code, failed.fields) == (INVALID, ["events[0].tool_call_finished"])
    assert rows(world.database) == before
    # The run goes on: it finishes with the half answer it has.
    answer = await world.workers.ReportRunEvents(
        worker_pb2.ReportRunEventsRequest(
            run_id=run_id,
            lease_id=lease_id,
            events=[
                worker_pb2.WorkerEvent(
                    finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
                )
            ],
        )
    )
    assert answer.ended
    run = await world.runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
    assert len(run.response) == len(half)


async def test_a_run_makes_at_most_1000_tool_calls(world):
    thread_id = await new_thread(world)
    await world.runs.CreateRun(run_pb2.CreateRunRequest(thread_id=thread_id, agent_id=WORKER_AGENT))
    claimed = await world.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(
            agent_id=WORKER_AGENT, lease_duration=duration_pb2.Duration(seconds=120)
        )
    )
    report = worker_pb2.ReportRunEventsRequest(run_id=claimed.run.run_id, lease_id=claimed.lease_id)
    for index in range(1000):
        report.events.add(tool_call_started=message_pb2.ToolCall(id=f"c{index}", name="tool"))
        if len(report.events) == 500:
            await world.workers.ReportRunEvents(report)
            del report.events[:]
    before = rows(world.database)
    report.events.add(tool_call_started=message_pb2.ToolCall(id="one-more", name="tool"))
    failed = await expect_failure(world.workers.ReportRunEvents(report))
    assert (failed.code, failed.fields) == (INVALID, ["events[0].tool_call_started"])
    assert rows(world.database) == before
    run = await world.runs.GetRun(run_pb2.GetRunRequest(run_id=claimed.run.run_id))
    assert len(run.tool_calls) == 1000
    assert run.ByteSize() < 2 * MIB


async def test_an_in_process_agent_past_the_limit_fails_its_run(world):
    thread_id = await new_thread(world)
    run = await world.runs.CreateRun(
        run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="big-talker")
    )
    ended = await world.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
    assert ended.status == run_pb2.RUN_STATUS_FAILED
    assert ended.error.code == "AGENT_ERROR"
    assert "at most 1048576 bytes" in ended.error.message
    listed = await world.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id=thread_id))
    assert all(sizes.message_size(m) <= sizes.MAX_MESSAGE_BYTES for m in listed.messages)
    assert len(ended.response) <= sizes.MAX_MESSAGE_BYTES


# -- memory ---------------------------------------------------------------------------


async def test_the_event_tail_is_bounded_in_bytes(tmp_path, counts):
    world, channel = await start_world(tmp_path, event_tail_bytes=8 * MIB)
    try:
        busy = await new_thread(world)
        ids = await fill(world, busy, 20)
        assert world.server.bus.size <= TAIL_BYTES
        for _ in range(6):
            await fill(world, await new_thread(world), 2)
        assert world.server.bus.size <= 8 * MIB
        # A reader far behind still gets every event, from the database.
        events = []
        call = world.runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=busy))
        async for event in call:
            events.append(event)
            if len(events) == 2 * len(ids):
                call.cancel()
                break
        completed = [e.message.message_id for e in events if e.type == "message.completed"]
        assert completed == ids
        counts(
            f"event tail: {2 * 20 + 4 * 6} events of ~1 MiB published, "
            f"{world.server.bus.size} bytes kept (limits: 4 MiB a thread, 8 MiB in all)"
        )
    finally:
        await channel.close(None)
        await world.server.stop(grace=1.0)


def test_the_largest_events_a_run_can_make_fit_well_within_a_client(counts):
    """The largest run and tool-call events the limits allow, built field by field."""
    numbers = struct_pb2.Struct()
    # JSON that is small as text but large as protobuf: 64 KiB of "1,".
    numbers.update({"n": [1] * (sizes.MAX_MESSAGE_BYTES // 32 - 8)})
    assert len(numbers.SerializeToString()) > 300_000
    allowed = Violations()
    validation.struct(allowed, "context", numbers)
    assert not allowed.items
    run = run_pb2.Run(
        run_id="run_" + "r" * 26,
        thread_id="t" * 128,
        agent_id="a" * 128,
        response="x" * (sizes.MAX_MESSAGE_BYTES - 16),
        tools=["t" * 128] * 50,
        error=run_pb2.RunError(code="C" * 128, message="m" * 1024),
        context=numbers,
        metadata=numbers,
    )
    for index in range(1000):
        run.tool_calls.add(
            tool_call_id=f"{index}".ljust(128, "i"),
            tool="n" * 128,
            status=run_pb2.TOOL_CALL_STATUS_FAILED,
            duration_ms=2**63 - 1,
            error_code="E" * 128,
        )
    run_event = run_pb2.RunEvent(
        event_id=2**63 - 1, run_id=run.run_id, thread_id=run.thread_id, type="run.failed", run=run
    )
    result = message_pb2.ToolResult(
        tool_call_id="c" * 128, text="r" * (sizes.MAX_MESSAGE_BYTES - 300)
    )
    call = message_pb2.ToolCall(id="c" * 128, name="n" * 128, arguments=numbers)
    tool_event = run_pb2.RunEvent(
        event_id=2**63 - 1,
        run_id=run.run_id,
        thread_id=run.thread_id,
        type="tool_call.completed",
        tool_call=run_pb2.ToolCallEvent(call=call, record=run.tool_calls[0], result=result),
    )
    # A state of 256 KiB of "0,": the most protobuf a state's JSON can take.
    values = struct_pb2.Struct()
    values.update({"n": [0] * (state.MAX_STATE_BYTES // 2 - 8)})
    assert validation.json_size(values) <= state.MAX_STATE_BYTES
    checkpoint = thread_pb2.ThreadCheckpoint(
        checkpoint_id="ckp_" + "c" * 26,
        thread_id="t" * 128,
        parent_checkpoint_id="ckp_" + "p" * 26,
        values=values,
        last_message_id="msg_" + "m" * 26,
        run_id=run.run_id,
        source=thread_pb2.CHECKPOINT_SOURCE_RESTORE,
    )
    state_event = run_pb2.RunEvent(
        event_id=2**63 - 1,
        run_id=run.run_id,
        thread_id=run.thread_id,
        type="state.updated",
        checkpoint=checkpoint,
    )
    largest = max(run_event.ByteSize(), tool_event.ByteSize(), state_event.ByteSize())
    counts(
        f"events: the largest run event the limits allow is {run_event.ByteSize()} bytes, "
        f"the largest tool_call.completed {tool_event.ByteSize()}, the largest state.updated "
        f"{state_event.ByteSize()} (client limit {CLIENT_RECEIVE_LIMIT})"
    )
    assert largest < 2 * 1024 * 1024 + 512 * 1024
