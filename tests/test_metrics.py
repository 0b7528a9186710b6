"""GET /metrics after real traffic: every count is the number of calls made, with its code.

Each test starts a real server (HTTP on an ephemeral port), makes gRPC and
HTTP calls, scrapes /metrics over HTTP and parses it with prometheus_client's
own parser. Counters are compared with what the test did, exactly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)
from threadline_server import __version__
from threadline_server.config import Settings, parse
from threadline_server.observability.metrics import StreamReaders
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure

THREADS = "threadline.v1.ThreadService"
MESSAGES = "threadline.v1.MessageService"
RUNS = "threadline.v1.RunService"


class Scrape:
    """One scrape of /metrics, parsed: sample values by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        self.types: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            self.types[family.name] = family.type
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when absent (a counter never incremented)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def matching(self, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
        """Every sample of a name whose labels include these."""
        wanted = set(labels.items())
        return {
            key: value
            for (sample_name, key), value in self.samples.items()
            if sample_name == name and wanted <= key
        }

    def rpc(self, service: str, method: str, code: str, kind: str = "unary") -> float:
        """grpc_server_handled_total of one method and code."""
        return self.value(
            "grpc_server_handled_total",
            grpc_type=kind,
            grpc_service=service,
            grpc_method=method,
            grpc_code=code,
        )

    def started(self, service: str, method: str, kind: str = "unary") -> float:
        """grpc_server_started_total of one method."""
        return self.value(
            "grpc_server_started_total", grpc_type=kind, grpc_service=service, grpc_method=method
        )


@dataclass
class Observed:
    """A running server with HTTP, its gRPC stubs and an HTTP session."""

    server: ThreadlineServer
    channel: grpc.aio.Channel
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    session: aiohttp.ClientSession
    base: str

    async def scrape(self, url: str | None = None) -> Scrape:
        async with self.session.get(url or self.base + "/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return Scrape(await response.text())

    async def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            raw = await response.read()
            return response.status, json.loads(raw) if raw.startswith(b"{") else raw


async def start(tmp_path: Path, **settings: Any) -> Observed:
    values: dict[str, Any] = {
        "listen": "127.0.0.1:0",
        "http_listen": "127.0.0.1:0",
        "database": str(tmp_path / "threadline.db"),
        "grace_period": 1.0,
        **settings,
    }
    server = ThreadlineServer(Settings(**values))
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    return Observed(
        server,
        channel,
        thread_pb2_grpc.ThreadServiceStub(channel),
        message_pb2_grpc.MessageServiceStub(channel),
        run_pb2_grpc.RunServiceStub(channel),
        aiohttp.ClientSession(),
        f"http://127.0.0.1:{server.http_port}",
    )


async def finish(observed: Observed) -> None:
    await observed.session.close()
    await observed.channel.close(None)
    await observed.server.stop(grace=1.0)


@pytest.fixture
async def observed(tmp_path: Path) -> AsyncIterator[Observed]:
    running = await start(tmp_path, worker_agents=("remote",))
    try:
        yield running
    finally:
        await finish(running)


def user_message(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def echo_run(observed: Observed, thread_id: str, **context: Any) -> run_pb2.Run:
    """Create an echo run and wait for it to end."""
    request = run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="echo",
        input_messages=[user_message("one two three")],
        multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
    )
    if context:
        request.context.update(context)
    run = await observed.runs.CreateRun(request)
    return await observed.runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=run.run_id, timeout=duration_pb2.Duration(seconds=10))
    )


async def eventually(check: Any, observed: Observed, attempts: int = 200) -> Scrape:
    """Scrape until check(scrape) holds (a commit's listeners run just after its answer)."""
    for _ in range(attempts):
        scrape = await observed.scrape()
        if check(scrape):
            break
        await asyncio.sleep(0.05)
    return scrape


# -- gRPC calls ---------------------------------------------------------------------


@pytest.mark.api
async def test_unary_calls_are_counted_by_method_and_code(observed):
    created = [
        await observed.threads.CreateThread(thread_pb2.CreateThreadRequest()) for _ in range(3)
    ]
    for thread in created:
        await observed.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id))
    for _ in range(2):
        await expect_failure(
            observed.threads.GetThread(thread_pb2.GetThreadRequest(thread_id="thr_missing"))
        )
    await expect_failure(observed.threads.GetThread(thread_pb2.GetThreadRequest()))
    for index in range(4):
        await observed.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=created[0].thread_id, message=user_message(f"hello {index}")
            )
        )

    scrape = await observed.scrape()
    assert scrape.started(THREADS, "CreateThread") == 3
    assert scrape.rpc(THREADS, "CreateThread", "OK") == 3
    assert scrape.started(THREADS, "GetThread") == 6
    assert scrape.rpc(THREADS, "GetThread", "OK") == 3
    assert scrape.rpc(THREADS, "GetThread", "NOT_FOUND") == 2
    assert scrape.rpc(THREADS, "GetThread", "INVALID_ARGUMENT") == 1
    assert scrape.rpc(MESSAGES, "CreateMessage", "OK") == 4
    # Every method served is there from the start, at zero.
    assert (
        "grpc_server_started_total",
        frozenset(
            {"grpc_type": "unary", "grpc_service": MESSAGES, "grpc_method": "DeleteMessage"}.items()
        ),
    ) in scrape.samples
    assert scrape.rpc(MESSAGES, "DeleteMessage", "OK") == 0
    # The latency histogram counts every call, in buckets from 1 ms to 10 s.
    get_thread = {"grpc_type": "unary", "grpc_service": THREADS, "grpc_method": "GetThread"}
    assert scrape.value("grpc_server_handling_seconds_count", **get_thread) == 6
    assert scrape.value("grpc_server_handling_seconds_bucket", **get_thread, le="+Inf") == 6
    buckets = sorted(
        float(dict(key)["le"])
        for key in scrape.matching("grpc_server_handling_seconds_bucket", **get_thread)
    )
    assert buckets[0] == 0.001
    assert buckets[-2] == 10.0
    assert scrape.value("grpc_server_handling_seconds_sum", **get_thread) > 0
    assert scrape.types["grpc_server_handling_seconds"] == "histogram"
    # No ids in any label.
    assert "thr_" not in scrape.text


@pytest.mark.api
async def test_the_scrape_shows_the_build_and_the_process(observed):
    scrape = await observed.scrape()
    info = scrape.matching("threadline_build_info")
    assert len(info) == 1
    labels, value = next(iter(info.items()))
    assert value == 1
    assert dict(labels)["version"] == __version__
    assert dict(labels)["grpcio"] == grpc.__version__
    assert scrape.value("process_resident_memory_bytes") > 0
    assert scrape.value("threadline_grpc_calls_limit") == 1000
    # Counters have no *_created twins.
    assert not [name for name, _ in scrape.samples if name.endswith("_created")]


@pytest.mark.api
async def test_streams_open_cancelled_and_over_the_cap(tmp_path):
    observed = await start(tmp_path, max_concurrent_rpcs=2)
    try:
        thread = await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())
        watch: Any = observed.runs.WatchThread(
            run_pb2.WatchThreadRequest(thread_id=thread.thread_id)
        )
        await observed.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread.thread_id, message=user_message("hi"))
        )
        assert (await watch.read()).type == "message.created"
        scrape = await observed.scrape()
        stream = {"grpc_service": RUNS, "grpc_method": "WatchThread"}
        assert scrape.value("threadline_grpc_streams_open", **stream) == 1
        assert scrape.value("threadline_grpc_calls_in_flight") == 1
        assert scrape.started(RUNS, "WatchThread", "server_stream") == 1
        assert scrape.rpc(RUNS, "WatchThread", "OK", "server_stream") == 0

        # The stream holds one of the two places: with one more held, a call is refused.
        second: Any = observed.runs.WatchThread(
            run_pb2.WatchThreadRequest(thread_id=thread.thread_id)
        )
        assert (await second.read()).type == "message.created"
        refused = await expect_failure(
            observed.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id))
        )
        assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        second.cancel()
        watch.cancel()
        scrape = await eventually(
            lambda s: s.value("threadline_grpc_streams_open", **stream) == 0, observed
        )
        assert scrape.value("threadline_grpc_streams_open", **stream) == 0
        assert scrape.rpc(RUNS, "WatchThread", "CANCELLED", "server_stream") == 2
        assert scrape.rpc(THREADS, "GetThread", "RESOURCE_EXHAUSTED") == 1
        assert scrape.started(THREADS, "GetThread") == 1
    finally:
        await finish(observed)


# -- HTTP ---------------------------------------------------------------------------


@pytest.mark.api
async def test_http_requests_by_route_template_and_status(observed):
    statuses = []
    for _ in range(2):
        status, body = await observed.http("POST", "/v1/threads", {"thread": {}})
        statuses.append(status)
        thread_id = body["threadId"]
    status, _ = await observed.http("GET", f"/v1/threads/{thread_id}")
    statuses.append(status)
    status, _ = await observed.http("GET", "/v1/threads/thr_missing")
    statuses.append(status)
    status, _ = await observed.http("GET", "/nowhere")
    statuses.append(status)
    status, _ = await observed.http("PROPFIND", "/nowhere")
    statuses.append(status)
    assert statuses == [200, 200, 200, 404, 404, 404]

    scrape = await observed.scrape()
    requests = "threadline_http_requests_total"
    assert scrape.value(requests, method="POST", route="/v1/threads", code="200") == 2
    assert scrape.value(requests, method="GET", route="/v1/threads/{thread_id}", code="200") == 1
    assert scrape.value(requests, method="GET", route="/v1/threads/{thread_id}", code="404") == 1
    assert scrape.value(requests, method="GET", route="unmatched", code="404") == 1
    assert scrape.value(requests, method="other", route="unmatched", code="404") == 1
    assert (
        scrape.value(
            "threadline_http_request_duration_seconds_count",
            method="POST",
            route="/v1/threads",
        )
        == 2
    )
    # Each routed request is a call to the gRPC side, counted there too.
    assert scrape.rpc(THREADS, "CreateThread", "OK") == 2
    assert scrape.rpc(THREADS, "GetThread", "NOT_FOUND") == 1
    # Scrapes are not counted as requests.
    assert not scrape.matching(requests, route="/metrics")


@pytest.mark.api
async def test_metrics_on_a_listener_of_their_own(tmp_path):
    observed = await start(tmp_path, metrics_listen="127.0.0.1:0")
    try:
        await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())
        port = observed.server.metrics_port
        assert port
        scrape = await observed.scrape(f"http://127.0.0.1:{port}/metrics")
        assert scrape.rpc(THREADS, "CreateThread", "OK") == 1
        # Not on the HTTP/JSON listener then: there it is an unknown route.
        status, _ = await observed.http("GET", "/metrics")
        assert status == 404
    finally:
        await finish(observed)


@pytest.mark.unit
def test_metrics_listen_flag_and_variable():
    assert parse([]).metrics_listen == ""
    assert parse(["--metrics-listen", "127.0.0.1:9464"]).metrics_listen == "127.0.0.1:9464"
    with pytest.raises(SystemExit):
        parse(["--metrics-listen", "9464"])


# -- runs, the queue and the store ------------------------------------------------------


@pytest.mark.api
async def test_runs_by_status_follow_commits(observed):
    thread = await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())
    for _ in range(2):
        run = await echo_run(observed, thread.thread_id)
        assert run.status == run_pb2.RUN_STATUS_COMPLETED
    # Two runs of a worker agent with no worker connected: the queue.
    queued_threads = [
        await observed.threads.CreateThread(thread_pb2.CreateThreadRequest()) for _ in range(3)
    ]
    for queued in queued_threads:
        await observed.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=queued.thread_id, agent_id="remote")
        )
    cancelled = await observed.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=queued_threads[0].thread_id,
            agent_id="remote",
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
        )
    )
    await observed.runs.CancelRun(run_pb2.CancelRunRequest(run_id=cancelled.run_id))
    # A deleted thread takes its queued run with it.
    await observed.threads.DeleteThread(
        thread_pb2.DeleteThreadRequest(thread_id=queued_threads[2].thread_id)
    )

    scrape = await eventually(
        lambda s: s.value("threadline_runs_ended_total", agent_id="echo", status="completed") == 2,
        observed,
    )
    in_flight = "threadline_runs_in_flight"
    assert scrape.value(in_flight, agent_id="remote", status="queued") == 2
    assert scrape.value(in_flight, agent_id="remote", status="running") == 0
    assert scrape.value(in_flight, agent_id="echo", status="queued") == 0
    assert scrape.value(in_flight, agent_id="echo", status="running") == 0
    assert scrape.value("threadline_runs_created_total", agent_id="echo") == 2
    assert scrape.value("threadline_runs_created_total", agent_id="remote") == 4
    assert scrape.value("threadline_runs_ended_total", agent_id="echo", status="completed") == 2
    assert scrape.value("threadline_runs_ended_total", agent_id="remote", status="cancelled") == 1
    # Every served agent shows at zero even before its first run.
    assert (in_flight, frozenset({"agent_id": "tools-demo", "status": "queued"}.items())) in (
        scrape.samples
    )


@pytest.mark.api
async def test_store_write_transactions_are_timed(observed):
    before = await observed.scrape()
    thread = await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())
    for index in range(5):
        await observed.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id, message=user_message(f"m{index}")
            )
        )
    after = await observed.scrape()
    writes = after.value("threadline_store_write_seconds_count") - before.value(
        "threadline_store_write_seconds_count"
    )
    # Six writes by the test; the lease checker may have written meanwhile.
    assert writes >= 6
    assert after.value("threadline_store_write_seconds_sum") > before.value(
        "threadline_store_write_seconds_sum"
    )
    assert after.value("threadline_store_write_wait_seconds_count") == after.value(
        "threadline_store_write_seconds_count"
    )
    # Each message is one commit of two events (message.created, message.completed).
    commits = after.value("threadline_store_commit_events_count") - before.value(
        "threadline_store_commit_events_count"
    )
    events = after.value("threadline_store_commit_events_sum") - before.value(
        "threadline_store_commit_events_sum"
    )
    assert (commits, events) == (5, 10)


# -- stream readers ---------------------------------------------------------------------


@pytest.mark.api
async def test_a_slow_reader_shows_its_lag_and_loses_it_when_it_catches_up(tmp_path):
    observed = await start(tmp_path)
    # A small flow-control window: the reader's unread events soon stop the server's sends.
    channel = grpc.aio.insecure_channel(
        f"127.0.0.1:{observed.server.port}",
        options=(("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 65536)),
    )
    try:
        thread = await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())
        reader: Any = run_pb2_grpc.RunServiceStub(channel).WatchThread(
            run_pb2.WatchThreadRequest(thread_id=thread.thread_id)
        )
        fast: Any = observed.runs.WatchThread(
            run_pb2.WatchThreadRequest(thread_id=thread.thread_id)
        )
        big = "x" * 200_000
        written = 0
        for _ in range(4):
            await observed.messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread.thread_id, message=user_message(big)
                )
            )
            written += 2  # message.created and message.completed, each with the text
        # The fast reader keeps up; the slow one reads one event, then nothing.
        for _ in range(written):
            await fast.read()
        assert (await reader.read()).type == "message.created"
        await asyncio.sleep(1.5)

        watch = {"grpc_service": RUNS, "grpc_method": "WatchThread"}
        scrape = await observed.scrape()
        assert scrape.value("threadline_stream_readers_behind", **watch) == 1
        assert scrape.value("threadline_stream_reader_lag_seconds", **watch) >= 1.4

        for _ in range(written - 1):
            await reader.read()
        scrape = await eventually(
            lambda s: s.value("threadline_stream_readers_behind", **watch) == 0, observed
        )
        assert scrape.value("threadline_stream_readers_behind", **watch) == 0
        assert scrape.value("threadline_stream_reader_lag_seconds", **watch) == 0
        reader.cancel()
        fast.cancel()
    finally:
        await channel.close(None)
        await finish(observed)


@pytest.mark.api
async def test_a_run_stream_is_not_behind_when_other_runs_write(tmp_path):
    observed = await start(tmp_path)
    try:
        thread = await observed.threads.CreateThread(thread_pb2.CreateThreadRequest())

        def slow_echo(words: int) -> run_pb2.CreateRunRequest:
            return run_pb2.CreateRunRequest(
                thread_id=thread.thread_id,
                agent_id="echo",
                input_messages=[user_message(" ".join(["word"] * words))],
                context=struct_pb2.Struct(fields={"delay_ms": struct_pb2.Value(number_value=200)}),
                multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
            )

        running = await observed.runs.CreateRun(slow_echo(20))
        waiting = await observed.runs.CreateRun(slow_echo(1))
        # The waiting run's reader has all there is of its run while the
        # running one writes to the same thread.
        follower: Any = observed.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=waiting.run_id)
        )
        assert (await follower.read()).type == "run.created"
        watcher: Any = observed.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=running.run_id)
        )
        while (await watcher.read()).type != "message.delta":
            pass
        await asyncio.sleep(0.5)  # the running run writes a delta every 200 ms
        stream_labels = {"grpc_service": RUNS, "grpc_method": "StreamRunEvents"}
        scrape = await observed.scrape()
        current = await observed.runs.GetRun(run_pb2.GetRunRequest(run_id=waiting.run_id))
        assert current.status == run_pb2.RUN_STATUS_QUEUED
        # Both were sent all there is of their runs, though the thread has
        # newer events than the follower's last: neither is behind.
        assert scrape.value("threadline_stream_readers_behind", **stream_labels) == 0
        assert scrape.value("threadline_stream_reader_lag_seconds", **stream_labels) == 0
        follower.cancel()
        watcher.cancel()
    finally:
        await finish(observed)


@pytest.mark.unit
def test_stream_lag_rules():
    """The lag rules on their own: scope by run or thread, a run learned from the first event."""
    registry = CollectorRegistry()
    readers = StreamReaders(registry)

    def event(event_id: int, run_id: str, thread_id: str = "thr_a", age: float = 0.0) -> Any:
        made = run_pb2.RunEvent(event_id=event_id, run_id=run_id, thread_id=thread_id)
        made.created_at.FromMicroseconds(int((time.time() - age) * 1e6))
        return made

    def scrape() -> Scrape:
        return Scrape(generate_latest(registry).decode())

    labels = {"grpc_service": RUNS, "grpc_method": "StreamRun"}
    with readers.reader(f"/{RUNS}/StreamRun", "default") as reader:
        # Before its first event a StreamRun reader follows no run yet: not behind.
        readers.publish("default", [event(1, "run_a"), event(2, "run_b")])
        assert scrape().value("threadline_stream_readers_behind", **labels) == 0
        reader.last = event(1, "run_a", age=3.0)
        assert scrape().value("threadline_stream_readers_behind", **labels) == 0
        readers.publish("default", [event(3, "run_b"), event(4, "run_a")])
        lag = scrape().value("threadline_stream_reader_lag_seconds", **labels)
        assert 2.9 <= lag <= 10
        reader.last = event(4, "run_a")
        assert scrape().value("threadline_stream_readers_behind", **labels) == 0
    watch = {"grpc_service": RUNS, "grpc_method": "WatchThread"}
    with readers.reader(f"/{RUNS}/WatchThread", "default", thread_id="thr_a", after=4):
        assert scrape().value("threadline_stream_readers_behind", **watch) == 0
        readers.publish("default", [event(5, "", "thr_a")])
        assert scrape().value("threadline_stream_readers_behind", **watch) == 1
        readers.publish("default", [run_pb2.RunEvent(thread_id="thr_a", type="thread.deleted")])
        assert scrape().value("threadline_stream_readers_behind", **watch) == 0
    # A closed reader is gone from the families.
    assert not scrape().matching("threadline_stream_readers_behind")
