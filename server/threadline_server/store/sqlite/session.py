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
from typing import Any, TypeVar

import aiosqlite
from google.protobuf.message import Message

from threadline_server.store.records import Cursor, Page
from threadline_server.store.sqlite.onehop import SyncConnection
from threadline_server.wire import entry_size

T = TypeVar("T")
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


# Rows fetched from SQLite at a time when a read stops at a size: first a
# few, so that large rows past the budget are never all held at once; more
# at a time while the rows stay small, so that a long read of small rows
# takes few trips to SQLite's thread.
_FIRST_FETCH = 16
_MAX_FETCH = 512

M = TypeVar("M", bound=Message)


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


async def page(
    session: Session,
    sql: str,
    params: list[Any],
    *,
    limit: int,
    max_bytes: int,
    sort_column: str,
    convert: Callable[[Row], M],
) -> Page[M]:
    """Return one page: up to limit items within max_bytes, and the cursor after its last.

    sql selects the rows in page order and ends in ``LIMIT ?``, which this
    fills (limit + 1: one more row tells whether a next page exists).
    """
    taken, more = await fitting_rows(
        session, sql, [*params, limit + 1], limit=limit, max_bytes=max_bytes, convert=convert
    )
    last = taken[-1][0] if taken else None
    cursor = Cursor(last[sort_column], last["pk"]) if more and last is not None else None
    return Page([item for _, item in taken], cursor)


async def child_page(
    session: Session,
    select: str,
    *,
    alias: str,
    thread_pk: int,
    descending: bool,
    limit: int,
    max_bytes: int,
    after: Cursor | None,
    convert: Callable[[Row], M],
) -> Page[M]:
    """Return one page of a thread's rows (messages or runs) by keyset on their pk."""
    direction = "DESC" if descending else "ASC"
    where = f"{alias}.thread_pk = ?"
    params: list[Any] = [thread_pk]
    if after is not None:
        where += f" AND {alias}.pk {'<' if descending else '>'} ?"
        params.append(after.row_key)
    return await page(
        session,
        f"{select} WHERE {where} ORDER BY {alias}.pk {direction} LIMIT ?",
        params,
        limit=limit,
        max_bytes=max_bytes,
        sort_column="pk",
        convert=convert,
    )
