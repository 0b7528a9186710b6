"""API keys: the lookup every call makes, and the statements the keys command runs.

The server reads keys through a plain synchronous sqlite3 connection of its
own: a lookup by primary key in this small table takes a few microseconds,
far less than a hop to aiosqlite's thread, and reading the row on every call
is what makes a revocation count from the very next call. In autocommit
mode each statement reads the latest commit and holds no read transaction
after it (every statement is read to its end), so checkpoints are never held back.

The keys command writes from another process while the server runs, which
makes it a second writer on the database: see connection.open_side_writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from threadline_server.store.base import KeyAdmin, KeyStore
from threadline_server.store.records import KeyRecord
from threadline_server.store.sqlite import connection as sqlite_connection
from threadline_server.store.sqlite.session import Session

COLUMNS = "key_id, tenant_id, scope, digest, created_at, revoked_at, note"
_FIND = f"SELECT {COLUMNS} FROM keys WHERE key_id = ?"
_ANY_ACTIVE = "SELECT 1 FROM keys WHERE revoked_at IS NULL LIMIT 1"


def to_record(row: Sequence[Any]) -> KeyRecord:
    """Return a key row (in COLUMNS order) as a record."""
    key_id, tenant, scope, digest, created_at, revoked_at, note = row
    return KeyRecord(key_id, tenant, scope, digest, created_at, revoked_at, note)


class SqliteKeyStore(KeyStore):
    """Reads keys on the event loop's own thread, one statement per call."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        # One cursor for every lookup: a microsecond less than a new one per call.
        self._cursor = connection.cursor()

    @classmethod
    def open(cls, path: str) -> SqliteKeyStore:
        """Open a read-only connection to the database's keys."""
        return cls(sqlite_connection.open_key_reader(path))

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def find(self, key_id: str) -> KeyRecord | None:
        """Return the key with this id, or None."""
        rows = self._cursor.execute(_FIND, (key_id,)).fetchall()
        return to_record(rows[0]) if rows else None

    def any_active(self) -> bool:
        """Tell whether any key is not revoked."""
        return bool(self._cursor.execute(_ANY_ACTIVE).fetchall())


def any_active_in(path: str) -> bool:
    """Tell whether the database at path has a key that is not revoked, changing nothing.

    A database that does not exist yet, or predates keys, has none.
    """
    if not Path(path).exists():
        return False
    connection = sqlite3.connect(f"file:{Path(path).absolute()}?mode=ro", uri=True)
    try:
        return bool(connection.execute(_ANY_ACTIVE).fetchall())
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return False
        raise
    finally:
        connection.close()


class SqliteKeyAdmin(KeyAdmin):
    """The keys command's writes: one statement each, its own small transaction."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, path: str) -> SqliteKeyAdmin:
        """Open (and create or migrate, if need be) the database at path."""
        return cls(await sqlite_connection.open_side_writer(path))

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()

    def _session(self) -> Session:
        return Session(self._connection, 0, None)

    async def insert(self, record: KeyRecord) -> None:
        """Store a new key (one statement: its own transaction)."""
        await self._session().change(
            f"INSERT INTO keys ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.key_id,
                record.tenant,
                record.scope,
                record.digest,
                record.created_at,
                record.revoked_at,
                record.note,
            ),
        )

    async def revoke(self, key_id: str, at: int) -> KeyRecord | None:
        """Mark a key revoked (keeping the first revocation time); None if there is no such key."""
        row = await self._session().row(
            "UPDATE keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ? "
            f"RETURNING {COLUMNS}",
            (at, key_id),
        )
        return None if row is None else to_record(row)

    async def list(self) -> list[KeyRecord]:
        """Return every key, revoked ones too, oldest first."""
        rows = await self._session().rows(f"SELECT {COLUMNS} FROM keys ORDER BY created_at, key_id")
        return [to_record(row) for row in rows]
