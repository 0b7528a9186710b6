"""The event log: every run event of every thread, in commit order."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import run_pb2

from threadline_server.store.records import ThreadRef
from threadline_server.store.sqlite import threads
from threadline_server.store.sqlite.session import Row, Session, fitting_rows

# Rows per INSERT statement: 6 bound values each, well under SQLite's limit of 32766.
_INSERT_BATCH = 500


def to_event(row: Row) -> run_pb2.RunEvent:
    """Return a stored event with its id, thread and time put back."""
    event = run_pb2.RunEvent.FromString(row["payload"])
    event.event_id = row["event_id"]
    event.thread_id = row["thread_id"]
    event.created_at.FromMicroseconds(row["created_at"])
    return event


def _payload_form(event: run_pb2.RunEvent) -> run_pb2.RunEvent:
    """Return a copy without what the row's columns hold (id, thread, time)."""
    payload = run_pb2.RunEvent()
    payload.CopyFrom(event)
    payload.ClearField("event_id")
    payload.ClearField("thread_id")
    payload.ClearField("created_at")
    return payload


async def append(
    session: Session, thread: ThreadRef, events: Sequence[run_pb2.RunEvent]
) -> list[run_pb2.RunEvent]:
    """Store events in order (created_at as given); return them with event_id and thread_id.

    event_id only grows (AUTOINCREMENT, one writer), so the order of the
    ids is the order of the events here and the order of the commits.
    """
    stored: list[run_pb2.RunEvent] = []
    for start in range(0, len(events), _INSERT_BATCH):
        originals = events[start : start + _INSERT_BATCH]
        batch = [_payload_form(event) for event in originals]
        values = [
            value
            for event, original in zip(batch, originals, strict=True)
            for value in (
                session.tenant,
                thread.key,
                event.run_id,
                event.type,
                event.SerializeToString(deterministic=True),
                original.created_at.ToMicroseconds(),
            )
        ]
        rows = await session.rows(
            "INSERT INTO events (tenant_id, thread_pk, run_id, type, payload, created_at) "
            "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(batch)) + " RETURNING event_id",
            values,
        )
        # RETURNING gives no order of its own; the rows took ascending ids in order.
        for event, original, event_id in zip(
            batch, originals, sorted(row[0] for row in rows), strict=True
        ):
            event.event_id = event_id
            event.thread_id = thread.thread_id
            event.created_at.CopyFrom(original.created_at)
        stored.extend(batch)
    return stored


async def read(
    session: Session,
    *,
    thread_id: str = "",
    run_id: str = "",
    after: int,
    limit: int,
    max_bytes: int,
) -> list[run_pb2.RunEvent]:
    """Return stored events after an id, of one run or one live thread, oldest first.

    At most limit events, and no more than max_bytes of them (the first is
    always returned): a reader far behind never builds more than that.
    """
    if run_id:
        sql = (
            "SELECT e.event_id, e.created_at, e.payload, t.thread_id FROM events AS e "
            "JOIN threads AS t ON t.pk = e.thread_pk "
            # run_id != '' repeats the partial index's own condition, without
            # which SQLite would not use events_by_run (and read every event).
            "WHERE e.run_id = ? AND e.run_id != '' AND e.event_id > ? AND e.tenant_id = ? "
            # A deleted thread's events wait for the purger: never read them.
            "AND (t.expire_at IS NULL OR t.expire_at > ?) "
            "ORDER BY e.event_id LIMIT ?"
        )
        params: tuple[object, ...] = (run_id, after, session.tenant, session.now, limit)
    else:
        thread = await threads.live_row(session, thread_id)
        sql = (
            "SELECT e.event_id, e.created_at, e.payload, ? AS thread_id FROM events AS e "
            "WHERE e.thread_pk = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?"
        )
        params = (thread_id, thread["pk"], after, limit)
    taken, _ = await fitting_rows(
        session, sql, params, limit=limit, max_bytes=max_bytes, convert=to_event
    )
    return [event for _, event in taken]
