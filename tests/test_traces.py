"""Traces of a server in this process, caught with the SDK's InMemorySpanExporter.

The server is given a Tracing over a tracer provider of the test's own (the
command line makes one from OTEL_* variables instead; test_observability_process
covers that). gRPC and HTTP calls are made over real connections, and the
finished spans are checked: names, attributes, status codes, and that an
HTTP request's gRPC span is a child of its HTTP span.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc
from threadline_server.config import Settings
from threadline_server.observability import traces
from threadline_server.observability.otel import Tracing
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure

GET_THREAD = "/threadline.v1.ThreadService/GetThread"


@dataclass
class Traced:
    server: ThreadlineServer
    exporter: InMemorySpanExporter
    channel: grpc.aio.Channel
    threads: thread_pb2_grpc.ThreadServiceStub
    session: aiohttp.ClientSession
    base: str

    async def spans(self, name: str, count: int = 1) -> list[ReadableSpan]:
        """Return the finished spans of a name once there are count (or after 5 s).

        A server span ends after its status is sent, so the client can have
        its answer a moment before the span is finished.
        """
        deadline = asyncio.get_running_loop().time() + 5.0
        while True:
            found = [span for span in self.exporter.get_finished_spans() if span.name == name]
            if len(found) >= count or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.01)


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
        ),
        tracing=Tracing(provider),
    )
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    session = aiohttp.ClientSession()
    try:
        yield Traced(
            server,
            exporter,
            channel,
            thread_pb2_grpc.ThreadServiceStub(channel),
            session,
            f"http://127.0.0.1:{server.http_port}",
        )
    finally:
        await session.close()
        await channel.close(None)
        await server.stop(grace=1.0)
        provider.shutdown()


@pytest.mark.api
async def test_a_grpc_call_is_a_server_span_with_its_code(traced):
    thread = await traced.threads.CreateThread(thread_pb2.CreateThreadRequest())
    await traced.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id))
    await expect_failure(traced.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="nope")))

    ok, missing = await traced.spans(GET_THREAD, 2)
    for span in (ok, missing):
        assert span.kind == SpanKind.SERVER
        assert span.attributes is not None
        assert span.attributes["rpc.system"] == "grpc"
        assert span.attributes["rpc.service"] == "threadline.v1.ThreadService"
        assert span.attributes["rpc.method"] == "GetThread"
        assert span.parent is None  # a gRPC client that sent no trace context
    assert ok.attributes is not None
    assert missing.attributes is not None
    assert ok.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    assert ok.status.status_code == StatusCode.UNSET
    assert missing.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    # The semantic conventions count NOT_FOUND as the caller's error, not the server's.
    assert missing.status.status_code == StatusCode.UNSET
    assert len(await traced.spans("/threadline.v1.ThreadService/CreateThread")) == 1


@pytest.mark.api
async def test_an_http_request_is_the_parent_of_its_grpc_call(traced):
    async with traced.session.post(traced.base + "/v1/threads", json={}) as response:
        assert response.status == 200
        thread_id = (await response.json())["threadId"]
    async with traced.session.get(f"{traced.base}/v1/threads/{thread_id}") as response:
        assert response.status == 200
    async with traced.session.get(traced.base + "/v1/threads/thr_missing") as response:
        assert response.status == 404

    http_spans = await traced.spans("GET /v1/threads/{thread_id}", 2)
    grpc_spans = await traced.spans(GET_THREAD, 2)
    assert len(http_spans) == 2
    assert len(grpc_spans) == 2
    for http_span, grpc_span in zip(http_spans, grpc_spans, strict=True):
        assert http_span.kind == SpanKind.SERVER
        assert http_span.attributes is not None
        assert http_span.attributes["http.route"] == "/v1/threads/{thread_id}"
        assert grpc_span.parent is not None
        assert http_span.context is not None
        assert grpc_span.parent.span_id == http_span.context.span_id
        assert grpc_span.context is not None
        assert grpc_span.context.trace_id == http_span.context.trace_id
    found, missing = http_spans
    assert found.attributes is not None
    assert missing.attributes is not None
    assert found.attributes["http.status_code"] == 200
    assert missing.attributes["http.status_code"] == 404
    assert len(await traced.spans("POST /v1/threads")) == 1


@pytest.mark.api
async def test_an_incoming_trace_context_is_continued(traced):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    async with traced.session.post(traced.base + "/v1/threads", json={}, headers=headers) as reply:
        assert reply.status == 200
    (http_span,) = await traced.spans("POST /v1/threads")
    (grpc_span,) = await traced.spans("/threadline.v1.ThreadService/CreateThread")
    assert http_span.context is not None
    assert grpc_span.context is not None
    assert format(http_span.context.trace_id, "032x") == trace_id
    assert format(grpc_span.context.trace_id, "032x") == trace_id


@pytest.mark.api
async def test_streams_are_traced_and_health_is_not(traced):
    thread = await traced.threads.CreateThread(thread_pb2.CreateThreadRequest())
    runs = run_pb2_grpc.RunServiceStub(traced.channel)
    watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread.thread_id))
    message = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
    )
    from threadline.v1 import message_pb2_grpc  # noqa: PLC0415 - only this test needs it

    await message_pb2_grpc.MessageServiceStub(traced.channel).CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread.thread_id, message=message)
    )
    assert (await watch.read()).type == "message.created"
    watch.cancel()
    health = health_pb2_grpc.HealthStub(traced.channel)
    await health.Check(health_pb2.HealthCheckRequest())
    watcher = health.Watch(health_pb2.HealthCheckRequest())
    assert (await watcher.read()).status == health_pb2.HealthCheckResponse.SERVING
    watcher.cancel()
    await traced.server.stop(grace=1.0)  # ends the streams' spans

    (stream_span,) = await traced.spans("/threadline.v1.RunService/WatchThread")
    assert stream_span.attributes is not None
    assert stream_span.attributes["rpc.method"] == "WatchThread"
    assert not [s for s in traced.exporter.get_finished_spans() if "grpc.health" in s.name]


@pytest.mark.unit
def test_which_variables_turn_traces_on():
    assert not traces.requested({})
    assert not traces.requested({"OTEL_SERVICE_NAME": "threadline"})
    assert traces.requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert traces.requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not traces.requested({"OTEL_TRACES_EXPORTER": "none"})
    assert traces.requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert traces.requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not traces.requested(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_SDK_DISABLED": "true"}
    )
    assert not traces.requested({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "TRUE"})
