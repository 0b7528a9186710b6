"""API keys end to end: `threadline keys`, revocation while serving, and the loopback rule.

The keys command runs as a real process against the database a real server
process serves; calls go over real gRPC channels and real HTTP.
"""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from threadline.v1 import thread_pb2, thread_pb2_grpc, worker_pb2, worker_pb2_grpc
from threadline_server.config import Settings
from threadline_server.domain.keys import KeyVerifier
from threadline_server.key_secret import KeySecretFile
from threadline_server.store.sqlite.keys import SqliteKeyStore
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure
from tests.tenants import bearer, keys_command, make_key

KEY = re.compile(r"^tl_([a-z2-7]{16})_[A-Za-z0-9_-]{43}$")
RPC_TIMEOUT = 10.0


def _create(database: Path, tenant: str, scope: str, *extra: str) -> tuple[str, str]:
    """Make a key with the command; return the key and its id."""
    made = keys_command(database, "create", "--tenant", tenant, "--scope", scope, *extra)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    match = KEY.match(key)
    assert match, f"not a key: {key!r}"
    assert match.group(1) in made.stderr
    return key, match.group(1)


async def _list_threads(address: str, key: str | None) -> Any:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = thread_pb2_grpc.ThreadServiceStub(channel)
        return await stub.ListThreads(
            thread_pb2.ListThreadsRequest(), metadata=bearer(key), timeout=RPC_TIMEOUT
        )


@pytest.mark.process
def test_the_keys_command_creates_lists_and_revokes(tmp_path: Path):
    database = tmp_path / "threadline.db"
    missing = keys_command(database, "list")
    assert missing.returncode == 1
    assert "no database" in missing.stderr
    assert not database.exists(), "listing must not create a database"

    key, key_id = _create(database, "acme", "write", "--note", "support app")
    _, read_id = _create(database, "acme", "read")
    secret = Path(f"{database}.key-secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    # Only a digest is stored: neither the key nor its secret part is in the files.
    stored = b"".join(
        path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("threadline.db")
    )
    secret_part = key[len(f"tl_{key_id}_") :]
    assert key.encode() not in stored
    assert secret_part.encode() not in stored

    listed = keys_command(database, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["KEY_ID", "TENANT", "SCOPE", "CREATED", "REVOKED", "NOTE"]
    assert lines[1].split()[:3] == [key_id, "acme", "write"]
    assert lines[1].split()[4:] == ["-", "support", "app"]
    assert lines[2].split()[:3] == [read_id, "acme", "read"]
    assert secret_part not in listed.stdout

    revoked = keys_command(database, "revoke", f"tl_{key_id}")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == f"revoked key {key_id} of tenant acme"
    again = keys_command(database, "list").stdout.splitlines()[1].split()
    assert again[4] != "-", "the revocation time is listed"

    unknown = keys_command(database, "revoke", "aaaaaaaaaaaaaaaa")
    assert unknown.returncode == 1
    assert "no key aaaaaaaaaaaaaaaa" in unknown.stderr
    bad_tenant = keys_command(database, "create", "--tenant", "Not A Tenant", "--scope", "read")
    assert bad_tenant.returncode == 2
    assert "tenant 'Not A Tenant'" in bad_tenant.stderr
    bad_scope = keys_command(database, "create", "--tenant", "acme", "--scope", "root")
    assert bad_scope.returncode == 2


@pytest.mark.process
async def test_a_key_revoked_by_the_command_is_refused_from_the_very_next_call(
    tmp_path: Path, spawn_server
):
    database = tmp_path / "threadline.db"
    key, key_id = _create(database, "acme", "write")
    child = spawn_server(database, "--http-listen", "127.0.0.1:0")
    http = f"http://127.0.0.1:{child.http_port}/v1/threads"
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session:
        await _list_threads(child.address, key)
        async with session.get(http, headers=headers) as response:
            assert response.status == 200

        assert keys_command(database, "revoke", key_id).returncode == 0

        refused = await expect_failure(_list_threads(child.address, key))
        assert refused.code == grpc.StatusCode.UNAUTHENTICATED
        assert refused.reason == "API_KEY_INVALID"
        async with session.get(http, headers=headers) as response:
            assert response.status == 401
            body = await response.json()
            assert response.headers["WWW-Authenticate"] == body["message"]
            assert body["details"][0]["reason"] == "API_KEY_INVALID"
    assert child.stop() == 0


def _serve(*flags: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadline_server", "serve", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


async def _reflect(address: str, key: str | None) -> list[str]:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=bearer(key),
            timeout=RPC_TIMEOUT,
        )
        return [
            service.name
            async for response in call
            for service in response.list_services_response.service
        ]


async def _reflection_refusal(address: str) -> grpc.StatusCode:
    """Open a reflection stream without a key, writing nothing, and return its status.

    A refusal comes at the call's headers, before any request. Writing one the
    server will never read races that refusal in grpc.aio's client, which then
    reports INTERNAL "Internal error from Core" in place of the server's status
    (grpc/grpc#36066).
    """
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )(None, metadata=bearer(None), timeout=RPC_TIMEOUT)
        return await call.code()


async def _health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=RPC_TIMEOUT
        )
        return int(answer.status)


@pytest.mark.process
async def test_without_keys_a_server_serves_loopback_only(tmp_path: Path, spawn_server):
    database = tmp_path / "fresh.db"
    for flags in (
        ("--listen", "0.0.0.0:0", "--no-http"),
        ("--listen", "127.0.0.1:0", "--http-listen", "0.0.0.0:0"),
    ):
        refused = _serve(*flags, "--database", str(database), cwd=tmp_path)
        assert refused.returncode != 0
        assert "refusing to serve on 0.0.0.0:0" in refused.stderr, refused.stderr
        assert "without API keys" in refused.stderr
        assert f"threadline keys create --database {database}" in refused.stderr
        assert not database.exists(), "a refused start touches no database"

    # With a key, it serves on every address: keys required, health open,
    # reflection closed to callers without a key (the default beyond loopback).
    key, _ = _create(database, "default", "read")
    child = spawn_server(database, "--listen", "0.0.0.0:0")
    assert await _health(child.address) == health_pb2.HealthCheckResponse.SERVING
    anonymous = await expect_failure(_list_threads(child.address, None))
    assert anonymous.code == grpc.StatusCode.UNAUTHENTICATED
    assert anonymous.reason == "API_KEY_MISSING"
    assert "threadline keys create" in anonymous.message
    await _list_threads(child.address, key)
    assert await _reflection_refusal(child.address) == grpc.StatusCode.UNAUTHENTICATED
    assert "threadline.v1.ThreadService" in await _reflect(child.address, key)
    assert child.stop() == 0


@pytest.mark.process
def test_keys_whose_secret_is_lost_refuse_to_start(tmp_path: Path):
    database = tmp_path / "threadline.db"
    _create(database, "acme", "write")
    Path(f"{database}.key-secret").unlink()
    refused = _serve(
        "--listen", "127.0.0.1:0", "--no-http", "--database", str(database), cwd=tmp_path
    )
    assert refused.returncode != 0
    assert f"secret file {database}.key-secret is missing" in refused.stderr


@pytest.mark.process
async def test_the_first_key_made_closes_a_loopback_server_to_callers_without_one(
    tmp_path: Path, spawn_server
):
    database = tmp_path / "threadline.db"
    child = spawn_server(database)
    assert "calls without a key act as tenant 'default'" in child.log
    async with grpc.aio.insecure_channel(child.address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        await threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="mine"))
        # Open reflection on loopback, without a key.
        assert "threadline.v1.ThreadService" in await _reflect(child.address, None)

        key, _ = _create(database, "default", "write")

        refused = await expect_failure(threads.ListThreads(thread_pb2.ListThreadsRequest()))
        assert refused.code == grpc.StatusCode.UNAUTHENTICATED
        listed = await threads.ListThreads(thread_pb2.ListThreadsRequest(), metadata=bearer(key))
        assert [t.thread_id for t in listed.threads] == ["mine"], "the data made without keys"
    assert child.stop() == 0


@pytest.mark.api
async def test_scopes_read_write_admin(tmp_path: Path):
    database = tmp_path / "threadline.db"
    keys = {scope: await make_key(database, "acme", scope) for scope in ("read", "write", "admin")}
    server = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="", database=str(database), worker_agents=("w",))
    )
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            threads = thread_pb2_grpc.ThreadServiceStub(channel)
            workers = worker_pb2_grpc.AgentWorkerServiceStub(channel)
            create = thread_pb2.CreateThreadRequest()
            claim = worker_pb2.ClaimRunRequest(agent_id="w")
            denied = await expect_failure(
                threads.CreateThread(create, metadata=bearer(keys["read"]))
            )
            assert denied.code == grpc.StatusCode.PERMISSION_DENIED
            assert denied.reason == "INSUFFICIENT_SCOPE"
            assert denied.error_metadata == {"scope": "read", "required_scope": "write"}
            await threads.ListThreads(
                thread_pb2.ListThreadsRequest(), metadata=bearer(keys["read"])
            )
            await threads.CreateThread(create, metadata=bearer(keys["write"]))
            worker = await expect_failure(workers.ClaimRun(claim, metadata=bearer(keys["write"])))
            assert worker.code == grpc.StatusCode.PERMISSION_DENIED
            assert worker.error_metadata["required_scope"] == "admin"
            await workers.ClaimRun(claim, metadata=bearer(keys["admin"]))
            await threads.CreateThread(create, metadata=bearer(keys["admin"]))
            for malformed in ("Basic dXNlcjpwdw==", "Bearer", "Bearer tl_short_key"):
                bad = await expect_failure(
                    threads.ListThreads(
                        thread_pb2.ListThreadsRequest(), metadata=(("authorization", malformed),)
                    )
                )
                assert bad.code == grpc.StatusCode.UNAUTHENTICATED
                assert bad.reason == "API_KEY_INVALID"
            twice = await expect_failure(
                threads.ListThreads(
                    thread_pb2.ListThreadsRequest(),
                    metadata=bearer(keys["read"]) + bearer(keys["write"]),
                )
            )
            assert twice.code == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(grace=1.0)


@pytest.mark.api
async def test_a_key_check_costs_microseconds(tmp_path: Path, counts):
    """What each call pays: one primary-key lookup and one HMAC (or, without a key, one lookup)."""
    database = tmp_path / "threadline.db"
    key = await make_key(database, "acme", "write")
    for index in range(200):  # a store with keys enough that a scan would show
        await make_key(database, f"t{index}", "read")
    store = SqliteKeyStore.open(str(database))
    secret = KeySecretFile(f"{database}.key-secret")
    try:
        verifier = KeyVerifier(store, secret.read, anonymous_allowed=True)
        authorization = f"Bearer {key}"
        rounds = 5000
        # This thread's CPU time, not the clock's: what a check costs, however
        # busy the machine is (other pytest-xdist workers share its cores).
        started = time.thread_time()
        for _ in range(rounds):
            verifier.resolve(authorization)
        with_key = (time.thread_time() - started) / rounds * 1e6
        started = time.thread_time()
        for _ in range(rounds):
            store.any_active()
        anonymous = (time.thread_time() - started) / rounds * 1e6
    finally:
        store.close()
    counts(
        f"auth: {with_key:.1f} us of CPU per key check (lookup + HMAC-SHA256), "
        f"{anonymous:.1f} us per check that no key exists ({rounds} rounds, "
        f"SQLite {sqlite3.sqlite_version})"
    )
    assert with_key < 200, "a key check should take microseconds"


@pytest.mark.api
async def test_a_key_made_while_serving_works_at_once(tmp_path: Path):
    database = tmp_path / "threadline.db"
    await make_key(database, "acme", "read")
    server = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="", database=str(database))
    )
    port = await server.start()
    try:
        fresh = await make_key(database, "globex", "write")
        listed = await _list_threads(f"127.0.0.1:{port}", fresh)
        assert list(listed.threads) == []
    finally:
        await server.stop(grace=1.0)


@pytest.mark.unit
def test_every_method_has_its_scope_written_down():
    """A method left out of the table would need admin: none is, by accident."""
    from threadline_server.transport.auth import unlisted_methods  # noqa: PLC0415
    from threadline_server.transport.server import SERVICE_NAMES  # noqa: PLC0415

    assert unlisted_methods(SERVICE_NAMES) == []
    assert sorted(unlisted_methods(["grpc.health.v1.Health"])) == [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/List",
        "/grpc.health.v1.Health/Watch",
    ]
