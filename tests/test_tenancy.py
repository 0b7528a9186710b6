"""Tenants side by side: streams, workers, sweeps, recovery and agents never cross between them.

Two tenants may use the same thread id; each sees only its own. The server's
own jobs (expiry, lease checks, recovery after kill -9) act on every tenant,
each in its own tenant. Every test runs on both stores: on PostgreSQL the
keys are made in the test's database by the keys command's own code.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import ServerProcess, expect_failure, failure, start_server_process
from tests.tenants import Metadata, bearer, keys_command, make_key
from tests.test_runs_process import THIRTY_WORDS, echo_request

RPC_TIMEOUT = 10.0
# Each test runs twice, [sqlite] and [postgres] (tests/conftest.py).
BOTH_STORES = True


@dataclass
class Tenant:
    """One tenant's view of a server: its stubs with its key."""

    name: str
    metadata: Metadata
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    workers: worker_pb2_grpc.AgentWorkerServiceAsyncStub

    def say(self, thread_id: str, text: str) -> Any:
        return self.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
                ),
            ),
            metadata=self.metadata,
            timeout=RPC_TIMEOUT,
        )


def tenant(channel: grpc.aio.Channel, name: str, key: str) -> Tenant:
    return Tenant(
        name,
        bearer(key),
        thread_pb2_grpc.ThreadServiceStub(channel),
        message_pb2_grpc.MessageServiceStub(channel),
        run_pb2_grpc.RunServiceStub(channel),
        worker_pb2_grpc.AgentWorkerServiceStub(channel),
    )


@dataclass
class Tenants:
    server: ThreadlineServer
    a: Tenant
    b: Tenant
    c: Tenant


@pytest.fixture
async def start_tenants(
    tmp_path: Path, database_value: str
) -> AsyncIterator[Callable[..., Awaitable[Tenants]]]:
    """Start a server with three tenants' admin keys (and these settings); stop it after."""
    started: list[tuple[ThreadlineServer, grpc.aio.Channel]] = []
    secret = tmp_path / "threadline.key-secret"

    async def start(**settings: Any) -> Tenants:
        keys = {
            name: await make_key(database_value, name, "admin", secret=secret)
            for name in ("a", "b", "c")
        }
        server = ThreadlineServer(
            Settings(
                listen="127.0.0.1:0",
                http_listen="",
                database=database_value,
                key_secret_file=str(secret),
                worker_agents=("w",),
                grace_period=1.0,
                **settings,
            )
        )
        port = await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        started.append((server, channel))
        return Tenants(server, *(tenant(channel, name, keys[name]) for name in ("a", "b", "c")))

    yield start
    for server, channel in started:
        await channel.close(None)
        await server.stop(grace=1.0)


async def _first_event(call: Any) -> run_pb2.RunEvent:
    event: run_pb2.RunEvent = await asyncio.wait_for(call.read(), RPC_TIMEOUT)
    return event


@pytest.mark.api
async def test_two_tenants_watch_threads_of_the_same_id_and_see_only_their_own(start_tenants):
    tenants = await start_tenants()
    a, b = tenants.a, tenants.b
    for side in (a, b):
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="support-42"), metadata=side.metadata
        )
    watch = run_pb2.WatchThreadRequest(thread_id="support-42")
    a_watch = a.runs.WatchThread(watch, metadata=a.metadata)
    b_watch = b.runs.WatchThread(watch, metadata=b.metadata)
    try:
        await a.say("support-42", "from a")
        run = await a.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="support-42", agent_id="echo"), metadata=a.metadata
        )
        ended = await a.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), metadata=a.metadata)
        assert ended.status == run_pb2.RUN_STATUS_COMPLETED
        await b.say("support-42", "from b")
        first_of_a = await _first_event(a_watch)
        first_of_b = await _first_event(b_watch)
        assert first_of_a.message.parts[0].text == "from a"
        # Everything of a's (its message, its whole run) came before b's
        # message: b's stream delivers b's message first, so none of a's.
        assert first_of_b.type == "message.created"
        assert first_of_b.message.parts[0].text == "from b"
        # b's stream of its run, and a's attempt at it.
        b_run = await b.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="support-42", agent_id="echo"), metadata=b.metadata
        )
        streamed = [
            event
            async for event in b.runs.StreamRunEvents(
                run_pb2.StreamRunEventsRequest(run_id=b_run.run_id),
                metadata=b.metadata,
                timeout=RPC_TIMEOUT,
            )
        ]
        assert {event.run_id for event in streamed} == {b_run.run_id}
        stolen = await expect_failure(
            a.runs.StreamRunEvents(
                run_pb2.StreamRunEventsRequest(run_id=b_run.run_id),
                metadata=a.metadata,
                timeout=RPC_TIMEOUT,
            ).read()
        )
        assert stolen.code == grpc.StatusCode.NOT_FOUND
    finally:
        a_watch.cancel()
        b_watch.cancel()
    # Deleting a's thread leaves b's, of the same id, and b's readers.
    await a.threads.DeleteThread(
        thread_pb2.DeleteThreadRequest(thread_id="support-42"), metadata=a.metadata
    )
    kept = await b.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id="support-42"), metadata=b.metadata
    )
    assert kept.message_count == 2  # b's message, and the echo run's answer to it


@pytest.mark.api
async def test_a_worker_claims_only_its_own_tenant_s_runs(start_tenants):
    tenants = await start_tenants()
    a, b = tenants.a, tenants.b
    runs = {}
    for side in (a, b):
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="job"), metadata=side.metadata
        )
        runs[side.name] = await side.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="job", agent_id="w"), metadata=side.metadata
        )
    # b's worker, waiting for work, is not woken by a's new run, nor given it.
    waiting = asyncio.ensure_future(
        b.workers.ClaimRun(
            worker_pb2.ClaimRunRequest(agent_id="w", worker_id="b-1"), metadata=b.metadata
        )
    )
    claimed_by_b = await waiting
    assert claimed_by_b.run.run_id == runs["b"].run_id
    nothing = await b.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(agent_id="w", wait=duration_pb2.Duration(nanos=300_000_000)),
        metadata=b.metadata,
    )
    assert not nothing.HasField("run"), "b's worker must never get a's run"
    claimed_by_a = await a.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(agent_id="w"), metadata=a.metadata
    )
    assert claimed_by_a.run.run_id == runs["a"].run_id
    assert [m.parts[0].text for m in claimed_by_a.messages] == []
    # A run queued while a's worker waits wakes it, and only it gets the run.
    a_waits = asyncio.ensure_future(
        a.workers.ClaimRun(
            worker_pb2.ClaimRunRequest(agent_id="w", wait=duration_pb2.Duration(seconds=5)),
            metadata=a.metadata,
        )
    )
    await a.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id="job-2"), metadata=a.metadata
    )
    later = await a.runs.CreateRun(
        run_pb2.CreateRunRequest(thread_id="job-2", agent_id="w"), metadata=a.metadata
    )
    assert (await asyncio.wait_for(a_waits, RPC_TIMEOUT)).run.run_id == later.run_id


def claim(lease_seconds: int) -> worker_pb2.ClaimRunRequest:
    """A claim of agent w's next run that waits for one, as workers claim.

    On PostgreSQL a claim passes over a thread another transaction holds
    (SKIP LOCKED), so one that does not wait may come back empty while a run
    is queued; with a wait it looks again.
    """
    return worker_pb2.ClaimRunRequest(
        agent_id="w",
        lease_duration=duration_pb2.Duration(seconds=lease_seconds),
        wait=duration_pb2.Duration(seconds=5),
    )


@pytest.mark.api
async def test_expiry_and_lease_checks_act_on_every_tenant_in_its_own(start_tenants):
    tenants = await start_tenants(expiry_sweep_interval=0.1, lease_check_interval=0.1)
    a, b, c = tenants.a, tenants.b, tenants.c
    for side, ttl in ((a, 1), (b, 1), (c, None)):
        thread = thread_pb2.Thread()
        if ttl:
            thread.ttl.FromSeconds(ttl)
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="brief", thread=thread), metadata=side.metadata
        )
    for side in (a, b):
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="work"), metadata=side.metadata
        )
        await side.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="work", agent_id="w"), metadata=side.metadata
        )
    a_claim = await a.workers.ClaimRun(claim(lease_seconds=1), metadata=a.metadata)
    b_claim = await b.workers.ClaimRun(claim(lease_seconds=600), metadata=b.metadata)
    ended = await a.runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=a_claim.run.run_id, timeout=duration_pb2.Duration(seconds=8)),
        metadata=a.metadata,
    )
    assert ended.status == run_pb2.RUN_STATUS_FAILED
    assert ended.error.code == "LEASE_EXPIRED"
    held = await b.runs.GetRun(
        run_pb2.GetRunRequest(run_id=b_claim.run.run_id), metadata=b.metadata
    )
    assert held.status == run_pb2.RUN_STATUS_RUNNING

    async def gone(side: Tenant) -> bool:
        count = await side.threads.CountThreads(
            thread_pb2.CountThreadsRequest(filter=thread_pb2.ThreadFilter(thread_ids=["brief"])),
            metadata=side.metadata,
        )
        return bool(count.count == 0)

    for _ in range(100):
        if not await tenants.server.store.expired_threads(10):
            break
        await asyncio.sleep(0.1)
    assert not await tenants.server.store.expired_threads(10), "the sweep deleted them"
    assert await gone(a)
    assert await gone(b)
    assert not await gone(c), "c's thread of the same id has no ttl"


@pytest.mark.api
async def test_agents_restricted_to_tenants_do_not_exist_for_the_others(start_tenants):
    tenants = await start_tenants(agent_tenants=("echo=a", "w=b"))
    a, b = tenants.a, tenants.b
    for side in (a, b):
        await side.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="t"), metadata=side.metadata
        )
    ran = await a.runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo"), metadata=a.metadata)
    assert ran.response == "hi"
    refused = await expect_failure(
        b.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="t", agent_id="echo"), metadata=b.metadata
        )
    )
    unknown = await expect_failure(
        b.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="t", agent_id="nope"), metadata=b.metadata
        )
    )
    assert refused.code == unknown.code == grpc.StatusCode.NOT_FOUND
    assert refused.reason == unknown.reason == "AGENT_NOT_FOUND"
    assert refused.message == unknown.message.replace("'nope'", "'echo'")
    assert "echo" not in refused.message.split("known agents:")[1]
    # A worker agent served to b alone: a's workers are told it does not exist.
    not_theirs = await expect_failure(
        a.workers.ClaimRun(worker_pb2.ClaimRunRequest(agent_id="w"), metadata=a.metadata)
    )
    assert not_theirs.code == grpc.StatusCode.NOT_FOUND
    await b.runs.CreateRun(
        run_pb2.CreateRunRequest(thread_id="t", agent_id="w"), metadata=b.metadata
    )
    claimed = await b.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(agent_id="w"), metadata=b.metadata
    )
    assert claimed.HasField("run")


@pytest.mark.process
async def test_recovery_after_kill_ends_every_tenant_s_runs_and_restarts_their_queues(
    tmp_path: Path, spawn_server, database_value: str, store_kind: str
):
    secret = tmp_path / "threadline.key-secret"
    keys = {
        name: await make_key(database_value, name, "write", secret=secret) for name in ("a", "b")
    }
    flags = ["--key-secret-file", str(secret)]
    if store_kind == "postgres":
        # PostgreSQL cannot tell a restarted process from another one: the
        # runs the dead process held are ended once its lease runs out.
        flags += ["--server-lease", "2", "--lease-check-interval", "0.2"]
    child = spawn_server(None, *flags)
    started: dict[str, Any] = {}
    async with grpc.aio.insecure_channel(child.address) as channel:
        for name, key in keys.items():
            side = tenant(channel, name, key)
            await side.threads.CreateThread(
                thread_pb2.CreateThreadRequest(thread_id="same"), metadata=side.metadata
            )
            slow = await side.runs.CreateRun(
                echo_request("same", THIRTY_WORDS, delay_ms=1000), metadata=side.metadata
            )
            queued = await side.runs.CreateRun(
                echo_request("same", "next", strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE),
                metadata=side.metadata,
            )
            started[name] = (slow.run_id, queued.run_id)
        # Both slow runs are RUNNING (their first words are out) before the kill.
        for name, key in keys.items():
            side = tenant(channel, name, key)
            events = side.runs.StreamRunEvents(
                run_pb2.StreamRunEventsRequest(run_id=started[name][0]), metadata=side.metadata
            )
            while (await _first_event(events)).type != "message.delta":
                pass
            events.cancel()
    child.stop(signal.SIGKILL)

    again = spawn_server(None, *flags)
    async with grpc.aio.insecure_channel(again.address) as channel:
        for name, key in keys.items():
            side = tenant(channel, name, key)
            slow_id, queued_id = started[name]
            slow = await side.runs.GetRun(
                run_pb2.GetRunRequest(run_id=slow_id), metadata=side.metadata
            )
            if store_kind == "postgres":
                slow = await side.runs.WaitRun(
                    run_pb2.WaitRunRequest(
                        run_id=slow_id, timeout=duration_pb2.Duration(seconds=8)
                    ),
                    metadata=side.metadata,
                )
            assert slow.status == run_pb2.RUN_STATUS_FAILED
            assert slow.error.code == (
                "LEASE_EXPIRED" if store_kind == "postgres" else "SERVER_RESTARTED"
            )
            queued = await side.runs.WaitRun(
                run_pb2.WaitRunRequest(run_id=queued_id, timeout=duration_pb2.Duration(seconds=8)),
                metadata=side.metadata,
            )
            assert queued.status == run_pb2.RUN_STATUS_COMPLETED
            assert queued.response == "next"
    assert again.stop() == 0


# A key made by the command is seen by every process at once, and a revoked
# one refused: both well before the 5 s periodic reload (KEYS_RELOAD_SECONDS),
# so only the command's NOTIFY threadline_keys can make them count in time.
NOTICE_BOUND_SECONDS = 1.0


async def _answer(address: str, key: str) -> str:
    """Call ListThreads with a key on a server; return "ok" or the failure's reason."""
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await thread_pb2_grpc.ThreadServiceStub(channel).ListThreads(
                thread_pb2.ListThreadsRequest(), metadata=bearer(key), timeout=RPC_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            return failure(error).reason
    return "ok"


async def _seconds_until(servers: list[ServerProcess], key: str, answer: str) -> list[float]:
    """Call every server with a key until each gives this answer; return how long each took."""
    started = time.monotonic()
    took: list[float] = []
    for server in servers:
        while (got := await _answer(server.address, key)) != answer:
            assert time.monotonic() - started < NOTICE_BOUND_SECONDS, (server.address, got)
            await asyncio.sleep(0.01)
        took.append(time.monotonic() - started)
    return took


@pytest.mark.process
async def test_on_postgres_the_keys_command_s_changes_count_on_every_process_at_once(
    tmp_path: Path, postgres_url: str, counts: Callable[[str], None]
) -> None:
    secret = ("--key-secret-file", str(tmp_path / "threadline.key-secret"))
    made = keys_command(postgres_url, "create", "--tenant", "acme", "--scope", "write", *secret)
    assert made.returncode == 0, made.stderr
    first = made.stdout.strip()
    servers = [
        start_server_process(tmp_path / "threadline.db", "--database", postgres_url, *secret)
        for _ in range(2)
    ]
    try:
        assert [await _answer(server.address, first) for server in servers] == ["ok", "ok"]
        # A key made while both serve works on both: neither had it when it started.
        made = keys_command(postgres_url, "create", "--tenant", "acme", "--scope", "read", *secret)
        assert made.returncode == 0, made.stderr
        second = made.stdout.strip()
        made_in = await _seconds_until(servers, second, "ok")
        listed = keys_command(postgres_url, "list", *secret)
        assert listed.returncode == 0, listed.stderr
        first_id = first.split("_")[1]
        assert re.search(rf"^{first_id}\s+acme\s+write\s", listed.stdout, re.MULTILINE)
        revoked = keys_command(postgres_url, "revoke", first_id, *secret)
        assert revoked.returncode == 0, revoked.stderr
        refused_in = await _seconds_until(servers, first, "API_KEY_INVALID")
        # The other key of the tenant is untouched.
        assert [await _answer(server.address, second) for server in servers] == ["ok", "ok"]
    finally:
        for server in servers:
            server.stop()
    counts(
        "keys on postgres, 2 processes: a new key worked on both after "
        f"{max(made_in) * 1000:.0f} ms, a revoked one was refused by both after "
        f"{max(refused_in) * 1000:.0f} ms (bound {NOTICE_BOUND_SECONDS:.0f} s, reload every 5 s)"
    )
