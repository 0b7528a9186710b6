"""The PostgreSQL store: Threadline's state in a database several processes share.

Design (see docs/scaling.md):
- psycopg 3 with its asyncio connection pool. Reads take a pooled connection
  in autocommit (one statement sees the latest commit) or, where several
  statements must agree, a REPEATABLE READ read-only transaction.
- Every write is Store.transaction(work): one READ COMMITTED transaction on
  one pooled connection, run as a task shielded from the caller's
  cancellation, so a client that goes away never leaves a half-done
  transaction. Every primitive that finds a thread locks its row, so the
  writers of one thread go one at a time in every process; a deadlock or a
  serialization failure runs the work again from the start.
- Events are numbered per thread in commit order (events.py). A transaction
  that wrote events sends NOTIFY threadline_events with "tenant<TAB>thread"
  before it commits (PostgreSQL delivers it at the commit); one dedicated
  connection per process LISTENs and wakes that thread's readers, who read
  the rows by cursor: a notification is only a hint, never the data, and
  after the listening connection is lost every reader is woken to read again.
- API keys are kept in memory and reloaded on NOTIFY threadline_keys (keys.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server.errors import DatabaseUnavailableError
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.postgres import events, keys, messages, schema, threads
from threadline_server.store.postgres.session import (
    Connection,
    DictRow,
    Session,
    store_now,
)
from threadline_server.store.postgres.transaction import PostgresTransaction
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

logger = logging.getLogger(__name__)

T = TypeVar("T")

EVENTS_CHANNEL = "threadline_events"
# Times a transaction is run again after a deadlock or a serialization failure.
_RETRIES = 5
# Seconds between attempts to listen again after the listening connection failed.
_RELISTEN_SECONDS = 1.0
_RETRYABLE = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


now_us = store_now
# A database that cannot be reached, or a pool with no connection to lend in
# time: the call did nothing and may be retried (UNAVAILABLE, as SQLite's
# locked file is). Deadlocks and serialization failures are retried first.
_UNAVAILABLE = (psycopg.OperationalError, PoolTimeout)
_RETRY_AFTER_SECONDS = 1.0


def _unavailable(error: BaseException) -> DatabaseUnavailableError:
    logger.warning("PostgreSQL failed a call: %r", error)
    return DatabaseUnavailableError(
        f"PostgreSQL: {type(error).__name__}", retry_after=_RETRY_AFTER_SECONDS
    )


class PostgresStore(WebhookReads[Session], Store):
    """Threads, messages, runs and events in a PostgreSQL database."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        write_observer: WriteObserver | None = None,
        migrate: bool = True,
    ) -> None:
        self._url = url
        self._pool_size = pool_size
        self._write_observer = write_observer
        self._migrate = migrate
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._write_pool: AsyncConnectionPool[Connection] | None = None
        self._pending_writes: set[asyncio.Task[Any]] = set()
        self._event_listeners: list[EventListener] = []
        self._wake_listeners: list[Callable[[str, str], None]] = []
        self._keys = keys.PostgresKeyStore()
        self._listener: asyncio.Task[None] | None = None
        self._keys_reloader: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    @property
    def keys(self) -> keys.PostgresKeyStore:
        """The API keys, as last loaded."""
        return self._keys

    # -- life cycle ---------------------------------------------------------

    async def open(self) -> None:
        """Open the pools, migrate, load the keys, start listening.

        Two pools, as SQLite has a writer and readers: transactions take
        connections from one, reads from the other. A transaction waiting
        for a thread's lock holds its connection; the one holding the lock
        may need a read (a run's log, say) before it can commit, and with
        one pool the waiters could take every connection and leave it none.
        """
        pool = await self._open_pool(self._pool_size)
        self._pool = pool
        self._write_pool = await self._open_pool(self._pool_size)
        async with pool.connection() as connection:
            if self._migrate:
                await schema.migrate(connection)
            else:
                await schema.check(connection)
        await self._reload_keys()
        self._listener = asyncio.create_task(self._listen(), name="postgres-listener")
        self._keys_reloader = asyncio.create_task(self._reload_keys_often(), name="keys-reloader")
        # Readers rely on being woken: serve once the first LISTEN is in place.
        listening = asyncio.create_task(self._listening.wait())
        await asyncio.wait(
            {listening, self._listener}, timeout=30, return_when=asyncio.FIRST_COMPLETED
        )
        listening.cancel()

    async def close(self) -> None:
        """Wait for writes in flight, stop listening, close the pool."""
        if self._pending_writes:
            await asyncio.gather(*self._pending_writes, return_exceptions=True)
        for task in (self._listener, self._keys_reloader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for pool in (self._write_pool, self._pool):
            if pool is not None:
                await pool.close()
        self._pool = self._write_pool = None

    async def _open_pool(self, size: int) -> AsyncConnectionPool[Connection]:
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
        )
        await pool.open(wait=True, timeout=30)
        return pool

    def _writers(self) -> AsyncConnectionPool[Connection]:
        if self._write_pool is None:
            raise RuntimeError("store is not open")
        return self._write_pool

    def _the_pool(self) -> AsyncConnectionPool[Connection]:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    # -- notifications ------------------------------------------------------

    async def _listen(self) -> None:
        """Keep one connection listening; wake readers of each thread named, all after a loss."""
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                async with connection:
                    await connection.execute(f"LISTEN {EVENTS_CHANNEL}".encode())
                    await connection.execute(f"LISTEN {keys.KEYS_CHANNEL}".encode())
                    self._listening.set()
                    # Whatever was committed while nobody listened: read again.
                    self._wake("", "")
                    async for notice in connection.notifies():
                        if notice.channel == keys.KEYS_CHANNEL:
                            await self._reload_keys()
                            continue
                        tenant, _, thread_id = notice.payload.partition("\t")
                        self._wake(tenant, thread_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("listening for PostgreSQL notifications failed; listening again")
            self._wake("", "")
            await asyncio.sleep(_RELISTEN_SECONDS)

    def _wake(self, tenant: str, thread_id: str) -> None:
        for listener in self._wake_listeners:
            try:
                listener(tenant, thread_id)
            except Exception:
                logger.exception("wake listener failed")

    def add_wake_listener(self, listener: Callable[[str, str], None]) -> None:
        """Register a callback for threads another process (or this one) committed on."""
        self._wake_listeners.append(listener)

    async def _reload_keys(self) -> None:
        async with self._the_pool().connection() as connection:
            self._keys.replace(await keys.load(Session(connection, now_us(), None)))

    async def _reload_keys_often(self) -> None:
        while True:
            await asyncio.sleep(keys.KEYS_RELOAD_SECONDS)
            try:
                await self._reload_keys()
            except Exception:
                logger.exception("reloading API keys failed")

    # -- transactions -------------------------------------------------------

    async def _run_write(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run work in one transaction (again after a deadlock), then tell the listeners."""
        try:
            return await self._write_once(tenant, work)
        except _UNAVAILABLE as error:
            raise _unavailable(error) from error

    async def _write_once(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        requested = time.perf_counter()
        async with self._writers().connection() as connection:
            began = time.perf_counter()
            try:
                for attempt in range(_RETRIES + 1):
                    tx = PostgresTransaction(Session(connection, now_us(), tenant), tenant)
                    try:
                        async with connection.transaction():
                            result = await work(tx)
                            touched = sorted({event.thread_id for event in tx.events})
                            for thread_id in touched:
                                await connection.execute(
                                    b"SELECT pg_notify(%s, %s)",
                                    (EVENTS_CHANNEL, f"{tenant}\t{thread_id}"),
                                )
                        break
                    except _RETRYABLE:
                        if attempt == _RETRIES:
                            raise
                        logger.info("transaction of %s retried after a deadlock", tenant)
            finally:
                if self._write_observer is not None:
                    self._write_observer(began - requested, time.perf_counter() - began)
        if tx.events:
            for listener in self._event_listeners:
                try:
                    listener(tenant, tx.events)
                except Exception:
                    logger.exception("event listener failed")
        return result

    def add_event_listener(self, listener: EventListener) -> None:
        """Register a callback for events this process committed."""
        self._event_listeners.append(listener)

    async def transaction(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run work in one write transaction of a tenant that the caller cannot interrupt.

        The rule is store/sql/writes.py's; _run_write retries deadlocks.
        """
        return await uninterruptible(self._run_write, tenant, work, self._pending_writes)

    @contextlib.asynccontextmanager
    async def _read(self, tenant: str | None, *, snapshot: bool = False) -> AsyncIterator[Session]:
        """Lend a connection; with snapshot, inside one REPEATABLE READ read-only transaction."""
        try:
            async with self._the_pool().connection() as connection:
                if snapshot:
                    async with connection.transaction():
                        await connection.execute(
                            b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                        )
                        yield Session(connection, now_us(), tenant)
                else:
                    yield Session(connection, now_us(), tenant)
        except _UNAVAILABLE as error:
            raise _unavailable(error) from error

    # -- reads ----------------------------------------------------------------

    async def get_thread(
        self, tenant: str, thread_id: str, *, message_limit: int = 0, max_bytes: int = 0
    ) -> thread_pb2.Thread:
        """Return a thread, with as many of its latest messages as fit when message_limit > 0."""
        async with self._read(tenant, snapshot=message_limit > 0) as session:
            row = await threads.live_row(session, thread_id)
            thread = threads.to_thread(row)
            if message_limit > 0:
                room = max_bytes - thread.ByteSize() - 4 - message_limit
                latest, omitted = await messages.latest(
                    session, threads.to_ref(row), message_limit, max_bytes=room
                )
                thread.messages.extend(latest)
                thread.omitted_message_count = omitted
        return thread

    async def list_threads(self, tenant: str, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
        """Return one page of threads."""
        async with self._read(tenant) as session:
            return await threads.list_page(session, query)

    async def count_threads(self, tenant: str, thread_filter: ThreadFilter) -> int:
        """Count the threads that match."""
        async with self._read(tenant) as session:
            return await threads.count(session, thread_filter)

    async def get_message(
        self, tenant: str, thread_id: str, message_id: str
    ) -> message_pb2.Message:
        """Return one message of a live thread."""
        async with self._read(tenant) as session:
            return await messages.get(session, thread_id, message_id)

    async def list_messages(
        self, tenant: str, query: MessagePageQuery
    ) -> Page[message_pb2.Message]:
        """Return one page of a thread's messages."""
        async with self._read(tenant) as session:
            return await messages.list_page(session, query)

    async def newest_checkpoint(
        self, tenant: str, thread_id: str
    ) -> thread_pb2.ThreadCheckpoint | None:
        """Return a live thread's newest checkpoint, or None (the thread and it in one snapshot)."""
        async with self._read(tenant, snapshot=True) as session:
            return await with_live(threads, session, thread_id, checkpoints.newest_of)

    async def list_checkpoints(
        self, tenant: str, query: CheckpointPageQuery
    ) -> Page[thread_pb2.ThreadCheckpoint]:
        """Return one page of a thread's checkpoints, newest first."""
        async with self._read(tenant) as session:
            return await with_live(
                threads,
                session,
                query.thread_id,
                lambda s, ref: checkpoints.list_page(s, ref, query),
            )

    async def get_run(self, tenant: str, run_id: str) -> run_pb2.Run:
        """Return one run of a live thread."""
        async with self._read(tenant) as session:
            return await runs.get(session, run_id)

    async def list_runs(self, tenant: str, query: RunPageQuery) -> Page[run_pb2.Run]:
        """Return one page of a thread's runs."""
        async with self._read(tenant) as session:
            return await with_live(
                threads, session, query.thread_id, lambda s, ref: runs.list_page(s, ref, query)
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
        async with self._read(tenant) as session:
            return await events.read(
                session,
                thread_id=thread_id,
                run_id=run_id,
                after=after,
                limit=limit,
                max_bytes=max_bytes,
            )

    # -- reads across tenants -------------------------------------------------

    async def stale_runs(self) -> list[RunRecord]:
        """Return running runs whose lease ran out, or that have none."""
        async with self._read(None) as session:
            return await runs.stale(session)

    async def expired_waiting_runs(self) -> list[RunRecord]:
        """Return waiting runs whose action expired by now."""
        async with self._read(None) as session:
            return await runs.waiting_expired(session)

    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Return the threads that have queued runs."""
        async with self._read(None) as session:
            return await runs.threads_with_queued(session)

    async def expired_threads(self, limit: int) -> list[ThreadRef]:
        """Return up to limit expired threads."""
        async with self._read(None) as session:
            return await threads.expired(session, limit)


async def migrate(url: str) -> tuple[int, list[str]]:
    """Bring a database's schema up to date; return its version and the migrations applied."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as connection:
        applied = await schema.migrate(connection)
        return await schema.current_version(connection), applied


async def has_active_key(url: str) -> bool:
    """Tell whether the database has a key that is not revoked (False before it has a schema)."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as connection:
        cursor = await connection.execute(b"SELECT to_regclass('keys') IS NOT NULL AS found")
        found: DictRow | None = await cursor.fetchone()
        if found is None or not found["found"]:
            return False
        cursor = await connection.execute(b"SELECT 1 FROM keys WHERE revoked_at IS NULL LIMIT 1")
        return await cursor.fetchone() is not None


@contextlib.asynccontextmanager
async def key_admin(url: str) -> AsyncIterator[keys.PostgresKeyAdmin]:
    """Open a connection for the keys command (migrating the database first)."""
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, row_factory=dict_row
    ) as connection:
        await schema.migrate(connection)
        yield keys.PostgresKeyAdmin(Session(connection, now_us(), None))
