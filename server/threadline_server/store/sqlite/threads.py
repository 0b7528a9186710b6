"""Threads: their rows, filters, and the statements that read and write them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format, timestamp_pb2
from threadline.v1 import thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.records import (
    Page,
    StoredThread,
    ThreadActivity,
    ThreadFilter,
    ThreadPageQuery,
    ThreadRef,
)
from threadline_server.store.sqlite import purge
from threadline_server.store.sqlite.session import Row, Session, page

COLUMNS = (
    "pk, tenant_id, thread_id, title, metadata, agent_id, user_id, external_ref, locale_language, "
    "locale_country, locale_time_zone, participants, ttl_us, status, created_at, updated_at, "
    "last_activity_at, expire_at, message_count, version, is_default"
)


def etag(row: Row) -> str:
    """Return the thread's etag: its version, and the creation time that tells reuses apart."""
    return f"{row['created_at']:x}-{row['version']}"


def set_time(timestamp: timestamp_pb2.Timestamp, micros: int) -> None:
    """Set a Timestamp from microseconds as FromMicroseconds does, in a third of its time.

    Every read converts a few timestamps per row (a page of messages, forty):
    FromMicroseconds is pure Python with a range check that stored times,
    all written by this server, never fail.
    """
    timestamp.seconds, rest = divmod(micros, 1_000_000)
    timestamp.nanos = rest * 1000


def to_thread(row: Row) -> thread_pb2.Thread:
    """Return the API view of a thread row."""
    thread = thread_pb2.Thread(
        thread_id=row["thread_id"],
        title=row["title"],
        agent_id=row["agent_id"],
        user_id=row["user_id"],
        external_ref=row["external_ref"],
        status=row["status"],
        message_count=row["message_count"],
        etag=etag(row),
        is_default=bool(row["is_default"]),
    )
    if row["metadata"] == "{}":  # the usual case, without parsing
        thread.metadata.SetInParent()
    else:
        thread.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    if row["locale_language"] or row["locale_country"] or row["locale_time_zone"]:
        thread.locale.language = row["locale_language"]
        thread.locale.country = row["locale_country"]
        thread.locale.time_zone = row["locale_time_zone"]
    if row["participants"] != "[]":
        for item in json.loads(row["participants"]):
            json_format.ParseDict(item, thread.participants.add())
    if row["ttl_us"] is not None:
        thread.ttl.FromMicroseconds(row["ttl_us"])
    set_time(thread.created_at, row["created_at"])
    set_time(thread.updated_at, row["updated_at"])
    set_time(thread.last_activity_at, row["last_activity_at"])
    if row["expire_at"] is not None:
        set_time(thread.expire_time, row["expire_at"])
    return thread


def _client_columns(thread: thread_pb2.Thread) -> dict[str, Any]:
    """Return the stored form of a thread's client-settable fields."""
    return {
        "title": thread.title,
        "metadata": jsonvalue.dumps(jsonvalue.struct_to_python(thread.metadata))
        if thread.metadata.fields
        else "{}",
        "agent_id": thread.agent_id,
        "user_id": thread.user_id,
        "external_ref": thread.external_ref,
        "locale_language": thread.locale.language,
        "locale_country": thread.locale.country,
        "locale_time_zone": thread.locale.time_zone,
        "participants": json.dumps(
            [
                json_format.MessageToDict(p, preserving_proto_field_name=True)
                for p in thread.participants
            ],
            separators=(",", ":"),
        )
        if thread.participants
        else "[]",
        "ttl_us": thread.ttl.ToMicroseconds() if thread.HasField("ttl") else None,
    }


def _metadata_condition(key: str, value: jsonvalue.JsonValue) -> tuple[str, list[Any]]:
    """Return SQL that holds when a thread's metadata has key equal to value.

    json_each yields each top-level key with its JSON type and its SQL value
    (objects and arrays as their JSON text, which is canonical as stored).
    """
    base = "EXISTS (SELECT 1 FROM json_each(threads.metadata) AS j WHERE j.key = ? AND "
    if value is None:
        return base + "j.type = 'null')", [key]
    if isinstance(value, bool):
        return base + "j.type = ?)", [key, "true" if value else "false"]
    if isinstance(value, int | float):
        return base + "j.type IN ('integer', 'real') AND j.value = ?)", [key, value]
    if isinstance(value, str):
        return base + "j.type = 'text' AND j.value = ?)", [key, value]
    kind = "object" if isinstance(value, dict) else "array"
    return base + "j.type = ? AND j.value = ?)", [key, kind, jsonvalue.dumps(value)]


def _filter_sql(session: Session, thread_filter: ThreadFilter) -> tuple[list[str], list[Any]]:
    where = ["tenant_id = ?", "(expire_at IS NULL OR expire_at > ?)"]
    params: list[Any] = [session.tenant, session.now]
    for column in ("agent_id", "user_id", "external_ref"):
        value = getattr(thread_filter, column)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if thread_filter.statuses:
        where.append(f"status IN ({','.join('?' * len(thread_filter.statuses))})")
        params.extend(thread_filter.statuses)
    if thread_filter.thread_ids:
        where.append(f"thread_id IN ({','.join('?' * len(thread_filter.thread_ids))})")
        params.extend(thread_filter.thread_ids)
    for value, condition in (
        (thread_filter.created_after, "created_at >= ?"),
        (thread_filter.created_before, "created_at < ?"),
        (thread_filter.updated_after, "updated_at >= ?"),
        (thread_filter.updated_before, "updated_at < ?"),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    for key, value in thread_filter.metadata.items():
        condition, extra = _metadata_condition(key, value)
        where.append(condition)
        params.extend(extra)
    return where, params


def to_ref(row: Row) -> ThreadRef:
    """Return the handle a transaction passes around for a thread row."""
    return ThreadRef(row["pk"], row["tenant_id"], row["thread_id"], row["ttl_us"])


def to_stored(row: Row) -> StoredThread:
    """Return a thread row as its handle and its API view."""
    return StoredThread(to_ref(row), to_thread(row))


async def live_row(session: Session, thread_id: str) -> Row:
    """Return a thread that exists and has not expired, or raise NotFoundError."""
    row = await session.row(
        f"SELECT {COLUMNS} FROM threads WHERE tenant_id = ? AND thread_id = ? "
        "AND (expire_at IS NULL OR expire_at > ?)",
        (session.tenant, thread_id, session.now),
    )
    if row is None:
        raise NotFoundError("thread", thread_id)
    return row


async def live_ref(session: Session, thread_id: str) -> ThreadRef:
    """Return the handle of a thread that exists and has not expired, or raise NotFoundError.

    live_row's search, reading only what the handle holds (a write that
    only appends to a thread, such as CreateMessage, needs no more).
    """
    row = await session.row(
        "SELECT pk, tenant_id, thread_id, ttl_us FROM threads WHERE tenant_id = ? "
        "AND thread_id = ? AND (expire_at IS NULL OR expire_at > ?)",
        (session.tenant, thread_id, session.now),
    )
    if row is None:
        raise NotFoundError("thread", thread_id)
    return to_ref(row)


def _micros(stamp: timestamp_pb2.Timestamp) -> int:
    return stamp.ToMicroseconds()


async def insert(session: Session, thread: thread_pb2.Thread) -> Row | None:
    """Insert a thread as given; return its row, or None when its id is taken."""
    columns = _client_columns(thread)
    columns.update(
        tenant_id=session.tenant,
        thread_id=thread.thread_id,
        status=thread.status,
        created_at=_micros(thread.created_at),
        updated_at=_micros(thread.updated_at),
        last_activity_at=_micros(thread.last_activity_at),
        expire_at=_micros(thread.expire_time) if thread.HasField("expire_time") else None,
        message_count=thread.message_count,
        is_default=int(thread.is_default),
    )
    names = ", ".join(columns)
    marks = ", ".join(f":{name}" for name in columns)
    # Either unique index may refuse it: the thread id, or (for a default
    # thread) the agent and user, whose default thread another call made.
    return await session.row(
        f"INSERT INTO threads ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING "
        f"RETURNING {COLUMNS}",
        columns,
    )


async def default_row(session: Session, agent_id: str, user_id: str) -> Row | None:
    """Return the tenant's default thread of an agent and user, or None.

    ``is_default = 1`` repeats the partial unique index's condition, without
    which SQLite would not use it. A default thread never expires.
    """
    return await session.row(
        f"SELECT {COLUMNS} FROM threads "
        "WHERE tenant_id = ? AND agent_id = ? AND user_id = ? AND is_default = 1",
        (session.tenant, agent_id, user_id),
    )


async def update(session: Session, key: int, thread: thread_pb2.Thread) -> Row:
    """Store a thread's client-settable fields and times; return the row as it now is."""
    columns = _client_columns(thread)
    columns.update(
        updated_at=_micros(thread.updated_at),
        last_activity_at=_micros(thread.last_activity_at),
        expire_at=_micros(thread.expire_time) if thread.HasField("expire_time") else None,
    )
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    row = await session.row(
        f"UPDATE threads SET {assignments}, version = version + 1 WHERE pk = :pk "
        f"RETURNING {COLUMNS}",
        {**columns, "pk": key},
    )
    assert row is not None  # noqa: S101 - the transaction found the thread live
    return row


async def touch(session: Session, key: int, activity: ThreadActivity) -> None:
    """Record activity on a thread: message count, activity time, expiry, version."""
    await session.change(
        "UPDATE threads SET message_count = message_count + ?, last_activity_at = ?, "
        "expire_at = ?, version = version + 1 WHERE pk = ?",
        (activity.message_count_change, activity.at, activity.expire_at, key),
    )


async def set_status(session: Session, key: int, status: int) -> None:
    """Store a thread's status."""
    await session.change("UPDATE threads SET status = ? WHERE pk = ?", (status, key))


async def delete(session: Session, key: int) -> None:
    """Delete a thread: gone at once, its rows purged in the background (purge.py)."""
    await purge.retire(session, [key])


async def delete_expired(session: Session, thread_ids: Sequence[str]) -> list[str]:
    """Delete those of the tenant's threads that expired; return their ids."""
    if not thread_ids:
        return []
    rows = await session.rows(
        "SELECT pk, thread_id FROM threads WHERE tenant_id = ? "
        f"AND thread_id IN ({','.join('?' * len(thread_ids))}) AND expire_at <= ? "
        f"AND phase = {purge.LIVE}",
        (session.tenant, *thread_ids, session.now),
    )
    await purge.retire(session, [row[0] for row in rows])
    return [row[1] for row in rows]


async def expired(session: Session, limit: int) -> list[ThreadRef]:
    """Return up to limit expired threads of every tenant (for the expiry sweep)."""
    rows = await session.rows(
        "SELECT pk, tenant_id, thread_id, ttl_us FROM threads "
        f"WHERE expire_at IS NOT NULL AND expire_at <= ? AND phase = {purge.LIVE} LIMIT ?",
        (session.now, limit),
    )
    return [to_ref(row) for row in rows]


async def list_page(session: Session, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
    """Return one page of threads by keyset: (sort column, pk) past the cursor."""
    column = query.order.value
    where, params = _filter_sql(session, query.filter)
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        where.append(f"({column}, pk) {'<' if query.descending else '>'} (?, ?)")
        params.extend([query.after.sort_value, query.after.row_key])
    return await page(
        session,
        f"SELECT {COLUMNS} FROM threads WHERE {' AND '.join(where)} "
        f"ORDER BY {column} {direction}, pk {direction} LIMIT ?",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column=column,
        convert=to_thread,
    )


async def count(session: Session, thread_filter: ThreadFilter) -> int:
    """Count the live threads that match a filter."""
    where, params = _filter_sql(session, thread_filter)
    row = await session.row(f"SELECT count(*) FROM threads WHERE {' AND '.join(where)}", params)
    return int(row[0]) if row else 0
