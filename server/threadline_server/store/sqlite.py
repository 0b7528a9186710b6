"""The SQLite store: the one module that holds Threadline's SQL.

Design, after datasette and the pitfalls in shared/reference:
- One writer connection for the process's life. Every write transaction
  starts with ``BEGIN IMMEDIATE`` (a deferred one that reads first fails with
  SQLITE_BUSY instead of waiting), runs under one asyncio lock, and runs as a
  task shielded from the caller's cancellation, so a client that goes away
  can never leave the connection inside a half-done transaction.
- A small pool of read-only connections, so reads never queue behind writes
  (WAL lets them run beside the writer). Only the writer checkpoints, which
  keeps clear of SQLite's WAL-reset bug (3.7.0 to 3.51.2) that needs two
  connections writing or checkpointing at once.
- WAL with ``synchronous=FULL``: a commit that was acknowledged survives
  kill -9 and also power loss or an OS crash, at the price of one fsync per
  commit.
- Numbered migrations in migrations/NNNN_name.sql, applied at start-up inside
  one transaction each, tracked by ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from google.protobuf import json_format
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server import jsonvalue
from threadline_server.errors import AlreadyExistsError, EtagMismatchError, NotFoundError
from threadline_server.ids import new_message_id
from threadline_server.store.base import (
    THREAD_DELETED,
    Cursor,
    EventListener,
    MessagePageQuery,
    Page,
    RunPageQuery,
    RunRecord,
    Store,
    StoreTransaction,
    ThreadFilter,
    ThreadPageQuery,
    ThreadRef,
    WriteObserver,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
Row = sqlite3.Row
Work = Callable[[aiosqlite.Connection, int], Awaitable[T]]

# The tenant every row belongs to until tenants arrive.
DEFAULT_TENANT = ""

# SQLite releases before 3.51.3 can corrupt a WAL database when two
# connections write or checkpoint at the same moment. This store has a single
# writing connection, so it is not exposed, but the version is logged so an
# operator who adds writers knows.
_WAL_RESET_FIXED = (3, 51, 3)

_THREAD_COLUMNS = (
    "pk, thread_id, title, metadata, agent_id, user_id, external_ref, locale_language, "
    "locale_country, locale_time_zone, participants, ttl_us, status, created_at, updated_at, "
    "last_activity_at, expire_at, message_count, version"
)
_MESSAGE_COLUMNS = (
    "m.pk, t.thread_id, m.message_id, m.role, m.parts, m.metadata, m.run_id, "
    "m.created_at, m.updated_at"
)


def now_us() -> int:
    """Return the current time in microseconds since the epoch."""
    return time.time_ns() // 1000


def _etag(row: Row) -> str:
    # The creation time tells a thread apart from a later one with the same id.
    return f"{row['created_at']:x}-{row['version']}"


def _row_to_thread(row: Row) -> thread_pb2.Thread:
    thread = thread_pb2.Thread(
        thread_id=row["thread_id"],
        title=row["title"],
        agent_id=row["agent_id"],
        user_id=row["user_id"],
        external_ref=row["external_ref"],
        status=row["status"],
        message_count=row["message_count"],
        etag=_etag(row),
    )
    thread.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    if row["locale_language"] or row["locale_country"] or row["locale_time_zone"]:
        thread.locale.language = row["locale_language"]
        thread.locale.country = row["locale_country"]
        thread.locale.time_zone = row["locale_time_zone"]
    for item in json.loads(row["participants"]):
        json_format.ParseDict(item, thread.participants.add())
    if row["ttl_us"] is not None:
        thread.ttl.FromMicroseconds(row["ttl_us"])
    thread.created_at.FromMicroseconds(row["created_at"])
    thread.updated_at.FromMicroseconds(row["updated_at"])
    thread.last_activity_at.FromMicroseconds(row["last_activity_at"])
    if row["expire_at"] is not None:
        thread.expire_time.FromMicroseconds(row["expire_at"])
    return thread


def _thread_columns(thread: thread_pb2.Thread) -> dict[str, Any]:
    """Return the stored form of a thread's client-settable fields."""
    return {
        "title": thread.title,
        "metadata": jsonvalue.dumps(jsonvalue.struct_to_python(thread.metadata)),
        "agent_id": thread.agent_id,
        "user_id": thread.user_id,
        "external_ref": thread.external_ref,
        "locale_language": thread.locale.language,
        "locale_country": thread.locale.country,
        "locale_time_zone": thread.locale.time_zone,
        "participants": json.dumps(
            [
                json_format.MessageToDict(p, preserving_proto_field_name=True)
                for p in thread.participants
            ],
            separators=(",", ":"),
        ),
        "ttl_us": thread.ttl.ToMicroseconds() if thread.HasField("ttl") else None,
    }


def _row_to_message(row: Row) -> message_pb2.Message:
    message = message_pb2.Message(
        message_id=row["message_id"],
        thread_id=row["thread_id"],
        role=row["role"],
        run_id=row["run_id"],
    )
    for item in json.loads(row["parts"]):
        json_format.ParseDict(item, message.parts.add())
    message.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    message.created_at.FromMicroseconds(row["created_at"])
    message.updated_at.FromMicroseconds(row["updated_at"])
    return message


def _parts_json(message: message_pb2.Message) -> str:
    return json.dumps(
        [json_format.MessageToDict(p, preserving_proto_field_name=True) for p in message.parts],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _page(rows: list[Row], limit: int, sort_column: str, convert: Callable[[Row], T]) -> Page[T]:
    """Turn limit + 1 rows into a page and the cursor after it (None on the last page)."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(rows[-1][sort_column], rows[-1]["pk"]) if more and rows else None
    return Page([convert(row) for row in rows], cursor)


def _metadata_condition(key: str, value: jsonvalue.JsonValue) -> tuple[str, list[Any]]:
    """Return SQL that holds when a thread's metadata has key equal to value.

    json_each yields each top-level key with its JSON type and its SQL value
    (objects and arrays as their JSON text, which is canonical as stored).
    """
    base = "EXISTS (SELECT 1 FROM json_each(threads.metadata) AS j WHERE j.key = ? AND "
    if value is None:
        return base + "j.type = 'null')", [key]
    if isinstance(value, bool):
        return base + "j.type = ?)", [key, "true" if value else "false"]
    if isinstance(value, int | float):
        return base + "j.type IN ('integer', 'real') AND j.value = ?)", [key, value]
    if isinstance(value, str):
        return base + "j.type = 'text' AND j.value = ?)", [key, value]
    kind = "object" if isinstance(value, dict) else "array"
    return base + "j.type = ? AND j.value = ?)", [key, kind, jsonvalue.dumps(value)]


def _filter_sql(thread_filter: ThreadFilter, now: int) -> tuple[list[str], list[Any]]:
    where = ["tenant_id = ?", "(expire_at IS NULL OR expire_at > ?)"]
    params: list[Any] = [DEFAULT_TENANT, now]
    for column in ("agent_id", "user_id", "external_ref"):
        value = getattr(thread_filter, column)
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if thread_filter.statuses:
        where.append(f"status IN ({','.join('?' * len(thread_filter.statuses))})")
        params.extend(thread_filter.statuses)
    if thread_filter.thread_ids:
        where.append(f"thread_id IN ({','.join('?' * len(thread_filter.thread_ids))})")
        params.extend(thread_filter.thread_ids)
    for value, condition in (
        (thread_filter.created_after, "created_at >= ?"),
        (thread_filter.created_before, "created_at < ?"),
        (thread_filter.updated_after, "updated_at >= ?"),
        (thread_filter.updated_before, "updated_at < ?"),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    for key, value in thread_filter.metadata.items():
        condition, extra = _metadata_condition(key, value)
        where.append(condition)
        params.extend(extra)
    return where, params


class SqliteStore(Store):
    """Threads and messages in one SQLite file."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_connections: int = 4,
        write_observer: WriteObserver | None = None,
    ) -> None:
        self._path = str(path)
        self._write_observer = write_observer
        self._read_connection_count = read_connections
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()
        self._pending_writes: set[asyncio.Task[Any]] = set()
        self._event_listeners: list[EventListener] = []
        # Events appended by the transaction in progress; handed to listeners
        # after COMMIT, under the write lock, so listeners see commit order.
        self._uncommitted_events: list[run_pb2.RunEvent] = []

    # -- life cycle ---------------------------------------------------------

    async def open(self) -> None:
        """Open the writer, migrate, then open the readers."""
        version = tuple(int(p) for p in sqlite3.sqlite_version.split("."))
        if version < _WAL_RESET_FIXED:
            logger.info(
                "sqlite %s predates the WAL-reset fix (3.51.3); safe here because only "
                "one connection writes",
                sqlite3.sqlite_version,
            )
        writer = await self._connect()
        await writer.execute("PRAGMA journal_mode = WAL")
        await writer.execute("PRAGMA synchronous = FULL")
        self._writer = writer
        await self._migrate(writer)
        for _ in range(self._read_connection_count):
            reader = await self._connect()
            await reader.execute("PRAGMA query_only = ON")
            self._all_readers.append(reader)
            self._readers.put_nowait(reader)

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: no implicit BEGIN from Python's sqlite3 module;
        # every transaction here is begun and ended explicitly.
        connection = await aiosqlite.connect(self._path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        await connection.execute("PRAGMA foreign_keys = ON")
        await connection.execute("PRAGMA busy_timeout = 10000")
        return connection

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        async with connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        current = int(row[0]) if row else 0
        folder = resources.files("threadline_server.store") / "migrations"
        scripts = sorted(
            (int(entry.name.split("_", 1)[0]), entry)
            for entry in folder.iterdir()
            if entry.name.endswith(".sql")
        )
        for number, entry in scripts:
            if number <= current:
                continue
            logger.info("applying migration %s", entry.name)
            script = entry.read_text(encoding="utf-8")
            try:
                await connection.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except BaseException:
                if connection.in_transaction:
                    await connection.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        """Wait for writes in flight, then close every connection."""
        if self._pending_writes:
            await asyncio.gather(*self._pending_writes, return_exceptions=True)
        for reader in self._all_readers:
            await reader.close()
        self._all_readers.clear()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None

    # -- transactions -------------------------------------------------------

    async def _write(self, work: Work[T]) -> T:
        """Run work in one write transaction that the caller cannot interrupt."""
        task = asyncio.ensure_future(self._run_write(work))
        self._pending_writes.add(task)
        task.add_done_callback(self._pending_writes.discard)
        return await asyncio.shield(task)

    async def _run_write(self, work: Work[T]) -> T:
        writer = self._writer
        if writer is None:
            raise RuntimeError("store is not open")
        requested = time.perf_counter()
        async with self._write_lock:
            began = time.perf_counter()
            self._uncommitted_events = []
            await writer.execute("BEGIN IMMEDIATE")
            try:
                result = await work(writer, now_us())
                await writer.execute("COMMIT")
            except BaseException:
                self._uncommitted_events = []
                # A failed COMMIT may already have ended the transaction.
                if writer.in_transaction:
                    await writer.execute("ROLLBACK")
                raise
            finally:
                if self._write_observer is not None:
                    self._write_observer(began - requested, time.perf_counter() - began)
            events, self._uncommitted_events = self._uncommitted_events, []
            if events:
                for listener in self._event_listeners:
                    try:
                        listener(events)
                    except Exception:
                        logger.exception("event listener failed")
            return result

    def _announce_deleted(self, thread_ids: Sequence[str]) -> None:
        """Tell listeners, after the commit, that these threads are gone.

        A `thread.deleted` event is never stored (its thread is gone); it
        wakes whoever waits on the thread, so they find out at once.
        """
        self._uncommitted_events.extend(
            run_pb2.RunEvent(thread_id=thread_id, type=THREAD_DELETED) for thread_id in thread_ids
        )

    def add_event_listener(self, listener: EventListener) -> None:
        """Register a callback for committed events."""
        self._event_listeners.append(listener)

    async def transaction(self, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run domain work in one write transaction."""

        async def run(connection: aiosqlite.Connection, now: int) -> T:
            return await work(SqliteTransaction(self, connection, now))

        return await self._write(run)

    @contextlib.asynccontextmanager
    async def _read(self, *, snapshot: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """Lend a read connection; with snapshot, inside one read transaction.

        A snapshot is only for reads of several statements that must agree
        (a thread and its messages); single statements need none.
        """
        connection = await self._readers.get()
        try:
            if snapshot:
                await connection.execute("BEGIN")
            yield connection
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

    # -- threads --------------------------------------------------------------

    @staticmethod
    async def _thread_row(
        connection: aiosqlite.Connection, thread_id: str, now: int, *, field: str = "thread_id"
    ) -> Row:
        rows = await connection.execute_fetchall(
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE tenant_id = ? AND thread_id = ? "
            "AND (expire_at IS NULL OR expire_at > ?)",
            (DEFAULT_TENANT, thread_id, now),
        )
        if not rows:
            raise NotFoundError("thread", thread_id, field=field)
        return next(iter(rows))

    @staticmethod
    async def _purge_if_expired(connection: aiosqlite.Connection, thread_id: str, now: int) -> None:
        # An expired thread that the sweeper has not reached yet frees its id.
        await connection.execute(
            "DELETE FROM threads WHERE tenant_id = ? AND thread_id = ? AND expire_at <= ?",
            (DEFAULT_TENANT, thread_id, now),
        )

    async def create_thread(
        self, thread: thread_pb2.Thread, *, reuse_existing: bool
    ) -> tuple[thread_pb2.Thread, bool]:
        """Insert a thread, or return the existing one when asked to."""

        async def work(connection: aiosqlite.Connection, now: int) -> tuple[Row, bool]:
            await self._purge_if_expired(connection, thread.thread_id, now)
            columns = _thread_columns(thread)
            ttl = columns["ttl_us"]
            columns.update(
                tenant_id=DEFAULT_TENANT,
                thread_id=thread.thread_id,
                status=thread_pb2.THREAD_STATUS_IDLE,
                created_at=now,
                updated_at=now,
                last_activity_at=now,
                expire_at=now + ttl if ttl is not None else None,
            )
            names = ", ".join(columns)
            marks = ", ".join(f":{name}" for name in columns)
            cursor = await connection.execute(
                f"INSERT INTO threads ({names}) VALUES ({marks}) "
                "ON CONFLICT (tenant_id, thread_id) DO NOTHING",
                columns,
            )
            created = cursor.rowcount == 1
            if not created and not reuse_existing:
                raise AlreadyExistsError("thread", thread.thread_id, field="thread_id")
            return await self._thread_row(connection, thread.thread_id, now), created

        row, created = await self._write(work)
        return _row_to_thread(row), created

    async def get_thread(self, thread_id: str, *, message_limit: int = 0) -> thread_pb2.Thread:
        """Return a thread, with its latest messages when message_limit > 0."""
        async with self._read(snapshot=message_limit > 0) as connection:
            row = await self._thread_row(connection, thread_id, now_us())
            thread = _row_to_thread(row)
            if message_limit > 0:
                thread.messages.extend(await _latest_messages(connection, row["pk"], message_limit))
        return thread

    async def list_threads(self, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
        """Return one page of threads by keyset: (sort column, pk) past the cursor."""
        column = query.order.value
        where, params = _filter_sql(query.filter, now_us())
        direction = "DESC" if query.descending else "ASC"
        if query.after is not None:
            where.append(f"({column}, pk) {'<' if query.descending else '>'} (?, ?)")
            params.extend([query.after.sort_value, query.after.row_key])
        sql = (
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {' AND '.join(where)} "
            f"ORDER BY {column} {direction}, pk {direction} LIMIT ?"
        )
        params.append(query.limit + 1)
        async with self._read() as connection:
            rows = await connection.execute_fetchall(sql, params)
        return _page(list(rows), query.limit, column, _row_to_thread)

    async def count_threads(self, thread_filter: ThreadFilter) -> int:
        """Count the threads that match."""
        where, params = _filter_sql(thread_filter, now_us())
        async with (
            self._read() as connection,
            connection.execute(
                f"SELECT count(*) FROM threads WHERE {' AND '.join(where)}", params
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def update_thread(
        self, thread_id: str, change: Callable[[thread_pb2.Thread], None], *, etag: str
    ) -> thread_pb2.Thread:
        """Change the stored thread with change(), checking the etag first."""

        async def work(connection: aiosqlite.Connection, now: int) -> Row:
            row = await self._thread_row(connection, thread_id, now, field="thread.thread_id")
            if etag and etag != _etag(row):
                raise EtagMismatchError("thread", thread_id, field="thread.etag")
            merged = _row_to_thread(row)
            change(merged)
            columns = _thread_columns(merged)
            ttl = columns["ttl_us"]
            columns.update(
                pk=row["pk"],
                updated_at=now,
                last_activity_at=now,
                expire_at=now + ttl if ttl is not None else None,
            )
            assignments = ", ".join(f"{name} = :{name}" for name in columns if name != "pk")
            await connection.execute(
                f"UPDATE threads SET {assignments}, version = version + 1 WHERE pk = :pk",
                columns,
            )
            return await self._thread_row(connection, thread_id, now)

        return _row_to_thread(await self._write(work))

    async def delete_thread(self, thread_id: str, *, etag: str) -> None:
        """Delete a thread; its messages go with it by ON DELETE CASCADE."""

        async def work(connection: aiosqlite.Connection, now: int) -> None:
            row = await self._thread_row(connection, thread_id, now)
            if etag and etag != _etag(row):
                raise EtagMismatchError("thread", thread_id, field="etag")
            await connection.execute("DELETE FROM threads WHERE pk = ?", (row["pk"],))
            self._announce_deleted([thread_id])

        await self._write(work)

    async def copy_thread(self, thread_id: str, new_thread_id: str) -> thread_pb2.Thread:
        """Copy a thread row and its messages (new message ids, same order and times)."""

        async def work(connection: aiosqlite.Connection, now: int) -> Row:
            source = await self._thread_row(connection, thread_id, now)
            await self._purge_if_expired(connection, new_thread_id, now)
            ttl = source["ttl_us"]
            cursor = await connection.execute(
                "INSERT INTO threads (tenant_id, thread_id, title, metadata, agent_id, user_id, "
                "external_ref, locale_language, locale_country, locale_time_zone, participants, "
                "ttl_us, status, created_at, updated_at, last_activity_at, expire_at, "
                "message_count) "
                "SELECT tenant_id, ?, title, metadata, agent_id, user_id, external_ref, "
                "locale_language, locale_country, locale_time_zone, participants, ttl_us, ?, "
                "?, ?, ?, ?, message_count FROM threads WHERE pk = ? "
                "ON CONFLICT (tenant_id, thread_id) DO NOTHING",
                (
                    new_thread_id,
                    thread_pb2.THREAD_STATUS_IDLE,
                    now,
                    now,
                    now,
                    now + ttl if ttl is not None else None,
                    source["pk"],
                ),
            )
            if cursor.rowcount != 1:
                raise AlreadyExistsError("thread", new_thread_id, field="new_thread_id")
            new_pk = cursor.lastrowid
            async with connection.execute(
                "SELECT pk FROM messages WHERE thread_pk = ? ORDER BY pk", (source["pk"],)
            ) as message_cursor:
                message_pks = [r[0] for r in await message_cursor.fetchall()]
            await connection.executemany(
                "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
                "run_id, created_at, updated_at) SELECT tenant_id, ?, ?, role, parts, metadata, "
                "run_id, created_at, updated_at FROM messages WHERE pk = ?",
                [(new_pk, new_message_id(), pk) for pk in message_pks],
            )
            return await self._thread_row(connection, new_thread_id, now)

        return _row_to_thread(await self._write(work))

    async def delete_expired_threads(self, *, limit: int) -> int:
        """Delete up to limit expired threads."""

        async def work(connection: aiosqlite.Connection, now: int) -> int:
            async with connection.execute(
                "DELETE FROM threads WHERE pk IN (SELECT pk FROM threads "
                "WHERE expire_at IS NOT NULL AND expire_at <= ? LIMIT ?) RETURNING thread_id",
                (now, limit),
            ) as cursor:
                deleted = [row[0] for row in await cursor.fetchall()]
            self._announce_deleted(deleted)
            return len(deleted)

        return await self._write(work)

    # -- messages -------------------------------------------------------------

    @staticmethod
    async def _touch_thread(
        connection: aiosqlite.Connection, thread_pk: int, now: int, count_change: int
    ) -> None:
        """Record activity on a thread: message count, activity time, expiry."""
        await connection.execute(
            "UPDATE threads SET message_count = message_count + ?, last_activity_at = ?, "
            "expire_at = CASE WHEN ttl_us IS NULL THEN NULL ELSE ? + ttl_us END, "
            "version = version + 1 WHERE pk = ?",
            (count_change, now, now, thread_pk),
        )

    @staticmethod
    async def _message_row(
        connection: aiosqlite.Connection, thread_pk: int, message_id: str, *, field: str
    ) -> Row:
        rows = await connection.execute_fetchall(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m JOIN threads AS t "
            "ON t.pk = m.thread_pk WHERE m.thread_pk = ? AND m.message_id = ?",
            (thread_pk, message_id),
        )
        if not rows:
            raise NotFoundError("message", message_id, field=field)
        return next(iter(rows))

    async def create_message(
        self, thread_id: str, message: message_pb2.Message
    ) -> message_pb2.Message:
        """Append a message, touch its thread, and record its events, in one transaction."""

        async def work(tx: StoreTransaction) -> message_pb2.Message:
            thread = await tx.thread(thread_id)
            return await tx.insert_message(thread, message)

        return await self.transaction(work)

    async def get_message(self, thread_id: str, message_id: str) -> message_pb2.Message:
        """Return one message of a live thread."""
        async with self._read() as connection:
            thread = await self._thread_row(connection, thread_id, now_us())
            row = await self._message_row(connection, thread["pk"], message_id, field="message_id")
        return _row_to_message(row)

    async def list_messages(self, query: MessagePageQuery) -> Page[message_pb2.Message]:
        """Return one page of a thread's messages by keyset on pk."""
        return await self._thread_page(
            query.thread_id,
            f"SELECT {_MESSAGE_COLUMNS} FROM messages AS m JOIN threads AS t ON t.pk = m.thread_pk",
            alias="m",
            descending=query.descending,
            limit=query.limit,
            after=query.after,
            convert=_row_to_message,
        )

    async def _thread_page(
        self,
        thread_id: str,
        select: str,
        *,
        alias: str,
        descending: bool,
        limit: int,
        after: Cursor | None,
        convert: Callable[[Row], T],
    ) -> Page[T]:
        """Return one page of a thread's rows (messages or runs) by keyset on their pk."""
        direction = "DESC" if descending else "ASC"
        async with self._read() as connection:
            thread = await self._thread_row(connection, thread_id, now_us())
            where = f"{alias}.thread_pk = ?"
            params: list[Any] = [thread["pk"]]
            if after is not None:
                where += f" AND {alias}.pk {'<' if descending else '>'} ?"
                params.append(after.row_key)
            params.append(limit + 1)
            rows = await connection.execute_fetchall(
                f"{select} WHERE {where} ORDER BY {alias}.pk {direction} LIMIT ?", params
            )
        return _page(list(rows), limit, "pk", convert)

    async def update_message(
        self, thread_id: str, message_id: str, change: Callable[[message_pb2.Message], None]
    ) -> message_pb2.Message:
        """Change a message with change(); only its metadata is stored back."""

        async def work(connection: aiosqlite.Connection, now: int) -> Row:
            thread = await self._thread_row(connection, thread_id, now, field="message.thread_id")
            row = await self._message_row(
                connection, thread["pk"], message_id, field="message.message_id"
            )
            message = _row_to_message(row)
            change(message)
            await connection.execute(
                "UPDATE messages SET metadata = ?, updated_at = ? WHERE pk = ?",
                (jsonvalue.dumps(jsonvalue.struct_to_python(message.metadata)), now, row["pk"]),
            )
            await self._touch_thread(connection, thread["pk"], now, 0)
            return await self._message_row(
                connection, thread["pk"], message_id, field="message.message_id"
            )

        return _row_to_message(await self._write(work))

    async def delete_message(self, thread_id: str, message_id: str) -> None:
        """Delete a message and touch its thread."""

        async def work(connection: aiosqlite.Connection, now: int) -> None:
            thread = await self._thread_row(connection, thread_id, now)
            row = await self._message_row(connection, thread["pk"], message_id, field="message_id")
            await connection.execute("DELETE FROM messages WHERE pk = ?", (row["pk"],))
            await self._touch_thread(connection, thread["pk"], now, -1)

        await self._write(work)

    # -- runs and events --------------------------------------------------------

    async def get_run(self, run_id: str) -> run_pb2.Run:
        """Return one run of a live thread."""
        async with self._read() as connection:
            row = await _run_row(connection, run_id, now_us(), field="run_id")
        return _row_to_run(row)

    async def list_runs(self, query: RunPageQuery) -> Page[run_pb2.Run]:
        """Return one page of a thread's runs by keyset on pk."""
        return await self._thread_page(
            query.thread_id,
            f"SELECT {_RUN_COLUMNS} FROM runs AS r JOIN threads AS t ON t.pk = r.thread_pk",
            alias="r",
            descending=query.descending,
            limit=query.limit,
            after=query.after,
            convert=_row_to_run,
        )

    async def read_events(
        self, *, thread_id: str = "", run_id: str = "", after: int, limit: int
    ) -> list[run_pb2.RunEvent]:
        """Return stored events after an id, of one run or one thread."""
        async with self._read() as connection:
            if run_id:
                sql = (
                    "SELECT e.event_id, e.created_at, e.payload, t.thread_id FROM events AS e "
                    "JOIN threads AS t ON t.pk = e.thread_pk "
                    "WHERE e.run_id = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?"
                )
                params: tuple[Any, ...] = (run_id, after, limit)
            else:
                thread = await self._thread_row(connection, thread_id, now_us())
                sql = (
                    "SELECT e.event_id, e.created_at, e.payload, ? AS thread_id FROM events AS e "
                    "WHERE e.thread_pk = ? AND e.event_id > ? ORDER BY e.event_id LIMIT ?"
                )
                params = (thread_id, thread["pk"], after, limit)
            rows = await connection.execute_fetchall(sql, params)
        return [_row_to_event(row) for row in rows]


_RUN_COLUMNS = (
    "r.pk, t.pk AS thread_pk, t.thread_id, r.run_id, r.agent_id, r.status, "
    "r.multitask_strategy, r.max_iterations, r.tools, r.context, r.metadata, r.response, "
    "r.tool_calls, r.iterations, r.prompt_tokens, r.completion_tokens, r.error_code, "
    "r.error_message, r.lease_id, r.lease_expires_at, r.lease_duration_us, r.worker_id, "
    "r.created_at, "
    "r.started_at, r.ended_at"
)


async def _run_row(connection: aiosqlite.Connection, run_id: str, now: int, *, field: str) -> Row:
    rows = await connection.execute_fetchall(
        f"SELECT {_RUN_COLUMNS} FROM runs AS r JOIN threads AS t ON t.pk = r.thread_pk "
        "WHERE r.tenant_id = ? AND r.run_id = ? AND (t.expire_at IS NULL OR t.expire_at > ?)",
        (DEFAULT_TENANT, run_id, now),
    )
    if not rows:
        raise NotFoundError("run", run_id, field=field)
    return next(iter(rows))


def _row_to_run(row: Row) -> run_pb2.Run:
    run = run_pb2.Run(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        agent_id=row["agent_id"],
        status=row["status"],
        response=row["response"],
        iterations=row["iterations"],
        max_iterations=row["max_iterations"],
        tools=json.loads(row["tools"]),
        multitask_strategy=row["multitask_strategy"],
    )
    for item in json.loads(row["tool_calls"]):
        json_format.ParseDict(item, run.tool_calls.add())
    run.usage.prompt_tokens = row["prompt_tokens"]
    run.usage.completion_tokens = row["completion_tokens"]
    run.usage.total_tokens = row["prompt_tokens"] + row["completion_tokens"]
    if row["error_code"]:
        run.error.code = row["error_code"]
        run.error.message = row["error_message"]
    run.context.CopyFrom(jsonvalue.loads_struct(row["context"]))
    run.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    run.created_at.FromMicroseconds(row["created_at"])
    if row["started_at"] is not None:
        run.started_at.FromMicroseconds(row["started_at"])
    if row["ended_at"] is not None:
        run.ended_at.FromMicroseconds(row["ended_at"])
    return run


async def _latest_messages(
    connection: aiosqlite.Connection, thread_pk: int, limit: int
) -> list[message_pb2.Message]:
    """Return a thread's latest messages, oldest first."""
    rows = await connection.execute_fetchall(
        f"SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM messages AS m "
        "JOIN threads AS t ON t.pk = m.thread_pk WHERE m.thread_pk = ? "
        "ORDER BY m.pk DESC LIMIT ?) ORDER BY pk ASC",
        (thread_pk, limit),
    )
    return [_row_to_message(row) for row in rows]


def _row_to_record(row: Row) -> RunRecord:
    return RunRecord(
        run=_row_to_run(row),
        thread=ThreadRef(row["thread_pk"], row["thread_id"]),
        lease_id=row["lease_id"],
        lease_expires_at=row["lease_expires_at"],
        lease_duration_us=row["lease_duration_us"],
        worker_id=row["worker_id"],
    )


def _row_to_event(row: Row) -> run_pb2.RunEvent:
    event = run_pb2.RunEvent.FromString(row["payload"])
    event.event_id = row["event_id"]
    event.thread_id = row["thread_id"]
    event.created_at.FromMicroseconds(row["created_at"])
    return event


_IN_FLIGHT = (run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING)


class SqliteTransaction(StoreTransaction):
    """StoreTransaction over the writer connection, inside BEGIN IMMEDIATE."""

    def __init__(self, store: SqliteStore, connection: aiosqlite.Connection, now: int) -> None:
        self._store = store
        self._connection = connection
        self.now = now

    async def thread(self, thread_id: str, *, field: str = "thread_id") -> ThreadRef:
        """Return a live thread."""
        row = await SqliteStore._thread_row(self._connection, thread_id, self.now, field=field)
        return ThreadRef(row["pk"], row["thread_id"])

    async def run(self, run_id: str, *, field: str = "run_id") -> RunRecord:
        """Return a run of a live thread."""
        return _row_to_record(await _run_row(self._connection, run_id, self.now, field=field))

    async def _records(self, where: str, params: Sequence[Any]) -> list[RunRecord]:
        async with self._connection.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs AS r JOIN threads AS t ON t.pk = r.thread_pk "
            f"WHERE {where}",
            params,
        ) as cursor:
            return [_row_to_record(row) for row in await cursor.fetchall()]

    async def runs_in_flight(self, thread: ThreadRef) -> list[RunRecord]:
        """Return the thread's queued and running runs, oldest first."""
        return await self._records(
            "r.thread_pk = ? AND r.status IN (?, ?) ORDER BY r.pk", (thread.pk, *_IN_FLIGHT)
        )

    async def insert_run(self, thread: ThreadRef, run: run_pb2.Run) -> RunRecord:
        """Insert a run."""
        await self._connection.execute(
            "INSERT INTO runs (tenant_id, run_id, thread_pk, agent_id, status, "
            "multitask_strategy, max_iterations, tools, context, metadata, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                DEFAULT_TENANT,
                run.run_id,
                thread.pk,
                run.agent_id,
                run.status,
                run.multitask_strategy,
                run.max_iterations,
                json.dumps(list(run.tools)),
                jsonvalue.dumps(jsonvalue.struct_to_python(run.context)),
                jsonvalue.dumps(jsonvalue.struct_to_python(run.metadata)),
                self.now,
            ),
        )
        return await self.run(run.run_id)

    async def save_run(self, record: RunRecord) -> None:
        """Write a run's mutable fields."""
        run = record.run
        await self._connection.execute(
            "UPDATE runs SET status = ?, response = ?, tool_calls = ?, iterations = ?, "
            "prompt_tokens = ?, completion_tokens = ?, error_code = ?, error_message = ?, "
            "lease_id = ?, lease_expires_at = ?, lease_duration_us = ?, worker_id = ?, "
            "started_at = ?, ended_at = ? "
            "WHERE tenant_id = ? AND run_id = ?",
            (
                run.status,
                run.response,
                json.dumps(
                    [
                        json_format.MessageToDict(c, preserving_proto_field_name=True)
                        for c in run.tool_calls
                    ],
                    separators=(",", ":"),
                ),
                run.iterations,
                run.usage.prompt_tokens,
                run.usage.completion_tokens,
                run.error.code,
                run.error.message,
                record.lease_id,
                record.lease_expires_at,
                record.lease_duration_us,
                record.worker_id,
                run.started_at.ToMicroseconds() if run.HasField("started_at") else None,
                run.ended_at.ToMicroseconds() if run.HasField("ended_at") else None,
                DEFAULT_TENANT,
                run.run_id,
            ),
        )

    async def insert_message(
        self, thread: ThreadRef, message: message_pb2.Message, *, announced: bool = False
    ) -> message_pb2.Message:
        """Append a message, touch the thread, and record its events.

        A message an agent streamed was announced by message.created before its
        deltas; any other message gets message.created here, then every message
        gets message.completed.
        """
        await self._connection.execute(
            "INSERT INTO messages (tenant_id, thread_pk, message_id, role, parts, metadata, "
            "run_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                DEFAULT_TENANT,
                thread.pk,
                message.message_id,
                message.role,
                _parts_json(message),
                jsonvalue.dumps(jsonvalue.struct_to_python(message.metadata)),
                message.run_id,
                self.now,
                self.now,
            ),
        )
        await SqliteStore._touch_thread(self._connection, thread.pk, self.now, 1)
        stored = _row_to_message(
            await SqliteStore._message_row(
                self._connection, thread.pk, message.message_id, field="message.message_id"
            )
        )
        for event_type in (
            ("message.completed",) if announced else ("message.created", "message.completed")
        ):
            await self.append_event(
                thread, run_pb2.RunEvent(run_id=message.run_id, type=event_type, message=stored)
            )
        return stored

    async def delete_run_messages(self, thread: ThreadRef, run_ids: Sequence[str]) -> int:
        """Delete what the runs wrote."""
        if not run_ids:
            return 0
        cursor = await self._connection.execute(
            "DELETE FROM messages WHERE thread_pk = ? "
            f"AND run_id IN ({','.join('?' * len(run_ids))})",
            (thread.pk, *run_ids),
        )
        deleted = int(cursor.rowcount)
        if deleted:
            await SqliteStore._touch_thread(self._connection, thread.pk, self.now, -deleted)
        return deleted

    async def thread_messages(self, thread: ThreadRef, limit: int) -> list[message_pb2.Message]:
        """Return the latest messages, oldest first."""
        return await _latest_messages(self._connection, thread.pk, limit)

    async def append_event(self, thread: ThreadRef, event: run_pb2.RunEvent) -> run_pb2.RunEvent:
        """Store an event and queue it for the listeners after commit."""
        stored = run_pb2.RunEvent()
        stored.CopyFrom(event)
        stored.ClearField("event_id")
        stored.ClearField("thread_id")
        stored.ClearField("created_at")
        inserted = await self._connection.execute_insert(
            "INSERT INTO events (tenant_id, thread_pk, run_id, type, payload, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                DEFAULT_TENANT,
                thread.pk,
                event.run_id,
                event.type,
                stored.SerializeToString(deterministic=True),
                self.now,
            ),
        )
        assert inserted is not None  # noqa: S101 - an INSERT always has a row id
        stored.event_id = inserted[0]
        stored.thread_id = thread.thread_id
        stored.created_at.FromMicroseconds(self.now)
        self._store._uncommitted_events.append(stored)
        return stored

    async def refresh_thread_status(self, thread: ThreadRef) -> None:
        """BUSY with a run in flight; else ERROR when the latest run failed; else IDLE."""
        await self._connection.execute(
            "UPDATE threads SET status = CASE "
            "WHEN EXISTS (SELECT 1 FROM runs WHERE thread_pk = :pk "
            "  AND status IN (:queued, :running)) THEN :busy "
            "WHEN (SELECT status FROM runs WHERE thread_pk = :pk "
            "  ORDER BY coalesce(ended_at, 0) DESC, pk DESC LIMIT 1) = :failed THEN :error "
            "ELSE :idle END WHERE pk = :pk",
            {
                "pk": thread.pk,
                "queued": run_pb2.RUN_STATUS_QUEUED,
                "running": run_pb2.RUN_STATUS_RUNNING,
                "failed": run_pb2.RUN_STATUS_FAILED,
                "busy": thread_pb2.THREAD_STATUS_BUSY,
                "error": thread_pb2.THREAD_STATUS_ERROR,
                "idle": thread_pb2.THREAD_STATUS_IDLE,
            },
        )

    async def next_queued_run(self, thread: ThreadRef) -> RunRecord | None:
        """Return the oldest queued run of a thread with nothing running."""
        records = await self._records(
            "r.thread_pk = ? AND r.status = ? AND NOT EXISTS (SELECT 1 FROM runs AS o "
            "WHERE o.thread_pk = r.thread_pk AND o.status = ?) ORDER BY r.pk LIMIT 1",
            (thread.pk, run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING),
        )
        return records[0] if records else None

    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest queued run of an agent that is first in line on its thread."""
        records = await self._records(
            "r.status = ? AND r.agent_id = ? AND (t.expire_at IS NULL OR t.expire_at > ?) "
            "AND NOT EXISTS (SELECT 1 FROM runs AS o WHERE o.thread_pk = r.thread_pk "
            "AND (o.status = ? OR (o.status = ? AND o.pk < r.pk))) ORDER BY r.pk LIMIT 1",
            (
                run_pb2.RUN_STATUS_QUEUED,
                agent_id,
                self.now,
                run_pb2.RUN_STATUS_RUNNING,
                run_pb2.RUN_STATUS_QUEUED,
            ),
        )
        return records[0] if records else None

    async def runs_to_recover(self, now: int) -> list[RunRecord]:
        """Return running runs whose worker lease ran out, or that ran in-process."""
        return await self._records(
            "r.status = ? AND (r.lease_id IS NULL OR r.lease_expires_at <= ?) ORDER BY r.pk",
            (run_pb2.RUN_STATUS_RUNNING, now),
        )

    async def all_runs_in_flight(self) -> list[RunRecord]:
        """Every queued and running run."""
        # The statuses are written out, not bound, so that SQLite can prove
        # the partial index runs_in_flight covers the query and use it.
        return await self._records(f"r.status IN ({_IN_FLIGHT[0]:d}, {_IN_FLIGHT[1]:d})", ())

    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Threads that have queued runs."""
        async with self._connection.execute(
            "SELECT DISTINCT t.pk, t.thread_id FROM runs AS r JOIN threads AS t "
            "ON t.pk = r.thread_pk WHERE r.status = ? ORDER BY t.pk",
            (run_pb2.RUN_STATUS_QUEUED,),
        ) as cursor:
            return [ThreadRef(row[0], row[1]) for row in await cursor.fetchall()]
