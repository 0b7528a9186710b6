"""The event log on PostgreSQL: each thread's events, numbered in commit order.

A thread's event ids come from its own counter (threads.event_seq), moved
on in the writing transaction while it holds the thread's row lock: the
next writer of the thread cannot take ids until this one has committed, so
a reader that has seen id n of a thread can never later find an n - 1
(which ids from a sequence would allow: handed out at INSERT, committed in
another order). Ids are unique and ordered within a thread, which is the
only order a stream resumes by (a run's events are all on its thread).
"""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import run_pb2

from threadline_server.store.postgres import threads
from threadline_server.store.postgres.session import Session, fitting_rows
from threadline_server.store.records import ThreadRef
from threadline_server.store.sqlite import events as sqlite_events

to_event = sqlite_events.to_event
_payload_form = sqlite_events._payload_form


async def append(
    session: Session, thread: ThreadRef, events: Sequence[run_pb2.RunEvent]
) -> list[run_pb2.RunEvent]:
    """Store events in order (created_at as given); return them with event_id and thread_id.

    The caller holds the thread's row lock (every transaction takes it when
    it finds the thread).
    """
    if not events:
        return []
    row = await session.row(
        "UPDATE threads SET event_seq = event_seq + %s WHERE pk = %s RETURNING event_seq",
        (len(events), thread.key),
    )
    assert row is not None  # noqa: S101 - the transaction holds the thread's lock
    first = int(row["event_seq"]) - len(events) + 1
    batch = [_payload_form(event) for event in events]
    await session.change(
        "INSERT INTO events (thread_pk, event_id, tenant_id, run_id, type, payload, created_at) "
        "SELECT %s, x.event_id, %s, x.run_id, x.type, x.payload, x.created_at FROM unnest("
        "%s::bigint[], %s::text[], %s::text[], %s::bytea[], %s::bigint[]) "
        "AS x(event_id, run_id, type, payload, created_at)",
        (
            thread.key,
            session.tenant,
            [first + n for n in range(len(batch))],
            [event.run_id for event in batch],
            [event.type for event in batch],
            [event.SerializeToString(deterministic=True) for event in batch],
            [original.created_at.ToMicroseconds() for original in events],
        ),
    )
    for n, (event, original) in enumerate(zip(batch, events, strict=True)):
        event.event_id = first + n
        event.thread_id = thread.thread_id
        event.created_at.CopyFrom(original.created_at)
    return batch


async def read(
    session: Session,
    *,
    thread_id: str = "",
    run_id: str = "",
    after: int,
    limit: int,
    max_bytes: int,
) -> list[run_pb2.RunEvent]:
    """Return stored events after an id, of one run or one live thread, oldest first."""
    if run_id:
        query = (
            "SELECT e.event_id, e.created_at, e.payload, t.thread_id FROM events AS e "
            "JOIN threads AS t ON t.pk = e.thread_pk "
            "WHERE e.run_id = %s AND e.run_id <> '' AND e.event_id > %s AND e.tenant_id = %s "
            "AND (t.expire_at IS NULL OR t.expire_at > %s) "
            "ORDER BY e.event_id LIMIT %s"
        )
        params: tuple[object, ...] = (run_id, after, session.tenant, session.now, limit)
    else:
        thread = await threads.live_row(session, thread_id)
        query = (
            "SELECT e.event_id, e.created_at, e.payload, %s AS thread_id FROM events AS e "
            "WHERE e.thread_pk = %s AND e.event_id > %s ORDER BY e.event_id LIMIT %s"
        )
        params = (thread_id, thread["pk"], after, limit)
    taken, _ = await fitting_rows(
        session, query, params, limit=limit, max_bytes=max_bytes, convert=to_event
    )
    return [event for _, event in taken]
