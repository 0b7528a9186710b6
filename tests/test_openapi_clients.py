"""Clients generated from the served OpenAPI 3.1 document, and a real EventSource, against a server.

docs/openapi.md shows how to generate a TypeScript client (openapi-typescript
and openapi-fetch) and a Python client (openapi-python-client) from
/openapi.json, and how to follow events with EventSource. These tests run the
commands of each of its sections, as written but for the server's address, in
a copy of examples/openapi under pytest's temporary folder, against a server
process on free ports, and compare what they print with the page, as
tests/test_docs.py does for the walk-throughs (server-made ids, times, event
ids and timings normalised). The examples check every step
themselves (create, get, update with PATCH on the simple path, list and delete
a thread; create, get, list, update and delete its messages) and exit 1 on any
failure; the TypeScript one is type-checked by tsc and the Python one by mypy
against the client just generated.

The EventSource tests run examples/openapi/ts/src/events.ts (the `eventsource`
package, a WHATWG EventSource) against an in-process server whose retry hint
and keepalive interval are shortened: each listener gets exactly the events of
its type, in order, with ids; a stream cut by its deadline resumes with
Last-Event-ID with nothing missed or repeated, across idle gaps filled with
keepalive comments; and after a run's last event the reconnect gets 204 and
EventSource stops.

They need node and npm (`toolchain`); npm's cache makes `npm ci` quick when
warm. The page's commands expect the project's virtual environment as .venv;
the copy links to this checkout's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from threadline_server.config import Settings
from threadline_server.http import streaming as streaming_module
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import ROOT
from tests.test_docs import (
    PAGE_ADDRESSES,
    Normaliser,
    Walkthrough,
    build_script,
    compare,
    read_examples,
    shell_blocks,
    split_output,
)

pytestmark = [pytest.mark.toolchain, pytest.mark.timeout(300)]

PAGE = ROOT / "docs" / "openapi.md"
TYPESCRIPT = Walkthrough(PAGE, "## A TypeScript client")
EVENTSOURCE = Walkthrough(PAGE, "## Follow events with EventSource")
PYTHON = Walkthrough(PAGE, "## A Python client")
SECTION_TIMEOUT = 240
ENV = {**os.environ, "npm_config_update_notifier": "false", "npm_config_prefer_offline": "true"}


def require(*tools: str) -> None:
    """Skip the test when a tool it needs is not on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on PATH")


def copy_examples(root: Path) -> Path:
    """A copy of examples/openapi under root, with .venv linked to this checkout's."""
    shutil.copytree(
        ROOT / "examples" / "openapi",
        root / "examples" / "openapi",
        ignore=shutil.ignore_patterns("node_modules", "threadline_api_client", "threadline.d.ts"),
    )
    (root / ".venv").symlink_to(ROOT / ".venv")
    return root


VARYING = (
    # How long openapi-typescript took.
    (re.compile(r"\[[0-9.]+m?s\]"), "[<elapsed>]"),
    # Event ids, which count every event the server stored before.
    (re.compile(r'"(id|eventId)":"[0-9]+"'), r'"\1":"<event_id>"'),
)


@dataclass
class PageNormaliser(Normaliser):
    """test_docs' Normaliser, and the server's address and what else differs between runs."""

    address: str = PAGE_ADDRESSES["http"]

    def text(self, value: str) -> list[str]:
        value = value.replace(self.address, PAGE_ADDRESSES["http"])
        for pattern, replacement in VARYING:
            value = pattern.sub(replacement, value)
        return super().text(value)


def run_section(walkthrough: Walkthrough, root: Path, addresses: dict[str, str]) -> None:
    """Run a section's commands in one bash from root; each must print what the page shows."""
    examples = read_examples(walkthrough)
    assert examples, f"{walkthrough.name} has no commands"
    marker = f"@@docs-{time.monotonic_ns()}@@"
    script = root / "section.sh"
    script.write_text(build_script(examples, addresses, marker), encoding="utf-8")
    env = {k: v for k, v in ENV.items() if k not in {"BASH_ENV", "ENV", "VIRTUAL_ENV"}}
    finished = subprocess.run(
        ["bash", str(script)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
        timeout=SECTION_TIMEOUT,
        check=False,
        text=True,
    )
    results = split_output(finished.stdout, len(examples), marker)
    page, real = PageNormaliser(), PageNormaliser(address=addresses["http"])
    problems = []
    for example, (printed, status) in zip(examples, results, strict=True):
        if status != 0:
            problems.append(f"{example.title}: exited {status}:\n{printed}")
        difference = compare(example, printed, page, real)
        if difference:
            problems.append(difference)
    assert not problems, "\n\n".join(problems)


@pytest.fixture
def addresses(spawn_server) -> dict[str, str]:
    """The gRPC and HTTP addresses of a server process, as test_docs names them."""
    child = spawn_server(None, "--http-listen", "127.0.0.1:0")
    return {"grpc": child.address, "http": f"127.0.0.1:{child.http_port}"}


def test_every_command_of_the_page_is_run_here():
    sections = (TYPESCRIPT, EVENTSOURCE, PYTHON)
    run = sum(len(read_examples(section)) for section in sections)
    assert run == len(shell_blocks(PAGE)), f"{PAGE.name} has commands in no section run here"


def test_a_typescript_client_from_the_served_document(addresses, tmp_path):
    require("node", "npm", "curl")
    root = copy_examples(tmp_path)
    run_section(TYPESCRIPT, root, addresses)
    generated = root / "examples" / "openapi" / "ts" / "src" / "threadline.d.ts"
    assert '"/v1/threads/{thread_id}/messages/{message_id}"' in generated.read_text()
    # The same project follows a run's events with EventSource.
    run_section(EVENTSOURCE, root, addresses)


def test_a_python_client_from_the_served_document(addresses, tmp_path):
    require("curl")
    run_section(PYTHON, copy_examples(tmp_path), addresses)
    package = tmp_path / "examples" / "openapi" / "python" / "threadline_api_client"
    assert (package / "models" / "thread_input.py").is_file()


# -- EventSource --------------------------------------------------------------------------


@dataclass
class Live:
    """An in-process server with short SSE intervals, and the TypeScript project to run."""

    base: str
    session: aiohttp.ClientSession
    project: Path

    async def post(self, path: str, body: Any) -> Any:
        async with self.session.post(self.base + path, json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def events(self, url: str, *arguments: str) -> asyncio.subprocess.Process:
        """Start events.ts on a stream URL; its output is one JSON object per line."""
        return await asyncio.create_subprocess_exec(
            str(self.project / "node_modules" / ".bin" / "tsx"),
            "src/events.ts",
            url,
            *arguments,
            cwd=self.project,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=ENV,
        )


@pytest.fixture(scope="module")
def ts_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/openapi/ts, installed with `npm ci`, in a temporary folder."""
    require("node", "npm")
    project = copy_examples(tmp_path_factory.mktemp("sse")) / "examples" / "openapi" / "ts"
    installed = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=SECTION_TIMEOUT,
        check=False,
        env=ENV,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return project


@pytest.fixture
async def live(tmp_path, ts_project, monkeypatch) -> AsyncIterator[Live]:
    monkeypatch.setattr(streaming_module, "SSE_RETRY_MILLISECONDS", 300)
    monkeypatch.setattr(streaming_module, "SSE_KEEPALIVE_SECONDS", 0.2)
    # A reconnected stream with nothing new opens at once (and then ends at its
    # deadline with an `error` event), rather than answering the deadline's 504.
    monkeypatch.setattr(streaming_module, "SSE_FIRST_EVENT_WAIT_SECONDS", 0.1)
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
        )
    )
    await server.start()
    session = aiohttp.ClientSession()
    try:
        yield Live(f"http://127.0.0.1:{server.http_port}", session, ts_project)
    finally:
        await session.close()
        await server.stop(grace=1.0)


async def read_lines(process: asyncio.subprocess.Process, seconds: float) -> list[dict[str, Any]]:
    """Everything the process prints until it exits, as JSON objects; it must exit 0."""
    assert process.stdout is not None
    output, _ = await asyncio.wait_for(process.communicate(), seconds)
    text = output.decode()
    assert process.returncode == 0, text
    return [json.loads(line) for line in text.splitlines()]


async def test_eventsource_listeners_get_exactly_their_types(live):
    thread = await live.post("/v1/threads", {})
    chat = await live.post(
        "/v1/chat",
        {"agentId": "tools-demo", "message": "what is 6*7", "threadId": thread["threadId"]},
    )
    run_url = f"{live.base}/v1/runs/{chat['runId']}/events"
    async with live.session.get(run_url) as response:
        truth = [json.loads(line)["result"] for line in (await response.text()).splitlines()]
    types = ["message.delta", "tool_call.started", "tool_call.completed", "run.completed"]
    assert {event["type"] for event in truth} >= set(types)

    lines = await read_lines(await live.events(run_url, *types), 30)
    # The run's stream ends after its last event; EventSource reconnects with
    # Last-Event-ID, gets 204 (nothing after it) and stops: nothing is repeated.
    assert lines[0] == {"open": 1}
    assert lines[-1] == {"closed": 204}
    for kind in types:
        got = [
            (line["id"], line["eventId"], line["type"])
            for line in lines
            if line.get("listener") == kind
        ]
        expected = [(e["eventId"], e["eventId"], kind) for e in truth if e["type"] == kind]
        assert got == expected, kind
    assert not [line for line in lines if line.get("listener") == "message"]
    deltas = "".join(line["text"] for line in lines if line.get("listener") == "message.delta")
    assert deltas == chat["response"]


async def test_eventsource_resumes_a_broken_stream_with_nothing_missed(live):
    thread = (await live.post("/v1/threads", {}))["threadId"]
    url = f"{live.base}/v1/threads/{thread}/events"
    texts = [f"note {number}" for number in range(8)]

    async def write(text: str) -> str:
        body = {"role": "MESSAGE_ROLE_USER", "parts": [{"text": text}]}
        return str((await live.post(f"/v1/threads/{thread}/messages", body))["messageId"])

    before = [await write(text) for text in texts[:2]]
    # Each connection ends after 1 s (its deadline, an `error` event); EventSource
    # reconnects 0.3 s later with Last-Event-ID. Messages are written across
    # several connections and the gaps between them, with idle stretches where
    # only keepalive comments flow.
    process = await live.events(
        url, "message.created", "--count", str(len(texts)), "--header", "Grpc-Timeout: 1S"
    )
    # The writes start once the stream is open: Node.js may take seconds to
    # start on a busy machine, and a stream opened after the last write has
    # nothing left to resume.
    assert process.stdout is not None
    first = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
    assert first == {"open": 1}, first
    after = []
    for text in texts[2:]:
        await asyncio.sleep(0.45)
        after.append(await write(text))
    lines = [first, *await read_lines(process, 30)]
    created = [line for line in lines if line.get("listener") == "message.created"]
    assert len(created) == len(texts)
    ids = [int(line["eventId"]) for line in created]
    assert ids == sorted(set(ids)), "events repeated or out of order"
    assert all(line["id"] == line["eventId"] for line in created)
    opens = [line["open"] for line in lines if "open" in line]
    assert len(opens) >= 2, "the stream was never broken and resumed"
    deadlines = [line for line in lines if line.get("listener") == "error"]
    assert deadlines
    assert all(line["status"]["code"] == 4 for line in deadlines)
    assert not [line for line in lines if line.get("listener") == "message"]
    # The messages are the ones written, each once, in order.
    assert [line["message"] for line in created] == before + after
