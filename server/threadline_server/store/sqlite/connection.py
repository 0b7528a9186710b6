"""Opening SQLite connections, and bringing the schema up to date.

- WAL with ``synchronous=FULL``: a commit that was acknowledged survives
  kill -9 and also power loss or an OS crash, at the price of one fsync per
  commit.
- Numbered migrations in migrations/NNNN_name.sql, applied at start-up inside
  one transaction each, tracked by ``PRAGMA user_version``.
- SQLite releases before 3.51.3 can corrupt a WAL database when two
  connections write or checkpoint at the same moment. The server has a
  single writing connection (the only one that checkpoints). The one other
  writer is the `threadline keys` command, which may write while a server
  runs: its connection never checkpoints and its writes are one small
  statement each, which narrows the window to the instant of that one
  statement without closing it (the version is logged at start-up).
  `threadline backup` reads through a read-only connection, which can
  neither write nor checkpoint. Why this guard and not a refusal or another
  driver: docs/design.md, "SQLite version".
"""

from __future__ import annotations

import logging
import sqlite3
from importlib import resources

import aiosqlite

from threadline_server.store.base import SchemaTooNewError
from threadline_server.store.sqlite import wal

logger = logging.getLogger(__name__)

_WAL_RESET_FIXED = (3, 51, 3)


async def connect(path: str, *, busy_timeout_ms: int = 10000) -> aiosqlite.Connection:
    """Open a connection with foreign keys on and a busy timeout (generous by default)."""
    # isolation_level=None: no implicit BEGIN from Python's sqlite3 module;
    # every transaction here is begun and ended explicitly.
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    await connection.execute("PRAGMA foreign_keys = ON")
    await connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return connection


async def open_writer(path: str, *, busy_timeout_ms: int = 10000) -> aiosqlite.Connection:
    """Open the one writing connection (WAL, synchronous=FULL) and migrate the schema."""
    version = tuple(int(p) for p in sqlite3.sqlite_version.split("."))
    if version < _WAL_RESET_FIXED:
        logger.info(
            "sqlite %s predates the WAL-reset fix (3.51.3); safe here because only "
            "one connection writes and checkpoints (never run two servers on one file)",
            sqlite3.sqlite_version,
        )
    writer = await connect(path, busy_timeout_ms=busy_timeout_ms)
    try:
        await writer.execute("PRAGMA journal_mode = WAL")
        await writer.execute("PRAGMA synchronous = FULL")
        await wal.limit(writer)
        await migrate(writer)
    except BaseException:
        # Its thread would keep the process alive (a schema too new, say).
        await writer.close()
        raise
    return writer


async def open_side_writer(path: str) -> aiosqlite.Connection:
    """Open a writing connection for the keys command, which may run beside a server.

    It never checkpoints (wal_autocheckpoint=0: the server's writer does),
    and it migrates only a database no server has brought up to date yet.
    On close it checkpoints only when it is the last connection to the
    database, that is when no server has it open.
    """
    writer = await open_side_writer_unmigrated(path)
    try:
        await migrate(writer)
    except BaseException:
        await writer.close()
        raise
    return writer


def open_key_reader(path: str) -> sqlite3.Connection:
    """Open the synchronous read-only connection the server reads keys with, per call.

    A short busy timeout: a read in WAL mode waits only in rare moments
    (recovery after a crash), and this one waits on the event loop.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA query_only = ON")
    connection.execute("PRAGMA busy_timeout = 1000")
    return connection


async def open_reader(path: str) -> aiosqlite.Connection:
    """Open a read-only connection."""
    reader = await connect(path)
    await reader.execute("PRAGMA query_only = ON")
    return reader


async def migrate_file(path: str) -> tuple[int, list[str]]:
    """Bring the database file at path up to date (`threadline migrate`).

    Returns its version and the migrations applied.
    """
    connection = await open_side_writer_unmigrated(path)
    try:
        applied = await migrate(connection)
        async with connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return (int(row[0]) if row else 0), applied
    finally:
        await connection.close()


async def open_side_writer_unmigrated(path: str) -> aiosqlite.Connection:
    """Open a writing connection as the keys command does, without migrating."""
    writer = await connect(path)
    await writer.execute("PRAGMA wal_autocheckpoint = 0")
    async with writer.execute("PRAGMA journal_mode") as cursor:
        row = await cursor.fetchone()
    if row is None or str(row[0]).lower() != "wal":
        await writer.execute("PRAGMA journal_mode = WAL")
    await writer.execute("PRAGMA synchronous = FULL")
    return writer


async def migrate(connection: aiosqlite.Connection) -> list[str]:
    """Apply every migration newer than the database's user_version, one transaction each.

    Returns the names of those applied; refuses (SchemaTooNewError) a
    database migrated by a newer release.
    """
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    applied: list[str] = []
    folder = resources.files(__package__) / "migrations"
    scripts = sorted(
        (int(entry.name.split("_", 1)[0]), entry)
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    if scripts and current > scripts[-1][0]:
        raise SchemaTooNewError(current, scripts[-1][0])
    for number, entry in scripts:
        if number <= current:
            continue
        logger.info("applying migration %s", entry.name)
        applied.append(entry.name)
        script = entry.read_text(encoding="utf-8")
        try:
            await connection.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
            )
        except BaseException:
            if connection.in_transaction:
                await connection.execute("ROLLBACK")
            raise
    return applied


def open_loop_reader(path: str) -> sqlite3.Connection:
    """Open the synchronous read-only connection for small reads on the event loop's thread.

    Like the key reader: one index seek and a page of rows at most, where a
    hand-off to a reader thread costs more than the read (see store.py).
    """
    connection = sqlite3.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA query_only = ON")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA busy_timeout = 1000")
    return connection
