"""Caps: the server's concurrency cap spares health and reflection; each tenant's caps hold.

Every refusal is RESOURCE_EXHAUSTED with an ErrorInfo reason and a
google.rpc.RetryInfo retry_delay; over HTTP, 429 with the same details.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from threadline.v1 import run_pb2, thread_pb2
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import failure
from tests.tenants import make_key
from tests.test_keys import _reflect
from tests.test_tenancy import Tenant, tenant

pytestmark = pytest.mark.api

RPC_TIMEOUT = 10.0


def retry_delay(error: grpc.aio.AioRpcError) -> float:
    """The RetryInfo hint of a refusal, in seconds."""
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds() / 1e9)
    raise AssertionError("no RetryInfo in the status")


async def refused(call: Awaitable[Any], reason: str) -> float:
    """Await a call that a cap must refuse; return its retry hint."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    found = failure(caught.value)
    assert found.code == grpc.StatusCode.RESOURCE_EXHAUSTED, found
    assert found.reason == reason
    delay = retry_delay(caught.value)
    assert delay > 0
    return delay


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start a server with these settings and keys for tenants a and b (or none: no keys)."""
    servers: list[tuple[ThreadlineServer, grpc.aio.Channel]] = []

    async def starter(*, keys: bool = True, **settings: Any) -> tuple[Any, dict[str, Tenant]]:
        database = tmp_path / "threadline.db"
        made = (
            {name: await make_key(database, name, "admin") for name in ("a", "b")} if keys else {}
        )
        server = ThreadlineServer(
            Settings(
                listen="127.0.0.1:0",
                http_listen="127.0.0.1:0",
                database=str(database),
                worker_agents=("w",),
                grace_period=1.0,
                **settings,
            )
        )
        port = await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        servers.append((server, channel))
        return server, {name: tenant(channel, name, key) for name, key in made.items()}

    yield starter
    for server, channel in servers:
        await channel.close(None)
        await server.stop(grace=1.0)


async def test_health_and_reflection_answer_when_streams_fill_the_server(start):
    server, _ = await start(keys=False, max_concurrent_rpcs=50)
    address = f"127.0.0.1:{server.port}"
    async with grpc.aio.insecure_channel(address) as channel:
        anonymous = tenant(channel, "default", "")
        anonymous.metadata = ()
        await anonymous.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="idle"))
        streams = [
            anonymous.runs.WatchThread(run_pb2.WatchThreadRequest(thread_id="idle"))
            for _ in range(50)
        ]
        try:
            for _ in range(200):
                if server.limits.active == 50:
                    break
                await asyncio.sleep(0.02)
            assert server.limits.active == 50
            health = health_pb2_grpc.HealthStub(channel)
            for _ in range(5):
                answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert "threadline.v1.ThreadService" in await _reflect(address, None)
            delay = await refused(
                anonymous.threads.GetThread(
                    thread_pb2.GetThreadRequest(thread_id="idle"), timeout=RPC_TIMEOUT
                ),
                "TOO_MANY_CALLS",
            )
            assert delay == 1.0
        finally:
            for stream in streams:
                stream.cancel()


async def test_a_tenant_s_streams_are_capped_and_the_others_are_not(start):
    server, tenants = await start(tenant_max_streams=2)
    a, b = tenants["a"], tenants["b"]
    for side in (a, b):
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="t"), metadata=side.metadata
        )
    watch = run_pb2.WatchThreadRequest(thread_id="t")
    open_streams = [a.runs.WatchThread(watch, metadata=a.metadata) for _ in range(2)]
    try:
        for _ in range(200):
            if server.limits.active == 2:
                break
            await asyncio.sleep(0.02)
        third = a.runs.WatchThread(watch, metadata=a.metadata, timeout=RPC_TIMEOUT)
        await refused(third.read(), "TOO_MANY_STREAMS")
        # Unary calls, and b's streams, are not counted against a's streams.
        await a.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="t"), metadata=a.metadata)
        b_stream = b.runs.WatchThread(watch, metadata=b.metadata)
        await b.say("t", "hello")
        assert (await asyncio.wait_for(b_stream.read(), RPC_TIMEOUT)).type == "message.created"
        b_stream.cancel()
        # A stream that ends frees its place.
        open_streams.pop().cancel()
        for _ in range(200):
            if server.limits.active == 1:
                break
            await asyncio.sleep(0.02)
        again = a.runs.WatchThread(watch, metadata=a.metadata)
        open_streams.append(again)
        await a.say("t", "hello")
        assert (await asyncio.wait_for(again.read(), RPC_TIMEOUT)).type == "message.created"
    finally:
        for stream in open_streams:
            stream.cancel()


async def test_a_tenant_s_runs_in_flight_are_capped(start):
    _, tenants = await start(tenant_max_runs=2)
    a, b = tenants["a"], tenants["b"]
    for side in (a, b):
        for thread_id in ("t1", "t2", "t3"):
            await side.threads.CreateThread(
                thread_pb2.CreateThreadRequest(thread_id=thread_id), metadata=side.metadata
            )
    runs = [
        await a.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="w"), metadata=a.metadata
        )
        for thread_id in ("t1", "t2")
    ]
    third = run_pb2.CreateRunRequest(thread_id="t3", agent_id="w")
    assert await refused(a.runs.CreateRun(third, metadata=a.metadata), "TOO_MANY_RUNS") == 1.0
    # Nothing was written by the refused call.
    listed = await a.runs.ListRuns(run_pb2.ListRunsRequest(thread_id="t3"), metadata=a.metadata)
    assert list(listed.runs) == []
    await b.runs.CreateRun(third, metadata=b.metadata)
    await a.runs.CancelRun(run_pb2.CancelRunRequest(run_id=runs[0].run_id), metadata=a.metadata)
    await a.runs.CreateRun(third, metadata=a.metadata)


async def test_a_tenant_s_calls_per_second_are_capped(start):
    server, tenants = await start(tenant_calls_per_second=5)
    a, b = tenants["a"], tenants["b"]
    count = thread_pb2.CountThreadsRequest()
    for _ in range(5):
        await a.threads.CountThreads(count, metadata=a.metadata)
    delay = await refused(a.threads.CountThreads(count, metadata=a.metadata), "CALL_RATE_EXCEEDED")
    assert 0 < delay <= 0.2 + 0.05  # a token every 0.2 s
    for _ in range(5):
        await b.threads.CountThreads(count, metadata=b.metadata)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        for _ in range(10):
            await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT
            )
    await asyncio.sleep(delay)
    await a.threads.CountThreads(count, metadata=a.metadata)
    # Over HTTP: 429, with the same details.
    headers = {"Authorization": a.metadata[0][1]}
    url = f"http://127.0.0.1:{server.http_port}/v1/threads:count"
    async with aiohttp.ClientSession() as session:
        statuses, refusals = [], []
        for _ in range(8):
            async with session.get(url, headers=headers) as response:
                statuses.append(response.status)
                if response.status == 429:
                    refusals.append(await response.json())
        # On a busy machine a token may come back between calls: any refusal will do.
        assert 429 in statuses
        body = refusals[0]
        assert body["code"] == 8
        kinds = {detail["@type"].rsplit(".", 1)[1] for detail in body["details"]}
        assert kinds == {"ErrorInfo", "RetryInfo"}
