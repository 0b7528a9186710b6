"""Checkpoints of thread state: their rows, and the statements that read and write them.

A thread's state is its newest checkpoint, so every read of the state is the
last row of the thread in checkpoints_by_thread. Like messages, every
statement works within a thread the caller already holds (by its pk), or
names a checkpoint by (tenant_id, checkpoint_id), the unique index. The
caller finds the live thread (with the adapter's own lock, if any).
"""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.records import CheckpointPageQuery, Page, StoredCheckpoint, ThreadRef
from threadline_server.store.sql.session import Row, SqlSession, child_page

COLUMNS = (
    "c.pk, c.checkpoint_id, c.parent_checkpoint_id, c.run_id, c.source, c.state, "
    "c.last_message_id, c.message_pk, c.created_at"
)
_SELECT = f"SELECT {COLUMNS} FROM checkpoints AS c"


def to_checkpoint(row: Row, thread_id: str) -> thread_pb2.ThreadCheckpoint:
    """Return the API view of a checkpoint row."""
    checkpoint = thread_pb2.ThreadCheckpoint(
        checkpoint_id=row["checkpoint_id"],
        thread_id=thread_id,
        parent_checkpoint_id=row["parent_checkpoint_id"],
        last_message_id=row["last_message_id"],
        run_id=row["run_id"],
        source=row["source"],
    )
    checkpoint.values.CopyFrom(jsonvalue.loads_struct(row["state"]))
    checkpoint.created_at.FromMicroseconds(row["created_at"])
    return checkpoint


def _stored(row: Row | None, ref: ThreadRef) -> StoredCheckpoint | None:
    if row is None:
        return None
    return StoredCheckpoint(to_checkpoint(row, ref.thread_id), row["message_pk"])


async def newest(session: SqlSession, ref: ThreadRef) -> StoredCheckpoint | None:
    """Return a thread's newest checkpoint (its state), or None when its state never changed."""
    row = await session.row(
        session.dialect.sql(f"{_SELECT} WHERE c.thread_pk = ? ORDER BY c.pk DESC LIMIT 1"),
        (ref.key,),
    )
    return _stored(row, ref)


async def first_of_run(session: SqlSession, ref: ThreadRef, run_id: str) -> StoredCheckpoint | None:
    """Return the first checkpoint a run made on a thread, or None when it made none."""
    row = await session.row(
        session.dialect.sql(
            f"{_SELECT} WHERE c.thread_pk = ? AND c.run_id = ? ORDER BY c.pk LIMIT 1"
        ),
        (ref.key, run_id),
    )
    return _stored(row, ref)


async def one(session: SqlSession, ref: ThreadRef, checkpoint_id: str) -> StoredCheckpoint:
    """Return one checkpoint of a thread, or raise NotFoundError."""
    row = await session.row(
        session.dialect.sql(
            f"{_SELECT} WHERE c.tenant_id = ? AND c.checkpoint_id = ? AND c.thread_pk = ?"
        ),
        (session.tenant, checkpoint_id, ref.key),
    )
    found = _stored(row, ref)
    if found is None:
        raise NotFoundError("checkpoint", checkpoint_id)
    return found


async def insert(
    session: SqlSession, ref: ThreadRef, checkpoints: Sequence[thread_pb2.ThreadCheckpoint]
) -> None:
    """Append checkpoints as given, in order.

    Each one's message_pk is its last message's pk, looked up by id: the
    message was written before it (in this transaction or earlier). One
    statement each: a change makes one or two.
    """
    statement = session.dialect.sql(
        "INSERT INTO checkpoints (tenant_id, thread_pk, checkpoint_id, "
        "parent_checkpoint_id, run_id, source, state, last_message_id, message_pk, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, COALESCE((SELECT m.pk FROM messages "
        "AS m WHERE m.tenant_id = ? AND m.message_id = ? AND m.thread_pk = ?), 0), ?)"
    )
    for checkpoint in checkpoints:
        await session.change(
            statement,
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


async def newest_of(session: SqlSession, ref: ThreadRef) -> thread_pb2.ThreadCheckpoint | None:
    """Return a live thread's newest checkpoint, or None."""
    found = await newest(session, ref)
    return None if found is None else found.checkpoint


async def list_page(
    session: SqlSession, ref: ThreadRef, query: CheckpointPageQuery
) -> Page[thread_pb2.ThreadCheckpoint]:
    """Return one page of a live thread's checkpoints, newest first, by keyset on pk."""
    return await child_page(
        session,
        _SELECT,
        alias="c",
        thread_pk=ref.key,
        descending=True,
        limit=query.limit,
        max_bytes=query.max_bytes,
        after=query.after,
        convert=lambda row: to_checkpoint(row, query.thread_id),
    )
