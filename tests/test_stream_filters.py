"""Streams of chosen event types: StreamRunEvents, StreamRun and WatchThread, over gRPC and HTTP.

The events a stream leaves out still move it on, so a client that resumes
with the last event id it got, and the same types, gets exactly the later
events of those types: none twice, none missed. That is checked by cutting
filtered streams at every point (of a finished run, and of a run still
streaming) and comparing what the pieces add up to with the whole stream,
filtered after the fact. The same over HTTP: NDJSON, and Server-Sent Events
resumed with Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import grpc
import pytest
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RunningServer, connect, expect_failure
from tests.test_http import parse_sse
from tests.test_threads import struct

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
FINAL = {"run.completed", "run.failed", "run.cancelled", "run.max_iterations_reached"}
TEXT = " ".join(f"w{i}" for i in range(12))


@pytest.fixture
async def server(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """A server with its HTTP side."""
    database = tmp_path / "filters.db"
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


@pytest.fixture
def runs(server: RunningServer) -> Any:
    """A RunService stub."""
    return run_pb2_grpc.RunServiceStub(server.client.channel)


@pytest.fixture
def base(server: RunningServer) -> str:
    """The HTTP side's base URL."""
    return f"http://127.0.0.1:{server.server.http_port}"


def user(text: str) -> message_pb2.Message:
    """A user message with one text part."""
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def start(runs: Any, thread_id: str, text: str, **context: Any) -> run_pb2.Run:
    """Start an echo run (tools-demo when the text asks for sums) and return it."""
    run: run_pb2.Run = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="tools-demo" if "+" in text else "echo",
            input_messages=[user(text)],
            context=struct(context),
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
        )
    )
    return run


async def read(call: Any, limit: int | None = None) -> list[run_pb2.RunEvent]:
    """Read a stream to its end, or its first `limit` events (then hang up)."""
    events: list[run_pb2.RunEvent] = []
    async with asyncio.timeout(20):
        async for event in call:
            events.append(event)
            if limit is not None and len(events) == limit:
                call.cancel()
                break
    return events


async def run_events(
    runs: Any, run_id: str, after: int = 0, types: Sequence[str] = (), limit: int | None = None
) -> list[run_pb2.RunEvent]:
    """StreamRunEvents, read to the end (or `limit` events)."""
    call = runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after, event_types=types)
    )
    return await read(call, limit)


def only(events: Sequence[run_pb2.RunEvent], types: Sequence[str]) -> list[int]:
    """The ids of the events of these types."""
    return [e.event_id for e in events if e.type in types]


# -- gRPC ------------------------------------------------------------------------------------


async def test_a_run_s_stream_sends_only_the_types_asked_for(client, runs):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, "2+2 and 3+3")
    everything = await run_events(runs, run.run_id)
    assert everything[-1].type == "run.completed"
    for types in (
        ["message.delta"],
        ["tool_call.completed", "run.completed"],
        ["run.started"],
        ["message.created", "message.completed", "message.delta"],
    ):
        got = await run_events(runs, run.run_id, types=types)
        assert [e.event_id for e in got] == only(everything, types), types
        assert {e.type for e in got} <= set(types)
    # A stream whose types leave out the final event still ends with the run.
    assert [e.type for e in await run_events(runs, run.run_id, types=["run.created"])] == [
        "run.created"
    ]


@pytest.mark.parametrize(
    "types", [["message.delta"], ["tool_call.started", "run.completed"], ["message.completed"]]
)
async def test_resuming_a_filtered_stream_anywhere_is_exact(client, runs, types):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, "1+1 2+2 3+3 " + TEXT)
    everything = await run_events(runs, run.run_id)
    wanted = only(everything, types)
    assert len(wanted) >= 2
    for cut in range(1, len(wanted)):
        first = await run_events(runs, run.run_id, types=types, limit=cut)
        rest = await run_events(runs, run.run_id, after=first[-1].event_id, types=types)
        assert [e.event_id for e in first + rest] == wanted, cut
    # Resuming after an event left out (an id the client never saw) is exact too.
    for event in everything:
        rest = await run_events(runs, run.run_id, after=event.event_id, types=types)
        assert [e.event_id for e in rest] == [i for i in wanted if i > event.event_id]


async def test_resuming_a_live_filtered_stream_is_exact(client, runs, counts):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT, delay_ms=40)
    types = ["message.delta", "run.completed"]
    received: list[run_pb2.RunEvent] = []
    pieces = 0
    while not received or received[-1].type != "run.completed":
        after = received[-1].event_id if received else 0
        received += await run_events(runs, run.run_id, after=after, types=types, limit=3)
        pieces += 1
    everything = await run_events(runs, run.run_id)
    assert [e.event_id for e in received] == only(everything, types)
    assert "".join(e.delta.text for e in received if e.type == "message.delta") == TEXT
    counts(f"filtered stream: {len(received)} events received live in {pieces} pieces, exact")


async def test_stream_run_and_watch_thread_take_types_too(client, runs):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    call = runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread.thread_id,
            agent_id="echo",
            input_messages=[user("hello there")],
            stream_event_types=["message.completed", "run.completed"],
        )
    )
    streamed = await read(call)
    assert [e.type for e in streamed] == ["message.completed", "message.completed", "run.completed"]
    assert streamed[1].message.parts[0].text == "hello there"
    # The thread's stream: only state changes, with a caller's between runs.
    await client.threads.UpdateThreadState(
        thread_pb2.UpdateThreadStateRequest(
            thread_state=thread_pb2.ThreadState(thread_id=thread.thread_id, values=struct({"a": 1}))
        )
    )
    chat = await runs.Chat(
        run_pb2.ChatRequest(message="remember x", agent_id="notes", thread_id=thread.thread_id)
    )
    watch = runs.WatchThread(
        run_pb2.WatchThreadRequest(thread_id=thread.thread_id, event_types=["state.updated"])
    )
    watched = await read(watch, limit=2)
    assert [(e.type, e.run_id) for e in watched] == [
        ("state.updated", ""),
        ("state.updated", chat.run_id),
    ]
    resumed = runs.WatchThread(
        run_pb2.WatchThreadRequest(
            thread_id=thread.thread_id,
            after_event_id=watched[0].event_id,
            event_types=["state.updated", "run.completed"],
        )
    )
    after = await read(resumed, limit=2)
    assert [e.type for e in after] == ["state.updated", "run.completed"]
    assert after[0].event_id == watched[1].event_id


async def test_bad_types_are_refused(client, runs):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, "hi")
    failure = await expect_failure(
        run_events(runs, run.run_id, types=["message.delta", "message.deltas"])
    )
    assert (failure.code, failure.fields) == (INVALID, ["event_types[1]"])
    assert "message.deltas" in failure.message
    failure = await expect_failure(run_events(runs, run.run_id, types=["run.created"] * 33))
    assert failure.fields == ["event_types"]
    failure = await expect_failure(
        read(
            runs.WatchThread(
                run_pb2.WatchThreadRequest(
                    thread_id=thread.thread_id, event_types=["thread.deleted"]
                )
            )
        )
    )
    assert failure.fields == ["event_types[0]"]
    # CreateRun streams nothing, so it takes no types; StreamRun checks them.
    failure = await expect_failure(
        runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id, agent_id="echo", stream_event_types=["run.completed"]
            )
        )
    )
    assert failure.fields == ["stream_event_types"]
    failure = await expect_failure(
        read(
            runs.StreamRun(
                run_pb2.CreateRunRequest(
                    thread_id=thread.thread_id, agent_id="echo", stream_event_types=["nope"]
                )
            )
        )
    )
    assert failure.fields == ["stream_event_types[0]"]
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread.thread_id))
    assert len(listed.runs) == 1


# -- HTTP --------------------------------------------------------------------------------------


async def http_get(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET a path; return the status and the body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + path, headers=headers or {}) as response,
    ):
        return response.status, await response.text()


def query(types: Sequence[str], **more: Any) -> str:
    """The query string of a stream request for these types (repeated parameters)."""
    return "?" + urlencode([*(("eventTypes", t) for t in types), *more.items()])


async def test_ndjson_streams_take_types_in_the_query(client, runs, base):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT)
    everything = await run_events(runs, run.run_id)
    types = ["message.delta", "run.completed"]
    status, body = await http_get(base, f"/v1/runs/{run.run_id}/events" + query(types))
    assert status == 200
    got = [json.loads(line)["result"] for line in body.splitlines()]
    assert [int(e["eventId"]) for e in got] == only(everything, types)
    cut = int(got[4]["eventId"])
    status, body = await http_get(
        base, f"/v1/runs/{run.run_id}/events" + query(types, after_event_id=cut)
    )
    rest = [int(json.loads(line)["result"]["eventId"]) for line in body.splitlines()]
    assert rest == only(everything, types)[5:]
    # The snake_case name works as well, as grpc-gateway allows; a watch ends at its deadline.
    status, body = await http_get(
        base,
        f"/v1/threads/{thread.thread_id}/events?event_types=run.created",
        {"Grpc-Timeout": "1S"},
    )
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["result"]["type"] for line in lines[:-1]] == ["run.created"]
    assert lines[-1]["error"]["code"] == 4
    status, body = await http_get(base, f"/v1/runs/{run.run_id}/events" + query(["message.deltas"]))
    assert status == 400
    # A stream's error is wrapped as grpc-gateway wraps it: {"error": Status}.
    assert json.loads(body)["error"]["details"][0]["reason"] == "VALIDATION_ERROR"


async def test_server_sent_events_resume_exactly_with_last_event_id(client, runs, base):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT)
    everything = await run_events(runs, run.run_id)
    types = ["message.delta"]
    sse = {"Accept": "text/event-stream"}
    path = f"/v1/runs/{run.run_id}/events" + query(types)
    status, body = await http_get(base, path, sse)
    assert status == 200
    events = parse_sse(body)
    wanted = only(everything, types)
    assert [int(e["id"]) for e in events] == wanted
    assert {e["event"] for e in events} == {"message.delta"}
    # An EventSource that reconnects sends the last id it got: the rest, exactly.
    for cut in wanted[:-1]:
        status, body = await http_get(base, path, {**sse, "Last-Event-ID": str(cut)})
        assert [int(e["id"]) for e in parse_sse(body)] == [i for i in wanted if i > cut]
    # After the last one (the final event was not asked for): 204, so it stops.
    status, body = await http_get(base, path, {**sse, "Last-Event-ID": str(wanted[-1])})
    assert (status, body) == (204, "")


async def test_stream_run_over_http_takes_types_in_the_body(client, base):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/v1/threads/{thread.thread_id}/runs:stream",
            json={
                "agentId": "echo",
                "inputMessages": [{"role": "MESSAGE_ROLE_USER", "parts": [{"text": "a b"}]}],
                "streamEventTypes": ["message.delta", "run.completed"],
            },
        ) as response,
    ):
        assert response.status == 200
        body = await response.text()
    types = [json.loads(line)["result"]["type"] for line in body.splitlines()]
    assert types == ["message.delta", "message.delta", "run.completed"]
