"""`threadline migrate`, and servers that refuse a schema newer than they know, on both stores.

Also the API keys of a PostgreSQL database: made and revoked by `threadline
keys` in another process while servers run, they count on every server (the
servers keep the keys in memory and reload them on the command's NOTIFY).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import psycopg
import pytest
from threadline.v1 import thread_pb2, thread_pb2_grpc

from tests.conftest import ROOT, start_server_process

pytestmark = pytest.mark.process


def migrations_of(store_kind: str) -> list[int]:
    """The numbers of a store's migrations (numbers may be skipped: the lead assigns them)."""
    folder = ROOT / "server" / "threadline_server" / "store" / store_kind / "migrations"
    return sorted(int(p.name.split("_", 1)[0]) for p in folder.glob("*.sql"))


def threadline(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the threadline command; return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "threadline_server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


def serve_refused(database: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `threadline serve` on a database that must be refused; return how it ended."""
    return threadline(
        "serve", "--listen", "127.0.0.1:0", "--no-http", "--database", database, cwd=cwd
    )


@pytest.mark.parametrize("store_kind", ["sqlite", "postgres"])
def test_migrate_then_a_schema_newer_than_known_is_refused(
    tmp_path: Path, store_kind: str, request: pytest.FixtureRequest
) -> None:
    database = (
        str(request.getfixturevalue("postgres_url"))
        if store_kind == "postgres"
        else str(tmp_path / "threadline.db")
    )
    known = migrations_of(store_kind)
    newest = known[-1]
    first = threadline("migrate", "--database", database, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"schema version {newest}"
    applied = [line for line in first.stdout.splitlines() if line.startswith("applied")]
    assert len(applied) == len(known)
    again = threadline("migrate", "--database", database, cwd=tmp_path)
    assert again.stdout == f"schema version {newest}\n"

    # As a newer release would leave it.
    if store_kind == "postgres":
        with psycopg.connect(database, autocommit=True) as connection:
            connection.execute(b"UPDATE schema_version SET version = version + 1")
    else:
        with sqlite3.connect(database) as connection:
            connection.execute(f"PRAGMA user_version = {newest + 1}")
    refused = serve_refused(database, tmp_path)
    assert refused.returncode != 0
    assert f"schema is version {newest + 1}, newer than this release knows ({newest})" in (
        refused.stderr
    ), refused.stderr
    assert "listening on" not in refused.stderr
    refused_migrate = threadline("migrate", "--database", database, cwd=tmp_path)
    assert refused_migrate.returncode == 1
    assert "newer than this release knows" in refused_migrate.stderr


async def test_keys_made_and_revoked_by_the_command_count_on_every_postgres_server(
    tmp_path: Path, postgres_url: str
) -> None:
    secret = tmp_path / "keys.secret"
    made = threadline(
        "keys", "create", "--database", postgres_url, "--key-secret-file", str(secret),
        "--tenant", "acme", "--scope", "write", cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    servers = [
        start_server_process(
            tmp_path / "unused.db", "--database", postgres_url, "--key-secret-file", str(secret)
        )
        for _ in range(2)
    ]
    try:
        for server in servers:
            async with grpc.aio.insecure_channel(server.address) as channel:
                stub = thread_pb2_grpc.ThreadServiceStub(channel)
                made_thread = await stub.CreateThread(
                    thread_pb2.CreateThreadRequest(),
                    metadata=(("authorization", f"Bearer {key}"),),
                    timeout=10,
                )
                assert made_thread.thread_id
        key_id = "_".join(key.split("_")[:2])
        revoked = threadline(
            "keys", "revoke", key_id, "--database", postgres_url,
            "--key-secret-file", str(secret), cwd=tmp_path,
        )  # fmt: skip
        assert revoked.returncode == 0, revoked.stderr
        for server in servers:
            async with grpc.aio.insecure_channel(server.address) as channel:
                stub = thread_pb2_grpc.ThreadServiceStub(channel)
                code = None
                # The notice arrives within milliseconds; the reload every 5 s is the net.
                for _ in range(60):
                    try:
                        await stub.CreateThread(
                            thread_pb2.CreateThreadRequest(),
                            metadata=(("authorization", f"Bearer {key}"),),
                            timeout=10,
                        )
                    except grpc.aio.AioRpcError as error:
                        code = error.code()
                        break
                    await asyncio.sleep(0.1)
                assert code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        for server in servers:
            server.stop()
