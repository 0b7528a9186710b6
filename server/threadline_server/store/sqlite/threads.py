"""Threads: their rows, filters, and the statements that read and write them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from google.protobuf import json_format
from threadline.v1 import run_pb2, thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import AlreadyExistsError, EtagMismatchError, NotFoundError
from threadline_server.ids import new_message_id
from threadline_server.store.base import Page, ThreadFilter, ThreadPageQuery
from threadline_server.store.sqlite.session import Row, Session, page

COLUMNS = (
    "pk, thread_id, title, metadata, agent_id, user_id, external_ref, locale_language, "
    "locale_country, locale_time_zone, participants, ttl_us, status, created_at, updated_at, "
    "last_activity_at, expire_at, message_count, version"
)


def etag(row: Row) -> str:
    """Return the thread's etag: its version, and the creation time that tells reuses apart."""
    return f"{row['created_at']:x}-{row['version']}"


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
    )
    thread.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    if row["locale_language"] or row["locale_country"] or row["locale_time_zone"]:
        thread.locale.language = row["locale_language"]
        thread.locale.country = row["locale_country"]
        thread.locale.time_zone = row["locale_time_zone"]
    for item in json.loads(row["participants"]):
        json_format.ParseDict(item, thread.participants.add())
    if row["ttl_us"] is not None:
        thread.ttl.FromMicroseconds(row["ttl_us"])
    thread.created_at.FromMicroseconds(row["created_at"])
    thread.updated_at.FromMicroseconds(row["updated_at"])
    thread.last_activity_at.FromMicroseconds(row["last_activity_at"])
    if row["expire_at"] is not None:
        thread.expire_time.FromMicroseconds(row["expire_at"])
    return thread


def _client_columns(thread: thread_pb2.Thread) -> dict[str, Any]:
    """Return the stored form of a thread's client-settable fields."""
    return {
        "title": thread.title,
        "metadata": jsonvalue.dumps(jsonvalue.struct_to_python(thread.metadata)),
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
        ),
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


async def live_row(session: Session, thread_id: str, *, field: str = "thread_id") -> Row:
    """Return a thread that exists and has not expired, or raise NotFoundError."""
    row = await session.row(
        f"SELECT {COLUMNS} FROM threads WHERE tenant_id = ? AND thread_id = ? "
        "AND (expire_at IS NULL OR expire_at > ?)",
        (session.tenant, thread_id, session.now),
    )
    if row is None:
        raise NotFoundError("thread", thread_id, field=field)
    return row


async def purge_if_expired(session: Session, thread_id: str) -> None:
    """Delete the thread if it expired: the sweeper may not have reached it, and it frees its id."""
    await session.change(
        "DELETE FROM threads WHERE tenant_id = ? AND thread_id = ? AND expire_at <= ?",
        (session.tenant, thread_id, session.now),
    )


async def create(
    session: Session, thread: thread_pb2.Thread, *, reuse_existing: bool
) -> tuple[Row, bool]:
    """Insert a thread; return its row and whether it is new."""
    await purge_if_expired(session, thread.thread_id)
    columns = _client_columns(thread)
    ttl = columns["ttl_us"]
    now = session.now
    columns.update(
        tenant_id=session.tenant,
        thread_id=thread.thread_id,
        status=thread_pb2.THREAD_STATUS_IDLE,
        created_at=now,
        updated_at=now,
        last_activity_at=now,
        expire_at=now + ttl if ttl is not None else None,
    )
    names = ", ".join(columns)
    marks = ", ".join(f":{name}" for name in columns)
    created = (
        await session.change(
            f"INSERT INTO threads ({names}) VALUES ({marks}) "
            "ON CONFLICT (tenant_id, thread_id) DO NOTHING",
            columns,
        )
        == 1
    )
    if not created and not reuse_existing:
        raise AlreadyExistsError("thread", thread.thread_id, field="thread_id")
    return await live_row(session, thread.thread_id), created


async def update(
    session: Session, thread_id: str, change: Callable[[thread_pb2.Thread], None], *, etag_: str
) -> Row:
    """Change the stored thread with change(), checking the etag first."""
    row = await live_row(session, thread_id, field="thread.thread_id")
    if etag_ and etag_ != etag(row):
        raise EtagMismatchError("thread", thread_id, field="thread.etag")
    merged = to_thread(row)
    change(merged)
    columns = _client_columns(merged)
    ttl = columns["ttl_us"]
    now = session.now
    columns.update(
        pk=row["pk"],
        updated_at=now,
        last_activity_at=now,
        expire_at=now + ttl if ttl is not None else None,
    )
    assignments = ", ".join(f"{name} = :{name}" for name in columns if name != "pk")
    await session.change(
        f"UPDATE threads SET {assignments}, version = version + 1 WHERE pk = :pk", columns
    )
    return await live_row(session, thread_id)


async def delete(session: Session, thread_id: str, *, etag_: str) -> None:
    """Delete a thread; its messages, runs and events go with it by ON DELETE CASCADE."""
    row = await live_row(session, thread_id)
    if etag_ and etag_ != etag(row):
        raise EtagMismatchError("thread", thread_id, field="etag")
    await session.change("DELETE FROM threads WHERE pk = ?", (row["pk"],))


async def copy(session: Session, thread_id: str, new_thread_id: str) -> Row:
    """Copy a thread row and its messages (new message ids, same order and times)."""
    source = await live_row(session, thread_id)
    await purge_if_expired(session, new_thread_id)
    ttl = source["ttl_us"]
    now = session.now
    cursor = await session.connection.execute(
        "INSERT INTO threads (tenant_id, thread_id, title, metadata, agent_id, user_id, "
        "external_ref, locale_language, locale_country, locale_time_zone, participants, "
        "ttl_us, status, created_at, updated_at, last_activity_at, expire_at, "
        "message_count) "
        "SELECT tenant_id, ?, title, metadata, agent_id, user_id, external_ref, "
        "locale_language, locale_country, locale_time_zone, participants, ttl_us, ?, "
        "?, ?, ?, ?, message_count FROM threads WHERE pk = ? "
        "ON CONFLICT (tenant_id, thread_id) DO NOTHING",
        (
            new_thread_id,
            thread_pb2.THREAD_STATUS_IDLE,
            now,
            now,
            now,
            now + ttl if ttl is not None else None,
            source["pk"],
        ),
    )
    if cursor.rowcount != 1:
        raise AlreadyExistsError("thread", new_thread_id, field="new_thread_id")
    new_pk = cursor.lastrowid
    message_pks = [
        r[0]
        for r in await session.rows(
            "SELECT pk FROM messages WHERE thread_pk = ? ORDER BY pk", (source["pk"],)
        )
    ]
    await session.connection.executemany(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) SELECT tenant_id, ?, ?, role, parts, metadata, "
        "run_id, created_at, updated_at FROM messages WHERE pk = ?",
        [(new_pk, new_message_id(), pk) for pk in message_pks],
    )
    return await live_row(session, new_thread_id)


async def delete_expired(session: Session, *, limit: int) -> list[str]:
    """Delete up to limit expired threads; return their ids."""
    rows = await session.rows(
        "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads "
        "WHERE expire_at IS NOT NULL AND expire_at <= ? LIMIT ?) RETURNING thread_id",
        (session.now, limit),
    )
    return [row[0] for row in rows]


async def touch(session: Session, thread_pk: int, count_change: int) -> None:
    """Record activity on a thread: message count, activity time, expiry."""
    await session.change(
        "UPDATE threads SET message_count = message_count + ?, last_activity_at = ?, "
        "expire_at = CASE WHEN ttl_us IS NULL THEN NULL ELSE ? + ttl_us END, "
        "version = version + 1 WHERE pk = ?",
        (count_change, session.now, session.now, thread_pk),
    )


async def refresh_status(session: Session, thread_pk: int) -> None:
    """BUSY with a run in flight; else ERROR when the latest run failed; else IDLE."""
    await session.change(
        "UPDATE threads SET status = CASE "
        "WHEN EXISTS (SELECT 1 FROM runs WHERE thread_pk = :pk "
        "  AND status IN (:queued, :running)) THEN :busy "
        "WHEN (SELECT status FROM runs WHERE thread_pk = :pk "
        "  ORDER BY coalesce(ended_at, 0) DESC, pk DESC LIMIT 1) = :failed THEN :error "
        "ELSE :idle END WHERE pk = :pk",
        {
            "pk": thread_pk,
            "queued": run_pb2.RUN_STATUS_QUEUED,
            "running": run_pb2.RUN_STATUS_RUNNING,
            "failed": run_pb2.RUN_STATUS_FAILED,
            "busy": thread_pb2.THREAD_STATUS_BUSY,
            "error": thread_pb2.THREAD_STATUS_ERROR,
            "idle": thread_pb2.THREAD_STATUS_IDLE,
        },
    )


async def list_page(session: Session, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
    """Return one page of threads by keyset: (sort column, pk) past the cursor."""
    column = query.order.value
    where, params = _filter_sql(session, query.filter)
    direction = "DESC" if query.descending else "ASC"
    if query.after is not None:
        where.append(f"({column}, pk) {'<' if query.descending else '>'} (?, ?)")
        params.extend([query.after.sort_value, query.after.row_key])
    params.append(query.limit + 1)
    rows = await session.rows(
        f"SELECT {COLUMNS} FROM threads WHERE {' AND '.join(where)} "
        f"ORDER BY {column} {direction}, pk {direction} LIMIT ?",
        params,
    )
    return page(rows, query.limit, column, to_thread)


async def count(session: Session, thread_filter: ThreadFilter) -> int:
    """Count the live threads that match a filter."""
    where, params = _filter_sql(session, thread_filter)
    row = await session.row(f"SELECT count(*) FROM threads WHERE {' AND '.join(where)}", params)
    return int(row[0]) if row else 0
