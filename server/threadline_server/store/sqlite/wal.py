"""Keeping the WAL file small: journal_size_limit, and TRUNCATE checkpoints when readers allow.

SQLite checkpoints the WAL into the database after commits (every 1000
pages, PASSIVE), but it can only start the WAL over from the beginning
once no reader still needs its old frames: behind a long reader the -wal
file grows, and then stays that size on disk. Two things bound it here:

- ``PRAGMA journal_size_limit`` on the writer: whenever the WAL starts over,
  a file larger than JOURNAL_SIZE_LIMIT is cut back to it.
- The store's maintenance task calls truncate() every few seconds: when the
  file is over the limit, a ``wal_checkpoint(TRUNCATE)`` with the busy
  timeout at 0, so it never waits on a reader (and never holds the writer):
  if a reader still needs old frames it does what it can and says BUSY, and
  the next round tries again. Once the readers have moved on, the file is
  cut to zero bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import aiosqlite

JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """What one TRUNCATE checkpoint found and did."""

    busy: bool
    wal_bytes_before: int
    wal_bytes_after: int


def wal_bytes(path: str) -> int:
    """Return the size of a database's -wal file (0 when there is none)."""
    try:
        return os.path.getsize(path + "-wal")
    except FileNotFoundError:
        return 0


async def limit(writer: aiosqlite.Connection) -> None:
    """Set the size the WAL file is cut back to whenever it starts over."""
    await writer.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")


async def truncate(writer: aiosqlite.Connection, path: str, *, busy_timeout_ms: int) -> Checkpoint:
    """Checkpoint and truncate the WAL without waiting on readers (outside any transaction)."""
    before = wal_bytes(path)
    await writer.execute("PRAGMA busy_timeout = 0")
    try:
        async with writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
            row = await cursor.fetchone()
    finally:
        await writer.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    busy = row is None or int(row[0]) != 0
    return Checkpoint(busy, before, wal_bytes(path))
