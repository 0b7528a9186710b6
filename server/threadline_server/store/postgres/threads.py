"""Threads on PostgreSQL: the statements that read, lock and write them.

Every transaction that works on a thread first locks its row (FOR NO KEY
UPDATE, which leaves the foreign keys of its messages, runs and events free
to be checked): writes to one thread are serialized, whatever process makes
them, exactly as SQLite's single writer serializes all of them. That is what
makes the event counter, the message keys and "is a run in flight" agree
with commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadline.v1 import thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.postgres.session import DictRow, Session, as_row, page
from threadline_server.store.records import (
    Page,
    StoredThread,
    ThreadActivity,
    ThreadFilter,
    ThreadPageQuery,
    ThreadRef,
)
from threadline_server.store.sqlite import threads as sqlite_threads

COLUMNS = sqlite_threads.COLUMNS


def to_thread(row: DictRow) -> thread_pb2.Thread:
    """Return the API view of a thread row."""
    return sqlite_threads.to_thread(as_row(row))


def to_stored(row: DictRow) -> StoredThread:
    """Return a thread row as its handle and its API view."""
    return sqlite_threads.to_stored(as_row(row))


def to_ref(row: DictRow) -> ThreadRef:
    """Return the handle a transaction passes around for a thread row."""
    return sqlite_threads.to_ref(as_row(row))


def _metadata_condition(key: str, value: jsonvalue.JsonValue) -> tuple[str, list[Any]]:
    """Return SQL that holds when a thread's metadata has key equal to value.

    jsonb equality: numbers by value (1 = 1.0), objects and arrays by content,
    as the SQLite store compares them.
    """
    return "(metadata::jsonb -> %s) = %s::jsonb", [key, jsonvalue.dumps(value)]


def _filter_sql(session: Session, thread_filter: ThreadFilter) -> tuple[list[str], list[Any]]:
    where = ["tenant_id = %s", "(expire_at IS NULL OR expire_at > %s)"]
    params: list[Any] = [session.tenant, session.now]
    for column in ("agent_id", "user_id", "external_ref"):
        value = getattr(thread_filter, column)
        if value:
            where.append(f"{column} = %s")
            params.append(value)
    if thread_filter.statuses:
        where.append("status = ANY(%s)")
        params.append(list(thread_filter.statuses))
    if thread_filter.thread_ids:
        where.append("thread_id = ANY(%s)")
        params.append(list(thread_filter.thread_ids))
    for value, condition in (
        (thread_filter.created_after, "created_at >= %s"),
        (thread_filter.created_before, "created_at < %s"),
        (thread_filter.updated_after, "updated_at >= %s"),
        (thread_filter.updated_before, "updated_at < %s"),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    for key, value in thread_filter.metadata.items():
        condition, extra = _metadata_condition(key, value)
        where.append(condition)
        params.extend(extra)
    return where, params


_LIVE = "tenant_id = %s AND thread_id = %s AND (expire_at IS NULL OR expire_at > %s)"


async def live_row(session: Session, thread_id: str, *, lock: bool = False) -> DictRow:
    """Return a live thread (locked, for writers), or raise NotFoundError."""
    row = await session.row(
        f"SELECT {COLUMNS} FROM threads WHERE {_LIVE}" + (" FOR NO KEY UPDATE" if lock else ""),
        (session.tenant, thread_id, session.now),
    )
    if row is None:
        raise NotFoundError("thread", thread_id)
    return row


async def locked_ref_row(session: Session, thread_id: str) -> DictRow:
    """Lock a live thread and return what its handle and the transaction's clock need.

    live_row's search and lock (as SQLite's live_ref, which reads only the
    handle's columns), plus the two times the transaction's clock follows.
    """
    row = await session.row(
        "SELECT pk, tenant_id, thread_id, ttl_us, last_activity_at, updated_at FROM threads "
        f"WHERE {_LIVE} FOR NO KEY UPDATE",
        (session.tenant, thread_id, session.now),
    )
    if row is None:
        raise NotFoundError("thread", thread_id)
    return row


async def insert(session: Session, thread: thread_pb2.Thread) -> DictRow | None:
    """Insert a thread as given; return its row, or None when its id (or default) is taken."""
    columns = sqlite_threads._client_columns(thread)
    columns.update(
        tenant_id=session.tenant,
        thread_id=thread.thread_id,
        status=thread.status,
        created_at=thread.created_at.ToMicroseconds(),
        updated_at=thread.updated_at.ToMicroseconds(),
        last_activity_at=thread.last_activity_at.ToMicroseconds(),
        expire_at=thread.expire_time.ToMicroseconds() if thread.HasField("expire_time") else None,
        message_count=thread.message_count,
        is_default=int(thread.is_default),
    )
    names = ", ".join(columns)
    marks = ", ".join(f"%({name})s" for name in columns)
    return await session.row(
        f"INSERT INTO threads ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING "
        f"RETURNING {COLUMNS}",
        columns,
    )


async def default_row(
    session: Session, agent_id: str, user_id: str, *, lock: bool = False
) -> DictRow | None:
    """Return the tenant's default thread of an agent and user (locked, for writers), or None."""
    return await session.row(
        f"SELECT {COLUMNS} FROM threads "
        "WHERE tenant_id = %s AND agent_id = %s AND user_id = %s AND is_default = 1"
        + (" FOR NO KEY UPDATE" if lock else ""),
        (session.tenant, agent_id, user_id),
    )


async def update(session: Session, key: int, thread: thread_pb2.Thread) -> DictRow:
    """Store a thread's client-settable fields and times; return the row as it now is."""
    columns = sqlite_threads._client_columns(thread)
    columns.update(
        updated_at=thread.updated_at.ToMicroseconds(),
        last_activity_at=thread.last_activity_at.ToMicroseconds(),
        expire_at=thread.expire_time.ToMicroseconds() if thread.HasField("expire_time") else None,
    )
    assignments = ", ".join(f"{name} = %({name})s" for name in columns)
    row = await session.row(
        f"UPDATE threads SET {assignments}, version = version + 1 WHERE pk = %(pk)s "
        f"RETURNING {COLUMNS}",
        {**columns, "pk": key},
    )
    assert row is not None  # noqa: S101 - the transaction holds the thread's lock
    return row


async def touch(session: Session, key: int, activity: ThreadActivity) -> None:
    """Record activity on a thread: message count, activity time, expiry, version."""
    await session.change(
        "UPDATE threads SET message_count = message_count + %s, last_activity_at = %s, "
        "expire_at = %s, version = version + 1 WHERE pk = %s",
        (activity.message_count_change, activity.at, activity.expire_at, key),
    )


async def set_status(session: Session, key: int, status: int) -> None:
    """Store a thread's status."""
    await session.change("UPDATE threads SET status = %s WHERE pk = %s", (status, key))


async def delete(session: Session, key: int) -> None:
    """Delete a thread; its messages, runs and events go with it by ON DELETE CASCADE."""
    await session.change("DELETE FROM threads WHERE pk = %s", (key,))


async def delete_expired(session: Session, thread_ids: Sequence[str]) -> list[str]:
    """Delete those of the tenant's threads that expired; return their ids (in key order)."""
    if not thread_ids:
        return []
    rows = await session.rows(
        "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads WHERE tenant_id = %s "
        "AND thread_id = ANY(%s) AND expire_at <= %s ORDER BY pk FOR UPDATE) "
        "RETURNING thread_id",
        (session.tenant, list(thread_ids), session.now),
    )
    return [row["thread_id"] for row in rows]


async def expired(session: Session, limit: int) -> list[ThreadRef]:
    """Return up to limit expired threads of every tenant (for the expiry sweep)."""
    rows = await session.rows(
        "SELECT pk, tenant_id, thread_id, ttl_us FROM threads "
        "WHERE expire_at IS NOT NULL AND expire_at <= %s LIMIT %s",
        (session.now, limit),
    )
    return [to_ref(row) for row in rows]


async def list_page(session: Session, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
    """Return one page of threads by keyset: (sort column, pk) past the cursor."""
    column = query.order.value
    where, params = _filter_sql(session, query.filter)
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        where.append(f"({column}, pk) {'<' if query.descending else '>'} (%s, %s)")
        params.extend([query.after.sort_value, query.after.row_key])
    return await page(
        session,
        f"SELECT {COLUMNS} FROM threads WHERE {' AND '.join(where)} "
        f"ORDER BY {column} {direction}, pk {direction} LIMIT %s",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column=column,
        convert=sqlite_threads.to_thread,
    )


async def count(session: Session, thread_filter: ThreadFilter) -> int:
    """Count the live threads that match a filter."""
    where, params = _filter_sql(session, thread_filter)
    row = await session.row(
        f"SELECT count(*) AS n FROM threads WHERE {' AND '.join(where)}", params
    )
    return int(row["n"]) if row else 0
