"""Messages: their rows, and the statements that read and write them."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from google.protobuf import json_format
from threadline.v1 import message_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.base import MessagePageQuery, Page
from threadline_server.store.sqlite import threads
from threadline_server.store.sqlite.session import Row, Session, child_page

COLUMNS = (
    "m.pk, t.thread_id, m.message_id, m.role, m.parts, m.metadata, m.run_id, "
    "m.created_at, m.updated_at"
)
_SELECT = f"SELECT {COLUMNS} FROM messages AS m JOIN threads AS t ON t.pk = m.thread_pk"


def to_message(row: Row) -> message_pb2.Message:
    """Return the API view of a message row."""
    message = message_pb2.Message(
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        role=row["role"],
        run_id=row["run_id"],
    )
    for item in json.loads(row["parts"]):
        json_format.ParseDict(item, message.parts.add())
    message.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    message.created_at.FromMicroseconds(row["created_at"])
    message.updated_at.FromMicroseconds(row["updated_at"])
    return message


def _parts_json(message: message_pb2.Message) -> str:
    return json.dumps(
        [json_format.MessageToDict(p, preserving_proto_field_name=True) for p in message.parts],
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def row_of(session: Session, thread_pk: int, message_id: str, *, field: str) -> Row:
    """Return one message of a thread, or raise NotFoundError."""
    row = await session.row(
        f"{_SELECT} WHERE m.thread_pk = ? AND m.message_id = ?", (thread_pk, message_id)
    )
    if row is None:
        raise NotFoundError("message", message_id, field=field)
    return row


async def latest(session: Session, thread_pk: int, limit: int) -> list[message_pb2.Message]:
    """Return a thread's latest messages, oldest first."""
    rows = await session.rows(
        f"SELECT * FROM ({_SELECT} WHERE m.thread_pk = ? ORDER BY m.pk DESC LIMIT ?) "
        "ORDER BY pk ASC",
        (thread_pk, limit),
    )
    return [to_message(row) for row in rows]


async def insert(session: Session, thread_pk: int, message: message_pb2.Message) -> Row:
    """Append a message (message_id set) and touch its thread; return the stored row."""
    await session.change(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            session.tenant,
            thread_pk,
            message.message_id,
            message.role,
            _parts_json(message),
            jsonvalue.dumps(jsonvalue.struct_to_python(message.metadata)),
            message.run_id,
            session.now,
            session.now,
        ),
    )
    await threads.touch(session, thread_pk, 1)
    return await row_of(session, thread_pk, message.message_id, field="message.message_id")


async def update(
    session: Session,
    thread_id: str,
    message_id: str,
    change: Callable[[message_pb2.Message], None],
) -> Row:
    """Change a message with change(); only its metadata is stored back."""
    thread = await threads.live_row(session, thread_id, field="message.thread_id")
    row = await row_of(session, thread["pk"], message_id, field="message.message_id")
    message = to_message(row)
    change(message)
    await session.change(
        "UPDATE messages SET metadata = ?, updated_at = ? WHERE pk = ?",
        (jsonvalue.dumps(jsonvalue.struct_to_python(message.metadata)), session.now, row["pk"]),
    )
    await threads.touch(session, thread["pk"], 0)
    return await row_of(session, thread["pk"], message_id, field="message.message_id")


async def delete(session: Session, thread_id: str, message_id: str) -> None:
    """Delete a message and touch its thread."""
    thread = await threads.live_row(session, thread_id)
    row = await row_of(session, thread["pk"], message_id, field="message_id")
    await session.change("DELETE FROM messages WHERE pk = ?", (row["pk"],))
    await threads.touch(session, thread["pk"], -1)


async def delete_of_runs(session: Session, thread_pk: int, run_ids: Sequence[str]) -> int:
    """Delete the messages the given runs wrote; return how many."""
    if not run_ids:
        return 0
    deleted = await session.change(
        f"DELETE FROM messages WHERE thread_pk = ? AND run_id IN ({','.join('?' * len(run_ids))})",
        (thread_pk, *run_ids),
    )
    if deleted:
        await threads.touch(session, thread_pk, -deleted)
    return deleted


async def get(session: Session, thread_id: str, message_id: str) -> message_pb2.Message:
    """Return one message of a live thread."""
    thread = await threads.live_row(session, thread_id)
    return to_message(await row_of(session, thread["pk"], message_id, field="message_id"))


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
        after=query.after,
        convert=to_message,
    )
