"""The walk-throughs in README.md and docs/, run against a real server.

A walk-through is a page (or a section of one) that is a list of ```sh blocks,
each followed by the output it printed in a real session (a ```json or a
```text block). This test runs every ```sh block of a walk-through, in order,
in one bash process, so shell variables that one block sets are there for the
next; and it checks what each block prints against the page's output block,
once the values that differ from one run to the next are normalised. Each
block must exit 0, except one whose output is a grpcurl ``ERROR:``, which must
exit with grpcurl's status for that code (64 plus the gRPC code).

Every fenced block in a walk-through is a command or the output just after
one; anything else is an error, so that a command can never be skipped
without notice. And every shell block anywhere in README.md and docs/ must be
run by some test: `test_every_shell_block_is_run` fails on one that is not.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from threadline.v1 import message_pb2, run_pb2, thread_pb2, webhook_pb2

from tests.conftest import LISTENING

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Where `make serve` listens, as the pages' commands say; the test's server
# listens on ephemeral ports, and putting its addresses in is the only change
# made to the commands.
PAGE_ADDRESSES = {"grpc": "localhost:50051", "http": "localhost:8080"}
OUTPUT_LANGUAGES = ("json", "text")
SHELL_LANGUAGES = ("sh", "bash", "shell", "console")
SCRIPT_TIMEOUT = 60


@dataclass(frozen=True)
class Walkthrough:
    """A page, or one section of it (from its heading to the next of its level)."""

    path: Path
    section: str | None = None

    @property
    def name(self) -> str:
        """The page and section, for messages."""
        where = str(self.path.relative_to(ROOT))
        return f"{where} {self.section!r}" if self.section else where


TASTE = Walkthrough(ROOT / "README.md", "## A taste")
GRPCURL = Walkthrough(DOCS / "grpcurl.md")
HTTP = Walkthrough(DOCS / "http.md")
WALKTHROUGHS = (TASTE, GRPCURL, HTTP)

# Shell blocks run by other tests: the page, and the test module that runs
# its blocks (which must name the page).
RUN_ELSEWHERE = {
    DOCS / "clients.md": ROOT / "tests" / "test_clients.py",
    DOCS / "openapi.md": ROOT / "tests" / "test_openapi_clients.py",
    DOCS / "operations.md": ROOT / "tests" / "test_observability_docs.py",
    DOCS / "security.md": ROOT / "tests" / "test_security_docs.py",
    DOCS / "tls.md": ROOT / "tests" / "test_tls_docs.py",
    DOCS / "scaling.md": ROOT / "tests" / "test_scaling_docs.py",
}
# Single shell blocks run by a test here rather than as a walk-through.
TWO_COMMANDS = Walkthrough(ROOT / "README.md", "## Two commands")

# Values that differ from run to run. Server-made ids are replaced by a
# placeholder numbered in order of first appearance (the first msg_ id seen is
# <msg_1> wherever it appears again), so the page and the real run must refer
# to the same messages in the same places. Times, etags and page tokens are
# replaced by a fixed word. Durations are left alone: every duration in these
# outputs (a ttl) is one the client sent, so it is the same on every run.
# Keys come in both spellings: grpcurl prints proto names, HTTP lowerCamelCase.
SERVER_ID = re.compile(r"(?<![0-9a-z_])(thr|msg|run|call|ckp|act|wh|whd)_[0-9a-z]{26}(?![0-9a-z])")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
VOLATILE_KEYS = {
    "etag": "<etag>",
    "next_page_token": "<page_token>",
    "nextPageToken": "<page_token>",
}
VOLATILE_TEXT = re.compile(r'"(' + "|".join(VOLATILE_KEYS) + r')":(\s*)"[^"]+"')
# How long a tool took: 0 ms on one machine, 1 ms on a slower one, and grpcurl
# leaves a zero out altogether, so these keys are dropped from both sides.
UNSTABLE_KEYS = {"duration_ms", "durationMs"}
UNSTABLE_TEXT = re.compile(
    r',\s*"(?:duration_ms|durationMs)":\s*"\d+"|"(?:duration_ms|durationMs)":\s*"\d+",\s*'
)

# grpcurl names codes as Go does; it exits with 64 plus the code's number.
GRPCURL_ERROR_CODE = re.compile(r"^\s*Code: (\w+)$", re.MULTILINE)
GO_CODE_NAMES: dict[str, int] = {
    "".join(word.capitalize() for word in code.name.split("_")): int(code.value[0])
    for code in grpc.StatusCode
} | {"OK": 0, "Canceled": 1}


@dataclass
class Example:
    """One command of a walk-through and the output the page shows for it."""

    command: str
    language: str
    output: str
    line: int
    page: str

    @property
    def expected_exit(self) -> int:
        """The exit status the command must end with."""
        if self.language != "text" or not self.output.startswith("ERROR:"):
            return 0
        match = GRPCURL_ERROR_CODE.search(self.output)
        assert match, f"{self.page} line {self.line}: a grpcurl ERROR output without a Code: line"
        assert match.group(1) in GO_CODE_NAMES, f"{self.page} line {self.line}: unknown code"
        return 64 + GO_CODE_NAMES[match.group(1)]

    @property
    def title(self) -> str:
        """Where the command is and what it calls, for failure messages."""
        words = self.command.split()
        first_line = self.command.strip().splitlines()[0] if self.command.strip() else ""
        method = next((w.rstrip(")") for w in words if "/" in w and w[0].isalpha()), first_line)
        return f"{self.page} line {self.line} ({method})"


def read_blocks(walkthrough: Walkthrough) -> list[tuple[str, str, int]]:
    """Return (info string, body, line number) of every fenced block of the walk-through."""
    lines = walkthrough.path.read_text(encoding="utf-8").splitlines()
    start, level = 0, ""
    if walkthrough.section is not None:
        assert walkthrough.section in lines, f"{walkthrough.name}: no such heading"
        start = lines.index(walkthrough.section) + 1
        level = walkthrough.section.split(" ")[0]
    blocks: list[tuple[str, str, int]] = []
    info: str | None = None
    body: list[str] = []
    opened = 0
    for number, line in enumerate(lines[start:], start + 1):
        if info is None:
            heading = line.split(" ")[0]
            if level and line.startswith("#") and set(heading) == {"#"} and heading <= level:
                break
            if line.startswith("```"):
                info, body, opened = line[3:].strip(), [], number
        elif line.rstrip() == "```":
            blocks.append((info, "\n".join(body), opened))
            info = None
        else:
            body.append(line)
    assert info is None, f"{walkthrough.name} line {opened}: the ``` block is never closed"
    return blocks


def read_examples(walkthrough: Walkthrough) -> list[Example]:
    """Pair each ```sh block of the walk-through with the output block after it."""
    blocks = read_blocks(walkthrough)
    page = str(walkthrough.path.relative_to(ROOT))
    examples: list[Example] = []
    index = 0
    while index < len(blocks):
        info, body, line = blocks[index]
        assert info == "sh", (
            f"{page} line {line}: a ```{info} block that follows no ```sh block; every block "
            "in a walk-through is a command or the output after one"
        )
        language, output, _ = blocks[index + 1] if index + 1 < len(blocks) else ("", "", 0)
        assert language in OUTPUT_LANGUAGES, (
            f"{page} line {line}: the ```sh block has no ```json or ```text output block after it"
        )
        examples.append(Example(body, language, output, line, page))
        index += 2
    return examples


@dataclass
class Normaliser:
    """Replaces what differs between runs; one per session, the page's or the real one."""

    ids: dict[str, str] = field(default_factory=dict)

    def server_id(self, match: re.Match[str]) -> str:
        value, prefix = match.group(0), match.group(1)
        if value not in self.ids:
            count = sum(1 for seen in self.ids if seen.startswith(prefix))
            self.ids[value] = f"<{prefix}_{count + 1}>"
        return self.ids[value]

    def string(self, value: str) -> str:
        return TIMESTAMP.sub("<time>", SERVER_ID.sub(self.server_id, value))

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: VOLATILE_KEYS[key]
                if key in VOLATILE_KEYS and isinstance(item, str) and item
                else self.json(item)
                for key, item in value.items()
                if key not in UNSTABLE_KEYS
            }
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, str):
            return self.string(value)
        return value

    def text(self, value: str) -> list[str]:
        """Normalise text output, line by line; tabs are expanded and trailing space dropped."""
        value = UNSTABLE_TEXT.sub("", value)
        value = VOLATILE_TEXT.sub(lambda m: f'"{m.group(1)}":{m.group(2)}"<{m.group(1)}>"', value)
        lines = [self.string(line).expandtabs().rstrip() for line in value.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines


def build_script(examples: list[Example], addresses: dict[str, str], marker: str) -> str:
    """Return one bash script that runs every command, each between two marker lines."""
    parts = [
        "set -o pipefail",
        # ERR fires for every command that fails, also in the middle of a
        # block; keep the first failure of the block as its status.
        """trap '__rc=$?; [ "$__status" -ne 0 ] || __status=$__rc' ERR""",
    ]
    for number, example in enumerate(examples):
        command = example.command
        for kind, page_address in PAGE_ADDRESSES.items():
            command = command.replace(page_address, addresses[kind])
        parts += [
            "__status=0",
            f"printf '%s\\n' '{marker} begin {number}'",
            command,
            f"printf '\\n%s %s\\n' '{marker} end {number}' \"$__status\"",
        ]
    return "\n".join(parts) + "\n"


def split_output(output: str, count: int, marker: str) -> list[tuple[str, int]]:
    """Return what each command printed, and its exit status."""
    results: list[tuple[str, int]] = []
    for number in range(count):
        match = re.search(
            rf"^{re.escape(marker)} begin {number}\n(.*?)\n{re.escape(marker)} end {number} (\d+)$",
            output,
            re.DOTALL | re.MULTILINE,
        )
        assert match, f"command {number} did not finish; everything bash printed:\n{output}"
        results.append((match.group(1), int(match.group(2))))
    return results


def json_documents(text: str) -> list[Any]:
    """Parse the JSON documents printed one after another (one per streamed message)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = 0
    text = text.strip()
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        while position < len(text) and text[position].isspace():
            position += 1
    return documents


def compare(example: Example, printed: str, page: Normaliser, real: Normaliser) -> str | None:
    """Return a description of how the output differs from the page's, or None."""
    if example.language == "json":
        expected = page.json(json_documents(example.output))
        try:
            actual = real.json(json_documents(printed))
        except json.JSONDecodeError:
            return f"{example.title}: the output is not JSON:\n{printed}"
        if expected == actual:
            return None
        expected_lines = json.dumps(expected, indent=2).splitlines()
        actual_lines = json.dumps(actual, indent=2).splitlines()
    else:
        expected_lines = page.text(example.output)
        actual_lines = real.text(printed)
        if expected_lines == actual_lines:
            return None
    diff = difflib.unified_diff(expected_lines, actual_lines, "page", "actual", lineterm="")
    return f"{example.title}: the output differs from the page's:\n" + "\n".join(diff)


def run_walkthrough(walkthrough: Walkthrough, spawn_server: Any, tmp_path: Path) -> None:
    """Run a walk-through against a fresh server and compare every output with the page."""
    for tool in ("grpcurl", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not on PATH; `make tools` builds grpcurl into .tools/bin")
    examples = read_examples(walkthrough)
    assert examples, f"{walkthrough.name} has no commands"
    # The pages' webhooks call this machine, which the server must be told it may.
    child = spawn_server(None, "--http-listen", "127.0.0.1:0", "--webhook-allow", "127.0.0.1")
    addresses = {"grpc": child.address, "http": f"127.0.0.1:{child.http_port}"}
    marker = f"@@docs-{secrets.token_hex(8)}@@"
    script = tmp_path / "walkthrough.sh"
    script.write_text(build_script(examples, addresses, marker), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in {"BASH_ENV", "ENV"}}
    finished = subprocess.run(
        ["bash", str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
        timeout=SCRIPT_TIMEOUT,
        check=False,
        text=True,
    )
    results = split_output(finished.stdout, len(examples), marker)
    page, real = Normaliser(), Normaliser()
    problems: list[str] = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != example.expected_exit:
            problems.append(
                f"{example.title}: exited {status}, expected {example.expected_exit}:\n{printed}"
            )
        difference = compare(example, printed, page, real)
        if difference:
            problems.append(difference)
    assert not problems, "\n\n".join(problems) + "\n\nserver log:\n" + child.log


@pytest.mark.parametrize("walkthrough", WALKTHROUGHS, ids=lambda w: w.name)
def test_walkthrough_runs_as_printed(walkthrough: Walkthrough, spawn_server, tmp_path: Path):
    run_walkthrough(walkthrough, spawn_server, tmp_path)


# -- coverage: every RPC and every route has an example ---------------------------

# RPCs the grpcurl walk-through leaves out on purpose, and why.
WITHOUT_EXAMPLE = {
    # It streams until the client leaves, so grpcurl would wait for ever; the
    # page describes it beside the walk-through instead.
    "threadline.v1.RunService/WatchThread",
}
# Worker RPCs are for worker processes, not people: their example is
# examples/python/worker.py, run by tests/test_worker.py.
WITHOUT_EXAMPLE_SERVICES = {"threadline.v1.AgentWorkerService"}


def test_every_rpc_has_a_grpcurl_example():
    commands = "\n".join(e.command for e in read_examples(GRPCURL))
    for module in (thread_pb2, message_pb2, run_pb2, webhook_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                name = f"{service.full_name}/{method.name}"
                if name in WITHOUT_EXAMPLE:
                    continue
                assert re.search(rf"{re.escape(name)}(?!\w)", commands), (
                    f"{GRPCURL.name} has no example of {name}"
                )


def http_requests(command: str) -> list[tuple[str, str]]:
    """The (method, path) of each curl call in a command, shell variables as "x"."""
    requests = []
    for piece in re.split(r"(?=\bcurl )", command)[1:]:
        call = piece.split("|")[0]
        url = re.search(rf"{re.escape(PAGE_ADDRESSES['http'])}(/[^\s'\"?]*)", call)
        if url is None:
            continue
        path = re.sub(r"\$\w+", "x", url.group(1))
        explicit = re.search(r"-X (\w+)", call)
        sends_body = re.search(r"(^|\s)-d |--data ", call) and not re.search(r"-\w*G", call)
        method = explicit.group(1) if explicit else "POST" if sends_body else "GET"
        requests.append((method, path))
    return requests


def test_every_http_route_has_a_curl_example():
    from threadline_server.http.routes import Router, RoutingError, bindings_for  # noqa: PLC0415
    from threadline_server.transport.server import SERVICE_NAMES  # noqa: PLC0415

    router = Router(bindings_for(SERVICE_NAMES))
    served: set[str] = set()
    for example in read_examples(HTTP):
        for method, path in http_requests(example.command):
            # The examples of paths that nobody serves route nowhere.
            with contextlib.suppress(RoutingError):
                served.add(router.route(method, path).binding.rpc)
    for binding in router.bindings:
        if binding.rpc.split("/")[1] in WITHOUT_EXAMPLE_SERVICES:
            continue
        assert binding.rpc in served, f"{HTTP.name} has no curl {binding.rpc}"


# -- every shell block is run ------------------------------------------------------


def shell_blocks(path: Path) -> list[tuple[str, int]]:
    """Return (body, line) of every shell block of a page."""
    return [
        (body, line)
        for info, body, line in read_blocks(Walkthrough(path))
        if info.split(" ")[0] in SHELL_LANGUAGES
    ]


def test_every_shell_block_is_run():
    """A command on a page that no test runs could rot unseen: there must be none."""
    pages = [ROOT / "README.md", *sorted(DOCS.glob("**/*.md"))]
    run_here = {
        (str(w.path), line)
        for w in (*WALKTHROUGHS, TWO_COMMANDS)
        for info, _, line in read_blocks(w)
        if info == "sh"
    }
    unrun: list[str] = []
    for page in pages:
        runner = RUN_ELSEWHERE.get(page)
        if runner is not None:
            relative = str(page.relative_to(ROOT))
            assert relative in runner.read_text(encoding="utf-8"), (
                f"{runner.name} is said to run the commands of {relative} but never names it"
            )
            continue
        unrun += [
            f"{page.relative_to(ROOT)} line {line}: {body.splitlines()[0] if body else ''}"
            for body, line in shell_blocks(page)
            if (str(page), line) not in run_here
        ]
    assert not unrun, "shell blocks that no test runs:\n" + "\n".join(unrun)


def test_two_commands_are_the_readme_s():
    """The README's two commands are exactly `make serve` and `make test`, each a target."""
    (block,) = [body for info, body, _ in read_blocks(TWO_COMMANDS) if info == "sh"]
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["make serve", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^serve:", makefile, re.MULTILINE)
    assert re.search(r"^test:", makefile, re.MULTILINE)
    # `make test` is the command CI runs (and so runs this very test).
    assert re.search(r"^make test$", ci, re.MULTILINE), ".ci/run does not run `make test`"


def test_make_serve_serves(tmp_path: Path):
    """`make serve` starts the server; its variables move it off the default ports."""
    env = {
        **os.environ,
        "THREADLINE_LISTEN": "127.0.0.1:0",
        "THREADLINE_HTTP_LISTEN": "127.0.0.1:0",
        "THREADLINE_DATABASE": str(tmp_path / "serve.db"),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        match = None
        while match is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.1)
            match = LISTENING.search(log_path.read_text(encoding="utf-8", errors="replace"))
        assert match, "make serve did not start:\n" + log_path.read_text(encoding="utf-8")
        with grpc.insecure_channel(f"127.0.0.1:{match.group(2)}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            answer = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
