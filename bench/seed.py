"""Seed a large store quickly: N threads and M messages that the server reads as its own.

The schema is the real one: a Threadline server is started on the new file
(it applies the store's migrations), and one thread and one message are made
through its public API. Those two rows are the templates: every other row is
a copy made inside SQLite (a recursive CTE, no Python per row), with only the
key columns changed (``pk``, the ids, the times, the thread a message
belongs to). A column added by a later migration is copied from the
template, so seeding keeps up with the schema. The first thread, the
template's, is the biggest (``--big-thread-messages``); the other messages are
spread evenly over the other threads in order. Afterwards a server is started
on the result and reads a thread and a page of messages back, so a store that
the server would not accept fails here.

While seeding, the file has no journal and no fsync (it is rebuilt from
scratch if seeding stops half-way); it is switched back to WAL at the end.
Events are not seeded: the events table stays small.

Usage: python -m bench.seed PATH [--threads N] [--messages M] [--big-thread-messages B]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

from bench.procs import Cores
from bench.systems import Context, Running, start_threadline

CHUNK = 1_000_000
# Columns whose value each copied row gets from its own number.
TIME_COLUMNS = ("created_at", "updated_at", "last_activity_at")


@dataclass(frozen=True)
class Seeded:
    """What seeding made, and how long it took."""

    path: str
    threads: int
    messages: int
    big_thread_messages: int
    big_thread_id: str
    middle_thread_id: str
    seconds: float
    rows_per_second: float
    bytes: int
    check: str

    def extras(self) -> dict[str, Any]:
        """Return the ids the scenarios use."""
        return {"big_thread_id": self.big_thread_id, "middle_thread_id": self.middle_thread_id}


def note(text: str) -> None:
    """Progress, on stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def thread_id(pk: int) -> str:
    """Return the id of a copied thread: thr_ and its pk in 26 digits (a valid server id)."""
    return f"thr_{pk:026d}"


async def _templates(target: str) -> tuple[str, str]:
    async with grpc.aio.insecure_channel(target) as channel:
        thread = await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="seeded thread"))
        )
        message = await message_pb2_grpc.MessageServiceStub(channel).CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER,
                    parts=[message_pb2.Part(text="hello, this is a seeded message")],
                ),
            )
        )
    return thread.thread_id, message.message_id


def with_server(path: Path, folder: Path) -> Running:
    """Start a Threadline server on the file (no pinning: seeding is not measured)."""
    return start_threadline(Context(folder, Cores((), ()), database=path))


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _copy_sql(
    table: str, columns: list[str], overrides: dict[str, str], template: sqlite3.Row
) -> tuple[str, list[Any]]:
    """INSERT ... SELECT over n(i): each column an override expression or the template's value."""
    expressions: list[str] = []
    values: list[Any] = []
    for column in columns:
        if column in overrides:
            expressions.append(overrides[column])
        else:
            expressions.append("?")
            values.append(template[column])
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(expressions)} FROM n"
    )
    return sql, values


def copy_rows(
    connection: sqlite3.Connection, sql: str, values: list[Any], first: int, last: int
) -> None:
    """Run a copy over i = first..last in chunks, one transaction each."""
    for start in range(first, last + 1, CHUNK):
        end = min(last, start + CHUNK - 1)
        connection.execute("BEGIN")
        connection.execute(sql, [start, end, *values])
        connection.execute("COMMIT")
        note(f"  ... {end - first + 1:,} of {last - first + 1:,}")


def fill(path: Path, threads: int, messages: int, big: int) -> None:
    """Copy the template rows (thread pk 1, its one message) into the whole store."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA cache_size = -1000000")
        thread = connection.execute("SELECT * FROM threads").fetchone()
        message = connection.execute("SELECT * FROM messages").fetchone()
        base = thread["created_at"] - (threads + messages) * 1000
        thread_overrides = {
            "pk": "i",
            "thread_id": "printf('thr_%026d', i)",
            "message_count": "0",
            **dict.fromkeys(TIME_COLUMNS, f"{base} + i * 1000"),
        }
        note(f"threads 2..{threads:,}")
        sql, values = _copy_sql(
            "threads", _columns(connection, "threads"), thread_overrides, thread
        )
        copy_rows(connection, sql, values, 2, threads)
        first_pk = message["pk"] + 1
        message_time = dict.fromkeys(TIME_COLUMNS, f"{base} + i * 1000")
        big_overrides = {
            "pk": "i",
            "message_id": "printf('msg_%026d', i)",
            "thread_pk": str(thread["pk"]),
            **message_time,
        }
        columns = _columns(connection, "messages")
        note(f"the big thread's other {big - 1:,} messages")
        sql, values = _copy_sql("messages", columns, big_overrides, message)
        copy_rows(connection, sql, values, first_pk, first_pk + big - 2)
        rest = messages - big
        if rest > 0 and threads > 1:
            start = first_pk + big - 1
            spread_overrides = {
                **big_overrides,
                # Message number j (from 0) belongs to thread 2 + j * (threads - 1) / rest.
                "thread_pk": f"2 + ((i - {start}) * {threads - 1}) / {rest}",
            }
            note(f"{rest:,} messages over threads 2..{threads:,}")
            sql, values = _copy_sql("messages", columns, spread_overrides, message)
            copy_rows(connection, sql, values, start, start + rest - 1)
        note("message counts")
        connection.execute("BEGIN")
        connection.execute(
            "UPDATE threads SET message_count = "
            "(SELECT count(*) FROM messages WHERE messages.thread_pk = threads.pk)"
        )
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode = WAL")
    finally:
        connection.close()


async def _check(target: str, big_thread: str, middle_thread: str, big: int) -> str:
    async with grpc.aio.insecure_channel(target) as channel:
        thread = await thread_pb2_grpc.ThreadServiceStub(channel).GetThread(
            thread_pb2.GetThreadRequest(thread_id=middle_thread), timeout=30
        )
        page = await message_pb2_grpc.MessageServiceStub(channel).ListMessages(
            message_pb2.ListMessagesRequest(
                thread_id=big_thread, page_size=20, order_by="created_at desc"
            ),
            timeout=30,
        )
        big_thread_row = await thread_pb2_grpc.ThreadServiceStub(channel).GetThread(
            thread_pb2.GetThreadRequest(thread_id=big_thread), timeout=30
        )
    if len(page.messages) != 20 or big_thread_row.message_count != big:
        raise SystemExit(
            f"the server read the seeded store wrongly: {len(page.messages)} messages in the "
            f"newest page, {big_thread_row.message_count} in the big thread (expected {big})"
        )
    return (
        f"the server read {thread.thread_id} ({thread.message_count} messages) and the newest "
        f"page of {big_thread} ({big_thread_row.message_count} messages)"
    )


def seed(path: Path, threads: int, messages: int, big: int) -> Seeded:
    """Make the store at `path` (which must not exist); check that a server reads it."""
    path = path.resolve()
    if path.exists():
        raise SystemExit(f"{path} exists: seeding makes a new store")
    if threads < 2 or not 1 <= big <= messages:
        raise SystemExit("seed at least 2 threads, and 1 <= --big-thread-messages <= --messages")
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="threadline-seed-") as folder:
        server = with_server(path, Path(folder))
        try:
            big_thread, _ = asyncio.run(_templates(server.grpc_target))
        finally:
            server.stop()
        fill(path, threads, messages, big)
        seconds = time.perf_counter() - started
        middle = thread_id(threads // 2 + 1)
        server = with_server(path, Path(folder))
        try:
            check = asyncio.run(_check(server.grpc_target, big_thread, middle, big))
        finally:
            server.stop()
    return Seeded(
        path=str(path),
        threads=threads,
        messages=messages,
        big_thread_messages=big,
        big_thread_id=big_thread,
        middle_thread_id=middle,
        seconds=round(seconds, 2),
        rows_per_second=round((threads + messages) / seconds),
        bytes=path.stat().st_size,
        check=check,
    )


def main() -> None:
    """Parse the arguments, seed, print what was made as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--big-thread-messages", type=int, default=500_000)
    arguments = parser.parse_args()
    seeded = seed(
        arguments.path, arguments.threads, arguments.messages, arguments.big_thread_messages
    )
    sys.stdout.write(json.dumps(asdict(seeded), indent=2) + "\n")


if __name__ == "__main__":
    main()
