"""docs/operations.md "Metrics, traces and logs": every shell block run as printed.

Each ```sh block runs in bash, as the page shows it, with the test's ports put
in place of the page's (localhost:8080, localhost:9464, localhost:4317): the
only change made to a command. A server a block starts itself (``threadline
serve … &``) gets a free gRPC port and a database under tmp_path from
THREADLINE_LISTEN and THREADLINE_DATABASE (the block's own flags win over
them), and is stopped when the block ends. Output blocks after a command are
compared with what it printed, once times, durations and client ports are
normalised.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from tests.test_observability_process import NO_OTEL, Collector

pytestmark = pytest.mark.process

PAGE = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
SECTION = "## Metrics, traces and logs"
FENCE = re.compile(r"^```(\w*)\s*$")
SCRIPT_TIMEOUT = 60


def section_blocks(text: str) -> list[tuple[str, str]]:
    """Return (language, body) of each fenced block of the section, in order."""
    lines = text.splitlines()
    start = lines.index(SECTION)
    level = SECTION.split(" ", maxsplit=1)[0]
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if lines[i].startswith("#") and lines[i].split(" ")[0] == level
        ),
        len(lines),
    )
    blocks: list[tuple[str, str]] = []
    language: str | None = None
    body: list[str] = []
    for line in lines[start:end]:
        match = FENCE.match(line)
        if match and language is None:
            language, body = match.group(1), []
        elif line.startswith("```") and language is not None:
            blocks.append((language, "\n".join(body)))
            language = None
        elif language is not None:
            body.append(line)
    return blocks


def examples() -> list[tuple[str, str | None]]:
    """Return each shell block and the output block just after it (None without one)."""
    blocks = section_blocks(PAGE.read_text(encoding="utf-8"))
    found: list[tuple[str, str | None]] = []
    for index, (language, body) in enumerate(blocks):
        if language != "sh":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        output = following[1] if following and following[0] in ("text", "json") else None
        found.append((body, output))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def normalise(text: str) -> list[Any]:
    """Lines, with what differs from run to run replaced (JSON lines compared as objects)."""
    result: list[Any] = []
    for line in text.strip().splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            record["time"] = "<time>"
            record["duration_ms"] = "<duration>"
            record["peer"] = re.sub(r":\d+$", ":<port>", record["peer"])
            record["message"] = re.sub(
                r"duration_ms=\S+", "duration_ms=<duration>", record["message"]
            )
            record["message"] = re.sub(r"(peer=\S+):\d+$", r"\1:<port>", record["message"])
            result.append(record)
        else:
            result.append(line)
    return result


def run_block(command: str, ports: dict[str, int], tmp_path: Path) -> str:
    """Run one block in bash; stop what it left running; return what it printed."""
    for page_address, port in ports.items():
        command = command.replace(page_address, f"127.0.0.1:{port}")
    # Background jobs of the block (a server) are stopped once it is done, or
    # when a command of it fails (else the server would hold the pipe open).
    script = (
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        f"set -e\n{command}\nkill $(jobs -p) 2>/dev/null || true\nwait\n"
    )
    env = {
        **os.environ,
        **NO_OTEL,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "THREADLINE_LISTEN": "127.0.0.1:0",
        "THREADLINE_HTTP_LISTEN": f"127.0.0.1:{ports['localhost:8080']}",
        "THREADLINE_DATABASE": str(tmp_path / f"docs-{len(list(tmp_path.iterdir()))}.db"),
    }
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert result.returncode == 0, f"{command}\nexit {result.returncode}\n{result.stderr}"
    return result.stdout


async def test_every_command_of_the_section_runs_as_printed(spawn_server, tmp_path):
    blocks = examples()
    assert len(blocks) == 4, "the test knows four commands; a new one needs its place here"
    (metrics, metrics_output), (own_listener, own_output), (otlp, _), (logs, logs_output) = blocks
    http_port = free_port()
    ports = {"localhost:8080": http_port, "localhost:9464": free_port()}

    # A server as `make serve` runs one, and a call, then the scrape.
    server = spawn_server(tmp_path / "metrics.db", "--http-listen", f"127.0.0.1:{http_port}")
    printed = await asyncio.to_thread(run_block, metrics, ports, tmp_path)
    assert server.stop() == 0
    assert metrics_output is not None
    assert normalise(printed) == normalise(metrics_output)

    printed = await asyncio.to_thread(run_block, own_listener, ports, tmp_path)
    assert own_output is not None
    assert normalise(printed) == normalise(own_output)

    # Traces to an OTLP/gRPC receiver of the test's own, where the page says 4317.
    collector = Collector()
    receiver = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        collector, receiver
    )
    ports["localhost:4317"] = receiver.add_insecure_port("127.0.0.1:0")
    await receiver.start()
    try:
        await asyncio.to_thread(run_block, otlp, ports, tmp_path)
    finally:
        await receiver.stop(None)
    names = {span.name for _, span in collector.spans}
    assert {"POST /v1/threads", "/threadline.v1.ThreadService/CreateThread"} <= names

    printed = await asyncio.to_thread(run_block, logs, ports, tmp_path)
    assert logs_output is not None
    assert normalise(printed) == normalise(logs_output)
