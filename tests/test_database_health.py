"""The database stays healthy, and a database that cannot take a write says so.

- Another process holds the database locked past the busy timeout: writes
  end UNAVAILABLE (ErrorInfo DATABASE_UNAVAILABLE, a RetryInfo hint) and
  write nothing; reads go on; once the lock goes the same writes succeed
  and every acknowledged one is there.
- A client whose deadline passes while its write waits for that lock: the
  write never happens, and its failure is logged, not "never retrieved".
- A long reader lets the WAL grow; once it lets go, the WAL shrinks.
- ``threadline backup PATH`` copies the database while a server writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from threadline.v1 import message_pb2, thread_pb2

from tests.conftest import ServerProcess, expect_failure, failure
from tests.test_process import connected

pytestmark = pytest.mark.process

BUSY_TIMEOUT = 0.5


def _retry_delay(error: grpc.aio.AioRpcError) -> float:
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds() / 1e9)
    raise AssertionError("no RetryInfo in the status")


def _count(database: Path, sql: str) -> int:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(connection.execute(sql).fetchone()[0])
    finally:
        connection.close()


def _lock(database: Path) -> sqlite3.Connection:
    """Take the database's write lock from another connection, as another process would."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def _message(thread_id: str, text: str) -> message_pb2.CreateMessageRequest:
    return message_pb2.CreateMessageRequest(
        thread_id=thread_id,
        message=message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
        ),
    )


async def test_a_locked_database_answers_unavailable_and_loses_no_write(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(database, "--db-busy-timeout", str(BUSY_TIMEOUT))
    acknowledged: list[str] = []
    refused = 0
    async with connected(server.address) as client:
        thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        holder = _lock(database)
        try:
            for attempt in range(5):
                began = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await client.messages.CreateMessage(
                        _message(thread.thread_id, f"try {attempt}"), timeout=10
                    )
                waited = time.monotonic() - began
                found = failure(caught.value)
                assert found.code == grpc.StatusCode.UNAVAILABLE, found
                assert found.reason == "DATABASE_UNAVAILABLE"
                assert "nothing was written" in found.message
                assert _retry_delay(caught.value) >= BUSY_TIMEOUT
                assert BUSY_TIMEOUT * 0.8 <= waited < 5
                refused += 1
            # Reads go on beside the lock (WAL).
            read = await client.threads.GetThread(
                thread_pb2.GetThreadRequest(thread_id=thread.thread_id)
            )
            assert read.message_count == 0
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        for attempt in range(5):
            made = await client.messages.CreateMessage(
                _message(thread.thread_id, f"try {attempt}"), timeout=10
            )
            acknowledged.append(made.message_id)
    assert server.stop() == 0
    assert _count(database, "SELECT count(*) FROM messages") == len(acknowledged)
    assert "Traceback" not in server.log
    counts(
        f"database locked from outside past a {BUSY_TIMEOUT} s busy timeout: {refused} writes "
        f"UNAVAILABLE (DATABASE_UNAVAILABLE, RetryInfo), reads served; after release "
        f"{len(acknowledged)} retries acknowledged, {len(acknowledged)} rows, none lost"
    )


async def test_a_write_whose_deadline_passed_before_it_began_never_happens(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(database, "--db-busy-timeout", "2")
    async with connected(server.address) as client:
        await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        # The lock goes before the busy timeout: the write could begin, but its
        # caller has left, so it must not.
        holder = _lock(database)
        try:
            late = await expect_failure(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="late")),
                    timeout=0.2,
                )
            )
            await asyncio.sleep(0.3)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert late.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The lock stays past the busy timeout: the write fails after its caller left.
        holder = _lock(database)
        try:
            lost = await expect_failure(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="lost")),
                    timeout=0.2,
                )
            )
            await asyncio.sleep(2.5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert lost.code == grpc.StatusCode.DEADLINE_EXCEEDED
        for thread_id in ("late", "lost"):
            missing = await expect_failure(
                client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
            )
            assert missing.code == grpc.StatusCode.NOT_FOUND
        # And the server writes as before.
        await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="after"))
        )
    assert server.stop() == 0
    assert _count(database, "SELECT count(*) FROM threads") == 2
    assert "Task exception was never retrieved" not in server.log
    assert "a write whose caller had gone failed" in server.log
    counts(
        "2 writes whose 0.2 s deadline passed while the database was locked: neither "
        "written (one skipped once the lock went, one failed BUSY and was logged)"
    )
