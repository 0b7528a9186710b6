"""Bringing a PostgreSQL database's schema up to date: numbered migrations.

migrations/NNNN_name.sql are applied in order, each in one transaction with
the version it brings the schema to (table schema_version, one row). Every
process that migrates first takes a transaction-level advisory lock, so
servers started at once, or `threadline migrate` beside a running server,
apply each migration exactly once. A database whose schema is newer than
the newest migration this release knows is refused (SchemaTooNewError):
an older release must not serve a schema it does not understand.
"""

from __future__ import annotations

import logging
from importlib import resources

from threadline_server.store.base import SchemaTooNewError
from threadline_server.store.postgres.session import Connection

logger = logging.getLogger(__name__)

# Any fixed number: the advisory lock every migrating process takes.
_MIGRATION_LOCK = 0x7468726561646C6E


def migrations() -> list[tuple[int, str, str]]:
    """Return (number, file name, script) of every migration this release knows, in order."""
    folder = resources.files(__package__) / "migrations"
    found = [
        (int(entry.name.split("_", 1)[0]), entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found)


def newest_known() -> int:
    """Return the number of the newest migration this release knows."""
    return migrations()[-1][0]


async def current_version(connection: Connection) -> int:
    """Return the database's schema version (0: no schema yet)."""
    cursor = await connection.execute(b"SELECT to_regclass('schema_version') IS NOT NULL AS found")
    row = await cursor.fetchone()
    if row is None or not row["found"]:
        return 0
    cursor = await connection.execute(b"SELECT version FROM schema_version")
    row = await cursor.fetchone()
    return 0 if row is None else int(row["version"])


async def migrate(connection: Connection) -> list[str]:
    """Apply every migration newer than the database's schema; return the names applied."""
    applied: list[str] = []
    known = migrations()
    async with connection.transaction():
        await connection.execute(b"SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        await connection.execute(
            b"CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
        )
        current = await current_version(connection)
        if current > known[-1][0]:
            raise SchemaTooNewError(current, known[-1][0])
        for number, name, script in known:
            if number <= current:
                continue
            logger.info("applying migration %s", name)
            async with connection.transaction():
                await connection.execute(script.encode())
                await connection.execute(b"DELETE FROM schema_version")
                await connection.execute(
                    b"INSERT INTO schema_version (version) VALUES (%s)", (number,)
                )
            applied.append(name)
    return applied


async def check(connection: Connection) -> None:
    """Refuse a schema newer than this release knows, changing nothing."""
    current = await current_version(connection)
    if current > newest_known():
        raise SchemaTooNewError(current, newest_known())
