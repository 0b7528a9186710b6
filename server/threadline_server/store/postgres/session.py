"""What every PostgreSQL statement runs with: a connection, the time, and the tenant.

The twin of store.sqlite.session: each store operation gets one Session, the
tenant every row belongs to is bound here, and every statement that names a
row by an id a client gave says ``tenant_id = %s`` with session.tenant.
Rows come back as dicts (psycopg's dict_row), read by column name, so the
SQLite store's row converters (to_thread, to_message, ...) serve here too.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from google.protobuf.message import Message
from psycopg import AsyncConnection

from threadline_server.store.sql import session as shared
from threadline_server.store.sql.session import child_page, page
from threadline_server.store.sqlite.session import Row
from threadline_server.wire import entry_size

T = TypeVar("T")
# page and child_page are the shared ones (store/sql/session.py), named here for
# the row modules that page through this Session.
__all__ = [
    "Connection",
    "DictRow",
    "Params",
    "Row",
    "Session",
    "as_row",
    "child_page",
    "fitting_rows",
    "page",
    "store_now",
]
Params = Sequence[Any] | Mapping[str, Any]
DictRow = dict[str, Any]
Connection = AsyncConnection[DictRow]

# Rows fetched at a time when a read stops at a size (as in the SQLite store):
# first a few, so large rows past the budget are never all held at once.
_FIRST_FETCH = 16
_MAX_FETCH = 512
_cursor_names = itertools.count()

M = TypeVar("M", bound=Message)


def store_now() -> int:
    """Return the current time in microseconds since the epoch."""
    return time.time_ns() // 1000


def as_row(row: DictRow) -> Row:
    """Return a dict row as the SQLite converters' Row: they read columns by name only."""
    return cast(Row, row)


@dataclass(frozen=True)
class Session:
    """A connection lent to one store operation, with its time and tenant."""

    connection: Connection
    now: int
    # None only for the background jobs' reads across tenants.
    tenant: str | None
    dialect: ClassVar[shared.Dialect] = shared.POSTGRES

    async def rows(self, query: str, params: Params = ()) -> list[DictRow]:
        """Run a statement and return all its rows."""
        cursor = await self.connection.execute(query.encode(), params)
        return await cursor.fetchall() if cursor.description is not None else []

    async def row(self, query: str, params: Params = ()) -> DictRow | None:
        """Run a statement and return its first row, or None."""
        rows = await self.rows(query, params)
        return rows[0] if rows else None

    async def change(self, query: str, params: Params = ()) -> int:
        """Run a statement that writes; return how many rows it changed."""
        cursor = await self.connection.execute(query.encode(), params)
        return int(cursor.rowcount)

    async def serialize(self, key: str) -> None:
        """Take a lock on a key until the commit: writers naming it, in any process, queue."""
        await self.change("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    async def fitting(
        self,
        query: str,
        params: Params,
        *,
        limit: int,
        max_bytes: int,
        convert: Callable[[shared.Row], M],
    ) -> tuple[list[tuple[DictRow, M]], bool]:
        """Read rows until limit items or max_bytes of them (fitting_rows)."""
        return await fitting_rows(
            self, query, params, limit=limit, max_bytes=max_bytes, convert=convert
        )


async def fitting_rows(
    session: Session,
    query: str,
    params: Params,
    *,
    limit: int,
    max_bytes: int,
    convert: Callable[[Row], M],
) -> tuple[list[tuple[DictRow, M]], bool]:
    """Read rows in order, each with its item, until limit items or max_bytes of them.

    Through a server-side cursor, a few rows at a time, so a read that stops
    early never holds the rows it did not take. It needs a transaction: the
    caller's, or one begun here.
    """
    taken: list[tuple[DictRow, M]] = []
    total = 0
    fetch = _FIRST_FETCH
    connection = session.connection
    async with connection.transaction():
        name = f"threadline_rows_{next(_cursor_names)}"
        cursor = connection.cursor(name=name)
        try:
            await cursor.execute(query.encode(), params)
            while rows := await cursor.fetchmany(fetch):
                for row in rows:
                    if len(taken) == limit:
                        return taken, True
                    item = convert(as_row(row))
                    size = entry_size(item.ByteSize())
                    if taken and total + size > max_bytes:
                        return taken, True
                    taken.append((row, item))
                    total += size
                if total * fetch * 16 <= max_bytes * len(taken):
                    fetch = min(fetch * 4, _MAX_FETCH)
        finally:
            try:
                await cursor.close()
            except BaseException:
                # A reader cancelled mid-read (its client left): the transaction's
                # end closes the cursor on the server; mark it closed here too.
                cursor._close()  # psycopg's own non-blocking half of close()
                raise
    return taken, False
