"""The Go, TypeScript and Java examples, built on generated/ and run against a live server.

Each example is built the way its users would build their own project:
``go build`` with a ``replace`` directive to generated/go; ``npm ci`` with a
``file:`` dependency on generated/ts (built by its own ``npm ci``); ``mvn
package`` after ``mvn install`` of generated/java. Each client then runs
against a server process started by the test, and the test checks what it
printed, that it exited 0, and that it left no thread behind; against an
address where nothing listens it must print FAIL and exit 1. The Go worker
serves the runs of a worker agent as examples/python/worker.py does.

Builds are the slow part. They run in copies of the projects under pytest's
temporary folder (two test runs at once cannot clash, and the checkout stays
clean) and are quick when warm thanks to the caches: Go's build cache, npm's
cache (``--prefer-offline``), and the Maven repository in .tools/m2, which CI
can keep. A language whose toolchain is not on PATH is skipped, saying which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc

from tests.conftest import ROOT, ServerProcess

EXAMPLES = ROOT / "examples"
M2 = ROOT / ".tools" / "m2"
# One build step with cold caches downloads its dependencies; warm, it takes seconds.
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 60
# The text each client sends to the echo agent, which answers with it word by word.
INPUT = "The quick brown fox jumps over the lazy dog"
# The event types of a streamed echo run, with each run of message.delta shown once.
ECHO_EVENTS = [
    "run.created",
    "message.created",  # the input message
    "message.completed",
    "run.started",
    "message.created",  # the answer, streamed
    "message.delta",
    "message.completed",
    "run.completed",
]
EVENT = re.compile(r'event (\d+) ([a-z_.]+)(?: (".*"))?')
QUICK_JVM = "-XX:TieredStopAtLevel=1"
WORKER_AGENT = "shouter"
RPC_TIMEOUT = 10.0

# A test that builds first may run three build steps.
pytestmark = [pytest.mark.toolchain, pytest.mark.timeout(3 * BUILD_TIMEOUT + RUN_TIMEOUT)]


# -- building ----------------------------------------------------------------


def require(*tools: str) -> None:
    """Skip the test when a tool it needs is not on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH: these examples need that toolchain")


def build(*command: str | Path, cwd: Path) -> None:
    """Run one build step; fail with its output when it fails."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
        env={
            # Maven and the Java client are short-lived JVMs: the quick compiler is enough.
            "MAVEN_OPTS": QUICK_JVM,
            **os.environ,
            "npm_config_update_notifier": "false",
        },
    )
    assert result.returncode == 0, (
        f"`{' '.join(map(str, command))}` in {cwd} exited {result.returncode}:\n"
        f"{result.stdout}\n{result.stderr}"
    )


@pytest.fixture(scope="session")
def go_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go client and worker, built into a folder; Go's build cache makes a rebuild quick."""
    require("go")
    out = tmp_path_factory.mktemp("go-examples")
    build("go", "build", "-o", f"{out}{os.sep}", "./...", cwd=EXAMPLES / "go")
    return out


def copy_projects(tmp_path_factory: pytest.TempPathFactory, *folders: str) -> Path:
    """Copy project folders into a new temporary root, keeping their relative places.

    Builds write node_modules, dist/ and target/ beside the sources; in a copy,
    two test runs at once cannot clash over them, and the checkout stays clean.
    """
    root = tmp_path_factory.mktemp("projects")
    for folder in folders:
        shutil.copytree(
            ROOT / folder,
            root / folder,
            ignore=shutil.ignore_patterns("node_modules", "dist", "target"),
        )
    return root


@pytest.fixture(scope="session")
def ts_client(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs the TypeScript client, after installing and type-checking it."""
    require("node", "npm")
    root = copy_projects(tmp_path_factory, "generated/ts", "examples/ts/client")
    npm_ci = ("npm", "ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error")
    # The stubs package first: its own `npm ci` compiles src/ into dist/ (prepare).
    build(*npm_ci, cwd=root / "generated" / "ts")
    client = root / "examples" / "ts" / "client"
    build(*npm_ci, cwd=client)
    build(client / "node_modules" / ".bin" / "tsc", "--noEmit", cwd=client)
    return [str(client / "node_modules" / ".bin" / "tsx"), str(client / "src" / "client.ts")]


@pytest.fixture(scope="session")
def java_client(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that runs the Java client, after installing the stubs and packaging it."""
    require("java", "javac", "mvn")
    root = copy_projects(tmp_path_factory, "generated/java", "examples/java/client")
    maven = ("mvn", "-B", "-q", f"-Dmaven.repo.local={M2}")
    build(*maven, "install", "-f", root / "generated" / "java" / "pom.xml", cwd=root)
    client = root / "examples" / "java" / "client"
    build(*maven, "package", "-f", client / "pom.xml", cwd=root)
    return ["java", QUICK_JVM, "-jar", str(client / "target" / "threadline-client.jar")]


# -- running -----------------------------------------------------------------


def run(command: list[str], *args: str, env: dict[str, str] | None = None) -> Any:
    """Run an example to its end; return the CompletedProcess."""
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def thread_count(address: str) -> int:
    """How many threads the server has."""
    with grpc.insecure_channel(address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        return threads.CountThreads(thread_pb2.CountThreadsRequest(), timeout=RPC_TIMEOUT).count


def closed_address() -> str:
    """A loopback address where nothing listens (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def check_transcript(output: str, language: str, address: str) -> None:
    """Check what a client printed, step by step."""
    lines = output.splitlines()
    created = re.fullmatch(r"thread (thr_[0-9a-z]{26}) created with metadata .+", lines[0])
    assert created, output
    assert sum(line.endswith(" appended") for line in lines) == 2, output
    assert [line.split(":")[0] for line in lines if line.startswith("page ")] == [
        "page 1",
        "page 2",
    ], output
    assert "listed 2 messages in 2 pages" in lines, output

    events = [EVENT.fullmatch(line) for line in lines if line.startswith("event ")]
    assert events, output
    assert all(events), output
    matches = [match for match in events if match is not None]
    ids = [int(match[1]) for match in matches]
    assert ids == sorted(set(ids)), f"event ids do not only grow:\n{output}"
    types = [match[2] for match in matches]
    shown = [kind for index, kind in enumerate(types) if index == 0 or kind != types[index - 1]]
    assert shown == ECHO_EVENTS, output
    deltas = [json.loads(match[3]) for match in matches if match[3] is not None]
    assert len(deltas) == len(INPUT.split()), output
    assert "".join(deltas) == INPUT, output
    assert f"run answered {json.dumps(INPUT)}" in lines, output

    assert lines[-2] == f"thread {created[1]} deleted", output
    assert lines[-1] == f"OK: {language} client passed every step against {address}", output
    assert thread_count(address) == 0, "the client left its thread behind"


CLIENTS = {"go": "Go", "ts": "TypeScript", "java": "Java"}


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest) -> tuple[str, list[str]]:
    """(language, command) of one client example, built."""
    if request.param == "go":
        command = [str(request.getfixturevalue("go_bin") / "client")]
    else:
        command = request.getfixturevalue(f"{request.param}_client")
    return CLIENTS[request.param], command


def test_client_example_against_a_live_server(client, spawn_server):
    language, command = client
    server = spawn_server()
    result = run(command, "--target", server.address)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    check_transcript(result.stdout, language, server.address)


def test_client_example_fails_without_a_server(client):
    """The target from THREADLINE_TARGET; nothing listens there, so the first call fails."""
    _, command = client
    result = run(command, env={"THREADLINE_TARGET": closed_address()})
    assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert result.stderr.startswith("FAIL: "), result.stderr
    assert "unavailable" in result.stderr.lower(), result.stderr
    assert "OK:" not in result.stdout


# -- the Go worker -----------------------------------------------------------


@dataclass
class Worker:
    """The Go worker as a child process, logging to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        """Everything the worker has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, text: str, within: float = 10) -> None:
        """Wait until the worker has logged text."""
        deadline = time.monotonic() + within
        while text not in self.log:
            assert time.monotonic() < deadline, f"the worker never logged {text!r}:\n{self.log}"
            time.sleep(0.05)


@pytest.fixture
def worker_server(spawn_server) -> ServerProcess:
    """A server whose agent `shouter` is served by workers, checking leases often."""
    server: ServerProcess = spawn_server(
        None, "--worker-agent", WORKER_AGENT, "--lease-check-interval", "0.2"
    )
    return server


@pytest.fixture
def spawn_worker(go_bin: Path, tmp_path: Path) -> Iterator[Any]:
    """Start Go workers for a test; any still running at the end are killed."""
    started: list[Worker] = []

    def spawn(address: str, *extra: str) -> Worker:
        log_path = tmp_path / f"go-worker-{time.monotonic_ns()}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [str(go_bin / "worker"), "--target", address, "--agent", WORKER_AGENT, *extra],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        started.append(Worker(process, log_path))
        return started[-1]

    yield spawn
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


def start_run(address: str, text: str) -> run_pb2.Run:
    """Create a thread and start a run of the worker agent on it, with one user message."""
    with grpc.insecure_channel(address) as channel:
        thread = thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
            thread_pb2.CreateThreadRequest(), timeout=RPC_TIMEOUT
        )
        message = message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
        )
        return run_pb2_grpc.RunServiceStub(channel).CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id, agent_id=WORKER_AGENT, input_messages=[message]
            ),
            timeout=RPC_TIMEOUT,
        )


def wait_run(address: str, run_id: str, within: float = 20) -> run_pb2.Run:
    """WaitRun, bounded."""
    with grpc.insecure_channel(address) as channel:
        return run_pb2_grpc.RunServiceStub(channel).WaitRun(
            run_pb2.WaitRunRequest(
                run_id=run_id, timeout=duration_pb2.Duration(seconds=int(within))
            ),
            timeout=within + 5,
        )


def wait_first_delta(address: str, run_id: str) -> None:
    """Follow a run's events until its answer starts streaming."""
    with grpc.insecure_channel(address) as channel:
        stream = run_pb2_grpc.RunServiceStub(channel).StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run_id), timeout=20
        )
        for event in stream:
            if event.type == "message.delta":
                stream.cancel()  # type: ignore[no-untyped-call]
                return
    pytest.fail(f"run {run_id} ended before its answer streamed")


def test_go_worker_serves_runs_renewing_its_lease(worker_server, spawn_worker):
    address = worker_server.address
    # A 1 s lease, and an answer reported in one batch after 10 x 150 ms: only
    # the background RenewLease keeps the run this worker's meanwhile.
    worker = spawn_worker(address, "--lease-seconds", "1", "--delay-ms", "150", "--batch", "100")
    text = "one two three four five six seven eight nine ten"
    run = wait_run(address, start_run(address, text).run_id)
    assert run.status == run_pb2.RUN_STATUS_COMPLETED, (run, worker.log)
    assert run.response == text.upper()
    assert run.iterations == 2
    assert [(call.tool, call.status) for call in run.tool_calls] == [
        ("word_count", run_pb2.TOOL_CALL_STATUS_SUCCEEDED)
    ]
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (10, 10)

    # It goes on serving: a second run, with the default lease and no delay.
    run = wait_run(address, start_run(address, "again please").run_id)
    assert (run.status, run.response) == (run_pb2.RUN_STATUS_COMPLETED, "AGAIN PLEASE")

    worker.wait_for_log(f"run {run.run_id} completed")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=15) == 0, worker.log
    assert worker.log.rstrip().endswith("stopped"), worker.log


def test_go_worker_drops_a_cancelled_run(worker_server, spawn_worker):
    address = worker_server.address
    worker = spawn_worker(address, "--delay-ms", "200", "--batch", "1")
    run = start_run(address, "one two three four five six seven eight nine ten")
    wait_first_delta(address, run.run_id)
    with grpc.insecure_channel(address) as channel:
        run_pb2_grpc.RunServiceStub(channel).CancelRun(
            run_pb2.CancelRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
    worker.wait_for_log(f"run {run.run_id} was cancelled; dropped it")
    assert wait_run(address, run.run_id).status == run_pb2.RUN_STATUS_CANCELLED
    # Still serving.
    later = wait_run(address, start_run(address, "still there").run_id)
    assert (later.status, later.response) == (run_pb2.RUN_STATUS_COMPLETED, "STILL THERE")


def test_go_worker_fails_its_run_when_stopped(worker_server, spawn_worker):
    address = worker_server.address
    worker = spawn_worker(address, "--delay-ms", "200", "--batch", "1")
    run = start_run(address, "one two three four five six seven eight nine ten")
    wait_first_delta(address, run.run_id)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=15) == 0, worker.log
    ended = wait_run(address, run.run_id)
    assert ended.status == run_pb2.RUN_STATUS_FAILED, (ended, worker.log)
    assert ended.error.code == "WORKER_STOPPED"
    assert "reported FAILED: the worker is stopping" in worker.log
