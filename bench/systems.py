"""The systems measured: Threadline, the two references and the peers, each started fresh.

Every system is a server process (or two) started in a folder of its own,
pinned to the server's core, and ready when it answers: Threadline and the
references when gRPC health says SERVING, the A2A peer when its port takes a
connection, LangGraph's dev server when GET /ok does. The time from spawn to
ready is the system's start-up time.

SQLite is measured with one server process only: two servers must never
share a SQLite file of a release with the WAL-reset bug (docs/design.md,
"SQLite version"), so a second process is measured on PostgreSQL
("threadline postgres x2" beside "threadline postgres").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.procs import Child, Cores, cpu_seconds, peak_rss_bytes, pinned
from tests import pgcluster

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
VENVS = ROOT / "bench" / ".venvs"
LISTENING = re.compile(r"(http )?listening on (\S+):(\d+)")
START_TIMEOUT = 60.0
# LangGraph's dev server: no browser, no reload, no analytics, no tracing.
LANGGRAPH_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_API_KEY": "",
    "LANGCHAIN_API_KEY": "",
}


class StartError(RuntimeError):
    """A system did not become ready."""


@dataclass
class Running:
    """A started system: its processes, where to call it, how long it took to be ready."""

    name: str
    children: list[Child]
    grpc_targets: list[str] = field(default_factory=list)
    http_base: str = ""
    startup_seconds: float = 0.0
    # Called after the processes stop (a throwaway PostgreSQL cluster's stop).
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def grpc_target(self) -> str:
        """The (first) gRPC host:port."""
        return self.grpc_targets[0]

    def cpu_seconds(self) -> float:
        """CPU time used so far by every process of the system."""
        return sum(cpu_seconds(child.pid) for child in self.children)

    def peak_rss_bytes(self) -> int:
        """Peak resident memory of the system's processes, added up."""
        return sum(peak_rss_bytes(child.pid) for child in self.children)

    def stop(self) -> None:
        """Stop every process of the system."""
        for child in self.children:
            child.stop()
        for cleanup in self.cleanups:
            cleanup()


@dataclass(frozen=True)
class Context:
    """What starting a system needs: a fresh folder, the cores, a database to reuse."""

    folder: Path
    cores: Cores
    database: Path | None = None


Starter = Callable[[Context], Running]


def _wait_for_lines(child: Child, wanted: int) -> list[tuple[bool, str, int]]:
    """Wait until the child has logged `wanted` 'listening on' lines; return (http?, host, port)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = [
            (bool(m.group(1)), m.group(2), int(m.group(3))) for m in LISTENING.finditer(child.log())
        ]
        if len(found) >= wanted:
            return found
        if not child.alive():
            break
        time.sleep(0.005)
    child.stop()
    raise StartError(f"{child.log_path.name} did not start:\n{child.log()[-3000:]}")


def _wait_serving(target: str, child: Child) -> None:
    """Poll gRPC health until SERVING."""
    deadline = time.monotonic() + START_TIMEOUT
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline and child.alive():
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            except grpc.RpcError:
                time.sleep(0.005)
                continue
            if answer.status == health_pb2.HealthCheckResponse.SERVING:
                return
    child.stop()
    raise StartError(f"{target} never reported SERVING:\n{child.log()[-3000:]}")


def _threadline_process(
    context: Context, index: int, database: Path | str, *, http: bool
) -> tuple[Child, list[str], str]:
    command = [
        sys.executable,
        "-m",
        "threadline_server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        database if isinstance(database, str) else str(database.resolve()),
        *(["--http-listen", "127.0.0.1:0"] if http else ["--no-http"]),
        # The load is one tenant's: its fairness cap (2,000 calls/s by default)
        # would measure the cap, not the server.
        "--tenant-calls-per-second",
        "0",
    ]
    child = Child.start(
        pinned(command, context.cores.server_core(index)),
        context.folder / f"threadline-{index}.log",
        cwd=context.folder,
    )
    lines = _wait_for_lines(child, 2 if http else 1)
    grpc_target = next(f"{host}:{port}" for is_http, host, port in lines if not is_http)
    http_base = next((f"http://{host}:{port}" for is_http, host, port in lines if is_http), "")
    _wait_serving(grpc_target, child)
    return child, [grpc_target], http_base


def start_threadline(context: Context) -> Running:
    """Threadline as `make serve` runs it (gRPC and HTTP), on a fresh or a given database."""
    database = context.database or context.folder / "threadline.db"
    child, targets, http_base = _threadline_process(context, 0, database, http=True)
    return Running("threadline", [child], targets, http_base, time.perf_counter() - child.started)


def _start_on_postgres(context: Context, processes: int) -> Running:
    """Threadline processes (gRPC only) on one database of a throwaway PostgreSQL cluster.

    The cluster is started as the tests start theirs (tests/pgcluster.py) and
    stopped with the system; its server processes are not pinned, and their
    CPU time is not in the system's.
    """
    cluster = pgcluster.start()
    try:
        url = cluster.create_database()
        children: list[Child] = []
        targets: list[str] = []
        startup = 0.0
        for index in range(processes):
            child, more, _ = _threadline_process(context, index, url, http=False)
            children.append(child)
            targets += more
            if index == 0:
                startup = time.perf_counter() - child.started
    except BaseException:
        cluster.stop()
        raise
    name = "threadline postgres" + (f" x{processes}" if processes > 1 else "")
    return Running(name, children, targets, "", startup, [cluster.stop])


def start_threadline_postgres(context: Context) -> Running:
    """One Threadline process on PostgreSQL."""
    return _start_on_postgres(context, 1)


def start_threadline_postgres_pair(context: Context) -> Running:
    """Two Threadline processes on one PostgreSQL database, each serving reads and writes."""
    return _start_on_postgres(context, 2)


def _python_server(context: Context, name: str, module: str, *arguments: str) -> Running:
    command = [sys.executable, "-m", module, *arguments]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = Child.start(
        pinned(command, context.cores.server_core()),
        context.folder / f"{name}.log",
        cwd=context.folder,
        env=env,
    )
    (_, host, port), *_ = _wait_for_lines(child, 1)
    _wait_serving(f"{host}:{port}", child)
    return Running(name, [child], [f"{host}:{port}"], "", time.perf_counter() - child.started)


def start_limit(context: Context) -> Running:
    """Start the empty grpc.aio server (bench/limit_server.py)."""
    return _python_server(context, "limit", "bench.limit_server")


def start_naive(context: Context) -> Running:
    """grpc.aio plus one aiosqlite INSERT+COMMIT per write (bench/naive_server.py)."""
    database = str(context.folder / "naive.db")
    return _python_server(context, "naive", "bench.naive_server", "--database", database)


def peer_python(peer: str) -> Path:
    """Return the Python of a peer's own virtual environment (bench/.venvs/PEER)."""
    return VENVS / peer / "bin" / "python"


def peer_missing(peer: str) -> str:
    """Say why a peer cannot run here, or return '' when it can."""
    if not peer_python(peer).exists():
        return f"{VENVS.relative_to(ROOT)}/{peer} is missing: run `make bench-peers`"
    return ""


def start_a2a(context: Context) -> Running:
    """Start the A2A SDK's gRPC server with its SQLite task store (bench/peers/a2a_server.py)."""
    command = [
        str(peer_python("a2a")),
        str(PEERS / "a2a_server.py"),
        "--database",
        str(context.folder / "a2a.db"),
    ]
    child = Child.start(
        pinned(command, context.cores.server_core()), context.folder / "a2a.log", cwd=context.folder
    )
    (_, host, port), *_ = _wait_for_lines(child, 1)
    return Running("a2a", [child], [f"{host}:{port}"], "", time.perf_counter() - child.started)


def free_port() -> int:
    """Return a loopback port that was free a moment ago (langgraph dev takes no port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_langgraph(context: Context) -> Running:
    """`langgraph dev` (in-memory) serving the echo graph, from a copy in the fresh folder.

    It writes its in-memory state's snapshots to .langgraph_api in its working
    folder, hence the copy.
    """
    app = context.folder / "langgraph-app"
    shutil.copytree(PEERS / "langgraph", app, ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    command = [
        str(VENVS / "langgraph" / "bin" / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        "langgraph.json",
        "--n-jobs-per-worker",
        "64",
        "--server-log-level",
        "WARNING",
    ]
    child = Child.start(
        pinned(command, context.cores.server_core()),
        context.folder / "langgraph.log",
        cwd=app,
        env={**os.environ, **LANGGRAPH_ENV},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and child.alive():
        try:
            with urllib.request.urlopen(f"{base}/ok", timeout=1) as answer:  # noqa: S310 - loopback
                if answer.status == 200 and json.loads(answer.read()).get("ok"):
                    return Running(
                        "langgraph", [child], [], base, time.perf_counter() - child.started
                    )
        except OSError:
            time.sleep(0.02)
    child.stop()
    raise StartError(f"langgraph dev did not start:\n{child.log()[-3000:]}")


STARTERS: dict[str, Starter] = {
    "threadline": start_threadline,
    "threadline postgres": start_threadline_postgres,
    "threadline postgres x2": start_threadline_postgres_pair,
    "limit": start_limit,
    "naive": start_naive,
    "langgraph": start_langgraph,
    "a2a": start_a2a,
}
PEER_VENVS = {"langgraph": "langgraph", "a2a": "a2a"}
