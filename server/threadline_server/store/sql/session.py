"""The contract a store adapter's Session keeps for the shared modules, and its dialect.

The shared modules (runs, webhooks, checkpoints, request_ids) run their
statements through any Session that has these methods: store/sqlite's over
aiosqlite, store/postgres's over psycopg. A statement is written once with
``?`` placeholders; ``session.sql`` returns it in the database's own style
(PostgreSQL's ``%s``), translated once per text and cached. What truly
differs between the two databases, beyond the placeholder, is named in
Dialect and nowhere else in the shared modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from google.protobuf.message import Message

from threadline_server.store.records import Cursor, Page

M = TypeVar("M", bound=Message)
Params = Sequence[Any] | Mapping[str, Any]


class Row(Protocol):
    """A row read by column name: sqlite3.Row and psycopg's dict rows alike."""

    def __getitem__(self, key: str, /) -> Any: ...


@functools.lru_cache(maxsize=1024)
def _pyformat(text: str) -> str:
    """Return a statement written with ``?`` placeholders in psycopg's ``%s`` style.

    Shared statements hold no other ``?`` and no ``%``: the one rule that
    makes this plain replacement exact.
    """
    return text.replace("?", "%s")


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in the statements both stores run."""

    name: str
    # Appended to a SELECT whose rows a sweep deletes: PostgreSQL lets
    # concurrent sweeps of several processes pass over each other's rows;
    # SQLite has one writer and no row locks.
    skip_locked: str
    # Put before a column to keep the planner off its index (SQLite's unary
    # +, which PostgreSQL has too, but needs not: its planner counts rows).
    unindexed: str
    # After a subquery in FROM: PostgreSQL (before 16) needs a name for it,
    # and SQLite's plan reads as a search of the subquery only without one.
    subquery_alias: str

    def sql(self, text: str) -> str:
        """Return a statement written with ``?`` placeholders in this database's style."""
        return text if self.name == "sqlite" else _pyformat(text)

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """Return a condition (``?`` style) that column is one of values, and its parameters."""
        if self.name == "sqlite":
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        return f"{column} = ANY(?)", [list(values)]


SQLITE = Dialect("sqlite", skip_locked="", unindexed="+", subquery_alias="")
POSTGRES = Dialect(
    "postgres", skip_locked=" FOR UPDATE SKIP LOCKED", unindexed="", subquery_alias=" AS x"
)


class SqlSession(Protocol):
    """A connection lent to one store operation, with its time, tenant and dialect."""

    @property
    def now(self) -> int:
        """Microseconds since the epoch, read once per operation."""

    @property
    def tenant(self) -> str | None:
        """The tenant every statement is for (None for the background jobs' reads)."""

    @property
    def dialect(self) -> Dialect:
        """The database's SQL dialect."""

    async def rows(self, query: str, params: Params = ()) -> Sequence[Row]:
        """Run a statement and return all its rows."""

    async def row(self, query: str, params: Params = ()) -> Row | None:
        """Run a statement and return its first row, or None."""

    async def change(self, query: str, params: Params = ()) -> int:
        """Run a statement that writes; return how many rows it changed."""

    async def serialize(self, key: str) -> None:
        """Make writers that name the same key go one at a time until the commit."""

    async def fitting(
        self,
        query: str,
        params: Params,
        *,
        limit: int,
        max_bytes: int,
        convert: Callable[[Row], M],
    ) -> tuple[Sequence[tuple[Row, M]], bool]:
        """Read rows in order, each with its item, until limit items or max_bytes of them."""


async def page(
    session: SqlSession,
    query: str,
    params: list[Any],
    *,
    limit: int,
    max_bytes: int,
    sort_column: str,
    convert: Callable[[Any], M],
) -> Page[M]:
    """Return one page: up to limit items within max_bytes, and the cursor after its last.

    convert takes the adapter's own rows (sqlite3.Row, or psycopg's dicts).

    query selects the rows in page order and ends in ``LIMIT ?``, which this
    fills (limit + 1: one more row tells whether a next page exists).
    """
    taken, more = await session.fitting(
        session.dialect.sql(query),
        [*params, limit + 1],
        limit=limit,
        max_bytes=max_bytes,
        convert=convert,
    )
    last = taken[-1][0] if taken else None
    cursor = Cursor(last[sort_column], last["pk"]) if more and last is not None else None
    return Page([item for _, item in taken], cursor)


async def child_page(
    session: SqlSession,
    select: str,
    *,
    alias: str,
    thread_pk: int,
    descending: bool,
    limit: int,
    max_bytes: int,
    after: Cursor | None,
    convert: Callable[[Any], M],
) -> Page[M]:
    """Return one page of a thread's rows (messages, runs, checkpoints) by keyset on their pk."""
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
