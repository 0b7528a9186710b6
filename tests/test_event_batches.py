"""StreamRunEventBatches: a run's events several to a message, over gRPC and HTTP.

The same events as StreamRunEvents, in the same order, ending at the same
place, in fewer messages; and resuming after the last event of any batch
(or after any event at all) gives exactly the events that follow: none
twice, none missed. Checked on finished runs (cut at every event), on live
runs read by many batch readers at once, with event_types, and over HTTP
(NDJSON lines and Server-Sent Events resumed with Last-Event-ID).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from threadline.v1 import run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.domain import sizes
from threadline_server.transport.run_services import batch_messages
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RunningServer, connect, expect_failure
from tests.test_http import parse_sse
from tests.test_stream_filters import TEXT, run_events, start

# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


@pytest.fixture
async def server(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """A server with its HTTP side."""
    database = tmp_path / "batches.db"
    settings = Settings(
        listen="127.0.0.1:0",
        http_listen="127.0.0.1:0",
        database=database_value if "://" in database_value else str(database),
        grace_period=1.0,
    )
    instance = ThreadlineServer(settings)
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


async def batches(
    runs: Any, run_id: str, after: int = 0, types: Sequence[str] = (), limit: int | None = None
) -> list[run_pb2.RunEventBatch]:
    """StreamRunEventBatches read to the end (or its first `limit` batches, then hang up)."""
    call = runs.StreamRunEventBatches(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after, event_types=types)
    )
    got: list[run_pb2.RunEventBatch] = []
    async with asyncio.timeout(20):
        async for batch in call:
            got.append(batch)
            if limit is not None and len(got) == limit:
                call.cancel()
                break
    return got


def ids(found: Sequence[run_pb2.RunEventBatch]) -> list[int]:
    """The event ids of every batch, in order."""
    return [event.event_id for batch in found for event in batch.events]


@pytest.mark.api
async def test_batches_hold_the_same_events_in_fewer_messages(client, runs):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT)
    one_by_one = await run_events(runs, run.run_id)
    assert one_by_one[-1].type == "run.completed"
    got = await batches(runs, run.run_id)
    # A finished run of fewer than 500 events: one message.
    assert len(got) == 1
    assert list(got[0].events) == one_by_one
    for types in (["message.delta"], ["run.started", "run.completed"], ["run.created"]):
        filtered = await batches(runs, run.run_id, types=types)
        assert ids(filtered) == [e.event_id for e in one_by_one if e.type in types], types
        assert all(batch.events for batch in filtered)


@pytest.mark.api
async def test_resuming_after_any_event_is_exact(client, runs, counts):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT)
    everything = [e.event_id for e in await run_events(runs, run.run_id)]
    types = ["message.delta", "run.completed"]
    wanted = [e.event_id for e in await run_events(runs, run.run_id, types=types)]
    for after in [0, *everything]:
        assert ids(await batches(runs, run.run_id, after=after)) == [
            i for i in everything if i > after
        ], after
        assert ids(await batches(runs, run.run_id, after=after, types=types)) == [
            i for i in wanted if i > after
        ], after
    counts(f"batch streams resumed at {len(everything) + 1} cuts, twice each, exact")


@pytest.mark.api
async def test_live_batch_readers_get_every_event_exactly_once(client, runs, counts):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT + " " + TEXT, delay_ms=20)
    readers = [asyncio.ensure_future(batches(runs, run.run_id)) for _ in range(20)]
    # One reader hangs up after each batch and resumes after its last event.
    resumed: list[run_pb2.RunEventBatch] = []
    pieces = 0
    while not resumed or resumed[-1].events[-1].type != "run.completed":
        after = resumed[-1].events[-1].event_id if resumed else 0
        resumed += await batches(runs, run.run_id, after=after, limit=1)
        pieces += 1
    results = await asyncio.gather(*readers)
    everything = [e.event_id for e in await run_events(runs, run.run_id)]
    assert ids(resumed) == everything
    for result in results:
        assert ids(result) == everything
    messages = sum(len(result) for result in results)
    assert messages <= len(everything) * len(results)
    counts(
        f"{len(results)} live batch readers: {len(everything)} events each in "
        f"{messages / len(results):.1f} messages on average; one resumed {pieces} times, exact"
    )


@pytest.mark.api
async def test_batch_streams_refuse_what_stream_run_events_refuses(client, runs):
    failure = await expect_failure(batches(runs, "no such run!"))
    assert (failure.code, failure.fields) == (INVALID, ["run_id"])
    failure = await expect_failure(batches(runs, "run-missing"))
    assert failure.code == NOT_FOUND
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, "hi")
    failure = await expect_failure(batches(runs, run.run_id, types=["message.deltas"]))
    assert (failure.code, failure.fields) == (INVALID, ["event_types[0]"])


@pytest.mark.api
async def test_batches_over_http_as_ndjson_and_server_sent_events(client, runs, base):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, TEXT)
    everything = [e.event_id for e in await run_events(runs, run.run_id)]
    path = f"{base}/v1/runs/{run.run_id}/events:batches"
    async with aiohttp.ClientSession() as session:
        async with session.get(path) as reply:
            assert reply.status == 200
            lines = [json.loads(line) for line in (await reply.text()).splitlines()]
        got = [int(e["eventId"]) for line in lines for e in line["result"]["events"]]
        assert got == everything
        async with session.get(
            path + f"?afterEventId={everything[3]}&eventTypes=message.delta"
        ) as reply:
            lines = [json.loads(line) for line in (await reply.text()).splitlines()]
        deltas = [e for line in lines for e in line["result"]["events"]]
        assert {e["type"] for e in deltas} == {"message.delta"}
        assert int(deltas[0]["eventId"]) > everything[3]
        sse = {"Accept": "text/event-stream"}
        async with session.get(path, headers=sse) as reply:
            events = parse_sse(await reply.text())
        assert [int(event["id"]) for event in events] == [everything[-1]]
        assert [int(e["eventId"]) for e in json.loads(events[0]["data"])["events"]] == everything
        # Last-Event-ID resumes after that batch's last event.
        async with session.get(
            path, headers={**sse, "Last-Event-ID": str(everything[-4])}
        ) as reply:
            events = parse_sse(await reply.text())
        resumed = [int(e["eventId"]) for ev in events for e in json.loads(ev["data"])["events"]]
        assert resumed == everything[-3:]


@pytest.mark.unit
def test_a_batch_message_is_the_events_bytes_framed_and_within_the_reply_limit():
    small = [
        run_pb2.RunEvent(event_id=i, type="message.delta", delta=run_pb2.MessageDelta(text="w"))
        for i in range(1, 4)
    ]
    [one] = batch_messages([e.SerializeToString() for e in small])
    assert list(run_pb2.RunEventBatch.FromString(one).events) == small
    big = run_pb2.RunEvent(event_id=9, type="message.delta")
    big.delta.text = "x" * (1024 * 1024)
    wires = [big.SerializeToString()] * 5 + [small[0].SerializeToString()]
    messages = list(batch_messages(wires))
    assert all(len(m) <= sizes.REPLY_BYTES for m in messages)
    assert [len(run_pb2.RunEventBatch.FromString(m).events) for m in messages] == [3, 3]
    assert list(batch_messages([])) == []
