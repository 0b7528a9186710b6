"""The SQLite store: Threadline's state in one SQLite file.

Design, after datasette and the pitfalls in shared/reference:
- One writer connection for the process's life. Every write transaction
  starts with ``BEGIN IMMEDIATE`` (a deferred one that reads first fails with
  SQLITE_BUSY instead of waiting), runs under one asyncio lock, and runs as a
  task shielded from the caller's cancellation, so a client that goes away
  can never leave the connection inside a half-done transaction. Every write
  goes through ``_run_write``.
- A small pool of read-only connections, so reads never queue behind writes
  (WAL lets them run beside the writer). Only the writer checkpoints, which
  keeps clear of SQLite's WAL-reset bug (see connection.py).
- The SQL lives in one module per kind of row (threads, messages, runs,
  events, keys); this module owns connections and transactions.
- Every transaction and read is for one tenant (Session.tenant); the
  background jobs' reads across tenants run with no tenant.
- API keys are read per call through a synchronous connection of their own
  (store.sqlite.keys).
- Big threads are deleted and copied in batches of short transactions
  (purge.py, copy_messages_in_batches), and a maintenance task purges
  deleted threads' rows and keeps the WAL small (wal.py).
- SQLite failures a client can retry (a database locked by another process,
  a disk error) leave as DatabaseUnavailableError (failures.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import aiosqlite
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server.errors import DatabaseUnavailableError
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import (
    CheckpointPageQuery,
    EventListener,
    MessagePageQuery,
    Page,
    RunPageQuery,
    RunRecord,
    ThreadFilter,
    ThreadPageQuery,
    ThreadRef,
    WriteObserver,
)
from threadline_server.store.sql import checkpoints, runs
from threadline_server.store.sql.reads import WebhookReads, with_live
from threadline_server.store.sql.writes import uninterruptible
from threadline_server.store.sqlite import connection as sqlite_connection
from threadline_server.store.sqlite import (
    events,
    failures,
    messages,
    purge,
    threads,
    wal,
)
from threadline_server.store.sqlite import onehop as sqlite_onehop
from threadline_server.store.sqlite.keys import SqliteKeyStore
from threadline_server.store.sqlite.session import Session
from threadline_server.store.sqlite.transaction import SqliteTransaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Messages a copy takes per write transaction: about 10 ms of the
# writer's time (tests/test_big_threads.py measures what others wait).
COPY_BATCH = 200


# The most writes one group commit holds: a bound on how long a batch keeps
# the writer (and its answers waiting), far above what a commit's time lets
# queue up under the load the benchmark puts on it.
_MAX_BATCH = 256


def now_us() -> int:
    """Return the current time in microseconds since the epoch."""
    return time.time_ns() // 1000


@dataclass
class _Write(Generic[T]):
    """A write transaction waiting for its group commit."""

    tenant: str
    work: Callable[[StoreTransaction], Awaitable[T]]
    future: asyncio.Future[T]
    # The caller's contextvars, which the work runs in (as a task would).
    context: contextvars.Context
    requested: float = field(default_factory=time.perf_counter)


class StoreClosedError(RuntimeError):
    """A write asked of a store that is not open."""


@dataclass(frozen=True)
class _Failed:
    """A write that raised, rolled back to its savepoint."""

    error: BaseException


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _read_on_thread(
    connection: aiosqlite.Connection,
    tenant: str | None,
    read: Callable[[Session], Awaitable[T]],
    *,
    snapshot: bool,
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
) -> T:
    """On a read connection's thread: run a read to its end (one hand-off)."""
    raw = sqlite_onehop.raw(connection)
    session = Session(sqlite_onehop.SyncConnection(raw), now_us(), tenant)
    if snapshot:
        raw.execute("BEGIN")
    try:
        return context.run(sqlite_onehop.drive, read(session), loop)
    finally:
        if raw.in_transaction:
            raw.execute("COMMIT")


class SqliteStore(WebhookReads[Session], Store):
    """Threads, messages, runs and events in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_connections: int = 4,
        write_observer: WriteObserver | None = None,
        busy_timeout: float = 10.0,
        maintenance_interval: float = 5.0,
    ) -> None:
        self._path = str(path)
        self._busy_timeout = busy_timeout
        self._maintenance_interval = maintenance_interval
        self._maintenance: asyncio.Task[None] | None = None
        self._wal_held_back = False
        self._write_observer = write_observer
        self._read_connection_count = read_connections
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()
        self._pending_writes: set[asyncio.Task[Any]] = set()
        self._queued_writes: list[_Write[Any]] = []
        self._committer: asyncio.Task[None] | None = None
        self._event_listeners: list[EventListener] = []
        self._keys: SqliteKeyStore | None = None
        self._loop_reader: sqlite3.Connection | None = None

    @property
    def keys(self) -> SqliteKeyStore:
        """The API keys (once the store is open)."""
        if self._keys is None:
            raise RuntimeError("store is not open")
        return self._keys

    # -- life cycle ---------------------------------------------------------

    async def open(self) -> None:
        """Open the writer, migrate, then open the readers."""
        self._writer = await sqlite_connection.open_writer(
            self._path, busy_timeout_ms=self._busy_timeout_ms
        )
        for _ in range(self._read_connection_count):
            reader = await sqlite_connection.open_reader(self._path)
            self._all_readers.append(reader)
            self._readers.put_nowait(reader)
        self._keys = SqliteKeyStore.open(self._path)
        self._loop_reader = sqlite_connection.open_loop_reader(self._path)
        # Copies a previous server left half built are purged with the deleted threads.
        abandoned = await self._write_session(purge.abandon_builds)
        if abandoned:
            logger.info("purging %d thread copies left unfinished by the last run", abandoned)
        self._maintenance = asyncio.create_task(self._maintain())

    @property
    def _busy_timeout_ms(self) -> int:
        return round(self._busy_timeout * 1000)

    async def close(self) -> None:
        """Stop the upkeep, wait for writes in flight, then close every connection."""
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        if self._pending_writes:
            await asyncio.gather(*self._pending_writes, return_exceptions=True)
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()
        if self._keys is not None:
            self._keys.close()
            self._keys = None
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- transactions -------------------------------------------------------

    async def _run_write(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Queue work for the next group commit and wait for that commit.

        This is the one place a write transaction is asked for.
        """
        loop = asyncio.get_running_loop()
        write = _Write(tenant, work, loop.create_future(), contextvars.copy_context())
        self._queued_writes.append(write)
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued(), name="sqlite group commit")
            self._pending_writes.add(self._committer)
            self._committer.add_done_callback(self._pending_writes.discard)
        return cast("T", await write.future)

    async def _commit_queued(self) -> None:
        """Commit the queued writes, as many as are queued in each transaction, in order.

        Each batch is one BEGIN IMMEDIATE ... COMMIT on the writer's thread,
        in one hand-off (_write_batch), each write inside a savepoint of its
        own. A write is answered only after the COMMIT that holds it; one
        that failed was rolled back to its savepoint and fails alone. The
        listeners get each write's events after the commit and before the
        next batch begins, so they see every thread's events in commit order.
        """
        loop = asyncio.get_running_loop()
        batch: list[_Write[Any]] = []
        try:
            while self._queued_writes:
                batch = self._queued_writes[:_MAX_BATCH]
                del self._queued_writes[:_MAX_BATCH]
                outcomes = await self._commit_batch(batch, loop)
                for write, outcome in zip(batch, outcomes, strict=True):
                    self._answer(write, outcome)
                batch = []
        except BaseException as error:
            # Cancelled (the loop is closing), or the store is closed: no
            # write is left waiting for an answer that will never come.
            for write in [*batch, *self._queued_writes]:
                _fail(write.future, error)
            self._queued_writes.clear()
            if isinstance(error, asyncio.CancelledError):
                raise
            if not isinstance(error, StoreClosedError):
                logger.exception("group commit failed")

    async def _commit_batch(
        self, batch: list[_Write[Any]], loop: asyncio.AbstractEventLoop
    ) -> list[tuple[Any, list[run_pb2.RunEvent]] | _Failed]:
        """Commit one batch under the write lock; when BEGIN or COMMIT fails, every write fails."""
        async with self._write_lock:
            writer = self._writer
            if writer is None:
                raise StoreClosedError("store is not open")
            began = time.perf_counter()
            try:
                return await sqlite_onehop.submit(writer, self._write_batch, batch, loop)
            except Exception as error:  # noqa: BLE001 - each write's caller gets it
                return [_Failed(error)] * len(batch)
            finally:
                if self._write_observer is not None:
                    held = time.perf_counter() - began
                    for write in batch:
                        self._write_observer(began - write.requested, held)

    def _answer(
        self, write: _Write[Any], outcome: tuple[Any, list[run_pb2.RunEvent]] | _Failed
    ) -> None:
        """Tell the listeners a committed write's events, then answer the write."""
        if isinstance(outcome, _Failed):
            _fail(write.future, outcome.error)
            return
        result, events_ = outcome
        if events_:
            for listener in self._event_listeners:
                try:
                    listener(write.tenant, events_)
                except Exception:
                    logger.exception("event listener failed")
        if not write.future.done():
            write.future.set_result(result)

    def _write_batch(
        self, batch: list[_Write[Any]], loop: asyncio.AbstractEventLoop
    ) -> list[tuple[Any, list[run_pb2.RunEvent]] | _Failed]:
        """On the writer's thread: run each write in a savepoint of one transaction, commit."""
        assert self._writer is not None  # noqa: S101 - _commit_queued checked
        connection = sqlite_onehop.raw(self._writer)
        synchronous = sqlite_onehop.SyncConnection(connection)
        outcomes: list[tuple[Any, list[run_pb2.RunEvent]] | _Failed] = []
        connection.execute("BEGIN IMMEDIATE")
        try:
            for write in batch:
                tx = SqliteTransaction(Session(synchronous, now_us(), write.tenant), write.tenant)
                connection.execute("SAVEPOINT write")
                try:
                    result: Any = write.context.run(sqlite_onehop.drive, write.work(tx), loop)
                except BaseException as error:  # noqa: BLE001 - handed to its caller
                    connection.execute("ROLLBACK TO write")
                    connection.execute("RELEASE write")
                    outcomes.append(_Failed(error))
                else:
                    connection.execute("RELEASE write")
                    outcomes.append((result, tx.events))
            # A batch whose every write failed rolls back: a COMMIT of pages
            # written and rolled back to their savepoint would still write
            # them again, and a failed call must leave the file untouched.
            connection.execute(
                "ROLLBACK" if all(isinstance(o, _Failed) for o in outcomes) else "COMMIT"
            )
        except BaseException:
            # A failed COMMIT may already have ended the transaction.
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return outcomes

    def add_event_listener(self, listener: EventListener) -> None:
        """Register a callback for committed events."""
        self._event_listeners.append(listener)

    async def transaction(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run work in one write transaction of a tenant that the caller cannot interrupt.

        The rule is store/sql/writes.py's; a failure SQLite reports that a
        client may retry leaves as DatabaseUnavailableError.
        """
        try:
            return await uninterruptible(self._run_write, tenant, work, self._pending_writes)
        except sqlite3.Error as error:
            self._raise_if_unavailable(error)
            raise

    def _raise_if_unavailable(self, error: sqlite3.Error) -> None:
        """Raise the domain's DatabaseUnavailableError for a SQLite failure a retry may cure."""
        found = failures.unavailable(error, busy_timeout=self._busy_timeout)
        if found is not None:
            logger.warning("database unavailable: %s", error)
            raise found from error

    async def _write_session(self, work: Callable[[Session], Awaitable[T]]) -> T:
        """Run the store's own statements (no tenant's) in one write transaction."""

        async def run(tx: StoreTransaction) -> T:
            assert isinstance(tx, SqliteTransaction)  # noqa: S101 - _run_write makes one
            return await work(tx.session)

        return await self.transaction("", run)

    # -- big operations and upkeep ---------------------------------------------

    async def copy_messages_in_batches(
        self,
        tenant: str,
        source: ThreadRef,
        target: ThreadRef,
        new_message_id: Callable[[], str],
        *,
        through: int | None = None,
    ) -> int:
        """Copy messages in transactions of COPY_BATCH messages each (see Store)."""
        if through is None:
            async with self._read(tenant) as session:
                through = await messages.newest_key(session, source)
        copied, after = 0, 0
        while True:

            async def batch(tx: StoreTransaction, after: int = after) -> tuple[int, int]:
                assert isinstance(tx, SqliteTransaction)  # noqa: S101 - _run_write makes one
                return await messages.copy_batch(
                    tx.session,
                    source,
                    target,
                    new_message_id,
                    after=after,
                    through=through,
                    limit=COPY_BATCH,
                )

            count, after = await self.transaction(tenant, batch)
            copied += count
            if count < COPY_BATCH:
                return copied

    async def _maintain(self) -> None:
        """Purge deleted threads' rows and keep the WAL small, every maintenance interval."""
        while True:
            try:
                await self.purge_deleted()
                await self.checkpoint_wal()
            except asyncio.CancelledError:
                raise
            except DatabaseUnavailableError as error:
                # The next round tries again.
                logger.warning("database upkeep put off: %s", error.message)
            except Exception:
                logger.exception("database upkeep failed")
            await asyncio.sleep(self._maintenance_interval)

    async def purge_deleted(self) -> int:
        """Remove the rows of deleted threads, purge.BATCH_ROWS per transaction; count them."""
        removed = 0
        while True:
            async with self._read(None) as session:
                key = await purge.next_purge(session)
            if key is None:
                return removed
            while True:

                async def batch(session: Session, key: int = key) -> int:
                    return await purge.purge_batch(session, key)

                count = await self._write_session(batch)
                removed += count
                if not count:
                    break

    async def checkpoint_wal(self) -> wal.Checkpoint | None:
        """Truncate the WAL when it outgrew its limit and no reader needs it (wal.py)."""
        writer = self._writer
        if writer is None or wal.wal_bytes(self._path) <= wal.JOURNAL_SIZE_LIMIT:
            return None
        async with self._write_lock:
            done = await wal.truncate(writer, self._path, busy_timeout_ms=self._busy_timeout_ms)
        # Behind a reader that stays for hours this runs every round: said once.
        if not (done.busy and self._wal_held_back):
            logger.info(
                "WAL checkpoint (TRUNCATE): %d bytes before, %d after%s",
                done.wal_bytes_before,
                done.wal_bytes_after,
                ", readers still on old frames" if done.busy else "",
            )
        self._wal_held_back = done.busy
        return done

    @contextlib.asynccontextmanager
    async def _read(self, tenant: str | None, *, snapshot: bool = False) -> AsyncIterator[Session]:
        """Lend a read connection, a hand-off per statement; with snapshot, in one transaction.

        For reads that must run statements between awaits of other things;
        the store's own reads run in one hand-off (_read_in_one_hop).
        """
        connection = await self._readers.get()
        try:
            if snapshot:
                await connection.execute("BEGIN")
            yield Session(connection, now_us(), tenant)
        except sqlite3.Error as error:
            self._raise_if_unavailable(error)
            raise
        finally:
            # Shielded so a cancelled reader never returns a connection that is
            # still inside a transaction (which would hold back checkpoints).
            await asyncio.shield(self._end_read(connection, snapshot=snapshot))

    async def _end_read(self, connection: aiosqlite.Connection, *, snapshot: bool) -> None:
        try:
            if snapshot:
                # aiosqlite runs a connection's operations in order: this one
                # returns after anything still queued, such as a BEGIN whose
                # caller was cancelled, so in_transaction is then accurate.
                await connection.execute("SELECT 1")
                if connection.in_transaction:
                    await connection.execute("COMMIT")
        finally:
            self._readers.put_nowait(connection)

    async def _read_on_loop(self, tenant: str, read: Callable[[Session], Awaitable[T]]) -> T:
        """Run a small read on the event loop's own thread, with no hand-off at all.

        Only for reads of one index seek and at most a page of rows (GetThread
        without messages, GetMessage, GetRun, ListMessages): they take tens
        of microseconds, less than a hand-off to a reader thread costs the
        loop, and on one core the work takes the same CPU on either thread.
        The read never waits for anything (every await of a SyncConnection
        completes at once), so two reads never interleave on the connection.
        A read in WAL mode waits only while a crashed writer's WAL is being
        recovered, at start-up.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # inside a write's work, on the writer's thread
            return await self._read_in_one_hop(tenant, read)
        connection = self._loop_reader
        if connection is None:
            raise StoreClosedError("store is not open")
        session = Session(sqlite_onehop.SyncConnection(connection), now_us(), tenant)
        try:
            return await read(session)
        except sqlite3.Error as error:
            self._raise_if_unavailable(error)
            raise

    async def _read_in_one_hop(
        self,
        tenant: str | None,
        read: Callable[[Session], Awaitable[T]],
        *,
        snapshot: bool = False,
    ) -> T:
        """Run a read on a read connection's thread, in one hand-off.

        With snapshot, inside one read transaction: only for reads of several
        statements that must agree (a thread and its messages).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Called by a write's work, on the writer's thread (onehop.drive):
            # the read runs as any other, and the write waits for it.
            return sqlite_onehop.on_loop(self._read_in_one_hop(tenant, read, snapshot=snapshot))
        connection = await self._readers.get()
        done = asyncio.ensure_future(
            sqlite_onehop.submit(
                connection,
                functools.partial(
                    _read_on_thread,
                    connection,
                    tenant,
                    read,
                    snapshot=snapshot,
                    loop=loop,
                    context=contextvars.copy_context(),
                ),
            )
        )
        # The connection goes back to the pool when the read is over, even
        # when its caller was cancelled meanwhile.
        done.add_done_callback(lambda _: self._readers.put_nowait(connection))
        try:
            return await asyncio.shield(done)
        except sqlite3.Error as error:
            self._raise_if_unavailable(error)
            raise

    # -- reads ----------------------------------------------------------------

    async def get_thread(
        self, tenant: str, thread_id: str, *, message_limit: int = 0, max_bytes: int = 0
    ) -> thread_pb2.Thread:
        """Return a thread, with as many of its latest messages as fit when message_limit > 0."""

        async def read(session: Session) -> thread_pb2.Thread:
            row = await threads.live_row(session, thread_id)
            thread = threads.to_thread(row)
            if message_limit > 0:
                # Less the omitted count (field 18: 4 bytes up to 16383) and
                # a second tag byte for each message (field 17).
                room = max_bytes - thread.ByteSize() - 4 - message_limit
                latest, omitted = await messages.latest(
                    session, threads.to_ref(row), message_limit, max_bytes=room
                )
                thread.messages.extend(latest)
                thread.omitted_message_count = omitted
            return thread

        if message_limit > 0:
            return await self._read_in_one_hop(tenant, read, snapshot=True)
        return await self._read_on_loop(tenant, read)

    async def list_threads(self, tenant: str, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
        """Return one page of threads."""
        return await self._read_in_one_hop(
            tenant, lambda session: threads.list_page(session, query)
        )

    async def count_threads(self, tenant: str, thread_filter: ThreadFilter) -> int:
        """Count the threads that match."""
        return await self._read_in_one_hop(
            tenant, lambda session: threads.count(session, thread_filter)
        )

    async def get_message(
        self, tenant: str, thread_id: str, message_id: str
    ) -> message_pb2.Message:
        """Return one message of a live thread."""
        return await self._read_on_loop(
            tenant, lambda session: messages.get(session, thread_id, message_id)
        )

    async def list_messages(
        self, tenant: str, query: MessagePageQuery
    ) -> Page[message_pb2.Message]:
        """Return one page of a thread's messages."""
        return await self._read_on_loop(tenant, lambda session: messages.list_page(session, query))

    async def newest_checkpoint(
        self, tenant: str, thread_id: str
    ) -> thread_pb2.ThreadCheckpoint | None:
        """Return a live thread's newest checkpoint, or None (the thread and it in one snapshot)."""
        return await self._read_in_one_hop(
            tenant,
            lambda session: with_live(threads, session, thread_id, checkpoints.newest_of),
            snapshot=True,
        )

    async def list_checkpoints(
        self, tenant: str, query: CheckpointPageQuery
    ) -> Page[thread_pb2.ThreadCheckpoint]:
        """Return one page of a thread's checkpoints, newest first."""
        return await self._read_in_one_hop(
            tenant,
            lambda session: with_live(
                threads,
                session,
                query.thread_id,
                lambda s, ref: checkpoints.list_page(s, ref, query),
            ),
        )

    async def get_run(self, tenant: str, run_id: str) -> run_pb2.Run:
        """Return one run of a live thread."""
        return await self._read_on_loop(tenant, lambda session: runs.get(session, run_id))

    async def list_runs(self, tenant: str, query: RunPageQuery) -> Page[run_pb2.Run]:
        """Return one page of a thread's runs."""
        return await self._read_in_one_hop(
            tenant,
            lambda session: with_live(
                threads, session, query.thread_id, lambda s, ref: runs.list_page(s, ref, query)
            ),
        )

    async def read_events(
        self,
        tenant: str,
        *,
        thread_id: str = "",
        run_id: str = "",
        after: int,
        limit: int,
        max_bytes: int,
    ) -> list[run_pb2.RunEvent]:
        """Return stored events after an id, of one run or one thread, within max_bytes."""
        return await self._read_in_one_hop(
            tenant,
            lambda session: events.read(
                session,
                thread_id=thread_id,
                run_id=run_id,
                after=after,
                limit=limit,
                max_bytes=max_bytes,
            ),
        )

    # -- reads across tenants -------------------------------------------------

    async def stale_runs(self) -> list[RunRecord]:
        """Return running runs whose lease ran out, or that have none."""
        return await self._read_in_one_hop(None, runs.stale)

    async def expired_waiting_runs(self) -> list[RunRecord]:
        """Return waiting runs whose action expired."""
        return await self._read_in_one_hop(None, runs.waiting_expired)

    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Return the threads that have queued runs."""
        return await self._read_in_one_hop(None, runs.threads_with_queued)

    async def expired_threads(self, limit: int) -> list[ThreadRef]:
        """Return up to limit expired threads."""
        return await self._read_in_one_hop(None, lambda session: threads.expired(session, limit))
