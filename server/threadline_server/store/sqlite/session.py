"""What every statement runs with: a connection, the time, and the tenant.

Each store operation gets one Session. The tenant every row belongs to is
bound here and nowhere else, so scoping every query to a caller's tenant
means setting it when the session is made.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite

from threadline_server.store.records import Cursor, Page

T = TypeVar("T")
Row = sqlite3.Row
Params = Iterable[Any] | Mapping[str, Any]

# The tenant every row belongs to until tenants arrive.
DEFAULT_TENANT = ""


@dataclass(frozen=True)
class Session:
    """A connection lent to one store operation, with its time and tenant."""

    connection: aiosqlite.Connection
    # Microseconds since the epoch, read once per operation: every row a
    # write transaction stamps carries the same time.
    now: int
    tenant: str = DEFAULT_TENANT

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


def page(rows: list[Row], limit: int, sort_column: str, convert: Callable[[Row], T]) -> Page[T]:
    """Turn limit + 1 rows into a page and the cursor after it (None on the last page)."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(rows[-1][sort_column], rows[-1]["pk"]) if more and rows else None
    return Page([convert(row) for row in rows], cursor)


async def child_page(
    session: Session,
    select: str,
    *,
    alias: str,
    thread_pk: int,
    descending: bool,
    limit: int,
    after: Cursor | None,
    convert: Callable[[Row], T],
) -> Page[T]:
    """Return one page of a thread's rows (messages or runs) by keyset on their pk."""
    direction = "DESC" if descending else "ASC"
    where = f"{alias}.thread_pk = ?"
    params: list[Any] = [thread_pk]
    if after is not None:
        where += f" AND {alias}.pk {'<' if descending else '>'} ?"
        params.append(after.row_key)
    params.append(limit + 1)
    rows = await session.rows(
        f"{select} WHERE {where} ORDER BY {alias}.pk {direction} LIMIT ?", params
    )
    return page(rows, limit, "pk", convert)
