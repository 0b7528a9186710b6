"""Messages on PostgreSQL: the statements that read and write them.

As in the SQLite store, every statement works within a thread the caller
holds; a message named by its id is found by (tenant_id, message_id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from threadline.v1 import message_pb2

from threadline_server.errors import NotFoundError
from threadline_server.store.postgres import threads
from threadline_server.store.postgres.session import (
    DictRow,
    Session,
    as_row,
    child_page,
    fitting_rows,
)
from threadline_server.store.records import MessagePageQuery, Page, ThreadRef
from threadline_server.store.sqlite import messages as sqlite_messages

COLUMNS = sqlite_messages.COLUMNS
_SELECT = f"SELECT {COLUMNS} FROM messages AS m"
_parts_json = sqlite_messages._parts_json
_metadata_json = sqlite_messages._metadata_json


def to_message(row: DictRow, thread_id: str) -> message_pb2.Message:
    """Return the API view of a message row."""
    return sqlite_messages.to_message(as_row(row), thread_id)


async def row_of(session: Session, thread_key: int, message_id: str) -> DictRow:
    """Return one message of a thread, or raise NotFoundError."""
    row = await session.row(
        f"{_SELECT} WHERE m.tenant_id = %s AND m.message_id = %s AND m.thread_pk = %s",
        (session.tenant, message_id, thread_key),
    )
    if row is None:
        raise NotFoundError("message", message_id)
    return row


async def latest(
    session: Session, ref: ThreadRef, limit: int, *, max_bytes: int
) -> tuple[list[message_pb2.Message], int]:
    """Return a thread's latest messages that fit in max_bytes (oldest first), and how many not."""
    taken, more = await fitting_rows(
        session,
        f"{_SELECT} WHERE m.thread_pk = %s ORDER BY m.pk DESC LIMIT %s",
        (ref.key, limit),
        limit=limit,
        max_bytes=max_bytes,
        convert=lambda row: sqlite_messages.to_message(row, ref.thread_id),
    )
    omitted = 0
    if more:
        row = await session.row(
            "SELECT count(*) AS n FROM (SELECT 1 FROM messages WHERE thread_pk = %s LIMIT %s) AS x",
            (ref.key, limit),
        )
        omitted = (row["n"] if row else 0) - len(taken)
    return [message for _, message in reversed(taken)], omitted


async def insert(
    session: Session, ref: ThreadRef, messages: Sequence[message_pb2.Message]
) -> list[message_pb2.Message]:
    """Append messages as given, in order (keys taken in that order); return them as stored."""
    if not messages:
        return []
    await session.change(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) SELECT %s, %s, x.message_id, x.role, x.parts, "
        "x.metadata, x.run_id, x.created_at, x.updated_at FROM unnest("
        "%s::text[], %s::int[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[]) "
        "WITH ORDINALITY "
        "AS x(message_id, role, parts, metadata, run_id, created_at, updated_at, n) "
        "ORDER BY x.n",
        (
            session.tenant,
            ref.key,
            [m.message_id for m in messages],
            [m.role for m in messages],
            [_parts_json(m) for m in messages],
            [_metadata_json(m) for m in messages],
            [m.run_id for m in messages],
            [m.created_at.ToMicroseconds() for m in messages],
            [m.updated_at.ToMicroseconds() for m in messages],
        ),
    )
    return [sqlite_messages.as_stored(message, ref.thread_id) for message in messages]


async def update(
    session: Session, ref: ThreadRef, message: message_pb2.Message
) -> message_pb2.Message:
    """Store a message's metadata and updated_at; return it as stored."""
    row = await session.row(
        "UPDATE messages AS m SET metadata = %s, updated_at = %s "
        f"WHERE m.tenant_id = %s AND m.message_id = %s AND m.thread_pk = %s RETURNING {COLUMNS}",
        (
            _metadata_json(message),
            message.updated_at.ToMicroseconds(),
            session.tenant,
            message.message_id,
            ref.key,
        ),
    )
    if row is None:
        raise NotFoundError("message", message.message_id)
    return to_message(row, ref.thread_id)


async def delete(session: Session, ref: ThreadRef, message_id: str) -> None:
    """Delete one message of a thread, or raise NotFoundError."""
    deleted = await session.change(
        "DELETE FROM messages WHERE tenant_id = %s AND message_id = %s AND thread_pk = %s",
        (session.tenant, message_id, ref.key),
    )
    if not deleted:
        raise NotFoundError("message", message_id)


async def delete_of_runs(session: Session, ref: ThreadRef, run_ids: Sequence[str]) -> int:
    """Delete the messages the given runs wrote; return how many."""
    if not run_ids:
        return 0
    return await session.change(
        "DELETE FROM messages WHERE thread_pk = %s AND run_id <> '' AND run_id = ANY(%s)",
        (ref.key, list(run_ids)),
    )


async def delete_all(session: Session, ref: ThreadRef) -> int:
    """Delete every message of a thread; return how many."""
    return await session.change("DELETE FROM messages WHERE thread_pk = %s", (ref.key,))


async def newest_id(session: Session, ref: ThreadRef) -> str:
    """Return the id of a thread's newest message, or '' when it has none."""
    row = await session.row(
        "SELECT message_id FROM messages WHERE thread_pk = %s ORDER BY pk DESC LIMIT 1",
        (ref.key,),
    )
    return "" if row is None else str(row["message_id"])


async def copy(
    session: Session,
    source: ThreadRef,
    target: ThreadRef,
    new_message_id: Callable[[], str],
    *,
    through: int | None = None,
) -> int:
    """Copy a thread's messages (up to the pk through) to another, in order, with new ids."""
    keys = [
        row["pk"]
        for row in await session.rows(
            "SELECT pk FROM messages WHERE thread_pk = %s AND pk <= %s ORDER BY pk",
            (source.key, 2**63 - 1 if through is None else through),
        )
    ]
    if not keys:
        return 0
    await session.change(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) SELECT m.tenant_id, %s, x.new_id, m.role, m.parts, "
        "m.metadata, m.run_id, m.created_at, m.updated_at "
        "FROM unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS x(pk, new_id, n) "
        "JOIN messages AS m ON m.pk = x.pk ORDER BY x.n",
        (target.key, keys, [new_message_id() for _ in keys]),
    )
    return len(keys)


async def get(session: Session, thread_id: str, message_id: str) -> message_pb2.Message:
    """Return one message of a live thread."""
    thread = await threads.live_row(session, thread_id)
    return to_message(await row_of(session, thread["pk"], message_id), thread_id)


async def list_page(session: Session, query: MessagePageQuery) -> Page[message_pb2.Message]:
    """Return one page of a thread's messages by keyset on pk."""
    thread = await threads.live_row(session, query.thread_id)
    return await child_page(
        session,
        _SELECT,
        alias="m",
        thread_pk=thread["pk"],
        descending=query.descending,
        limit=query.limit,
        max_bytes=query.max_bytes,
        after=query.after,
        convert=lambda row: sqlite_messages.to_message(row, query.thread_id),
    )
