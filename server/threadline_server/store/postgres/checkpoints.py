"""Checkpoints of thread state on PostgreSQL: the statements that read and write them."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.postgres import threads
from threadline_server.store.postgres.session import DictRow, Session, as_row, child_page
from threadline_server.store.records import CheckpointPageQuery, Page, StoredCheckpoint, ThreadRef
from threadline_server.store.sqlite import checkpoints as sqlite_checkpoints

_SELECT = f"SELECT {sqlite_checkpoints.COLUMNS} FROM checkpoints AS c"


def _stored(row: DictRow | None, ref: ThreadRef) -> StoredCheckpoint | None:
    if row is None:
        return None
    return StoredCheckpoint(
        sqlite_checkpoints.to_checkpoint(as_row(row), ref.thread_id), row["message_pk"]
    )


async def newest(session: Session, ref: ThreadRef) -> StoredCheckpoint | None:
    """Return a thread's newest checkpoint (its state), or None."""
    row = await session.row(
        f"{_SELECT} WHERE c.thread_pk = %s ORDER BY c.pk DESC LIMIT 1", (ref.key,)
    )
    return _stored(row, ref)


async def first_of_run(session: Session, ref: ThreadRef, run_id: str) -> StoredCheckpoint | None:
    """Return the first checkpoint a run made on a thread, or None."""
    row = await session.row(
        f"{_SELECT} WHERE c.thread_pk = %s AND c.run_id = %s ORDER BY c.pk LIMIT 1",
        (ref.key, run_id),
    )
    return _stored(row, ref)


async def one(session: Session, ref: ThreadRef, checkpoint_id: str) -> StoredCheckpoint:
    """Return one checkpoint of a thread, or raise NotFoundError."""
    row = await session.row(
        f"{_SELECT} WHERE c.tenant_id = %s AND c.checkpoint_id = %s AND c.thread_pk = %s",
        (session.tenant, checkpoint_id, ref.key),
    )
    found = _stored(row, ref)
    if found is None:
        raise NotFoundError("checkpoint", checkpoint_id)
    return found


async def insert(
    session: Session, ref: ThreadRef, checkpoints: Sequence[thread_pb2.ThreadCheckpoint]
) -> None:
    """Append checkpoints as given, in order, each noting its last message's key."""
    for checkpoint in checkpoints:
        await session.change(
            "INSERT INTO checkpoints (tenant_id, thread_pk, checkpoint_id, "
            "parent_checkpoint_id, run_id, source, state, last_message_id, message_pk, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, COALESCE((SELECT m.pk FROM "
            "messages AS m WHERE m.tenant_id = %s AND m.message_id = %s AND m.thread_pk = %s), "
            "0), %s)",
            (
                session.tenant,
                ref.key,
                checkpoint.checkpoint_id,
                checkpoint.parent_checkpoint_id,
                checkpoint.run_id,
                checkpoint.source,
                jsonvalue.dumps(jsonvalue.struct_to_python(checkpoint.values)),
                checkpoint.last_message_id,
                session.tenant,
                checkpoint.last_message_id,
                ref.key,
                checkpoint.created_at.ToMicroseconds(),
            ),
        )


async def newest_of(session: Session, thread_id: str) -> thread_pb2.ThreadCheckpoint | None:
    """Return a live thread's newest checkpoint, or None; raise NotFoundError for the thread."""
    ref = threads.to_ref(await threads.live_row(session, thread_id))
    found = await newest(session, ref)
    return None if found is None else found.checkpoint


async def list_page(
    session: Session, query: CheckpointPageQuery
) -> Page[thread_pb2.ThreadCheckpoint]:
    """Return one page of a live thread's checkpoints, newest first, by keyset on pk."""
    thread = await threads.live_row(session, query.thread_id)
    return await child_page(
        session,
        _SELECT,
        alias="c",
        thread_pk=thread["pk"],
        descending=True,
        limit=query.limit,
        max_bytes=query.max_bytes,
        after=query.after,
        convert=lambda row: sqlite_checkpoints.to_checkpoint(row, query.thread_id),
    )
