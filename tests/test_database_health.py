"""The database stays healthy, and a database that cannot take a write says so.

- Another process holds the database locked past the busy timeout: writes
  end UNAVAILABLE (ErrorInfo DATABASE_UNAVAILABLE, a RetryInfo hint) and
  write nothing; reads go on; once the lock goes the same writes succeed
  and every acknowledged one is there.
- A client whose deadline passes while its write waits for that lock: the
  write never happens, and its failure is logged, not "never retrieved".
- A long reader lets the WAL grow; once it lets go, the WAL shrinks.
- ``threadline backup PATH`` copies the database while a server writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from threadline.v1 import message_pb2, thread_pb2

from tests.conftest import ServerProcess, expect_failure, failure
from tests.test_process import AsyncClient, connected

pytestmark = pytest.mark.process

BUSY_TIMEOUT = 0.5


def _retry_delay(error: grpc.aio.AioRpcError) -> float:
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return float(info.retry_delay.ToNanoseconds() / 1e9)
    raise AssertionError("no RetryInfo in the status")


def _count(database: Path, sql: str) -> int:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(connection.execute(sql).fetchone()[0])
    finally:
        connection.close()


def _post_json(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a JSON body; return the status and the JSON answer (of an error too)."""
    request = urllib.request.Request(  # noqa: S310 - a URL the test builds
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _lock(database: Path) -> sqlite3.Connection:
    """Take the database's write lock from another connection, as another process would."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def _message(thread_id: str, text: str) -> message_pb2.CreateMessageRequest:
    return message_pb2.CreateMessageRequest(
        thread_id=thread_id,
        message=message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
        ),
    )


async def test_a_locked_database_answers_unavailable_and_loses_no_write(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(
        database, "--db-busy-timeout", str(BUSY_TIMEOUT), "--http-listen", "127.0.0.1:0"
    )
    acknowledged: list[str] = []
    refused = 0
    async with connected(server.address) as client:
        thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        holder = _lock(database)
        try:
            for attempt in range(5):
                began = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await client.messages.CreateMessage(
                        _message(thread.thread_id, f"try {attempt}"), timeout=10
                    )
                waited = time.monotonic() - began
                found = failure(caught.value)
                assert found.code == grpc.StatusCode.UNAVAILABLE, found
                assert found.reason == "DATABASE_UNAVAILABLE"
                assert "nothing was written" in found.message
                assert _retry_delay(caught.value) >= BUSY_TIMEOUT
                assert BUSY_TIMEOUT * 0.8 <= waited < 5
                refused += 1
            # Over HTTP the same: 503, the same ErrorInfo.
            status, body = await asyncio.to_thread(
                _post_json,
                f"http://127.0.0.1:{server.http_port}/v1/threads/{thread.thread_id}/messages",
                {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "over http"}]},
            )
            assert status == 503, body
            assert body["details"][0]["reason"] == "DATABASE_UNAVAILABLE", body
            refused += 1
            # Reads go on beside the lock (WAL).
            read = await client.threads.GetThread(
                thread_pb2.GetThreadRequest(thread_id=thread.thread_id)
            )
            assert read.message_count == 0
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        for attempt in range(5):
            made = await client.messages.CreateMessage(
                _message(thread.thread_id, f"try {attempt}"), timeout=10
            )
            acknowledged.append(made.message_id)
    assert server.stop() == 0
    assert _count(database, "SELECT count(*) FROM messages") == len(acknowledged)
    assert "Traceback" not in server.log
    counts(
        f"database locked from outside past a {BUSY_TIMEOUT} s busy timeout: {refused} writes "
        "UNAVAILABLE (DATABASE_UNAVAILABLE, RetryInfo; one over HTTP, 503), reads served; "
        f"after release {len(acknowledged)} retries acknowledged, {len(acknowledged)} rows, "
        "none lost"
    )


async def test_a_write_whose_deadline_passed_before_it_began_never_happens(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(database, "--db-busy-timeout", "2")
    async with connected(server.address) as client:
        await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        # The lock goes before the busy timeout: the write could begin, but its
        # caller has left, so it must not.
        holder = _lock(database)
        try:
            late = await expect_failure(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="late")),
                    timeout=0.5,
                )
            )
            await asyncio.sleep(0.3)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert late.code == grpc.StatusCode.DEADLINE_EXCEEDED
        # The lock stays past the busy timeout: the write fails after its caller left.
        holder = _lock(database)
        try:
            lost = await expect_failure(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="lost")),
                    timeout=0.5,
                )
            )
            await asyncio.sleep(2.5)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert lost.code == grpc.StatusCode.DEADLINE_EXCEEDED
        for thread_id in ("late", "lost"):
            missing = await expect_failure(
                client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
            )
            assert missing.code == grpc.StatusCode.NOT_FOUND
        # And the server writes as before.
        await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(thread_id="after"))
        )
    assert server.stop() == 0
    assert _count(database, "SELECT count(*) FROM threads") == 2
    assert "Task exception was never retrieved" not in server.log
    assert "a write whose caller had gone failed" in server.log
    counts(
        "2 writes whose 0.5 s deadline passed while the database was locked: neither "
        "written (one skipped once the lock went, one failed BUSY and was logged)"
    )


def _wal_bytes(database: Path) -> int:
    wal = database.with_name(database.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


async def test_the_wal_grows_behind_a_long_reader_and_shrinks_once_it_lets_go(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(database, "--db-maintenance-interval", "0.2")
    text = "x" * 400_000
    async with connected(server.address) as client:
        thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        reader = sqlite3.connect(database, isolation_level=None)
        try:
            # A read transaction that stays open: the WAL cannot start over behind it.
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM messages").fetchone()
            for index in range(60):
                await client.messages.CreateMessage(
                    _message(thread.thread_id, f"{index} {text}"), timeout=30
                )
            await asyncio.sleep(1)
            held = _wal_bytes(database)
        finally:
            reader.execute("COMMIT")
            reader.close()
        released = time.monotonic()
        while _wal_bytes(database) > 0:
            assert time.monotonic() - released < 20, f"the WAL stayed {_wal_bytes(database)} bytes"
            await asyncio.sleep(0.1)
        shrink_seconds = time.monotonic() - released
        # The server writes on as before, into a small WAL.
        await client.messages.CreateMessage(_message(thread.thread_id, "after"), timeout=30)
        after = _wal_bytes(database)
    assert server.stop() == 0
    assert held > 20_000_000, held
    assert after < 1_000_000, after
    assert "readers still on old frames" in server.log
    assert _count(database, "SELECT count(*) FROM messages") == 61
    counts(
        f"WAL behind a long reader: {held / 1e6:.1f} MB after 60 writes of 400 KB; "
        f"0 bytes {shrink_seconds:.1f} s after the reader let go (TRUNCATE checkpoint); "
        f"{after} bytes after the next write"
    )


async def test_backup_while_serving_holds_every_write_acknowledged_before_it_began(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    database = tmp_path / "threadline.db"
    target = tmp_path / "copy.db"
    server = spawn_server(database)
    acknowledged: list[tuple[float, str]] = []
    stop = asyncio.Event()

    async def write(client: AsyncClient, thread_id: str) -> None:
        index = 0
        while not stop.is_set():
            made = await client.messages.CreateMessage(
                _message(thread_id, f"{index} " + "y" * 2000), timeout=30
            )
            acknowledged.append((time.monotonic(), made.message_id))
            index += 1

    async with connected(server.address) as client:
        threads = [
            await client.threads.CreateThread(thread_pb2.CreateThreadRequest()) for _ in range(4)
        ]
        writers = [asyncio.create_task(write(client, t.thread_id)) for t in threads]
        # More than 50 writes acknowledged before the backup begins, however busy the machine.
        deadline = time.monotonic() + 30
        while len(acknowledged) <= 50:
            assert time.monotonic() < deadline, f"{len(acknowledged)} writes in 30 s"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "threadline_server",
            "backup",
            str(target),
            "--database",
            str(database),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(command.communicate(), timeout=60)
        finished = time.monotonic()
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*writers)
    assert server.stop() == 0
    assert command.returncode == 0, output
    assert b"integrity_check ok" in output
    copy = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        in_copy = {row[0] for row in copy.execute("SELECT message_id FROM messages")}
    finally:
        copy.close()
    before = [message_id for at, message_id in acknowledged if at < started]
    during = [message_id for at, message_id in acknowledged if started <= at < finished]
    missing = [message_id for message_id in before if message_id not in in_copy]
    assert not missing, f"{len(missing)} acknowledged writes missing from the backup"
    assert len(before) > 50
    counts(
        f"backup while 4 writers wrote: {len(before)} writes acknowledged before it began, all "
        f"in the copy; {len(during)} acknowledged while it ran ({len(in_copy) - len(before)} "
        f"of them in it); {len(acknowledged)} in all; integrity_check ok"
    )


PAGE = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
BACKUPS = "### Backups"
FENCE = re.compile(r"^```(\w*)\s*$")
SIZE = re.compile(r"\d+ bytes")


def _backup_examples() -> list[tuple[str, str]]:
    """Return each shell block of docs/operations.md "### Backups" with the output after it."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(BACKUPS)
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"#{1,3} ", lines[i]))
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    body: list[str] = []
    for line in lines[start:end]:
        match = FENCE.match(line)
        if match and language is None:
            language, body = match.group(1), []
        elif line.startswith("```") and language is not None:
            blocks.append((language, "\n".join(body)))
            language = None
        elif language is not None:
            body.append(line)
    return [
        (text, blocks[index + 1][1])
        for index, (kind, text) in enumerate(blocks)
        if kind == "sh" and index + 1 < len(blocks) and blocks[index + 1][0] == "text"
    ]


async def test_the_backup_example_of_docs_operations_md_runs_as_printed(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Callable[[str], None]
) -> None:
    examples = _backup_examples()
    assert examples, f"no shell block with its output under {BACKUPS}"
    # As `make serve` serves it: ./threadline.db in the folder the command runs in.
    server = spawn_server(tmp_path / "threadline.db")
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREADLINE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    async with connected(server.address) as client:
        thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
        for index in range(20):
            await client.messages.CreateMessage(_message(thread.thread_id, f"{index}"))
        for command, expected in examples:
            done = await asyncio.to_thread(
                subprocess.run,
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            assert SIZE.sub("N bytes", done.stdout.strip()) == SIZE.sub("N bytes", expected)
    assert server.stop() == 0
    counts(f"docs/operations.md backups: {len(examples)} command(s) run as printed")
