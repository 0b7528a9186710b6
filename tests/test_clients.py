"""The client projects of docs/clients.md, built from nothing and run against a live server.

For each language the test does what the page says, as a new user would. In a
scratch folder it puts a copy of this checkout, named ``threadline`` as the
page expects, and beside it runs every ```sh block of the language's section
in order, in one bash process (so ``cd`` and ``export`` carry over), after
writing each file block (```go title="main.go"```) where its title says. The
one change to a command is the one the page asks for until the packages are
published: ``npm install @threadline/api`` installs the tarball built from the
checkout. Go fetches the modules from the proxy folder the page builds, and
Maven finds the jar the page installs, under their published names.

The programs run against a server the test starts on an ephemeral port; they
read its address from THREADLINE_TARGET, as the page says. What each prints is
compared with the page's output block once server-made ids and event numbers
are normalised; for the stream-and-resume program the test also asks the
server that the program hung up part way (the first stream ended CANCELLED)
and printed every event of the run exactly once, in order. Beyond the page, it
type-checks the TypeScript, vets the Go, and builds a consumer of the Go
gateway module from the same proxy folder.

The Go worker example (examples/go/worker, built in this repository through
go.work) serves the runs of a worker agent, as examples/python/worker.py does.

Caches keep warm runs quick: Go's module and build caches (tools/goproxy
drops the one module version it writes from the module cache, so a copy made
from an older checkout is never used), npm's cache, and the Maven repository
in .tools/m2 (never ~/.m2), which CI can keep.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import grpc
import pytest
from google.protobuf import duration_pb2, json_format, struct_pb2
from threadline.v1 import (
    message_pb2,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)

from tests.conftest import ROOT, ServerProcess
from tests.test_docs import Normaliser, Walkthrough, read_blocks

pytestmark = pytest.mark.toolchain

PAGE = ROOT / "docs" / "clients.md"
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
# The page's projects sit beside a clone of this repository in this folder.
CHECKOUT = "threadline"
M2 = ROOT / ".tools" / "m2"
QUICK_JVM = "-XX:TieredStopAtLevel=1"
# A section with cold caches downloads its toolchain's dependencies; warm, it
# takes well under a minute.
SECTION_TIMEOUT = 600
RUN_TIMEOUT = 60
RPC_TIMEOUT = 10.0
# What Maven Central requires of a pom besides its coordinates.
CENTRAL_POM_FIELDS = (
    "name",
    "description",
    "url",
    "licenses/pom:license/pom:name",
    "developers/pom:developer/pom:name",
    "scm/pom:url",
    "scm/pom:connection",
)
# The resume program reads this many events before it hangs up.
EVENTS_BEFORE_HANGING_UP = 4
FILE_INFO = re.compile(r'(\w+) title="([^"]+)"')
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
EVENT_LINE = re.compile(r'^event (\d+) ([a-z_.]+)(?: "(.*)")?$')
RESUME_LINE = re.compile(r"^resuming after event (\d+)$")
STREAM_CODE = re.compile(r"rpc=/threadline\.v1\.RunService/StreamRunEvents code=(\w+)")


# -- the page ------------------------------------------------------------------


@dataclass
class Step:
    """One block of a section: a file to write, or commands to run and what they print."""

    line: int
    commands: str = ""
    path: str = ""
    content: str = ""
    output: str | None = None


def read_steps(section: str) -> list[Step]:
    """Read a section of the page into steps, refusing a block the test would not run."""
    steps: list[Step] = []
    for info, body, line in read_blocks(Walkthrough(PAGE, section)):
        file = FILE_INFO.fullmatch(info)
        if info == "sh":
            steps.append(Step(line, commands=body))
        elif info == "text":
            assert steps, f"{PAGE.name} line {line}: output before any command"
            assert steps[-1].commands, f"{PAGE.name} line {line}: output after a file"
            assert steps[-1].output is None, f"{PAGE.name} line {line}: a second output"
            steps[-1].output = body
        elif file:
            steps.append(Step(line, path=file.group(2), content=body + "\n"))
        else:
            pytest.fail(
                f"{PAGE.name} line {line}: a ```{info} block; in a language's section every "
                'block is ```sh, its ```text output, or a file (```go title="main.go"```)'
            )
    return steps


def build_script(steps: list[Step], marker: str) -> str:
    """Return a bash script that writes the files and runs the commands, in the page's order.

    Each command block is framed by marker lines, so that what it printed can
    be told apart; the script stops at the first command that fails.
    """
    parts = ["set -eo pipefail"]
    for number, step in enumerate(steps):
        if step.path:
            end = f"{marker}_EOF"
            parts += [
                f"mkdir -p \"$(dirname '{step.path}')\"",
                f"cat > '{step.path}' <<'{end}'\n{step.content}{end}",
            ]
        else:
            parts += [
                f"printf '%s\\n' '{marker} begin {number}'",
                step.commands,
                f"printf '\\n%s\\n' '{marker} end {number}'",
            ]
    return "\n".join(parts) + "\n"


def printed_by(output: str, number: int, marker: str) -> str | None:
    """What command block number printed, or None when it did not finish."""
    match = re.search(
        rf"^{re.escape(marker)} begin {number}\n(.*?)\n?{re.escape(marker)} end {number}$",
        output,
        re.DOTALL | re.MULTILINE,
    )
    return None if match is None else match.group(1)


def copy_checkout(destination: Path) -> None:
    """Copy this checkout's files (tracked, or new and not ignored): the page's clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the work tree is left out
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def require(*tools: str) -> None:
    """Fail, naming them, when tools the page needs are not on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: docs/clients.md needs them")


def tool_environment(server: ServerProcess) -> dict[str, str]:
    """The environment of the page's commands: the user's, plus the server's address."""
    return {
        **os.environ,
        "THREADLINE_TARGET": server.address,
        # Maven: the project's own repository, never ~/.m2.
        "MAVEN_OPTS": f"-Dmaven.repo.local={M2}",
        # Maven, javac, javadoc and the programs are short-lived JVMs: the
        # quick compiler is enough (the install takes half the time).
        "JAVA_TOOL_OPTIONS": QUICK_JVM,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }


@dataclass
class Outcome:
    """What running a section printed, step by step."""

    steps: list[Step]
    printed: dict[int, str]
    project: Path


def run_section(
    section: str,
    server: ServerProcess,
    scratch: Path,
    substitutions: dict[str, str] | None = None,
) -> Outcome:
    """Run a section's steps beside a copy of the checkout; fail on the first failing command."""
    copy_checkout(scratch / CHECKOUT)
    steps = read_steps(section)
    for step in steps:
        for page_text, replacement in (substitutions or {}).items():
            step.commands = step.commands.replace(page_text, replacement)
    marker = f"::clients-{time.monotonic_ns()}::"
    # Where the commands leave the shell: the project's folder.
    cwd_file = scratch / "project-folder"
    script = build_script(steps, marker) + f"pwd > '{cwd_file}'\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=SECTION_TIMEOUT,
        check=False,
        env=tool_environment(server),
    )
    output = ANSI_ESCAPE.sub("", result.stdout)
    printed: dict[int, str] = {}
    for number, step in enumerate(steps):
        if step.path:
            continue
        text = printed_by(output, number, marker)
        assert text is not None, (
            f"{PAGE.name} line {step.line}: `{step.commands.splitlines()[0]}` failed "
            f"(bash exited {result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
        printed[number] = text
    assert result.returncode == 0, result.stderr[-6000:]
    return Outcome(steps, printed, Path(cwd_file.read_text(encoding="utf-8").strip()))


# -- checking what the programs printed ---------------------------------------


def numbered_events(lines: list[str]) -> list[str]:
    """Number event ids in order of first appearance: what differs between servers goes."""
    numbers: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return numbers.setdefault(match.group(2), str(len(numbers) + 1))

    return [
        re.sub(r"^((?:resuming after )?event )(\d+)", lambda m: m.group(1) + number(m), line)
        for line in lines
    ]


def check_outputs(outcome: Outcome) -> None:
    """Compare what each command printed with the page's output block after it."""
    page, real = Normaliser(), Normaliser()
    for number, step in enumerate(outcome.steps):
        if step.output is None:
            continue
        expected = numbered_events(page.text(step.output))
        actual = numbered_events(real.text(outcome.printed[number]))
        assert actual == expected, (
            f"{PAGE.name} line {step.line}: `{step.commands}` printed\n"
            + "\n".join(actual)
            + "\nand the page shows\n"
            + "\n".join(expected)
        )


def resume_output(outcome: Outcome) -> list[str]:
    """The lines the stream-and-resume program printed."""
    (lines,) = [
        text.splitlines()
        for text in outcome.printed.values()
        if any(RESUME_LINE.match(line) for line in text.splitlines())
    ]
    return lines


def check_resumed_exactly_once(outcome: Outcome, server: ServerProcess) -> None:
    """The program hung up part way, and printed each event of its run once, in order."""
    lines = resume_output(outcome)
    started = re.fullmatch(r"run (run_[0-9a-z]{26}) started", lines[0])
    assert started, lines
    resume_at = next(i for i, line in enumerate(lines) if RESUME_LINE.match(line))
    matches = [EVENT_LINE.match(line) for line in lines[1:resume_at] + lines[resume_at + 1 :]]
    events = [(int(m[1]), m[2]) for m in matches if m is not None]
    assert len(events) == len(lines) - 2, f"a line that is no event:\n{lines}"
    # Four events, then the resume after the last of them.
    assert resume_at == 1 + EVENTS_BEFORE_HANGING_UP, lines
    resumed_after = RESUME_LINE.match(lines[resume_at])
    assert resumed_after is not None
    assert int(resumed_after[1]) == events[EVENTS_BEFORE_HANGING_UP - 1][0], lines
    # The first stream ended because the program hung up, while the run went on.
    # Access-log lines are written in batches, up to 50 ms after their call.
    deadline = time.monotonic() + 5
    while len(STREAM_CODE.findall(server.log)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert STREAM_CODE.findall(server.log) == ["CANCELLED", "OK"], server.log

    with grpc.insecure_channel(server.address) as channel:
        stored = [
            (event.event_id, event.type)
            for event in run_pb2_grpc.RunServiceStub(channel).StreamRunEvents(
                run_pb2.StreamRunEventsRequest(run_id=started[1]), timeout=RPC_TIMEOUT
            )
        ]
    assert events == stored, f"printed {events}, the run has {stored}"
    assert stored[-1][1] == "run.completed", stored


def thread_count(address: str) -> int:
    """How many threads the server has."""
    with grpc.insecure_channel(address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        return threads.CountThreads(thread_pb2.CountThreadsRequest(), timeout=RPC_TIMEOUT).count


def run_in(project: Path, *command: str, env: dict[str, str]) -> str:
    """Run one more command in a project; return its stdout, failing with its output."""
    result = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SECTION_TIMEOUT,
        check=False,
        env=env,
    )
    assert result.returncode == 0, f"`{' '.join(command)}` in {project}:\n{result}"
    return result.stdout


# -- the three languages --------------------------------------------------------

# A consumer of the gateway module, beyond the page: the handlers in front of
# the server, asked for one route.
GATEWAY_CONSUMER = """\
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	gateway "github.com/threadline/threadline/generated/go/gateway/threadline/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	mux := runtime.NewServeMux()
	credentials := grpc.WithTransportCredentials(insecure.NewCredentials())
	target := os.Getenv("THREADLINE_TARGET")
	err := gateway.RegisterThreadServiceHandlerFromEndpoint(
		context.Background(), mux, target, []grpc.DialOption{credentials})
	if err != nil {
		log.Fatal(err)
	}
	server := httptest.NewServer(mux)
	defer server.Close()
	response, err := server.Client().Get(server.URL + "/v1/threads:count")
	if err != nil {
		log.Fatal(err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(response.StatusCode, string(body))
}
"""


@pytest.mark.timeout(2 * SECTION_TIMEOUT)
def test_go_project_of_the_page(spawn_server, tmp_path: Path):
    require("go", "git")
    server = spawn_server()
    outcome = run_section("## Go", server, tmp_path)
    check_outputs(outcome)
    check_resumed_exactly_once(outcome, server)
    assert thread_count(server.address) == 2
    env = tool_environment(server)
    run_in(outcome.project, "go", "vet", "./...", env=env)

    # The gateway module, from the same proxy folder, in a module of its own.
    proxy = tmp_path / CHECKOUT / "dist" / "goproxy"
    env |= {
        "GOPROXY": f"file://{proxy},https://proxy.golang.org",
        "GONOSUMDB": "github.com/threadline/threadline",
    }
    consumer = tmp_path / "gateway-consumer"
    consumer.mkdir()
    (consumer / "main.go").write_text(GATEWAY_CONSUMER, encoding="utf-8")
    run_in(consumer, "go", "mod", "init", "example.com/gateway-consumer", env=env)
    run_in(
        consumer,
        "go",
        "get",
        f"github.com/threadline/threadline/generated/go/gateway@v{VERSION}",
        env=env,
    )
    run_in(consumer, "go", "mod", "tidy", env=env)
    assert run_in(consumer, "go", "run", ".", env=env).split() == ["200", '{"count":"2"}']


@pytest.mark.timeout(2 * SECTION_TIMEOUT)
def test_typescript_project_of_the_page(spawn_server, tmp_path: Path):
    require("node", "npm", "git")
    tarball = f"../{CHECKOUT}/generated/ts/threadline-api-{VERSION}.tgz"
    # The page says to do this until the package is published.
    instruction = f"name `{tarball}` in place of `@threadline/api`"
    assert instruction in " ".join(PAGE.read_text(encoding="utf-8").split())
    server = spawn_server()
    outcome = run_section(
        "## TypeScript", server, tmp_path, {"npm install @threadline/api": f"npm install {tarball}"}
    )
    check_outputs(outcome)
    check_resumed_exactly_once(outcome, server)
    assert thread_count(server.address) == 2

    # tsx runs TypeScript without checking types; check them, with the
    # TypeScript the package is built with and the types of this Node.js.
    package = json.loads((ROOT / "generated/ts/package.json").read_text(encoding="utf-8"))
    typescript = f"typescript@{package['devDependencies']['typescript']}"
    node = run_in(outcome.project, "node", "--version", env=os.environ.copy())
    node_types = f"@types/node@{node.strip().lstrip('v').split('.')[0]}"
    env = tool_environment(server)
    run_in(outcome.project, "npm", "install", "--no-save", typescript, node_types, env=env)
    run_in(
        outcome.project,
        "npx",
        "tsc",
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--target",
        "es2022",
        "--types",
        "node",
        *sorted(step.path for step in outcome.steps if step.path),
        env=env,
    )


@pytest.mark.timeout(2 * SECTION_TIMEOUT)
def test_python_project_of_the_page(spawn_server, tmp_path: Path):
    require("python3", "git")
    client = f"../{CHECKOUT}/generated/python"
    # The page says to do this until the package is published.
    instruction = f"name `{client}` in place of `threadline-client`"
    assert instruction in " ".join(PAGE.read_text(encoding="utf-8").split())
    server = spawn_server()
    outcome = run_section(
        "## Python",
        server,
        tmp_path,
        {"pip install --quiet threadline-client": f"pip install --quiet {client}"},
    )
    check_outputs(outcome)
    check_resumed_exactly_once(outcome, server)
    assert thread_count(server.address) == 2
    # A client installs no part of the server.
    installed = run_in(
        outcome.project, ".venv/bin/pip", "list", "--format=freeze", env=os.environ.copy()
    )
    names = {line.split("==")[0].lower() for line in installed.split()}
    assert "threadline-client" in names
    assert not names & {"threadline", "aiohttp", "aiosqlite"}, names
    # The programs type-check against the package's own .pyi types.
    mypy = ROOT / ".venv" / "bin" / "mypy"
    env = {**os.environ, "MYPYPATH": ""}
    run_in(
        outcome.project,
        str(mypy),
        "--strict",
        "--ignore-missing-imports",
        "--python-executable",
        ".venv/bin/python",
        "--no-incremental",
        *sorted(step.path for step in outcome.steps if step.path),
        env=env,
    )


@pytest.mark.timeout(2 * SECTION_TIMEOUT)
def test_java_project_of_the_page(spawn_server, tmp_path: Path):
    require("java", "mvn", "git")
    # The page's install puts the package here; remove any older copy first,
    # so the project can only build against the one the page installs.
    shutil.rmtree(M2 / "dev" / "threadline", ignore_errors=True)
    server = spawn_server()
    outcome = run_section("## Java", server, tmp_path)
    check_outputs(outcome)
    check_resumed_exactly_once(outcome, server)
    assert thread_count(server.address) == 2
    # What Maven Central asks of a release, installed beside the jar.
    installed = M2 / "dev" / "threadline" / "threadline-api" / VERSION
    for kind in ("", "-sources", "-javadoc"):
        assert (installed / f"threadline-api-{VERSION}{kind}.jar").is_file(), kind
    pom_path = installed / f"threadline-api-{VERSION}.pom"
    pom = ElementTree.parse(pom_path).getroot()  # noqa: S314 - the pom this repository wrote
    for field in CENTRAL_POM_FIELDS:
        element = pom.find(f"pom:{field}", {"pom": "http://maven.apache.org/POM/4.0.0"})
        assert element is not None, f"the pom has no {field}"
        assert "".join(element.itertext()).strip(), f"the pom's {field} is empty"


# -- the Go worker -------------------------------------------------------------

WORKER_AGENT = "shouter"
BUILD_TIMEOUT = 300


@pytest.fixture(scope="session")
def go_worker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/go/worker, built against generated/go through go.work; Go caches the build."""
    require("go")
    out = tmp_path_factory.mktemp("go-worker") / "worker"
    result = subprocess.run(
        ["go", "build", "-o", str(out), "./worker"],
        cwd=ROOT / "examples" / "go",
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"go build of examples/go/worker failed:\n{result.stderr}"
    return out


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
def spawn_worker(go_worker: Path, tmp_path: Path) -> Iterator[Any]:
    """Start Go workers for a test; any still running at the end are killed."""
    started: list[Worker] = []

    def spawn(address: str, *extra: str) -> Worker:
        log_path = tmp_path / f"go-worker-{time.monotonic_ns()}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [str(go_worker), "--target", address, "--agent", WORKER_AGENT, *extra],
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


def start_run(address: str, text: str, thread_id: str = "") -> run_pb2.Run:
    """Start a run of the worker agent, with one user message, on a new thread unless given."""
    with grpc.insecure_channel(address) as channel:
        if not thread_id:
            thread_id = (
                thread_pb2_grpc.ThreadServiceStub(channel)
                .CreateThread(thread_pb2.CreateThreadRequest(), timeout=RPC_TIMEOUT)
                .thread_id
            )
        message = message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
        )
        return run_pb2_grpc.RunServiceStub(channel).CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread_id, agent_id=WORKER_AGENT, input_messages=[message]
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


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT)
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


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT)
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


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT)
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


def thread_state(address: str, thread_id: str) -> tuple[dict[str, Any], list[int]]:
    """A thread's state values, and the sources of its checkpoints, newest first."""
    with grpc.insecure_channel(address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        state = threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        listed = threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
    return json_format.MessageToDict(state.values), [c.source for c in listed.checkpoints]


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT)
def test_go_worker_keeps_its_count_in_the_thread_state(worker_server, spawn_worker):
    address = worker_server.address
    worker = spawn_worker(address)
    first = wait_run(address, start_run(address, "hello there").run_id)
    assert first.status == run_pb2.RUN_STATUS_COMPLETED, worker.log
    thread_id = first.thread_id
    assert thread_state(address, thread_id) == (
        {"shouts": 1, "last_shout": "HELLO THERE"},
        [thread_pb2.CHECKPOINT_SOURCE_RUN],
    )
    # The next run reads the count from ClaimRun's state and adds one.
    second = wait_run(address, start_run(address, "and again", thread_id).run_id)
    assert second.status == run_pb2.RUN_STATUS_COMPLETED, worker.log
    assert thread_state(address, thread_id)[0] == {"shouts": 2, "last_shout": "AND AGAIN"}
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=15) == 0, worker.log

    # A worker that fails its run after changing the state: the change is undone.
    failing = spawn_worker(address, "--fail-after-state", "--once")
    third = wait_run(address, start_run(address, "this fails", thread_id).run_id)
    assert (third.status, third.error.code) == (run_pb2.RUN_STATUS_FAILED, "SHOUT_FAILED")
    assert failing.process.wait(timeout=15) == 0, failing.log
    assert f"run {third.run_id} failed on purpose; dropped it" in failing.log
    values, sources = thread_state(address, thread_id)
    assert values == {"shouts": 2, "last_shout": "AND AGAIN"}
    assert sources[:2] == [thread_pb2.CHECKPOINT_SOURCE_RESTORE, thread_pb2.CHECKPOINT_SOURCE_RUN]


def resume(address: str, run_id: str, answer: dict[str, Any]) -> run_pb2.Run:
    """ResumeRun with a JSON answer."""
    with grpc.insecure_channel(address) as channel:
        return run_pb2_grpc.RunServiceStub(channel).ResumeRun(
            run_pb2.ResumeRunRequest(
                run_id=run_id, answer=json_format.ParseDict(answer, struct_pb2.Value())
            ),
            timeout=RPC_TIMEOUT,
        )


@pytest.mark.timeout(BUILD_TIMEOUT + RUN_TIMEOUT)
def test_go_worker_asks_for_approval_with_confirm(worker_server, spawn_worker):
    address = worker_server.address
    worker = spawn_worker(address, "--confirm")
    run = start_run(address, "may I")
    paused = wait_run(address, run.run_id)
    assert paused.status == run_pb2.RUN_STATUS_REQUIRES_ACTION, (paused, worker.log)
    assert paused.required_action.question.text == 'May I shout "may I"?'
    worker.wait_for_log(f"run {run.run_id} paused for approval; dropped it")

    # A wrong answer is refused; the run still waits.
    with grpc.insecure_channel(address) as channel, pytest.raises(grpc.RpcError) as refused:
        run_pb2_grpc.RunServiceStub(channel).ResumeRun(
            run_pb2.ResumeRunRequest(
                run_id=run.run_id,
                answer=json_format.ParseDict({"approved": "yes"}, struct_pb2.Value()),
            ),
            timeout=RPC_TIMEOUT,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "answer.approved" in (refused.value.details() or "")

    resume(address, run.run_id, {"approved": True})
    done = wait_run(address, run.run_id)
    assert (done.status, done.response) == (run_pb2.RUN_STATUS_COMPLETED, "MAY I"), worker.log
    # Claimed twice: once to ask, once to answer.
    assert worker.log.count(f"claimed run {run.run_id}") == 2

    refused_run = start_run(address, "no way")
    assert wait_run(address, refused_run.run_id).status == run_pb2.RUN_STATUS_REQUIRES_ACTION
    resume(address, refused_run.run_id, {"approved": False})
    ended = wait_run(address, refused_run.run_id)
    assert (ended.status, ended.response) == (run_pb2.RUN_STATUS_COMPLETED, "NOT APPROVED")
