"""API keys on PostgreSQL: a copy in memory for the per-call lookup, and the keys command's writes.

The KeyStore interface reads synchronously on every call, which a network
database cannot answer without blocking the event loop. So the server keeps
every key (a small table) in memory and reloads it when the keys command
changes one (it sends NOTIFY threadline_keys) and every KEYS_RELOAD_SECONDS
in case a notification was missed: a revocation counts from the next call
once the notice arrives (milliseconds), and at the latest after that period.
"""

from __future__ import annotations

from typing import Any

from threadline_server.store.base import KeyAdmin, KeyStore
from threadline_server.store.postgres.session import Session
from threadline_server.store.records import KeyRecord

COLUMNS = "key_id, tenant_id, scope, digest, created_at, revoked_at, note"
KEYS_CHANNEL = "threadline_keys"
KEYS_RELOAD_SECONDS = 5.0


def to_record(row: dict[str, Any]) -> KeyRecord:
    """Return a key row as a record."""
    return KeyRecord(
        row["key_id"],
        row["tenant_id"],
        row["scope"],
        bytes(row["digest"]),
        row["created_at"],
        row["revoked_at"],
        row["note"],
    )


async def load(session: Session) -> dict[str, KeyRecord]:
    """Return every key by id."""
    rows = await session.rows(f"SELECT {COLUMNS} FROM keys")
    return {row["key_id"]: to_record(row) for row in rows}


class PostgresKeyStore(KeyStore):
    """Every key, as last loaded from the database."""

    def __init__(self) -> None:
        self._keys: dict[str, KeyRecord] = {}

    def replace(self, keys: dict[str, KeyRecord]) -> None:
        """Take a fresh copy of every key."""
        self._keys = keys

    def find(self, key_id: str) -> KeyRecord | None:
        """Return the key with this id, or None."""
        return self._keys.get(key_id)

    def any_active(self) -> bool:
        """Tell whether any key is not revoked."""
        return any(key.revoked_at is None for key in self._keys.values())


class PostgresKeyAdmin(KeyAdmin):
    """The keys command's writes, each its own transaction, each announced to the servers."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def _notify(self) -> None:
        await self._session.change(f"NOTIFY {KEYS_CHANNEL}")

    async def insert(self, record: KeyRecord) -> None:
        """Store a new key."""
        async with self._session.connection.transaction():
            await self._session.change(
                f"INSERT INTO keys ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
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
            await self._notify()

    async def revoke(self, key_id: str, at: int) -> KeyRecord | None:
        """Mark a key revoked (keeping the first revocation time); None if there is no such key."""
        async with self._session.connection.transaction():
            row = await self._session.row(
                "UPDATE keys SET revoked_at = coalesce(revoked_at, %s) WHERE key_id = %s "
                f"RETURNING {COLUMNS}",
                (at, key_id),
            )
            await self._notify()
        return None if row is None else to_record(row)

    async def list(self) -> list[KeyRecord]:
        """Return every key, revoked ones too, oldest first."""
        rows = await self._session.rows(f"SELECT {COLUMNS} FROM keys ORDER BY created_at, key_id")
        return [to_record(row) for row in rows]
