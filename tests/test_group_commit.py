"""Group commit and one hand-off per transaction (store/sqlite/store.py, onehop.py).

Concurrent writes share one BEGIN IMMEDIATE ... COMMIT, each in a savepoint
of its own. These tests hold the guarantees that must survive it, on the
real server over a real SQLite file and a real channel:
- a write is answered only after the commit that holds it (a second
  connection already sees it when the answer arrives);
- a write that fails rolls back alone: the writes batched with it commit;
- the order of commits is the order of the event ids and of the messages;
- a caller that goes away once its work began does not undo its write;
- a write's work may read through the store (it then waits for the read).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from typing import Any

import grpc
import pytest
from threadline.v1 import message_pb2, run_pb2, thread_pb2
from threadline_server.errors import NotFoundError
from threadline_server.store.base import StoreTransaction
from threadline_server.store.records import DEFAULT_TENANT
from threadline_server.store.sqlite.store import SqliteStore, StoreClosedError

from tests.conftest import RunningServer, expect_failure

pytestmark = pytest.mark.api

WRITES = 200
FAILING = 50


def _spy_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every group commit (the batches still run as ever)."""
    sizes: list[int] = []
    original = SqliteStore._write_batch

    def spying(self: SqliteStore, batch: list[Any], loop: Any) -> Any:
        sizes.append(len(batch))
        return original(self, batch, loop)

    monkeypatch.setattr(SqliteStore, "_write_batch", spying)
    return sizes


def _message(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def test_concurrent_writes_share_commits_each_answered_after_its_own(
    server: RunningServer, client: Any, monkeypatch: pytest.MonkeyPatch, counts: Any
):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    sizes = _spy_batches(monkeypatch)
    seen_at_answer: list[bool] = []
    reader = sqlite3.connect(server.database)

    async def write(index: int) -> message_pb2.Message:
        message: message_pb2.Message = await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id, message=_message(f"m{index}")
            )
        )
        # Another connection sees the row the moment the answer arrives.
        found = reader.execute(
            "SELECT count(*) FROM messages WHERE message_id = ?", (message.message_id,)
        ).fetchone()[0]
        seen_at_answer.append(found == 1)
        return message

    async def failing(index: int) -> grpc.StatusCode:
        missing = await expect_failure(
            client.messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=f"thr_missing{index}", message=_message("lost")
                )
            )
        )
        return missing.code

    results = await asyncio.gather(
        *[write(i) for i in range(WRITES)], *[failing(i) for i in range(FAILING)]
    )
    reader.close()
    written = [r for r in results if isinstance(r, message_pb2.Message)]
    codes = [r for r in results if isinstance(r, grpc.StatusCode)]
    counts(
        f"group commit: {WRITES} writes and {FAILING} failing ones in {len(sizes)} commits, "
        f"largest {max(sizes)}"
    )
    assert len(written) == WRITES
    assert codes == [grpc.StatusCode.NOT_FOUND] * FAILING
    assert all(seen_at_answer)
    # Batched: far fewer commits than writes, and some commit held several.
    assert max(sizes) > 1
    assert len(sizes) < WRITES + FAILING
    # The failing writes wrote nothing; the others all hold, in commit order.
    with sqlite3.connect(server.database) as connection:
        stored = {row[0] for row in connection.execute("SELECT message_id FROM messages")}
    assert stored == {m.message_id for m in written}
    thread_after = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread.thread_id)
    )
    assert thread_after.message_count == WRITES


async def test_events_of_batched_writes_keep_commit_order(server: RunningServer, client: Any):
    thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    await asyncio.gather(
        *[
            client.messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread.thread_id, message=_message(str(i))
                )
            )
            for i in range(60)
        ]
    )
    events = await server.server.store.read_events(
        DEFAULT_TENANT, thread_id=thread.thread_id, after=0, limit=1000, max_bytes=1 << 22
    )
    listed = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread.thread_id, page_size=100)
    )
    created = [e.message.message_id for e in events if e.type == "message.created"]
    completed = [e.message.message_id for e in events if e.type == "message.completed"]
    # The messages' order is the events' order: each write whole, in commit order.
    assert created == completed == [m.message_id for m in listed.messages]
    assert [e.event_id for e in events] == sorted(e.event_id for e in events)
    for first, second in zip(events[::2], events[1::2], strict=True):
        assert (first.type, second.type) == ("message.created", "message.completed")
        assert first.message.message_id == second.message.message_id


async def test_a_failing_write_rolls_back_alone_in_its_batch(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
):
    store = server.server.store
    sizes = _spy_batches(monkeypatch)

    def insert(thread_id: str, *, fail: bool) -> Any:
        async def work(tx: StoreTransaction) -> str:
            await tx.insert_thread(thread_pb2.Thread(thread_id=thread_id))
            if fail:
                raise NotFoundError("thread", "on purpose")
            return thread_id

        return store.transaction(DEFAULT_TENANT, work)

    # Queued in one turn of the loop: one group commit.
    results = await asyncio.gather(
        insert("thr_kept1", fail=False),
        insert("thr_undone", fail=True),
        insert("thr_kept2", fail=False),
        return_exceptions=True,
    )
    assert results[0] == "thr_kept1"
    assert isinstance(results[1], NotFoundError)
    assert results[2] == "thr_kept2"
    assert sizes == [3]
    with sqlite3.connect(server.database) as connection:
        ids = {row[0] for row in connection.execute("SELECT thread_id FROM threads")}
    assert ids == {"thr_kept1", "thr_kept2"}


async def test_a_caller_that_goes_away_does_not_undo_its_write(server: RunningServer):
    """Once its work began, a write commits even if its caller is cancelled.

    (A caller that leaves before its work began leaves nothing:
    tests/test_database_health.py.)
    """
    store = server.server.store
    began, go_on = threading.Event(), threading.Event()

    async def work(tx: StoreTransaction) -> None:
        began.set()
        go_on.wait(5)  # on the writer's thread: holds the batch until the caller left
        await tx.insert_thread(thread_pb2.Thread(thread_id="thr_cancelled_caller"))

    call = asyncio.ensure_future(store.transaction(DEFAULT_TENANT, work))
    assert await asyncio.to_thread(began.wait, 5)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    go_on.set()
    thread = None
    for _ in range(100):
        try:
            thread = await store.get_thread(DEFAULT_TENANT, "thr_cancelled_caller")
            break
        except NotFoundError:
            await asyncio.sleep(0.01)
    assert thread is not None
    assert thread.thread_id == "thr_cancelled_caller"


async def test_a_write_may_read_through_the_store(server: RunningServer, client: Any):
    thread = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="t"))
    )
    store = server.server.store

    async def work(tx: StoreTransaction) -> tuple[str, list[run_pb2.RunEvent]]:
        # A read on a read connection, from inside the write (as the run log does).
        seen = await store.get_thread(DEFAULT_TENANT, thread.thread_id)
        events = await store.read_events(
            DEFAULT_TENANT, thread_id=thread.thread_id, after=0, limit=10, max_bytes=1 << 20
        )
        ref = await tx.thread(thread.thread_id)
        assert ref.thread_id == seen.thread_id
        return seen.title, events

    title, events = await store.transaction(DEFAULT_TENANT, work)
    assert title == "t"
    assert events == []


async def test_a_write_asked_of_a_closed_store_fails_at_once(tmp_path: Any):
    store = SqliteStore(tmp_path / "closed.db")
    await store.open()
    await store.close()

    async def work(tx: StoreTransaction) -> None:
        await tx.insert_thread(thread_pb2.Thread(thread_id="thr_never"))

    with pytest.raises(StoreClosedError):
        await asyncio.wait_for(store.transaction(DEFAULT_TENANT, work), 5)
