"""Naive durable: grpc.aio plus one aiosqlite INSERT and COMMIT per write call.

CreateThread and CreateMessage each insert one row (the request, serialized)
and commit it before answering, one call at a time under a lock, with
Threadline's durability settings (WAL, synchronous=FULL): the cost of a
durable write done the plain way in the same Python runtime. Every other
method answers canned, as the limit does.

Usage: python -m bench.naive_server --database PATH (prints "listening on 127.0.0.1:PORT").
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiosqlite
import grpc
from threadline.v1 import message_pb2, thread_pb2

from bench.canned import SERVICES, Unary, generic_handler, serve

SCHEMA = (
    (
        "CREATE TABLE IF NOT EXISTS threads (pk INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, "
        "body BLOB NOT NULL, created_at INTEGER NOT NULL)"
    ),
    (
        "CREATE TABLE IF NOT EXISTS messages (pk INTEGER PRIMARY KEY, thread_id TEXT NOT NULL, "
        "body BLOB NOT NULL, created_at INTEGER NOT NULL)"
    ),
)


class NaiveStore:
    """One connection; each write is INSERT then COMMIT, one at a time."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.lock = asyncio.Lock()
        self.count = 0

    async def insert(self, table: str, key: str, body: bytes) -> int:
        """Insert one row and commit it; return its row id."""
        async with self.lock:
            cursor = await self.connection.execute(
                f"INSERT INTO {table} (thread_id, body, created_at) VALUES (?, ?, ?)",
                (key, body, time.time_ns() // 1000),
            )
            await self.connection.commit()
            return cursor.lastrowid or 0

    def create_thread(self) -> Unary:
        """Return the CreateThread handler."""

        async def handle(request: Any, _context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            answer = thread_pb2.Thread()
            answer.CopyFrom(request.thread)
            pk = await self.insert("threads", request.thread_id, request.SerializeToString())
            answer.thread_id = request.thread_id or f"thr_{pk:026d}"
            answer.created_at.GetCurrentTime()
            return answer

        return handle

    def create_message(self) -> Unary:
        """Return the CreateMessage handler."""

        async def handle(request: Any, _context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            answer = message_pb2.Message()
            answer.CopyFrom(request.message)
            pk = await self.insert("messages", request.thread_id, request.SerializeToString())
            answer.thread_id = request.thread_id
            answer.message_id = f"msg_{pk:026d}"
            answer.created_at.GetCurrentTime()
            return answer

        return handle


async def run(database: str) -> None:
    """Open the database with Threadline's settings and serve."""
    async with aiosqlite.connect(database) as connection:
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute("PRAGMA synchronous = FULL")
        for statement in SCHEMA:
            await connection.execute(statement)
        await connection.commit()
        store = NaiveStore(connection)
        overrides = {"CreateThread": store.create_thread(), "CreateMessage": store.create_message()}
        await serve([generic_handler(service, overrides) for service in SERVICES])


def main() -> None:
    """Parse the flags and serve until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    asyncio.run(run(parser.parse_args().database))


if __name__ == "__main__":
    main()
