"""The event log: every run event of every thread, in commit order."""

from __future__ import annotations

from threadline.v1 import run_pb2

from threadline_server.store.base import ThreadRef
from threadline_server.store.sqlite import threads
from threadline_server.store.sqlite.session import Row, Session


def to_event(row: Row) -> run_pb2.RunEvent:
    """Return a stored event with its id, thread and time put back."""
    event = run_pb2.RunEvent.FromString(row["payload"])
    event.event_id = row["event_id"]
    event.thread_id = row["thread_id"]
    event.created_at.FromMicroseconds(row["created_at"])
    return event


async def append(session: Session, thread: ThreadRef, event: run_pb2.RunEvent) -> run_pb2.RunEvent:
    """Store an event; return it with event_id, thread_id and created_at set.

    The payload leaves out what the row's columns hold (id, thread, time).
    """
    stored = run_pb2.RunEvent()
    stored.CopyFrom(event)
    stored.ClearField("event_id")
    stored.ClearField("thread_id")
    stored.ClearField("created_at")
    inserted = await session.connection.execute_insert(
        "INSERT INTO events (tenant_id, thread_pk, run_id, type, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            session.tenant,
            thread.pk,
            event.run_id,
            event.type,
            stored.SerializeToString(deterministic=True),
            session.now,
        ),
    )
    assert inserted is not None  # noqa: S101 - an INSERT always has a row id
    stored.event_id = inserted[0]
    stored.thread_id = thread.thread_id
    stored.created_at.FromMicroseconds(session.now)
    return stored


async def read(
    session: Session, *, thread_id: str = "", run_id: str = "", after: int, limit: int
) -> list[run_pb2.RunEvent]:
    """Return stored events after an id, of one run or one live thread, oldest first."""
    if run_id:
        rows = await session.rows(
            "SELECT e.event_id, e.created_at, e.payload, t.thread_id FROM events AS e "
            "JOIN threads AS t ON t.pk = e.thread_pk "
            "WHERE e.run_id = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?",
            (run_id, after, limit),
        )
    else:
        thread = await threads.live_row(session, thread_id)
        rows = await session.rows(
            "SELECT e.event_id, e.created_at, e.payload, ? AS thread_id FROM events AS e "
            "WHERE e.thread_pk = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?",
            (thread_id, thread["pk"], after, limit),
        )
    return [to_event(row) for row in rows]
