"""One hand-off to SQLite's thread per store operation, instead of one per statement.

aiosqlite runs each statement on the connection's own thread: a call is a
queue put, a thread wake-up, a GIL hand-over and a wake-up of the event loop
back. A write transaction of eight statements paid that eight times, under
the write lock, and that latency (not SQLite, not fsync) bounded the write
rate (bench/README.md, "Profile").

Here a whole store operation (the domain's ``work`` of a transaction, or a
read) runs on the connection's thread in one hand-off:

- ``SyncConnection`` speaks the subset of aiosqlite's API the statement
  modules use (``execute`` awaited or used as ``async with``,
  ``execute_fetchall``, ``executemany``, ``in_transaction``) over the plain
  sqlite3 connection, so the statement modules keep their ``await``s, and
  every one of them completes at once, on the thread it is called from.
- ``drive`` runs a coroutine to its end on the calling thread. A coroutine
  whose awaits all complete at once (every store operation) never leaves
  that thread. Should one await a real future (none does today), the future
  is waited for on the event loop that owns it, then the coroutine goes on.
  The coroutine runs in the caller's context (contextvars), as a task would.
- ``submit`` hands a function to an aiosqlite connection's thread, after
  anything already queued there, through aiosqlite's own queue: the
  connection stays one aiosqlite connection (its other users, migrations
  for one, still go through aiosqlite), and only this module knows
  aiosqlite's internals (``_execute`` and ``_conn``, stable since 0.17;
  ``tests/test_onehop.py`` fails if they move).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from types import TracebackType
from typing import Any, TypeVar, cast

import aiosqlite

T = TypeVar("T")
# What sqlite3 takes as a statement's parameters (a sequence or a mapping).
Params = Any


class SyncCursor:
    """A sqlite3 cursor with aiosqlite's awaitable methods, each done at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""
        return self._cursor.rowcount

    async def fetchone(self) -> sqlite3.Row | None:
        """Return the next row, or None."""
        return cast("sqlite3.Row | None", self._cursor.fetchone())

    async def fetchmany(self, size: int) -> list[sqlite3.Row]:
        """Return up to size more rows."""
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[sqlite3.Row]:
        """Return the remaining rows."""
        return self._cursor.fetchall()

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()

    async def __aenter__(self) -> SyncCursor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._cursor.close()


class _Executed:
    """What SyncConnection.execute returns: awaited, a cursor; or ``async with`` it."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = SyncCursor(cursor)

    def __await__(self) -> Generator[Any, None, SyncCursor]:
        return self._ready().__await__()

    async def _ready(self) -> SyncCursor:
        return self._cursor

    async def __aenter__(self) -> SyncCursor:
        return self._cursor

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._cursor.close()


class SyncConnection:
    """A plain sqlite3 connection behind the part of aiosqlite's API the store uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.raw = connection

    def execute(self, sql: str, params: Params = ()) -> _Executed:
        """Run a statement now; await the result for its cursor, or ``async with`` it."""
        return _Executed(self.raw.execute(sql, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run a statement and return all its rows."""
        return self.raw.execute(sql, params).fetchall()

    async def executemany(self, sql: str, params: Iterable[Params]) -> SyncCursor:
        """Run a statement once per set of parameters."""
        return SyncCursor(self.raw.executemany(sql, params))

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open."""
        return self.raw.in_transaction


async def _settled(future: asyncio.Future[Any]) -> None:
    """Wait for a future to finish, whatever its outcome (drive reads it)."""
    with contextlib.suppress(BaseException):
        await future


_driving = threading.local()


def drive(awaitable: Awaitable[T], loop: asyncio.AbstractEventLoop) -> T:
    """Run a coroutine to its end on this thread; wait for any future it awaits on loop."""
    coroutine = cast("Coroutine[Any, Any, T]", awaitable)
    _driving.loop = loop
    try:
        return _drive(coroutine, loop)
    finally:
        _driving.loop = None


def on_loop(awaitable: Coroutine[Any, Any, T]) -> T:
    """From a coroutine that drive runs: run a coroutine on the event loop, wait for it here.

    For what must run on the event loop, such as a read on a read
    connection from inside a write (which then waits for it, as it would
    have under the write lock).
    """
    loop: asyncio.AbstractEventLoop | None = getattr(_driving, "loop", None)
    if loop is None:
        awaitable.close()
        raise RuntimeError("on_loop is for coroutines that drive runs")
    return asyncio.run_coroutine_threadsafe(awaitable, loop).result()


def _drive(coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop) -> T:
    while True:
        try:
            yielded = coroutine.send(None)
        except StopIteration as stop:
            return cast("T", stop.value)
        if yielded is None:  # a bare yield (asyncio.sleep(0)): go on
            continue
        # A future, which the coroutine will read once it is done.
        yielded._asyncio_future_blocking = False  # asyncio's own protocol
        asyncio.run_coroutine_threadsafe(_settled(yielded), loop).result()


def raw(connection: aiosqlite.Connection) -> sqlite3.Connection:
    """Return the sqlite3 connection under an aiosqlite one (only on its thread)."""
    return connection._conn  # see the module docstring


def submit(
    connection: aiosqlite.Connection, function: Callable[..., T], *args: Any
) -> Awaitable[T]:
    """Run function(*args) on the connection's thread, after what is queued there."""
    execute: Callable[..., Awaitable[T]] = connection._execute  # see the module docstring
    return execute(function, *args)
