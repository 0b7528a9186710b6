"""Deleting threads in batches: retire at once, purge the rows in the background.

Deleting a thread of 100,000 messages in one transaction holds the single
writer for more than a second, and every other write waits. So a delete
(DeleteThread, the expiry sweep, an abandoned copy) only retires the thread
in its own transaction, which takes the same few milliseconds whatever its
size: the thread row gets phase 2 and expire_at 0 (every read treats it as
gone), its id is renamed to ``#<pk>`` (so the client's id is free again at
once), it stops being a default thread, and its runs in flight are deleted
(so no worker claims them and no sweep of runs in flight sees them).

Then purge_batch, called by the store's background purger in write
transactions of their own, deletes at most BATCH_ROWS rows of the thread
at a time (messages, events, checkpoints, runs), and the thread row last.
The queue is the threads in phase 2 (an index), so a purge cut short by a
restart is resumed by the next server.
"""

from __future__ import annotations

from threadline_server.store.sql.runs import IN_FLIGHT
from threadline_server.store.sqlite.session import Session

LIVE = 0
BUILDING = 1
PURGING = 2

# Rows deleted per write transaction: a few milliseconds of the writer's
# time (measured in tests/test_big_threads.py), so that another write waits
# at most about that long behind a purge.
BATCH_ROWS = 500

# What a thread owns, purged in this order (the ones with most rows first).
_CHILD_TABLES = ("messages", "events", "checkpoints", "runs")


async def retire(session: Session, keys: list[int]) -> None:
    """Make threads gone for every reader and queue their rows for the purger."""
    if not keys:
        return
    marks = ",".join("?" * len(keys))
    await session.change(
        f"DELETE FROM runs WHERE thread_pk IN ({marks}) "
        f"AND status IN ({','.join('?' * len(IN_FLIGHT))})",
        (*keys, *IN_FLIGHT),
    )
    await session.change(
        f"UPDATE threads SET phase = {PURGING}, expire_at = 0, is_default = 0, "
        f"thread_id = '#' || pk WHERE pk IN ({marks})",
        keys,
    )


async def hide(session: Session, key: int) -> None:
    """Keep a new thread out of sight (phase 1) until it is published."""
    await session.change(
        f"UPDATE threads SET phase = {BUILDING}, expire_at = 0 WHERE pk = ?", (key,)
    )


async def publish(session: Session, key: int, expire_at: int | None) -> bool:
    """Bring a thread built out of sight into view; False when it is no longer being built."""
    changed = await session.change(
        f"UPDATE threads SET phase = {LIVE}, expire_at = ? WHERE pk = ? AND phase = {BUILDING}",
        (expire_at, key),
    )
    return changed > 0


async def abandon_builds(session: Session) -> int:
    """Queue for purging every thread a copy left half built (at start-up: it was cut short)."""
    keys = [
        row[0]
        for row in await session.rows(
            f"SELECT pk FROM threads WHERE phase != {LIVE} AND phase = {BUILDING} ORDER BY pk"
        )
    ]
    await retire(session, keys)
    return len(keys)


async def next_purge(session: Session) -> int | None:
    """Return the pk of a thread waiting to be purged, or None."""
    row = await session.row(
        f"SELECT pk FROM threads WHERE phase != {LIVE} AND phase = {PURGING} ORDER BY pk LIMIT 1"
    )
    return None if row is None else int(row[0])


async def purge_batch(session: Session, key: int) -> int:
    """Delete up to BATCH_ROWS rows of a retired thread, the thread row once it owns none.

    Returns how many rows went; 0 when the thread is gone entirely.
    """
    for table in _CHILD_TABLES:
        pk = "event_id" if table == "events" else "pk"
        deleted = await session.change(
            f"DELETE FROM {table} WHERE {pk} IN "
            f"(SELECT {pk} FROM {table} WHERE thread_pk = ? LIMIT ?)",
            (key, BATCH_ROWS),
        )
        if deleted:
            return deleted
    # The thread row last: its ON DELETE CASCADE now finds nothing to do.
    return await session.change(f"DELETE FROM threads WHERE pk = ? AND phase = {PURGING}", (key,))
