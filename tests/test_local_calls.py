"""The HTTP side's calls in process (transport/local_calls.py) meet the server's interceptors.

An HTTP request is one call of the server's own handlers, behind the same
interceptors as a gRPC call: logged by the gRPC access log (peer ``unix:``,
as through the private socket it replaced), counted by the gRPC metrics,
refused by the same caps with the same status, and cut by its deadline.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.test_metrics import Scrape

THREADS = "threadline.v1.ThreadService"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[ThreadlineServer, str]]:
    """A server with its HTTP side, a cap of one stream per tenant, and its base URL."""
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "local.db"),
            tenant_max_streams=1,
        )
    )
    await server.start()
    try:
        yield server, f"http://127.0.0.1:{server.http_port}"
    finally:
        await server.stop(grace=1.0)


@pytest.mark.api
async def test_an_http_request_is_logged_counted_and_capped_as_a_grpc_call(served, caplog):
    _, base = served
    caplog.set_level(logging.INFO, logger="threadline.access")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/v1/threads", json={"threadId": "local-1"}) as reply:
            assert reply.status == 200
        async with session.get(f"{base}/v1/threads/local-missing") as reply:
            assert reply.status == 404
            assert (await reply.json())["code"] == 5
        async with session.get(f"{base}/metrics") as reply:
            scrape = Scrape(await reply.text())
        assert scrape.rpc(THREADS, "CreateThread", "OK") == 1
        assert scrape.rpc(THREADS, "GetThread", "NOT_FOUND") == 1
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("rpc=")]
        assert any(
            "rpc=/threadline.v1.ThreadService/CreateThread code=OK" in line
            and line.endswith("peer=unix:")
            for line in lines
        ), lines
        # The tenant's one stream is open (an event stream answers within a
        # second even with nothing to send): a second is refused by the same cap.
        sse = {"Accept": "text/event-stream"}
        async with session.get(f"{base}/v1/threads/local-1/events", headers=sse) as watching:
            assert watching.status == 200
            async with session.get(f"{base}/v1/threads/local-1/events", headers=sse) as refused:
                assert refused.status == 429
                body = await refused.json()
        assert body["code"] == 8
        reasons = [d.get("reason") for d in body["details"]]
        assert "TOO_MANY_STREAMS" in reasons


@pytest.mark.api
async def test_a_deadline_ends_a_stream_that_has_sent_nothing(served):
    _, base = served
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/v1/threads", json={"threadId": "local-2"}) as reply:
            assert reply.status == 200
        async with session.get(
            f"{base}/v1/threads/local-2/events?after_event_id=100000",
            headers={"Grpc-Timeout": "200m"},
        ) as reply:
            assert reply.status == 504
            line = (await reply.text()).splitlines()[0]
    assert '"code":4' in line.replace(" ", "")
