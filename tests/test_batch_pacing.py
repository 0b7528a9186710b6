"""StreamRunEventBatches readers give way to the writer, and coalesce (domain/events.py).

While a run writes, batch readers get at most a few turns of the event loop
per window (the rest is the writer's), and each turn takes everything that
is pending: under a writer that commits often, a reader receives fewer,
larger batches than there were commits, and still every event once, in
order. When the writer pauses longer than the window, nothing is held back:
a single reader gets each commit at once, in a message of its own.

On the real server, over a real SQLite file and a real channel; the run is
the built-in echo agent pausing `delay_ms` before each word.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import grpc
import pytest
from threadline.v1 import run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.domain import events as bus_module

from tests.conftest import RunningServer
from tests.test_stream_filters import TEXT, run_events, start

pytestmark = pytest.mark.api

FINAL = "run.completed"


class Reader:
    """One StreamRunEventBatches call: the messages it got and when (time.time_ns)."""

    def __init__(self, runs: Any, run_id: str) -> None:
        self.call = runs.StreamRunEventBatches(run_pb2.StreamRunEventsRequest(run_id=run_id))
        self.messages: list[tuple[int, list[run_pb2.RunEvent]]] = []
        self.ready = asyncio.Event()

    async def read(self) -> None:
        """Read to the run's final event; `ready` is set once run.created arrived."""
        async with asyncio.timeout(60):
            async for batch in self.call:
                self.messages.append((time.time_ns(), list(batch.events)))
                self.ready.set()
                if batch.events[-1].type == FINAL:
                    return

    def ids(self) -> list[int]:
        """Every event id received, in order."""
        return [event.event_id for _, batch in self.messages for event in batch]


def _micros(event: run_pb2.RunEvent) -> int:
    return event.created_at.seconds * 1_000_000 + event.created_at.nanos // 1000


async def _blocked_run(runs: Any, client: Any, text: str, delay_ms: int) -> tuple[str, str]:
    """A run queued behind a blocker that holds its thread: (blocker id, run id)."""
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    blocker = await start(runs, thread.thread_id, TEXT * 30, delay_ms=1000)
    run = await start(runs, thread.thread_id, text, delay_ms=delay_ms)
    assert run.status == run_pb2.RUN_STATUS_QUEUED
    return blocker.run_id, run.run_id


async def _follow(runs: Any, client: Any, readers: int, text: str, delay_ms: int) -> Any:
    """Start the readers on a queued run, let it go, read it all; (readers, stored events)."""
    blocker_id, run_id = await _blocked_run(runs, client, text, delay_ms)
    followers = [Reader(runs, run_id) for _ in range(readers)]
    tasks = [asyncio.ensure_future(reader.read()) for reader in followers]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(reader.ready.wait() for reader in followers))
        await runs.CancelRun(run_pb2.CancelRunRequest(run_id=blocker_id))
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return followers, await run_events(runs, run_id)


async def test_readers_under_a_writer_get_fewer_larger_batches_and_every_event(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, counts: Any
):
    # This writer counts as fast from its first event (a loaded machine
    # cannot make it look idle between commits): one reader turn per 100 ms
    # while it writes.
    monkeypatch.setattr(bus_module, "HOT_EVENTS", 1)
    monkeypatch.setattr(bus_module, "WRITER_ACTIVE_SECONDS", 1.0)
    monkeypatch.setattr(bus_module, "TURN_WINDOW_SECONDS", 0.1)
    monkeypatch.setattr(bus_module, "TURNS_PER_WINDOW", 1)
    runs = run_pb2_grpc.RunServiceStub(server.client.channel)
    words = " ".join(f"w{i}" for i in range(400))
    readers, stored = await _follow(runs, server.client, 8, words, delay_ms=3)
    assert stored[-1].type == FINAL
    everything = [event.event_id for event in stored]
    # Each write has its own created_at: the distinct ones are the writes.
    run_started = next(i for i, e in enumerate(stored) if e.type == "run.started")
    writes = len({_micros(event) for event in stored[run_started:]})
    for reader in readers:
        assert reader.ids() == everything  # none missed, none twice, in order
    messages = [len(reader.messages) for reader in readers]
    # Readers that keep up get a message per write (or more); these wait
    # their turn and take every write since their last at once.
    assert max(messages) * 3 <= writes, (messages, writes)
    counts(
        f"8 batch readers of a run of {len(everything)} events in {writes} writes: "
        f"{statistics.mean(messages):.1f} messages each (at most {max(messages)}), "
        "every event once, in order"
    )


async def test_a_single_reader_of_a_pausing_writer_gets_each_commit_at_once(
    server: RunningServer, counts: Any
):
    runs = run_pb2_grpc.RunServiceStub(server.client.channel)
    words = " ".join(f"w{i}" for i in range(20))
    # 40 ms between words: a slow writer (readers are held back only behind a fast one).
    assert bus_module.HOT_EVENTS > 1
    (reader,), stored = await _follow(runs, server.client, 1, words, delay_ms=40)
    assert reader.ids() == [event.event_id for event in stored]
    run_started = next(i for i, e in enumerate(stored) if e.type == "run.started")
    writes = len({_micros(event) for event in stored[run_started:]})
    live = [m for m in reader.messages if m[1][0].event_id > stored[run_started].event_id]
    # One message per write, give or take a write that landed while the last was sent.
    assert len(live) * 2 >= writes - 1, (len(live), writes)
    latencies = sorted(
        (received / 1000 - _micros(event)) / 1000 for received, batch in live for event in batch
    )
    p50 = latencies[len(latencies) // 2]
    counts(
        f"1 batch reader of a writer pausing 40 ms: {len(live)} messages for {writes} writes; "
        f"latency from the write's start p50 {p50:.1f} ms, max {latencies[-1]:.1f} ms"
    )


async def test_parked_batch_readers_end_at_once_when_the_thread_is_deleted(
    server: RunningServer, counts: Any
):
    runs = run_pb2_grpc.RunServiceStub(server.client.channel)
    client: Any = server.client
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run = await start(runs, thread.thread_id, " ".join(f"w{i}" for i in range(50)), delay_ms=200)
    calls = [
        runs.StreamRunEventBatches(run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=4)
        for _ in range(5)
    ]
    # Each reader has had a delta: between two words (200 ms apart) it is parked.
    for call in calls:
        async with asyncio.timeout(10):
            async for batch in call:
                if any(event.type == "message.delta" for event in batch.events):
                    break
    await asyncio.sleep(0.05)
    deleted_at = time.monotonic()
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread.thread_id))

    async def end(call: Any) -> tuple[str, float]:
        try:
            async for _ in call:
                pass
        except grpc.aio.AioRpcError as error:
            return error.code().name, time.monotonic() - deleted_at
        return "OK", time.monotonic() - deleted_at

    ends = await asyncio.gather(*(end(call) for call in calls))
    # Not the idle re-check (5 s) nor the deadline: the deletion released them.
    assert all(code in {"OK", "NOT_FOUND"} and took < 1.5 for code, took in ends), ends
    counts(f"5 parked batch readers ended {max(t for _, t in ends) * 1000:.0f} ms after deletion")
