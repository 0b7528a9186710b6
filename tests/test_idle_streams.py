"""Thousands of idle streams: STREAMS WatchThread streams open on one server process.

The streams are opened BATCH at a time and spread over CHANNELS connections
(a server takes at most 256 streams on one connection) and each first reads the
replay of a finished run (so it is surely open), then sits idle. Meanwhile
health checks and ordinary calls (GetThread, CreateMessage) are timed and
held against the same calls made before any stream was opened; a run on the
watched thread then reaches every stream, and the server's resident memory
per open stream is reported. When the streams go, the server still answers.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)

from tests.test_memory_process import rss_bytes
from tests.test_process import text_message

pytestmark = [pytest.mark.process, pytest.mark.timeout(180)]

STREAMS = 2000
CHANNELS = 20
BATCH = 100
SAMPLES = 20
MIB = 2**20
# What an idle stream may cost the server, resident.
BYTES_PER_STREAM_LIMIT = 64 * 1024


async def _timed(calls: Any) -> list[float]:
    took = []
    for call in calls:
        started = time.monotonic()
        await call()
        took.append(time.monotonic() - started)
    return took


async def _read_until(stream: Any, event_type: str) -> int:
    """Read a stream until an event of event_type; return how many events came."""
    seen = 0
    async for event in stream:
        seen += 1
        if event.type == event_type:
            return seen
    raise AssertionError(f"the stream ended before {event_type}")


async def test_two_thousand_idle_streams_leave_the_server_answering(spawn_server, counts):
    child = spawn_server(None, "--max-concurrent-rpcs", "5000", "--tenant-max-streams", "5000")
    # Each channel its own connection (a server takes at most 256 streams on one).
    channels = [
        grpc.aio.insecure_channel(child.address, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(CHANNELS)
    ]
    try:
        first = channels[0]
        threads = thread_pb2_grpc.ThreadServiceStub(first)
        messages = message_pb2_grpc.MessageServiceStub(first)
        runs = run_pb2_grpc.RunServiceStub(first)
        health = health_pb2_grpc.HealthStub(first)
        thread = await threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="watched"))
        run = await runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id, agent_id="echo", input_messages=[text_message("hi")]
            )
        )
        await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=30)

        def probes() -> list[Any]:
            return [
                lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=10),
                lambda: threads.GetThread(
                    thread_pb2.GetThreadRequest(thread_id="watched"), timeout=10
                ),
                lambda: messages.CreateMessage(
                    message_pb2.CreateMessageRequest(thread_id="other", message=text_message("x")),
                    timeout=10,
                ),
            ]

        await threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="other"))
        baseline = await _timed(probes() * SAMPLES)
        before = rss_bytes(child.process.pid)

        # Opened a hundred at a time, each batch read until it replayed the
        # finished run (so it is surely open, and then idle): a burst of
        # thousands of new streams at once is cut short by gRPC's own overload
        # protection (calls the server has not yet taken up are cancelled).
        streams: list[Any] = []
        opened = time.monotonic()
        for start in range(0, STREAMS, BATCH):
            batch = [
                run_pb2_grpc.RunServiceStub(channels[i % CHANNELS]).WatchThread(
                    run_pb2.WatchThreadRequest(thread_id="watched"), timeout=150
                )
                for i in range(start, start + BATCH)
            ]
            await asyncio.wait_for(
                asyncio.gather(*(_read_until(s, "run.completed") for s in batch)), 60
            )
            streams += batch
        opening = time.monotonic() - opened
        await asyncio.sleep(0.5)
        held = rss_bytes(child.process.pid)
        during = await _timed(probes() * SAMPLES)

        # A run on the watched thread reaches every one of them.
        started = time.monotonic()
        await runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id="watched", agent_id="echo", input_messages=[text_message("again")]
            )
        )
        delivered = await asyncio.wait_for(
            asyncio.gather(*(_read_until(s, "run.completed") for s in streams)), 60
        )
        fan_out = time.monotonic() - started
        for stream in streams:
            stream.cancel()
        await asyncio.sleep(0.5)
        after = await _timed(probes())
        per_stream = (held - before) / STREAMS
        counts(
            f"idle streams: {STREAMS} WatchThread streams over {CHANNELS} connections opened "
            f"in {opening:.1f}s; server RSS {before / MIB:.0f} -> {held / MIB:.0f} MiB "
            f"({per_stream / 1024:.1f} KiB a stream); health, GetThread and CreateMessage "
            f"meanwhile at most {max(during) * 1000:.0f} ms (median "
            f"{statistics.median(during) * 1000:.1f} ms) against {max(baseline) * 1000:.0f} ms "
            f"(median {statistics.median(baseline) * 1000:.1f} ms) with no stream; a run "
            f"reached all {STREAMS} in {fan_out:.1f}s "
            f"({sum(delivered)} events delivered)"
        )
        assert len(delivered) == STREAMS
        assert max(during) < max(1.0, 4 * max(baseline))
        assert statistics.median(during) < max(0.05, 4 * statistics.median(baseline))
        assert per_stream < BYTES_PER_STREAM_LIMIT
        assert max(after) < 5
    finally:
        for channel in channels:
            await channel.close(None)
