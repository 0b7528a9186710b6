"""Fuzz Threadline's HTTP side from its OpenAPI document with schemathesis.

A live server (gRPC and HTTP, one process, its own SQLite file) gets a bounded
number of schemathesis examples for every operation of
generated/openapi/threadline.openapi.json (the OpenAPI 3.1 document served at
/openapi.json): requests that fit the schema (positive) and requests that do
not (negative), generated deterministically so a failure can be run again.
The checks are that no answer is a 5xx, that every JSON answer fits the
document's schema for it (so a field the document calls non-nullable, or
required, is never null or missing), that no request hangs (each must answer
within READ_TIMEOUT; every request carries ``Grpc-Timeout`` so that the routes
that wait or stream by design, such as a thread's event stream, end by
themselves; streams are asked for as application/x-ndjson, as the document
describes them), and that the server is still
healthy afterwards: alive, answering HTTP and the gRPC health check, with no
traceback in its log. The test prints how many examples it sent and how many
got a server error.

THREADLINE_FUZZ_EXAMPLES changes the number of examples per operation and
mode (default EXAMPLES).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import ServerProcess, start_server_process

# A dev dependency; without it (a venv made before it was added) the test skips.
pytest.importorskip("schemathesis", reason="schemathesis is not installed: pip install -e '.[dev]'")

import hypothesis
import requests
import schemathesis
from schemathesis.checks import response_schema_conformance
from schemathesis.core.failures import FailureGroup

pytestmark = [pytest.mark.process, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
OPENAPI = ROOT / "generated" / "openapi" / "threadline.openapi.json"

NDJSON = "application/x-ndjson"
EXAMPLES = int(os.environ.get("THREADLINE_FUZZ_EXAMPLES", "8"))
# The deadline every request asks for, as grpc-gateway's Grpc-Timeout header:
# streams and long waits end with DEADLINE_EXCEEDED by then.
GRPC_TIMEOUT = "3S"
CONNECT_TIMEOUT = 5.0
# An answer slower than this is a hung request.
READ_TIMEOUT = 15.0


def load_schema() -> Any:
    """The OpenAPI 3.1 document."""
    return schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text(encoding="utf-8")))


@dataclass
class Tally:
    """What the fuzz run sent and got."""

    examples: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")


def _describe(case: Any) -> str:
    body = case.body if not isinstance(case.body, bytes) else case.body[:200]
    text = json.dumps(body, default=repr)[:300] if body is not None else "-"
    return (
        f"{case.method} {case.formatted_path} query={case.query} headers={case.headers} body={text}"
    )


def fuzz_operation(operation: Any, mode: Any, base_url: str, session: Any, tally: Tally) -> None:
    """Send EXAMPLES generated requests of one operation and mode, recording what came back."""
    headers = {"Grpc-Timeout": GRPC_TIMEOUT}
    if NDJSON in operation.definition.raw["responses"]["200"]["content"]:
        # A stream, asked for as the document describes it (not as one JSON document).
        headers["Accept"] = NDJSON

    @hypothesis.settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        label = f"{operation.label} ({mode.value})"
        started = time.monotonic()
        try:
            response = case.call(
                base_url=base_url,
                session=session,
                headers=headers,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
        except requests.exceptions.Timeout:
            tally.hung.append(f"{label}: no answer in {READ_TIMEOUT}s: {_describe(case)}")
            return
        except requests.exceptions.RequestException as error:
            tally.failed_requests.append(f"{label}: {error!r}: {_describe(case)}")
            return
        elapsed = time.monotonic() - started
        tally.examples += 1
        tally.per_operation[operation.label] += 1
        tally.statuses[response.status_code] += 1
        tally.slowest = max(tally.slowest, (elapsed, label))
        if response.status_code >= 500:
            tally.server_errors.append(
                f"{label}: {response.status_code} {response.text[:300]}\n    {_describe(case)}"
            )
        elif response.headers.get("Content-Type") == "application/json" and response.content:
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except FailureGroup as failures:
                found = " / ".join(" ".join(str(f).split())[:300] for f in failures.exceptions)
                tally.nonconforming.append(
                    f"{label}: {response.status_code} {found}: {response.text[:300]}\n"
                    f"    {_describe(case)}"
                )

    try:
        send()
    except hypothesis.errors.Unsatisfiable:
        # Nothing of this mode exists for the operation (a negative path
        # parameter that is any string, say): no example to send.
        tally.unsatisfiable.append(f"{operation.label} ({mode.value})")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    """A server with its HTTP side on a free port."""
    server = start_server_process(tmp_path / "threadline.db", "--http-listen", "127.0.0.1:0")
    try:
        yield server, f"http://127.0.0.1:{server.http_port}"
    finally:
        server.stop()


def grpc_serving(server: ServerProcess) -> str:
    """The gRPC health status of the whole server."""
    with grpc.insecure_channel(server.address) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def test_fuzz_finds_no_server_error(
    http_server: tuple[ServerProcess, str], counts: Callable[[str], None]
) -> None:
    server, base_url = http_server
    schema = load_schema()
    tally = Tally()
    started = time.monotonic()
    invalid = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            if not hasattr(result, "ok"):
                invalid.append(str(result.err()))
                continue
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                fuzz_operation(result.ok(), mode, base_url, session, tally)
        seconds = time.monotonic() - started
        alive = server.process.poll() is None
        after = session.get(f"{base_url}/v1/threads", params={"page_size": 1}, timeout=10)
    health = grpc_serving(server) if alive else "DEAD"
    tracebacks = server.log.count("Traceback")
    report = (
        f"schemathesis {schemathesis.__version__} over {OPENAPI.name}: "
        f"{tally.examples} examples on {len(tally.per_operation)} operations in {seconds:.1f}s, "
        f"{len(tally.server_errors)} server errors, {len(tally.nonconforming)} answers "
        f"unlike the schema, {len(tally.hung)} hung, "
        f"{len(tally.failed_requests)} failed requests; statuses "
        + ", ".join(f"{code}: {count}" for code, count in sorted(tally.statuses.items()))
        + f"; slowest {tally.slowest[0]:.2f}s ({tally.slowest[1]}); after: gRPC health {health}, "
        f"GET /v1/threads {after.status_code}, {tracebacks} tracebacks in the log"
    )
    counts(report)
    assert not invalid, f"schemathesis could not use these operations: {invalid}"
    assert len(tally.per_operation) >= 24, f"operations fuzzed: {sorted(tally.per_operation)}"
    problems = tally.server_errors + tally.nonconforming + tally.hung + tally.failed_requests
    assert not problems, report + "\n\n" + "\n".join(problems[:30])
    assert alive, "the server died:\n" + server.log[-5000:]
    assert health == "SERVING", report
    assert after.status_code == 200, report
    assert tracebacks == 0, "tracebacks in the server log:\n" + server.log[-10000:]
