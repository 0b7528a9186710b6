"""What every statement runs with: a connection, the time, and the tenant.

Each store operation gets one Session. The tenant every row belongs to is
bound here and nowhere else: every statement that names a row by an id a
client gave (a thread id, a run id) or lists rows says ``tenant_id = ?``
with session.tenant, and every row inserted takes it. Statements that
follow a row key (a thread's pk) need not: the key came from such a lookup.
The background jobs' reads across tenants run with tenant None, which no
``tenant_id = ?`` ever matches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiosqlite
from google.protobuf.message import Message

from threadline_server.store.sql import session as shared
from threadline_server.store.sql.session import child_page, page
from threadline_server.store.sqlite.onehop import SyncConnection
from threadline_server.wire import entry_size

# page and child_page are the shared ones (store/sql/session.py), named here for
# the row modules that page through this Session.
__all__ = ["Params", "Row", "Session", "child_page", "fitting_rows", "page"]
T = TypeVar("T")
M = TypeVar("M", bound=Message)
Row = sqlite3.Row
Params = Iterable[Any] | Mapping[str, Any]


@dataclass(frozen=True)
class Session:
    """A connection lent to one store operation, with its time and tenant."""

    # The store runs each operation in one hop on the connection's thread,
    # through a SyncConnection (onehop.py); an aiosqlite connection works too.
    connection: aiosqlite.Connection | SyncConnection
    # Microseconds since the epoch, read once per operation: every row a
    # write transaction stamps carries the same time.
    now: int
    # None only for the background jobs' reads across tenants.
    tenant: str | None
    dialect: ClassVar[shared.Dialect] = shared.SQLITE

    async def rows(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a statement and return all its rows (one hop to SQLite's thread)."""
        return list(await self.connection.execute_fetchall(sql, params))

    async def row(self, sql: str, params: Params = ()) -> Row | None:
        """Run a statement and return its first row, or None."""
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def change(self, sql: str, params: Params = ()) -> int:
        """Run a statement that writes; return how many rows it changed."""
        cursor = await self.connection.execute(sql, params)
        return int(cursor.rowcount)

    async def serialize(self, key: str) -> None:
        """Nothing to do: SQLite's one writer already runs writers one at a time."""

    async def fitting(
        self,
        sql: str,
        params: Params,
        *,
        limit: int,
        max_bytes: int,
        convert: Callable[[shared.Row], M],
    ) -> tuple[list[tuple[Row, M]], bool]:
        """Read rows until limit items or max_bytes of them (fitting_rows)."""
        return await fitting_rows(
            self, sql, params, limit=limit, max_bytes=max_bytes, convert=convert
        )


# Rows fetched from SQLite at a time when a read stops at a size: first a
# few, so that large rows past the budget are never all held at once; more
# at a time while the rows stay small, so that a long read of small rows
# takes few trips to SQLite's thread.
_FIRST_FETCH = 16
_MAX_FETCH = 512


async def fitting_rows(
    session: Session,
    sql: str,
    params: Params,
    *,
    limit: int,
    max_bytes: int,
    convert: Callable[[Row], M],
) -> tuple[list[tuple[Row, M]], bool]:
    """Read rows in order, each with its item, until limit items or max_bytes of them.

    Items are counted as entries of a repeated field (wire.entry_size); the
    first is always taken. Rows are fetched a few at a time, so a read that
    stops early never holds the rows it did not take. Returns the rows with
    their items, and whether more rows followed.
    """
    taken: list[tuple[Row, M]] = []
    total = 0
    fetch = _FIRST_FETCH
    async with session.connection.execute(sql, params) as cursor:
        while rows := await cursor.fetchmany(fetch):
            for row in rows:
                if len(taken) == limit:
                    return taken, True
                item = convert(row)
                size = entry_size(item.ByteSize())
                if taken and total + size > max_bytes:
                    return taken, True
                taken.append((row, item))
                total += size
            # Fetch four times as many next while that many rows of the size
            # seen so far would take at most a quarter of the budget.
            if total * fetch * 16 <= max_bytes * len(taken):
                fetch = min(fetch * 4, _MAX_FETCH)
    return taken, False
