"""The PostgreSQL store's own promises, with two servers in the test's event loop on one database.

A reader never depends on a notification: with the listening connection of
its server cut (pg_terminate_backend), events that another server commits
still reach it, by the periodic re-read and the listen-again that follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import Client, connect

pytestmark = pytest.mark.api

RPC_TIMEOUT = 10.0


async def _started(url: str) -> tuple[ThreadlineServer, Client]:
    instance = ThreadlineServer(
        Settings(listen="127.0.0.1:0", database=url, grace_period=1.0, http_listen="")
    )
    port = await instance.start()
    return instance, connect(f"127.0.0.1:{port}")


@pytest.fixture
async def two(postgres_url: str, tmp_path: Path) -> AsyncIterator[list[Any]]:
    """Two servers on one PostgreSQL database, and a client of each."""
    del tmp_path
    started = [await _started(postgres_url) for _ in range(2)]
    try:
        yield [client for _, client in started]
    finally:
        for instance, client in started:
            await client.channel.close(None)
            await instance.stop(grace=1.0)


async def test_a_reader_whose_notifications_were_cut_still_gets_every_event(
    two: list[Any], postgres_url: str, counts: Any
) -> None:
    reader, writer = two
    thread = await writer.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="cut")), timeout=RPC_TIMEOUT
    )
    watch = run_pb2_grpc.RunServiceStub(reader.channel).WatchThread(
        run_pb2.WatchThreadRequest(thread_id=thread.thread_id), timeout=30
    )
    received: list[int] = []
    written = 5
    # Each message makes two events (message.created, message.completed).
    all_in = asyncio.Event()

    async def read() -> None:
        async for event in watch:
            received.append(event.event_id)
            if len(received) >= 2 * written:
                all_in.set()

    reading = asyncio.create_task(read())
    await asyncio.sleep(0.5)
    # Cut every listening connection (both servers'): no notification gets through.
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        cut = admin.execute(
            b"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            b"WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert cut is not None
    assert cut[0] >= 1
    loop = asyncio.get_running_loop()
    began = loop.time()
    for n in range(written):
        await writer.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=f"m{n}")]
                ),
            ),
            timeout=RPC_TIMEOUT,
        )
    await asyncio.wait_for(all_in.wait(), 10)
    took = loop.time() - began
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert received == list(range(1, len(received) + 1))
    assert len(received) == 2 * written
    counts(
        f"postgres, {cut[0]} listening connections cut: {len(received)} events written through "
        f"another server reached the reader within {took:.1f}s, in order, none missing"
    )
