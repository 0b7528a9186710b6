"""Shared fixtures: a real Threadline server on an ephemeral port over a real SQLite file.

``server`` runs the server in the test's own event loop (fast, one per test).
A test module that sets ``BOTH_STORES = True`` runs each of its tests twice,
``[sqlite]`` and ``[postgres]``: the second over a database of its own in a
throwaway PostgreSQL cluster (tests/pgcluster.py), started once per session;
``spawn_server`` runs ``python -m threadline_server serve`` as a child process
for tests that need signals, kill -9 or the command line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from threadline.v1 import message_pb2_grpc, thread_pb2_grpc
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests import pgcluster

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"(?<!http )listening on (\S+):(\d+)")
HTTP_LISTENING = re.compile(r"http listening on (\S+):(\d+)")
# The kinds of test; every test is exactly one (pyproject.toml describes them).
KINDS = ("unit", "api", "process", "toolchain")


# Tests that run on one pytest-xdist worker, one after another, by the start of
# their ids: each group shares something made once (a module's fixture) or a
# build's output at a fixed path. pytest-xdist 3.8 cannot group by its
# xdist_group mark under pytest 9.2 (pytest-dev/pytest-xdist#1386: the group
# travels in the test's id, which pytest no longer lets a plugin change), so
# the scheduler below takes the groups from here.
XDIST_GROUPS = (
    # `seeded`: a store of 100,000 messages, made once.
    "tests/test_big_threads.py::",
    # `conformance`: builds the gateway into .tools/gateway and runs every scenario, once.
    "tests/test_gateway_conformance.py::",
    # `built` and `live_server`: both wheels built, then installed, once.
    "tests/test_packaging.py::",
    # `ts_project`: one `npm ci` of examples/openapi/ts.
    "tests/test_openapi_clients.py::test_eventsource_",
    # `go_worker`: one `go build` of examples/go/worker.
    "tests/test_clients.py::test_go_worker_",
)


def xdist_group(nodeid: str) -> str | None:
    """The group of XDIST_GROUPS a test belongs to, or None."""
    return next((group for group in XDIST_GROUPS if nodeid.startswith(group)), None)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With --dist loadgroup, keep each of XDIST_GROUPS on one worker; spread every other test.

    Groups, largest first, then the other tests one at a time, in collection
    order, to whichever worker is free (pytest-xdist's loadscope scheduling).
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    # Only under pytest-xdist, which ships no type information.
    from xdist.scheduler import LoadGroupScheduling  # type: ignore[import-untyped]  # noqa: PLC0415

    class GroupScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid) or str(super()._split_scope(nodeid))

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that is not exactly one kind, so `make test-fast` misses none by accident.

    In pytest-xdist's workers the slow kinds come first (toolchain, process,
    api, unit; stable otherwise), so that the long tests start at once and the
    many short ones fill the workers' last minutes.
    """
    wrong = [
        f"{item.nodeid}: {kinds or 'none'}"
        for item in items
        if len(kinds := [k for k in KINDS if item.get_closest_marker(k)]) != 1
    ]
    if wrong:
        names = ", ".join(KINDS)
        listed = "\n".join(wrong)
        raise pytest.UsageError(f"each test must be marked with exactly one of {names}:\n{listed}")
    if hasattr(config, "workerinput"):
        slowest_first = ("toolchain", "process", "api", "unit")
        items.sort(
            key=lambda item: next(
                rank for rank, kind in enumerate(slowest_first) if item.get_closest_marker(kind)
            )
        )


# Lines of counts that tests report (how many requests, writes, bytes), printed
# together at the end of the run, so CI's log shows what each test proved. A
# test records them as user properties of its report, which pytest-xdist sends
# from the worker that ran it to the process that prints the summary (what a
# worker writes to its stdout is lost).
COUNTS_PROPERTY = "counts"
_COUNTS: list[tuple[str, str]] = []


@pytest.fixture
def counts(record_property: Callable[[str, object], None]) -> Callable[[str], None]:
    """Return a function that records one line of counts for the end-of-run summary."""

    def record(line: str) -> None:
        record_property(COUNTS_PROPERTY, line)

    return record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep the counts of a finished test (its teardown report carries all of them)."""
    if report.when == "teardown":
        _COUNTS.extend(
            (report.nodeid, str(value))
            for name, value in report.user_properties
            if name == COUNTS_PROPERTY
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the counts tests reported, in the order of the tests' names (the same every run)."""
    if _COUNTS:
        terminalreporter.section("counts")
        for _, line in sorted(_COUNTS, key=lambda entry: entry[0]):
            terminalreporter.write_line(line)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of a module that sets BOTH_STORES against SQLite and PostgreSQL."""
    if getattr(metafunc.module, "BOTH_STORES", False) and "store_kind" in metafunc.fixturenames:
        metafunc.parametrize("store_kind", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which store the server fixture uses: sqlite unless the module asks for both."""
    return str(getattr(request, "param", "sqlite"))


def pytest_configure(config: pytest.Config) -> None:
    """Make the folder the run's PostgreSQL clusters go in, once per run (not in each worker).

    pytest-xdist's workers inherit its path in their environment; see pytest_sessionfinish.
    """
    if not hasattr(config, "workerinput") and pgcluster.PARENT_VARIABLE not in os.environ:
        os.environ[pgcluster.PARENT_VARIABLE] = str(pgcluster.make_parent())


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop any cluster still running when the session ends, then remove their folder.

    Each worker stops its own cluster when its session ends; this catches the
    cluster of a worker that died (a crash, os._exit) before it could.
    """
    if not hasattr(session.config, "workerinput"):
        parent = os.environ.pop(pgcluster.PARENT_VARIABLE, "")
        if parent:
            pgcluster.stop_all(Path(parent))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pgcluster.Cluster]:
    """A throwaway PostgreSQL cluster for the whole session, stopped at its end.

    Under pytest-xdist each worker has a session of its own, so a cluster of
    its own: its own folder, port and socket. Skips the test when PostgreSQL
    is not installed (CI installs it: .ci/run).
    """
    if pgcluster.find_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (initdb not found)")
    cluster = pgcluster.start(name=os.environ.get("PYTEST_XDIST_WORKER", "main"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: pgcluster.Cluster) -> Iterator[str]:
    """The URL of a fresh database, this test's own, dropped after the test."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture
def database_value(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """What --database is for this test: tmp_path/threadline.db, or a fresh PostgreSQL database."""
    if store_kind == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "threadline.db")


@dataclass
class Client:
    """Stubs for one running server."""

    address: str
    channel: grpc.aio.Channel
    threads: thread_pb2_grpc.ThreadServiceStub
    messages: message_pb2_grpc.MessageServiceStub


@dataclass
class RunningServer:
    """An in-process server and a client connected to it."""

    server: ThreadlineServer
    client: Client
    database: Path
    # The --database value: the SQLite file's path, or a PostgreSQL URL.
    url: str = ""


def connect(address: str) -> Client:
    """Open a channel and stubs to a server address."""
    channel = grpc.aio.insecure_channel(address)
    return Client(
        address=address,
        channel=channel,
        threads=thread_pb2_grpc.ThreadServiceStub(channel),
        messages=message_pb2_grpc.MessageServiceStub(channel),
    )


@pytest.fixture
async def server(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """Start a server on 127.0.0.1:0 over tmp_path/threadline.db (or a PostgreSQL database)."""
    database = tmp_path / "threadline.db"
    # No HTTP side here (tests/test_http.py starts its own): port 8080 may be taken.
    instance = ThreadlineServer(
        Settings(listen="127.0.0.1:0", database=database_value, grace_period=1.0, http_listen="")
    )
    port = await instance.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        yield RunningServer(instance, client, database, database_value)
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


@pytest.fixture
def client(server: RunningServer) -> Client:
    """The client of the in-process server."""
    return server.client


@dataclass
class RpcFailure:
    """What a client learns from a failed call, decoded from google.rpc.Status."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    error_metadata: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)


def failure(error: grpc.aio.AioRpcError) -> RpcFailure:
    """Decode the rich status of a failed call."""
    result = RpcFailure(code=error.code(), message=error.details() or "")
    status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return result
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            result.reason = info.reason
            result.error_metadata = dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            result.fields = [v.field for v in bad.field_violations]
    return result


async def expect_failure(call: Any) -> RpcFailure:
    """Await a call that must fail, and decode its status."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return failure(caught.value)


@dataclass
class ServerProcess:
    """A ``threadline serve`` child process, its output going to a log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    # The HTTP/JSON port, 0 when the process serves no HTTP.
    http_port: int = 0

    @property
    def address(self) -> str:
        """The host:port it listens on."""
        return f"127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """Everything the process has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send a signal and wait for the process to exit; return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=timeout)


def start_server_process(
    database: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    program: Sequence[str] = (sys.executable, "-m", "threadline_server"),
) -> ServerProcess:
    """Run ``python -m threadline_server serve`` (or program's serve) and wait until it listens.

    Output goes to a file, never a pipe: a pipe nobody reads fills up and
    blocks the server's logging. It runs in the database's folder.
    """
    log_path = database.parent / f"server-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                *program,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                str(database),
                # No HTTP side unless extra asks for one (the last flag wins):
                # the default, 127.0.0.1:8080, may be taken.
                "--no-http",
                *extra,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=database.parent,
        )
    # The last of --no-http and --http-listen wins; HTTP is up a moment after gRPC.
    http_flags = [flag for flag in extra if flag in ("--no-http", "--http-listen")]
    wants_http = bool(http_flags) and http_flags[-1] == "--http-listen"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = log_path.read_text(encoding="utf-8", errors="replace")
        match = LISTENING.search(log)
        http_match = HTTP_LISTENING.search(log)
        if match and (http_match or not wants_http):
            http_port = int(http_match.group(2)) if http_match else 0
            return ServerProcess(process, int(match.group(2)), log_path, http_port)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError("server did not start:\n" + log_path.read_text(encoding="utf-8"))


@pytest.fixture
def spawn_server(tmp_path: Path, database_value: str) -> Iterator[Any]:
    """Start server processes for a test; any still running at the end are killed.

    Without a database given, they serve the test's: tmp_path/threadline.db,
    or (a BOTH_STORES module's [postgres] run) its PostgreSQL database.
    """
    started: list[ServerProcess] = []

    def spawn(
        database: Path | None = None, *extra: str, env: dict[str, str] | None = None
    ) -> ServerProcess:
        if database is None and database_value.startswith("postgresql://"):
            # The last --database wins: the path only names the log's folder.
            extra = ("--database", database_value, *extra)
        child = start_server_process(database or tmp_path / "threadline.db", *extra, env=env)
        started.append(child)
        return child

    yield spawn
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()
