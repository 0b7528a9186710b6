"""Slow and idle clients are cut off, over real sockets, while the server keeps answering.

HTTP: hundreds of connections that send their headers (or their body) a byte
at a time are closed within the header (or body) timeout, while normal
requests on other connections still answer quickly; an idle keep-alive
connection and one that never sends a byte are closed too. gRPC: the server's
keepalive policy sends GOAWAY "too_many_pings" to a client that pings too
often, an idle connection gets GOAWAY after the idle limit, and at the age
limit an open stream is given its grace, then ends UNAVAILABLE and resumes
from its last event id with nothing lost. Timeouts are short here (a second
or two); the defaults are in docs/security.md.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from threadline.v1 import message_pb2, message_pb2_grpc, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer, server_options

from tests.conftest import connect

pytestmark = [pytest.mark.api, pytest.mark.timeout(120)]

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
# Longer than the header timeout and its slack, so that a connection closed in
# time was closed by the header deadline, not by aiohttp's idle timeout.
IDLE_TIMEOUT = 5.0
SLOW_HEADERS = 300
SLOW_BODIES = 200
# How late past its timeout a slow connection may still be open (a loaded machine).
SLACK = 3.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ThreadlineServer]:
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            http_header_timeout=HEADER_TIMEOUT,
            http_body_timeout=BODY_TIMEOUT,
            http_idle_timeout=IDLE_TIMEOUT,
            metrics_listen="127.0.0.1:0",
        )
    )
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop(grace=1.0)


async def closed_after(reader: asyncio.StreamReader, started: float) -> tuple[float, bytes]:
    """Read until the server closes the connection; return when (after started) and what came."""
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError:
        pass
    return time.monotonic() - started, received


async def drip(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """Send data a byte at a time until it runs out or the server closes the connection."""
    for byte in data:
        await asyncio.sleep(every)
        if writer.is_closing():
            return
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            return


async def slow_client(port: int, opening: bytes, rest: bytes) -> tuple[float, bytes, float]:
    """Connect, send opening at once and rest a byte every half second; time the close.

    Return the seconds from connecting to the close, what came, and when
    (time.monotonic()) the close came. The clock starts before connecting: the
    server's deadline starts when it accepts, never earlier, so on a loaded
    machine the time measured is never shorter than the server's.
    """
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(opening)
    dripping = asyncio.create_task(drip(writer, rest, 0.5))
    try:
        seconds, received = await asyncio.wait_for(closed_after(reader, started), 60)
        return seconds, received, started + seconds
    finally:
        dripping.cancel()
        writer.close()


async def timed_request(port: int) -> float:
    """One GET /v1/threads on a new connection; return how long the answer took."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return time.monotonic() - started


async def test_slow_headers_and_slow_bodies_are_cut_while_others_are_served(server, counts):
    port = server.http_port
    # What normal requests take on this machine right now, with no slow client:
    # the latencies below are held against it (a loaded machine is slow for both).
    baseline = [await timed_request(port) for _ in range(20)]
    endless_headers = b"".join(b"X-Slow-%d: y\r\n" % i for i in range(100))
    slow_headers = [
        asyncio.create_task(
            slow_client(port, b"GET /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\n", endless_headers)
        )
        for _ in range(SLOW_HEADERS)
    ]
    body_head = (
        b"POST /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    slow_bodies = [
        asyncio.create_task(slow_client(port, body_head, b'{"threadId": "slow"}' + b" " * 80))
        for _ in range(SLOW_BODIES)
    ]
    await asyncio.sleep(0.5)
    # While they hang on, normal requests answer at once.
    latencies, answered = [], []
    for _ in range(20):
        latencies.append(await timed_request(port))
        answered.append(time.monotonic())
    header_results = await asyncio.gather(*slow_headers)
    body_results = await asyncio.gather(*slow_bodies)

    header_times = [seconds for seconds, _, _ in header_results]
    body_times = [seconds for seconds, _, _ in body_results]
    # Until the first slow connection was cut, every one of them hung on.
    all_hanging_until = min(closed for _, _, closed in header_results + body_results)
    counts(
        f"{SLOW_HEADERS} slow-header connections closed after "
        f"{min(header_times):.2f}-{max(header_times):.2f}s (timeout {HEADER_TIMEOUT}s); "
        f"{SLOW_BODIES} slow-body connections after {min(body_times):.2f}-{max(body_times):.2f}s "
        f"(timeout {BODY_TIMEOUT}s); 20 normal requests meanwhile took at most "
        f"{max(latencies) * 1000:.0f} ms (median {statistics.median(latencies) * 1000:.0f} ms; "
        f"with no slow client, at most {max(baseline) * 1000:.0f} ms, median "
        f"{statistics.median(baseline) * 1000:.0f} ms), "
        f"{sum(t < all_hanging_until for t in answered)} of them while every slow one hung on",
    )
    assert all(HEADER_TIMEOUT - 0.1 <= t <= HEADER_TIMEOUT + SLACK for t in header_times)
    assert all(answer == b"" for _, answer, _ in header_results)
    assert all(BODY_TIMEOUT - 0.1 <= t <= BODY_TIMEOUT + SLACK for t in body_times)
    for _, answer, _ in body_results:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"Connection: close" in answer
        assert b'"code":4' in answer
    # Served while the slow ones hung on, not after they were cut...
    assert sum(t < all_hanging_until for t in answered) >= 3
    # ...and about as fast as with no slow client at all: within a second, or
    # (on a machine so loaded that the baseline itself is slow) four times the baseline.
    assert max(latencies) < max(1.0, 4 * max(baseline))
    assert statistics.median(latencies) < max(0.25, 4 * statistics.median(baseline))
    # Nothing half-sent was written.
    client: Any = connect(f"127.0.0.1:{server.port}")
    count = await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
    await client.channel.close(None)
    assert count.count == 0


async def test_idle_and_silent_connections_are_closed(server, counts):
    port = server.http_port
    # A connection that never sends a byte: the header timeout (the metrics listener's too).
    silences = []
    for each in (port, server.metrics_port):
        reader, writer = await asyncio.open_connection("127.0.0.1", each)
        silent, _ = await asyncio.wait_for(closed_after(reader, time.monotonic()), 30)
        writer.close()
        silences.append(silent)
    # A keep-alive connection after one answer: the idle timeout.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    answered = time.monotonic()
    idle, rest = await asyncio.wait_for(closed_after(reader, answered), 30)
    writer.close()
    counts(f"silent connection closed after {silent:.2f}s, idle one after {idle:.2f}s")
    assert all(HEADER_TIMEOUT - 0.1 <= silent <= HEADER_TIMEOUT + SLACK for silent in silences)
    assert IDLE_TIMEOUT - 0.1 <= idle <= IDLE_TIMEOUT + SLACK
    assert rest == b""
    # A second request's headers get the header timeout from its first byte.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    await asyncio.sleep(0.5)
    started = time.monotonic()
    writer.write(b"GET /v1/threads HTTP/1.1\r\n")
    second, _ = await asyncio.wait_for(closed_after(reader, started), 30)
    writer.close()
    assert HEADER_TIMEOUT - 0.1 <= second <= HEADER_TIMEOUT + SLACK


async def test_a_long_stream_outlives_the_header_and_idle_timeouts(server):
    """Timeouts bound reading a request, never a response that takes long."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    client: Any = connect(f"127.0.0.1:{server.port}")
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    writer.write(
        f"GET /v1/threads/{thread.thread_id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200")
    await asyncio.sleep(HEADER_TIMEOUT + IDLE_TIMEOUT + 0.5)
    await message_pb2_grpc.MessageServiceStub(client.channel).CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id=thread.thread_id,
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="late")]
            ),
        )
    )
    received = b""
    while b"late" not in received:
        received += await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    await client.channel.close(None)


# -- gRPC ------------------------------------------------------------------------------------


def test_the_keepalive_policy_is_explicit():
    options = dict(server_options(Settings()))
    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.http2.min_ping_interval_without_data_ms"] == 10_000
    assert options["grpc.http2.max_ping_strikes"] == 2
    assert options["grpc.max_connection_idle_ms"] == 300_000
    assert options["grpc.max_connection_age_ms"] == 3_600_000
    assert options["grpc.max_connection_age_grace_ms"] == 600_000
    assert options["grpc.server_handshake_timeout_ms"] == 10_000
    no_limits = Settings(grpc_max_connection_idle=0, grpc_max_connection_age=0)
    assert dict(server_options(no_limits))["grpc.max_connection_age_ms"] == 2**31 - 1


async def test_a_client_that_pings_too_often_gets_goaway_too_many_pings(server, counts):
    """The server's own settings (clients may ping every 10 s at most) at work."""
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{server.port}",
        options=[
            ("grpc.keepalive_time_ms", 300),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
        ],
    )
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
    started = time.monotonic()
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await asyncio.wait_for(watch.read(), 30)
    await channel.close(None)
    counts(f"GOAWAY after {time.monotonic() - started:.1f}s: {ended.value.details()}")
    assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "too many pings" in (ended.value.details() or "").lower()


async def limited_server(tmp_path: Path, **limits: Any) -> ThreadlineServer:
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            **limits,
        )
    )
    await instance.start()
    return instance


async def test_an_idle_grpc_connection_gets_goaway(tmp_path, counts):
    instance = await limited_server(tmp_path, grpc_max_connection_idle=1.0)
    client: Any = connect(f"127.0.0.1:{instance.port}")
    try:
        await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
        assert client.channel.get_state() == grpc.ChannelConnectivity.READY
        started = time.monotonic()
        await asyncio.wait_for(
            client.channel.wait_for_state_change(grpc.ChannelConnectivity.READY), 10
        )
        counts(f"idle gRPC connection: GOAWAY after {time.monotonic() - started:.1f}s")
        assert client.channel.get_state() == grpc.ChannelConnectivity.IDLE
        # The client reconnects by itself at its next call.
        await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


async def drain(stream: Any) -> tuple[list[run_pb2.RunEvent], grpc.StatusCode | None]:
    """Read a stream to its end: its events, and the code it failed with (None: it ended)."""
    events: list[run_pb2.RunEvent] = []
    try:
        async for event in stream:
            events.append(event)  # noqa: PERF401 - the events read before a failure count
    except grpc.aio.AioRpcError as error:
        return events, error.code()
    return events, None


async def test_max_age_gives_open_streams_their_grace_and_they_resume(tmp_path, counts):
    age, grace = 1.0, 2.0
    instance = await limited_server(
        tmp_path, grpc_max_connection_age=age, grpc_max_connection_age_grace=grace
    )
    client: Any = connect(f"127.0.0.1:{instance.port}")
    messages = message_pb2_grpc.MessageServiceStub(client.channel)
    runs = run_pb2_grpc.RunServiceStub(client.channel)

    async def say(thread_id: str, text: str) -> None:
        await messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
                ),
            )
        )

    try:
        thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        started = time.monotonic()
        watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread.thread_id))
        following = asyncio.create_task(drain(watch))
        # Past the age (GOAWAY, give or take 10 %) and within the grace, the
        # stream still delivers; new calls go to a new connection.
        await asyncio.sleep(age * 1.1 + 0.3)
        await say(thread.thread_id, "within the grace")
        seen, ended = await asyncio.wait_for(following, age * 1.1 + grace + 10)
        lasted = time.monotonic() - started
        texts = [e.message.parts[0].text for e in seen if e.type == "message.created"]
        counts(f"stream ended {ended} after {lasted:.1f}s (age {age}s, grace {grace}s)")
        assert ended == grpc.StatusCode.UNAVAILABLE
        assert "within the grace" in texts
        assert age + grace - 0.5 <= lasted <= age * 1.1 + grace + SLACK
        # Written while no stream was open: resuming from the last event id loses nothing.
        await say(thread.thread_id, "after the cut")
        resumed = runs.WatchThread(
            run_pb2.WatchThreadRequest(
                thread_id=thread.thread_id, after_event_id=seen[-1].event_id
            ),
            timeout=2,
        )
        later, code = await drain(resumed)
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert [e.message.parts[0].text for e in later if e.type == "message.created"] == [
            "after the cut"
        ]
        assert later[0].event_id == seen[-1].event_id + 1
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)
