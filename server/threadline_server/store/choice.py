"""Which store a --database value names, and opening it.

``postgresql://...`` (or ``postgres://...``) names a PostgreSQL database, for
several processes on one database; anything else is a SQLite file, with an
optional ``sqlite:`` prefix. The PostgreSQL store is imported only when
named, so a SQLite server needs none of its packages.
"""

from __future__ import annotations

from threadline_server.store.base import Store
from threadline_server.store.records import WriteObserver

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")
_SQLITE_PREFIX = "sqlite:"
_MISSING_DRIVER = (
    "--database names a PostgreSQL database, but the PostgreSQL driver is not installed: "
    "pip install 'threadline[postgres]'"
)


def is_postgres(database: str) -> bool:
    """Tell whether a --database value names a PostgreSQL database."""
    return database.startswith(_POSTGRES_PREFIXES)


def without_password(url: str) -> str:
    """Return a PostgreSQL URL with its password (if any) masked, for logs."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def sqlite_path(database: str) -> str:
    """Return the SQLite file a --database value names."""
    return database.removeprefix(_SQLITE_PREFIX)


def open_store(
    database: str,
    *,
    read_connections: int,
    write_observer: WriteObserver | None = None,
    busy_timeout: float = 10.0,
    maintenance_interval: float = 5.0,
) -> Store:
    """Return the store a --database value names (not yet opened).

    busy_timeout and maintenance_interval are SQLite's (a file another
    process holds locked; WAL upkeep and purges): PostgreSQL needs neither.
    """
    if is_postgres(database):
        try:
            from threadline_server.store.postgres import PostgresStore  # noqa: PLC0415 - only when asked for
        except ImportError as error:
            raise SystemExit(_MISSING_DRIVER) from error
        # A pool a little larger than SQLite's readers: PostgreSQL writes in parallel too.
        return PostgresStore(
            database, pool_size=max(2 * read_connections, 4), write_observer=write_observer
        )
    from threadline_server.store.sqlite import SqliteStore  # noqa: PLC0415 - beside the import above

    return SqliteStore(
        sqlite_path(database),
        read_connections=read_connections,
        write_observer=write_observer,
        busy_timeout=busy_timeout,
        maintenance_interval=maintenance_interval,
    )


async def migrate(database: str) -> tuple[int, list[str]]:
    """Bring a database's schema up to date; return its version and the migrations applied."""
    if is_postgres(database):
        try:
            from threadline_server.store.postgres import store as postgres  # noqa: PLC0415 - only when asked for
        except ImportError as error:
            raise SystemExit(_MISSING_DRIVER) from error
        return await postgres.migrate(database)
    from threadline_server.store.sqlite import connection  # noqa: PLC0415 - beside the import above

    return await connection.migrate_file(sqlite_path(database))


async def has_active_key(database: str) -> bool:
    """Tell whether the database has an API key that is not revoked, changing nothing."""
    if is_postgres(database):
        try:
            from threadline_server.store.postgres import store as postgres  # noqa: PLC0415 - only when asked for
        except ImportError as error:
            raise SystemExit(_MISSING_DRIVER) from error
        return await postgres.has_active_key(database)
    from threadline_server.store.sqlite.keys import any_active_in  # noqa: PLC0415 - beside the import above

    return any_active_in(sqlite_path(database))
