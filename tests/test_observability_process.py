"""Metrics, traces and logs of the server as a process: restarts, OTEL_* variables, JSON logs.

Each test runs ``python -m threadline_server serve`` as a child process and
looks at what an operator would: /metrics over HTTP, the spans an exporter
receives, the lines on stderr.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from google.protobuf import duration_pb2, struct_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc

from tests.conftest import ServerProcess, expect_failure
from tests.test_metrics import Scrape

pytestmark = pytest.mark.process

HTTP_LISTENING = re.compile(r"http listening on (\S+):(\d+)")
METRICS_LISTENING = re.compile(r"metrics listening on (\S+):(\d+)")
NO_OTEL = {
    "OTEL_TRACES_EXPORTER": "",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
    "OTEL_SDK_DISABLED": "",
}


def port_in_log(child: ServerProcess, pattern: re.Pattern[str]) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        match = pattern.search(child.log)
        if match:
            return int(match.group(2))
        time.sleep(0.05)
    raise AssertionError("no port in the log:\n" + child.log)


async def scrape(port: int) -> Scrape:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        return Scrape(await response.text())


def user_message(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def test_runs_by_status_are_right_after_a_restart(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    flags = ("--http-listen", "127.0.0.1:0", "--worker-agent", "remote")
    first = spawn_server(database, *flags, env=NO_OTEL)
    async with grpc.aio.insecure_channel(first.address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        runs = run_pb2_grpc.RunServiceStub(channel)
        for _ in range(2):
            thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
            await runs.CreateRun(
                run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="remote")
            )
        thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        done = await runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id, agent_id="echo", input_messages=[user_message("hi")]
            )
        )
        await runs.WaitRun(
            run_pb2.WaitRunRequest(run_id=done.run_id, timeout=duration_pb2.Duration(seconds=10))
        )
        # A run that is running when the process dies.
        slow = await runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id,
                agent_id="echo",
                input_messages=[user_message("one two three four five six")],
                context=struct_pb2.Struct(fields={"delay_ms": struct_pb2.Value(number_value=1000)}),
            )
        )
        for _ in range(500):
            run = await runs.GetRun(run_pb2.GetRunRequest(run_id=slow.run_id))
            if run.status == run_pb2.RUN_STATUS_RUNNING:
                break
            await asyncio.sleep(0.02)
        before = await scrape(port_in_log(first, HTTP_LISTENING))
    assert before.value("threadline_runs_in_flight", agent_id="remote", status="queued") == 2
    assert before.value("threadline_runs_in_flight", agent_id="echo", status="running") == 1
    first.stop(signal.SIGKILL)

    second = spawn_server(database, *flags, env=NO_OTEL)
    after = await scrape(port_in_log(second, HTTP_LISTENING))
    # Read from the store at start-up; then recovery failed the run that was running.
    assert after.value("threadline_runs_in_flight", agent_id="remote", status="queued") == 2
    assert after.value("threadline_runs_in_flight", agent_id="echo", status="running") == 0
    assert after.value("threadline_runs_ended_total", agent_id="echo", status="failed") == 1
    assert after.value("threadline_runs_created_total", agent_id="remote") == 0
    assert second.stop() == 0


async def test_metrics_with_no_http_side(spawn_server):
    child = spawn_server(None, "--metrics-listen", "127.0.0.1:0", env=NO_OTEL)
    port = port_in_log(child, METRICS_LISTENING)
    async with grpc.aio.insecure_channel(child.address) as channel:
        await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
            thread_pb2.CreateThreadRequest()
        )
    scraped = await scrape(port)
    assert scraped.rpc("threadline.v1.ThreadService", "CreateThread", "OK") == 1
    assert "http listening" not in child.log
    assert child.stop() == 0


def test_without_http_or_metrics_listener_the_log_says_metrics_are_not_served(spawn_server):
    child = spawn_server(None, env=NO_OTEL)
    assert child.stop() == 0
    assert "metrics not served: no HTTP listener and no --metrics-listen" in child.log


# -- logs ---------------------------------------------------------------------------


async def test_json_log_lines(spawn_server):
    child = spawn_server(None, env={**NO_OTEL, "THREADLINE_LOG_FORMAT": "json"})
    async with grpc.aio.insecure_channel(child.address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        await threads.CreateThread(thread_pb2.CreateThreadRequest())
        missing = await expect_failure(
            threads.GetThread(thread_pb2.GetThreadRequest(thread_id="thr_missing"))
        )
        assert missing.code == grpc.StatusCode.NOT_FOUND
    assert child.stop() == 0
    records = [json.loads(line) for line in child.log.splitlines()]
    for record in records:
        assert list(record)[:4] == ["time", "level", "logger", "message"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["time"])
    access = [r for r in records if r["logger"] == "threadline.access"]
    assert [(r["rpc"], r["code"]) for r in access] == [
        ("/threadline.v1.ThreadService/CreateThread", "OK"),
        ("/threadline.v1.ThreadService/GetThread", "NOT_FOUND"),
    ]
    for record in access:
        assert record["level"] == "INFO"
        assert isinstance(record["duration_ms"], float)
        assert record["peer"].startswith("ipv4:127.0.0.1:")
        assert record["message"] == (
            f"rpc={record['rpc']} code={record['code']} "
            f"duration_ms={record['duration_ms']:.2f} peer={record['peer']}"
        )
    assert any(r["message"] == "stopped" for r in records)


async def test_json_http_access_lines(spawn_server):
    child = spawn_server(None, "--http-listen", "127.0.0.1:0", "--log-format", "json", env=NO_OTEL)
    port = port_in_log(child, HTTP_LISTENING)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/v1/threads/thr_missing") as response,
    ):
        assert response.status == 404
    assert child.stop() == 0
    records = [json.loads(line) for line in child.log.splitlines()]
    http = [r for r in records if r["logger"] == "threadline.access" and "status" in r]
    assert len(http) == 1
    assert http[0]["method"] == "GET"
    assert http[0]["path"] == "/v1/threads/thr_missing"
    assert http[0]["route"] == "/v1/threads/{thread_id}"
    assert http[0]["status"] == 404


def test_a_bad_log_format_stops_the_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "threadline_server", "serve", "--log-format", "xml"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert "log format 'xml' is not text or json" in result.stderr


# -- traces from OTEL_* variables -----------------------------------------------------------


async def test_no_otel_variables_no_opentelemetry(tmp_path):
    """Without the variables nothing of OpenTelemetry is even imported."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        for name in list(os.environ):
            if name.startswith("OTEL_"):
                del os.environ[name]
        import grpc
        from threadline.v1 import thread_pb2, thread_pb2_grpc
        from threadline_server.config import Settings
        from threadline_server.observability import traces
        from threadline_server.transport.server import ThreadlineServer

        async def main():
            tracing = traces.from_environment()
            assert tracing is None
            server = ThreadlineServer(
                Settings(listen="127.0.0.1:0", http_listen="127.0.0.1:0",
                         database={str(tmp_path / "t.db")!r}),
                tracing=tracing,
            )
            port = await server.start()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{{port}}") as channel:
                await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
                    thread_pb2.CreateThreadRequest())
            await server.stop(1.0)
            loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
            print("loaded:", loaded)

        asyncio.run(main())
        """
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout


async def test_console_exporter_from_the_variables_and_sdk_disabled(spawn_server, tmp_path):
    env = {**NO_OTEL, "OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    traced = spawn_server(tmp_path / "a.db", env=env)
    disabled = spawn_server(tmp_path / "b.db", env={**env, "OTEL_SDK_DISABLED": "true"})
    for child in (traced, disabled):
        async with grpc.aio.insecure_channel(child.address) as channel:
            await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
                thread_pb2.CreateThreadRequest()
            )
        assert child.stop() == 0
    assert '"name": "/threadline.v1.ThreadService/CreateThread"' in traced.log
    assert '"service.name": "threadline"' in traced.log
    assert "traces on (exporter console)" in traced.log
    assert '"name": "/threadline.v1.ThreadService/CreateThread"' not in disabled.log
    assert "traces off" in disabled.log


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, Any], Any]] = []

    async def Export(  # noqa: N802 - the OTLP method name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((resource, span) for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


async def test_otlp_endpoint_alone_turns_traces_on(spawn_server):
    collector = Collector()
    receiver = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
        collector, receiver
    )
    port = receiver.add_insecure_port("127.0.0.1:0")
    await receiver.start()
    try:
        child = spawn_server(
            None,
            "--http-listen",
            "127.0.0.1:0",
            env={**NO_OTEL, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"},
        )
        http_port = port_in_log(child, HTTP_LISTENING)
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{http_port}/v1/threads", json={}) as response,
        ):
            assert response.status == 200
        # The server flushes its spans as it stops; the receiver runs in this loop.
        assert await asyncio.to_thread(child.stop) == 0
    finally:
        await receiver.stop(None)
    names = {span.name: (resource, span) for resource, span in collector.spans}
    assert set(names) >= {"POST /v1/threads", "/threadline.v1.ThreadService/CreateThread"}
    resource, http_span = names["POST /v1/threads"]
    _, grpc_span = names["/threadline.v1.ThreadService/CreateThread"]
    assert resource["service.name"] == "threadline"
    assert grpc_span.trace_id == http_span.trace_id
    assert grpc_span.parent_span_id == http_span.span_id


async def test_otlp_over_http_protobuf(spawn_server):
    """OTEL_EXPORTER_OTLP_PROTOCOL picks the exporter, as the SDK reads it."""
    received: list[trace_service_pb2.ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        received.append(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
        return web.Response(
            body=trace_service_pb2.ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        child = spawn_server(
            None,
            env={
                **NO_OTEL,
                "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
        )
        async with grpc.aio.insecure_channel(child.address) as channel:
            await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
                thread_pb2.CreateThreadRequest()
            )
        assert await asyncio.to_thread(child.stop) == 0
    finally:
        await runner.cleanup()
    names = [
        span.name
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert names == ["/threadline.v1.ThreadService/CreateThread"]
