"""The server as a process: restarts, kill -9, draining, health, reflection, configuration.

Every test here runs ``python -m threadline_server serve`` as a child process
(the ``spawn_server`` fixture, or ``launch`` below for command lines that
fixture cannot express) and talks to it over gRPC. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc
from threadline_server import __version__

from tests.conftest import LISTENING, ServerProcess, expect_failure, failure

pytestmark = pytest.mark.process

T = TypeVar("T")

THREAD_SERVICE = "threadline.v1.ThreadService"
MESSAGE_SERVICE = "threadline.v1.MessageService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
RPC_TIMEOUT = 10.0
ACCESS_LINE = re.compile(
    r" threadline\.access rpc=(?P<rpc>\S+) code=(?P<code>[A-Z_]+) "
    r"duration_ms=(?P<duration>\d+(?:\.\d+)?) peer=\S+"
)


# -- helpers -----------------------------------------------------------------


@dataclass
class AsyncClient:
    """Stubs for a server process, typed as the grpc.aio stubs they are."""

    channel: grpc.aio.Channel
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub


@asynccontextmanager
async def connected(address: str) -> AsyncIterator[AsyncClient]:
    """A client for a server process, closed on the way out."""
    channel = grpc.aio.insecure_channel(address)
    try:
        yield AsyncClient(
            channel,
            thread_pb2_grpc.ThreadServiceStub(channel),
            message_pb2_grpc.MessageServiceStub(channel),
        )
    finally:
        await channel.close(None)


async def gather_limited(calls: Iterable[Callable[[], Awaitable[T]]], limit: int = 16) -> list[T]:
    """Make the calls with at most limit in flight; results in order.

    Each call is a function that starts it: a grpc.aio call starts the moment
    its stub is invoked, so invoking them all up front would flood the server.
    """
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


def text_message(text: str) -> message_pb2.Message:
    """A user message with one text part."""
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def health_status(channel: grpc.aio.Channel, service: str) -> Any:
    """Health Check for one service name; returns the serving status."""
    response = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT
    )
    return response.status


async def wait_for_exit(child: ServerProcess, within: float) -> int:
    """Wait (without blocking the event loop) for the process to exit; return its code."""
    return await asyncio.to_thread(child.process.wait, within)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll condition until it holds, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def free_port() -> int:
    """A port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def integrity_check(database: Path) -> list[str]:
    """Run PRAGMA integrity_check (and foreign_key_check) on a closed database file."""
    connection = sqlite3.connect(database)
    try:
        rows = [str(r[0]) for r in connection.execute("PRAGMA integrity_check")]
        dangling = connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()
    assert not dangling, f"rows pointing at missing parents: {dangling}"
    return rows


def access_lines(log: str) -> list[re.Match[str]]:
    """The access-log lines of a server log, parsed."""
    lines = [line for line in log.splitlines() if " threadline.access " in line]
    parsed = [ACCESS_LINE.search(line) for line in lines]
    malformed = [line for line, match in zip(lines, parsed, strict=True) if match is None]
    assert not malformed, f"access-log lines without rpc=, code=, duration_ms=: {malformed}"
    return [match for match in parsed if match is not None]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``python -m threadline_server serve`` with exactly the given flags.

    Unlike spawn_server, it adds no --database, so the environment and the
    defaults can be tested. With port set it waits for the port to accept
    connections instead of for the "listening on" log line (which a quiet log
    level hides).
    """
    launched: list[ServerProcess] = []

    def start(*flags: str, env: dict[str, str] | None = None, port: int = 0) -> ServerProcess:
        log_path = tmp_path / f"launched-{time.monotonic_ns()}.log"
        listen = ["--listen", f"127.0.0.1:{port}"]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "threadline_server", "serve", *listen, *flags],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=tmp_path,
            )
        child = ServerProcess(process, port, log_path)
        launched.append(child)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and process.poll() is None:
            if port and port_open(port):
                return child
            match = LISTENING.search(child.log)
            if not port and match:
                child.port = int(match.group(2))
                return child
            time.sleep(0.05)
        raise AssertionError("server did not start:\n" + child.log)

    yield start
    for child in launched:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def run_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m threadline_server ARGS`` to completion (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "threadline_server", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=20,
        check=False,
    )


class HeldWriteLock:
    """An outside connection holding the database's write lock.

    While it is held, every write RPC waits inside the server (its writer's
    BEGIN IMMEDIATE waits out SQLite's busy timeout of 10 s), which makes "a
    call in flight" something a test can arrange.
    """

    def __init__(self, database: Path) -> None:
        self._connection = sqlite3.connect(database, isolation_level=None)
        self._connection.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        """Let the server's writes go on."""
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")
        self._connection.close()


# -- restarts and crashes -------------------------------------------------------


async def test_data_survives_a_clean_restart(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    child = spawn_server(database)
    async with connected(child.address) as client:
        created = await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread=thread_pb2.Thread(title="kept", agent_id="agent-1"), thread_id="kept-1"
            ),
            timeout=RPC_TIMEOUT,
        )
        written = [
            await client.messages.CreateMessage(
                message_pb2.CreateMessageRequest(thread_id="kept-1", message=text_message(f"m{i}")),
                timeout=RPC_TIMEOUT,
            )
            for i in range(3)
        ]
        before = await client.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id="kept-1", view=thread_pb2.THREAD_VIEW_FULL),
            timeout=RPC_TIMEOUT,
        )
    assert child.stop(signal.SIGTERM) == 0
    assert "stopped" in child.log

    again = spawn_server(database)
    async with connected(again.address) as client:
        full = await client.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id="kept-1", view=thread_pb2.THREAD_VIEW_FULL),
            timeout=RPC_TIMEOUT,
        )
        assert full == before
        assert full.title == "kept"
        assert full.agent_id == "agent-1"
        assert full.created_at == created.created_at
        assert full.message_count == 3
        assert list(full.messages) == written
        assert [m.parts[0].text for m in full.messages] == ["m0", "m1", "m2"]
        count = await client.threads.CountThreads(
            thread_pb2.CountThreadsRequest(), timeout=RPC_TIMEOUT
        )
        assert count.count == 1
    assert again.stop(signal.SIGTERM) == 0
    assert integrity_check(database) == ["ok"]


async def test_acknowledged_writes_survive_kill_9(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    child = spawn_server(database)
    acked_threads: list[str] = []
    acked_messages: list[tuple[str, str]] = []
    killed = asyncio.Event()

    async with connected(child.address) as client:
        shared = (
            await client.threads.CreateThread(
                thread_pb2.CreateThreadRequest(thread_id="shared"), timeout=RPC_TIMEOUT
            )
        ).thread_id
        acked_threads.append(shared)

        async def writer(number: int) -> None:
            try:
                while True:
                    thread = await client.threads.CreateThread(
                        thread_pb2.CreateThreadRequest(
                            thread=thread_pb2.Thread(title=f"writer {number}")
                        ),
                        timeout=RPC_TIMEOUT,
                    )
                    acked_threads.append(thread.thread_id)
                    for thread_id in (thread.thread_id, shared):
                        message = await client.messages.CreateMessage(
                            message_pb2.CreateMessageRequest(
                                thread_id=thread_id, message=text_message(f"from {number}")
                            ),
                            timeout=RPC_TIMEOUT,
                        )
                        acked_messages.append((thread_id, message.message_id))
            except grpc.aio.AioRpcError:
                # Once the server is killed, the write in flight was never
                # acknowledged; before that, any error is a failure.
                if not killed.is_set():
                    raise

        writers = [asyncio.create_task(writer(n)) for n in range(6)]
        deadline = time.monotonic() + 10
        while len(acked_messages) < 300 and time.monotonic() < deadline:
            assert not any(w.done() for w in writers), "a writer stopped before the kill"
            await asyncio.sleep(0.05)
        killed.set()
        child.process.kill()  # SIGKILL, with writes in flight
        assert await wait_for_exit(child, 10) == -signal.SIGKILL
        await asyncio.wait_for(asyncio.gather(*writers), timeout=15)
    assert len(acked_messages) >= 50, "too few writes before the kill to test anything"

    again = spawn_server(database)
    async with connected(again.address) as client:
        threads = await gather_limited(
            functools.partial(
                client.threads.GetThread,
                thread_pb2.GetThreadRequest(thread_id=t),
                timeout=RPC_TIMEOUT,
            )
            for t in acked_threads
        )
        assert [t.thread_id for t in threads] == acked_threads
        messages = await gather_limited(
            functools.partial(
                client.messages.GetMessage,
                message_pb2.GetMessageRequest(thread_id=t, message_id=m),
                timeout=RPC_TIMEOUT,
            )
            for t, m in acked_messages
        )
        assert [(m.thread_id, m.message_id) for m in messages] == acked_messages
        # Each thread's message_count agrees with the messages it holds: the
        # counter and the rows were committed together or not at all.
        pages = await gather_limited(
            functools.partial(
                client.messages.ListMessages,
                message_pb2.ListMessagesRequest(thread_id=t.thread_id, page_size=100),
                timeout=RPC_TIMEOUT,
            )
            for t in threads
            if t.thread_id != shared
        )
        counts = [t.message_count for t in threads if t.thread_id != shared]
        assert counts == [len(p.messages) for p in pages]
        shared_now = await client.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=shared), timeout=RPC_TIMEOUT
        )
        assert shared_now.message_count >= sum(1 for t, _ in acked_messages if t == shared)
    assert again.stop(signal.SIGTERM) == 0
    assert integrity_check(database) == ["ok"]


# -- draining ------------------------------------------------------------------


async def test_health_watch_streams_the_current_status(spawn_server):
    child = spawn_server()
    async with grpc.aio.insecure_channel(child.address) as channel:
        call = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=THREAD_SERVICE), timeout=RPC_TIMEOUT
        )
        first = await asyncio.wait_for(call.read(), timeout=5)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        call.cancel()
    assert child.stop() == 0


async def test_sigterm_drains_health_to_not_serving_and_exits_within_grace(spawn_server):
    grace = 5.0
    child = spawn_server(None, "--grace-period", str(int(grace)))
    async with grpc.aio.insecure_channel(child.address) as channel:
        for service in ("", THREAD_SERVICE, MESSAGE_SERVICE):
            assert await health_status(channel, service) == health_pb2.HealthCheckResponse.SERVING
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=THREAD_SERVICE), timeout=30
        )
        first = await asyncio.wait_for(watch.read(), timeout=5)
        assert first.status == health_pb2.HealthCheckResponse.SERVING

        child.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        update = await asyncio.wait_for(watch.read(), timeout=grace)
        assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING
        # A load balancer that saw NOT_SERVING goes away; then nothing is in
        # flight and the server has no reason to wait out the grace period.
        watch.cancel()
        assert await wait_for_exit(child, grace + 5) == 0
        assert time.monotonic() - signalled < grace
    assert "draining" in child.log
    assert "stopped" in child.log


async def test_sigterm_lets_an_in_flight_write_finish(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    child = spawn_server(database, "--grace-period", "5")
    async with connected(child.address) as client:
        lock = HeldWriteLock(database)
        try:
            pending = asyncio.ensure_future(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread_id="in-flight"), timeout=20
                )
            )
            # The call reaches the server over loopback in far less than this,
            # and then waits for the write lock.
            await asyncio.sleep(0.5)
            assert not pending.done()
            child.process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(wait_until, lambda: "draining" in child.log, 5, "draining")
            await asyncio.sleep(0.3)
            assert child.process.poll() is None, "the server quit with a call in flight"
        finally:
            lock.release()
        created = await asyncio.wait_for(pending, timeout=10)
        assert created.thread_id == "in-flight"
        assert await wait_for_exit(child, 10) == 0

    again = spawn_server(database)
    async with connected(again.address) as client:
        kept = await client.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id="in-flight"), timeout=RPC_TIMEOUT
        )
        assert kept.created_at == created.created_at
    assert again.stop() == 0


# -- health and reflection ------------------------------------------------------


async def reflect(channel: grpc.aio.Channel, *requests: Any) -> list[Any]:
    """Send reflection requests on one stream; return the responses."""
    call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter(requests), timeout=RPC_TIMEOUT
    )
    return [response async for response in call]


async def test_health_check_and_reflection(spawn_server):
    child = spawn_server()
    async with grpc.aio.insecure_channel(child.address) as channel:
        for service in ("", THREAD_SERVICE, MESSAGE_SERVICE):
            assert await health_status(channel, service) == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await health_status(channel, "threadline.v1.NoSuchService")
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

        listed, thread_file, message_file, missing = await reflect(
            channel,
            reflection_pb2.ServerReflectionRequest(list_services=""),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=THREAD_SERVICE),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=MESSAGE_SERVICE),
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="threadline.v1.Nope"),
        )
    names = {s.name for s in listed.list_services_response.service}
    assert {THREAD_SERVICE, MESSAGE_SERVICE, HEALTH_SERVICE, REFLECTION_SERVICE} <= names

    def files(response: Any) -> dict[str, descriptor_pb2.FileDescriptorProto]:
        found = {}
        for raw in response.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            found[proto.name] = proto
        return found

    thread_files = files(thread_file)
    assert "threadline/v1/thread.proto" in thread_files
    thread_proto = thread_files["threadline/v1/thread.proto"]
    assert thread_proto.package == "threadline.v1"
    (thread_service,) = [s for s in thread_proto.service if s.name == "ThreadService"]
    assert {"CreateThread", "GetThread", "ListThreads", "DeleteThread"} <= {
        m.name for m in thread_service.method
    }
    message_files = files(message_file)
    assert "threadline/v1/message.proto" in message_files
    assert "MessageService" in {
        s.name for s in message_files["threadline/v1/message.proto"].service
    }
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert child.stop() == 0


# -- configuration ---------------------------------------------------------------


async def create_one_thread(address: str, thread_id: str) -> None:
    """Create a thread with a chosen id on a server."""
    async with connected(address) as client:
        await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )


def thread_ids_in(database: Path) -> list[str]:
    """The thread ids stored in a (closed) database file."""
    connection = sqlite3.connect(database)
    try:
        return [str(r[0]) for r in connection.execute("SELECT thread_id FROM threads")]
    finally:
        connection.close()


async def test_database_comes_from_the_environment(launch, tmp_path):
    from_env = tmp_path / "from-env.db"
    child = launch(
        env={"THREADLINE_DATABASE": str(from_env), "THREADLINE_HTTP_LISTEN": "127.0.0.1:0"}
    )
    await create_one_thread(child.address, "env-thread")
    assert child.stop() == 0
    assert f"database={from_env}" in child.log
    assert thread_ids_in(from_env) == ["env-thread"]
    assert not (tmp_path / "threadline.db").exists()


async def test_database_flag_wins_over_the_environment(spawn_server, tmp_path):
    from_flag = tmp_path / "from-flag.db"
    from_env = tmp_path / "from-env.db"
    child = spawn_server(from_flag, env={"THREADLINE_DATABASE": str(from_env)})
    await create_one_thread(child.address, "flag-thread")
    assert child.stop() == 0
    assert thread_ids_in(from_flag) == ["flag-thread"]
    assert not from_env.exists()


async def test_log_level_comes_from_the_environment(spawn_server):
    child = spawn_server(env={"THREADLINE_LOG_LEVEL": "DEBUG"})
    assert child.stop() == 0
    assert " DEBUG " in child.log


async def test_log_level_flag_wins_over_the_environment(spawn_server):
    child = spawn_server(None, "--log-level", "INFO", env={"THREADLINE_LOG_LEVEL": "DEBUG"})
    await create_one_thread(child.address, "t")
    assert child.stop() == 0
    assert " DEBUG " not in child.log
    assert len(access_lines(child.log)) == 1


async def test_quiet_log_level_from_the_environment_hides_info(launch, tmp_path):
    child = launch(
        "--database",
        str(tmp_path / "quiet.db"),
        env={"THREADLINE_LOG_LEVEL": "WARNING", "THREADLINE_HTTP_LISTEN": "127.0.0.1:0"},
        port=free_port(),
    )
    await create_one_thread(child.address, "quiet")
    assert child.stop() == 0
    assert thread_ids_in(tmp_path / "quiet.db") == ["quiet"]
    assert " INFO " not in child.log
    assert "threadline.access" not in child.log


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("THREADLINE_GRACE_PERIOD", "abc", "THREADLINE_GRACE_PERIOD='abc'"),
        ("THREADLINE_MAX_CONCURRENT_RPCS", "lots", "THREADLINE_MAX_CONCURRENT_RPCS='lots'"),
        ("THREADLINE_READ_CONNECTIONS", "2.5", "THREADLINE_READ_CONNECTIONS='2.5'"),
        ("THREADLINE_LOG_LEVEL", "LOUD", "'LOUD'"),
        ("THREADLINE_GRACE_PERIOD", "-1", "grace period"),
        ("THREADLINE_MAX_CONCURRENT_RPCS", "0", "max concurrent RPCs"),
    ],
)
def test_bad_environment_value_exits_with_a_clear_message(tmp_path, variable, value, says):
    database = tmp_path / "never.db"
    result = run_command(
        "serve", "--listen", "127.0.0.1:0", "--database", str(database), env={variable: value}
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert says in output, output
    assert "listening on" not in output
    assert not database.exists()


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--grace-period", "abc", "--grace-period"),
        ("--max-concurrent-rpcs", "1.5", "--max-concurrent-rpcs"),
        ("--log-level", "LOUD", "LOUD"),
    ],
)
def test_bad_flag_value_exits_with_a_clear_message(tmp_path, flag, value, says):
    result = run_command(
        "serve", "--listen", "127.0.0.1:0", "--database", str(tmp_path / "x.db"), flag, value
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert says in result.stderr


def test_version():
    result = run_command("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"threadline {__version__}"


async def test_access_log_has_one_line_per_rpc(spawn_server):
    child = spawn_server()
    expected: list[tuple[str, str]] = []
    async with connected(child.address) as client:
        thread = await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(), timeout=RPC_TIMEOUT
        )
        expected.append(("/threadline.v1.ThreadService/CreateThread", "OK"))
        await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id, message=text_message("hi")
            ),
            timeout=RPC_TIMEOUT,
        )
        expected.append(("/threadline.v1.MessageService/CreateMessage", "OK"))
        missing = await expect_failure(
            client.threads.GetThread(
                thread_pb2.GetThreadRequest(thread_id="no-such-thread"), timeout=RPC_TIMEOUT
            )
        )
        assert missing.code == grpc.StatusCode.NOT_FOUND
        expected.append(("/threadline.v1.ThreadService/GetThread", "NOT_FOUND"))
        bad = await expect_failure(
            client.threads.ListThreads(
                thread_pb2.ListThreadsRequest(page_size=1000), timeout=RPC_TIMEOUT
            )
        )
        assert bad.code == grpc.StatusCode.INVALID_ARGUMENT
        expected.append(("/threadline.v1.ThreadService/ListThreads", "INVALID_ARGUMENT"))
        await health_status(client.channel, "")
        expected.append(("/grpc.health.v1.Health/Check", "OK"))
    assert child.stop() == 0  # flushes the log
    lines = access_lines(child.log)
    assert [(m["rpc"], m["code"]) for m in lines] == expected
    assert all(float(m["duration"]) >= 0 for m in lines)


async def test_access_log_covers_streaming_rpcs(spawn_server):
    child = spawn_server()
    async with grpc.aio.insecure_channel(child.address) as channel:
        await reflect(channel, reflection_pb2.ServerReflectionRequest(list_services=""))
    assert child.stop() == 0
    rpcs = [(m["rpc"], m["code"]) for m in access_lines(child.log)]
    assert rpcs == [(f"/{REFLECTION_SERVICE}/ServerReflectionInfo", "OK")]


# -- the concurrency cap -----------------------------------------------------------


async def test_calls_over_the_cap_get_resource_exhausted(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    child = spawn_server(database, "--max-concurrent-rpcs", "1")
    async with connected(child.address) as client:
        # Alone, a call is within a cap of one.
        assert await health_status(client.channel, "") == health_pb2.HealthCheckResponse.SERVING

        lock = HeldWriteLock(database)
        try:
            held = asyncio.ensure_future(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread_id="held"), timeout=20
                )
            )
            # Once the held call is in the server, the next call is one too many
            # (a probe sent before it arrives would take the one slot itself).
            await asyncio.sleep(0.5)
            deadline = time.monotonic() + 5
            while True:
                assert not held.done(), "the held call ended while the write lock was held"
                try:
                    await client.threads.CountThreads(
                        thread_pb2.CountThreadsRequest(), timeout=RPC_TIMEOUT
                    )
                except grpc.aio.AioRpcError as error:
                    rejected = failure(error)
                    break
                assert time.monotonic() < deadline, "no call was ever rejected"
                await asyncio.sleep(0.02)
            assert rejected.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert rejected.reason == "TOO_MANY_CALLS"
            # Health is never refused by the cap: load balancers still get an answer.
            assert await health_status(client.channel, "") == health_pb2.HealthCheckResponse.SERVING
            extra = await expect_failure(
                client.threads.CreateThread(
                    thread_pb2.CreateThreadRequest(thread_id="rejected"), timeout=RPC_TIMEOUT
                )
            )
            assert extra.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert extra.reason == "TOO_MANY_CALLS"
        finally:
            lock.release()
        assert (await asyncio.wait_for(held, timeout=15)).thread_id == "held"
        # The slot is free again, and the rejected call wrote nothing.
        count = await client.threads.CountThreads(
            thread_pb2.CountThreadsRequest(), timeout=RPC_TIMEOUT
        )
        assert count.count == 1
    assert child.stop() == 0
