"""Messages: their rows, and the statements that read and write them.

Every statement here works within one thread the caller already holds, so
none joins the threads table: the caller supplies the thread id. A message
named by its id is found by (tenant_id, message_id), the unique index, and
then checked to be the thread's: by thread_pk alone the plan would walk the
thread's every message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import json_format
from threadline.v1 import message_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.records import MessagePageQuery, Page, ThreadRef
from threadline_server.store.sqlite import threads
from threadline_server.store.sqlite.session import Row, Session, child_page, fitting_rows

COLUMNS = "pk, message_id, role, parts, metadata, run_id, created_at, updated_at"
_SELECT = f"SELECT {COLUMNS} FROM messages AS m"
# Rows per INSERT statement: 9 bound values each, well under SQLite's limit of 32766.
_INSERT_BATCH = 500


# json.loads without its wrapper (two whitespace matches and three calls a
# row): the C scanner itself. A value with anything after it is left to
# json.loads, which raises as it always did.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined] # set by JSONDecoder.__init__; typeshed omits it


def _loads(text: str) -> Any:
    """Return the JSON value of a stored column, as json.loads would."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def to_message(row: Row, thread_id: str) -> message_pb2.Message:
    """Return the API view of a message row.

    ListMessages converts up to a page of rows per call, so this is a read's
    hot path (bench/README.md, the per-call work).
    """
    message = message_pb2.Message(
        message_id=row["message_id"],
        thread_id=thread_id,
        role=row["role"],
        run_id=row["run_id"],
    )
    for item in _loads(row["parts"]):
        # A text part, the usual kind, without json_format (a profile's 8%).
        if len(item) == 1 and type(item.get("text")) is str:
            message.parts.add(text=item["text"])
        else:
            json_format.ParseDict(item, message.parts.add())
    metadata = row["metadata"]
    if metadata == "{}":
        message.metadata.SetInParent()
    else:
        message.metadata.CopyFrom(jsonvalue.loads_struct(metadata))
    threads.set_time(message.created_at, row["created_at"])
    threads.set_time(message.updated_at, row["updated_at"])
    return message


def _part_dict(part: message_pb2.Part) -> dict[str, object]:
    # A text part without json_format: the same dict, for a fraction of the time.
    if part.WhichOneof("kind") == "text":
        return {"text": part.text}
    return json_format.MessageToDict(part, preserving_proto_field_name=True)


# json.dumps with these options builds a new encoder per call (a profile's
# 5% of a CreateMessage's writer time): one, kept, writes the same text.
_PARTS_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _parts_json(message: message_pb2.Message) -> str:
    return _PARTS_ENCODER.encode([_part_dict(p) for p in message.parts])


def _metadata_json(message: message_pb2.Message) -> str:
    if not message.metadata.fields:
        return "{}"
    return jsonvalue.dumps(jsonvalue.struct_to_python(message.metadata))


async def row_of(session: Session, thread_key: int, message_id: str) -> Row:
    """Return one message of a thread, or raise NotFoundError."""
    row = await session.row(
        f"{_SELECT} WHERE m.tenant_id = ? AND m.message_id = ? AND m.thread_pk = ?",
        (session.tenant, message_id, thread_key),
    )
    if row is None:
        raise NotFoundError("message", message_id)
    return row


async def latest(
    session: Session, ref: ThreadRef, limit: int, *, max_bytes: int
) -> tuple[list[message_pb2.Message], int]:
    """Return a thread's latest messages that fit in max_bytes, oldest first.

    Read newest first, so the ones left out are the oldest. Also returns how
    many of the latest limit were left out.
    """
    taken, more = await fitting_rows(
        session,
        f"{_SELECT} WHERE m.thread_pk = ? ORDER BY m.pk DESC LIMIT ?",
        (ref.key, limit),
        limit=limit,
        max_bytes=max_bytes,
        convert=lambda row: to_message(row, ref.thread_id),
    )
    omitted = 0
    if more:
        row = await session.row(
            "SELECT count(*) FROM (SELECT 1 FROM messages WHERE thread_pk = ? LIMIT ?)",
            (ref.key, limit),
        )
        omitted = (row[0] if row else 0) - len(taken)
    return [message for _, message in reversed(taken)], omitted


def as_stored(message: message_pb2.Message, thread_id: str) -> message_pb2.Message:
    """Return a copy of a message as its row gives it back (to_message), without reading the row.

    The row holds the message's own fields and nothing else: a copy with the
    thread's id, metadata set (a row always has it) and no unknown fields is
    what to_message makes of that row, without a RETURNING and a parse.
    """
    stored = message_pb2.Message()
    stored.CopyFrom(message)
    stored.DiscardUnknownFields()
    stored.thread_id = thread_id
    stored.metadata.SetInParent()
    return stored


async def insert(
    session: Session, ref: ThreadRef, messages: Sequence[message_pb2.Message]
) -> list[message_pb2.Message]:
    """Append messages as given, in order; return them as stored."""
    for start in range(0, len(messages), _INSERT_BATCH):
        batch = messages[start : start + _INSERT_BATCH]
        values: list[object] = []
        for message in batch:
            values.extend(
                (
                    session.tenant,
                    ref.key,
                    message.message_id,
                    message.role,
                    _parts_json(message),
                    _metadata_json(message),
                    message.run_id,
                    message.created_at.ToMicroseconds(),
                    message.updated_at.ToMicroseconds(),
                )
            )
        await session.change(
            "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
            "run_id, created_at, updated_at) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(batch)),
            values,
        )
    return [as_stored(message, ref.thread_id) for message in messages]


async def update(
    session: Session, ref: ThreadRef, message: message_pb2.Message
) -> message_pb2.Message:
    """Store a message's metadata and updated_at; return it as stored."""
    row = await session.row(
        f"UPDATE messages SET metadata = ?, updated_at = ? "
        f"WHERE tenant_id = ? AND message_id = ? AND thread_pk = ? RETURNING {COLUMNS}",
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
        "DELETE FROM messages WHERE tenant_id = ? AND message_id = ? AND thread_pk = ?",
        (session.tenant, message_id, ref.key),
    )
    if not deleted:
        raise NotFoundError("message", message_id)


async def delete_of_runs(session: Session, ref: ThreadRef, run_ids: Sequence[str]) -> int:
    """Delete the messages the given runs wrote; return how many."""
    if not run_ids:
        return 0
    return await session.change(
        # run_id != '' repeats messages_by_run's condition, so SQLite uses it.
        "DELETE FROM messages WHERE thread_pk = ? AND run_id != '' "
        f"AND run_id IN ({','.join('?' * len(run_ids))})",
        (ref.key, *run_ids),
    )


async def delete_all(session: Session, ref: ThreadRef) -> int:
    """Delete every message of a thread; return how many."""
    return await session.change("DELETE FROM messages WHERE thread_pk = ?", (ref.key,))


async def newest_id(session: Session, ref: ThreadRef) -> str:
    """Return the id of a thread's newest message, or '' when it has none."""
    row = await session.row(
        "SELECT message_id FROM messages WHERE thread_pk = ? ORDER BY pk DESC LIMIT 1",
        (ref.key,),
    )
    return "" if row is None else str(row[0])


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
        row[0]
        for row in await session.rows(
            "SELECT pk FROM messages WHERE thread_pk = ? AND pk <= ? ORDER BY pk",
            (source.key, 2**63 - 1 if through is None else through),
        )
    ]
    await session.connection.executemany(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) SELECT tenant_id, ?, ?, role, parts, metadata, "
        "run_id, created_at, updated_at FROM messages WHERE pk = ?",
        [(target.key, new_message_id(), key) for key in keys],
    )
    return len(keys)


async def newest_key(session: Session, ref: ThreadRef) -> int:
    """Return the pk of a thread's newest message (0: it has none): where a copy stops."""
    row = await session.row("SELECT max(pk) FROM messages WHERE thread_pk = ?", (ref.key,))
    return 0 if row is None or row[0] is None else int(row[0])


async def copy_batch(
    session: Session,
    source: ThreadRef,
    target: ThreadRef,
    new_message_id: Callable[[], str],
    *,
    after: int,
    through: int,
    limit: int,
) -> tuple[int, int]:
    """Copy the next limit messages of a thread past the pk after, up to through.

    Returns how many were copied and the pk of the last one (after, if none).
    """
    keys = [
        row[0]
        for row in await session.rows(
            "SELECT pk FROM messages WHERE thread_pk = ? AND pk > ? AND pk <= ? "
            "ORDER BY pk LIMIT ?",
            (source.key, after, through, limit),
        )
    ]
    await session.connection.executemany(
        "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
        "run_id, created_at, updated_at) SELECT tenant_id, ?, ?, role, parts, metadata, "
        "run_id, created_at, updated_at FROM messages WHERE pk = ?",
        [(target.key, new_message_id(), key) for key in keys],
    )
    return len(keys), keys[-1] if keys else after


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
        convert=lambda row: to_message(row, query.thread_id),
    )
