"""Prometheus metrics of one server: its own registry, and the objects that fill it.

Names of the gRPC families are go-grpc-prometheus's (grpc_server_started_total,
grpc_server_handled_total, grpc_server_handling_seconds, with grpc_type,
grpc_service, grpc_method and grpc_code labels), so dashboards made for those
work unchanged. Everything else is ``threadline_*``. Labels take values from
small fixed sets only (methods, codes, route templates, agents, statuses),
never ids.

Per-call cost is kept down by binding label values once: a ``GrpcMethod``
holds one method's children, built on its first call, and the interceptor
keeps it. Nothing here reads the store while being scraped: run counts are
read once at start-up, then follow committed events; stream lag is computed
from memory.

The domain and the store know nothing of this module: the store reports
write-transaction times to a plain callback (``StoreMetrics.observe_write``)
and committed events to listeners (``RunMetrics.publish``,
``StreamReaders.publish``).
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
import time
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from google.protobuf import descriptor_pool
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from threadline.v1 import run_pb2

from threadline_server import __version__
from threadline_server.domain.event_types import THREAD_DELETED
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import ACROSS_TENANTS

K = TypeVar("K", bound=Hashable)

# Counters and histograms would each also export a *_created series (the
# time they were first used): twice the series for nothing Prometheus uses.
disable_created_metrics()  # type: ignore[no-untyped-call] # untyped in prometheus-client

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: 1 ms to 10 s, about three buckets per factor of ten, then +Inf."""

COUNT_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Events per commit."""

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
"""The route label of an HTTP request that matched no route."""

# Stream readers are compared with the newest committed event of the run or
# thread they follow; this many runs and threads are remembered (the most
# recently written), which covers every one with a live reader in practice.
NEWEST_REMEMBERED = 4096

# A run waiting in REQUIRES_ACTION is in flight too: it has not ended.
_IN_FLIGHT = (
    run_pb2.RUN_STATUS_QUEUED,
    run_pb2.RUN_STATUS_RUNNING,
    run_pb2.RUN_STATUS_REQUIRES_ACTION,
)


def status_label(status: int) -> str:
    """Return a run status as a label value: ``queued``, ``running``, ``completed``…."""
    return run_pb2.RunStatus.Name(status).removeprefix("RUN_STATUS_").lower()  # type: ignore[arg-type]


def split_method(full_method: str) -> tuple[str, str]:
    """Split ``/package.Service/Method`` into service and method."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


# -- gRPC ---------------------------------------------------------------------------


@dataclass
class GrpcMethod:
    """One method's label children, made once and kept by the interceptor."""

    name: str
    started: Counter
    handling: Histogram
    open_streams: Gauge | None
    _handled_family: Counter
    _labels: tuple[str, str, str]
    handled_by_code: dict[grpc.StatusCode, Counter] = field(default_factory=dict)
    """The handled counters made so far, by code (read this first: no call)."""

    def handled(self, code: grpc.StatusCode) -> Counter:
        """Return the handled counter for a status code."""
        child = self.handled_by_code.get(code)
        if child is None:
            child = self._handled_family.labels(*self._labels, code.name)
            self.handled_by_code[code] = child
        return child


class GrpcMetrics:
    """go-grpc-prometheus's server families, and the concurrency cap."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "grpc_server_started_total",
            "Total number of RPCs started on the server.",
            GRPC_LABELS,
            registry=registry,
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*GRPC_LABELS, "grpc_code"),
            registry=registry,
        )
        self.handling = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been "
            "application-level handled by the server.",
            GRPC_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.open_streams = Gauge(
            "threadline_grpc_streams_open",
            "Server-streaming calls in progress.",
            ("grpc_service", "grpc_method"),
            registry=registry,
        )
        self.calls_in_flight = Gauge(
            "threadline_grpc_calls_in_flight",
            "Calls being handled now; beyond threadline_grpc_calls_limit they are refused.",
            registry=registry,
        )
        self.calls_limit = Gauge(
            "threadline_grpc_calls_limit",
            "The most calls handled at once (--max-concurrent-rpcs).",
            registry=registry,
        )
        self._methods: dict[str, GrpcMethod] = {}

    def method(self, full_method: str, grpc_type: str) -> GrpcMethod:
        """Return one method's label children, bound on first use."""
        found = self._methods.get(full_method)
        if found is None:
            service, method = split_method(full_method)
            labels = (grpc_type, service, method)
            streaming = grpc_type in ("server_stream", "bidi_stream")
            found = GrpcMethod(
                name=full_method,
                started=self.started.labels(*labels),
                handling=self.handling.labels(*labels),
                open_streams=self.open_streams.labels(service, method) if streaming else None,
                _handled_family=self.handled,
                _labels=labels,
            )
            self._methods[full_method] = found
        return found

    def initialise(self, service_names: Iterable[str]) -> None:
        """Show each method of these services at zero from the start (rate() works at once)."""
        pool = descriptor_pool.Default()
        for name in service_names:
            for method in pool.FindServiceByName(name).methods:
                kind = grpc_type(
                    request_streaming=method.client_streaming,
                    response_streaming=method.server_streaming,
                )
                self.method(f"/{name}/{method.name}", kind).handled(grpc.StatusCode.OK)


def grpc_type(*, request_streaming: bool, response_streaming: bool) -> str:
    """go-grpc-prometheus's grpc_type label."""
    if request_streaming:
        return "bidi_stream" if response_streaming else "client_stream"
    return "server_stream" if response_streaming else "unary"


# -- HTTP ---------------------------------------------------------------------------


class HttpMetrics:
    """HTTP/JSON requests by method, route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "threadline_http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "code"),
            registry=registry,
        )
        self._duration = Histogram(
            "threadline_http_request_duration_seconds",
            "Time to answer an HTTP request (a stream: until it ends), by method and route.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request (route "" when it matched none)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            route = route or UNMATCHED_ROUTE
            if method not in HTTP_METHODS:
                # Only common methods become labels (WebDAV's and the like do not).
                method = "other"
            children = (
                self._requests.labels(method, route, str(status)),
                self._duration.labels(method, route),
            )
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


# -- webhooks -----------------------------------------------------------------------


class WebhookMetrics:
    """Webhook attempts by outcome, and how long each took."""

    OUTCOMES = ("delivered", "failed", "gave_up")

    def __init__(self, registry: CollectorRegistry) -> None:
        attempts = Counter(
            "threadline_webhook_attempts_total",
            "Webhook delivery attempts, by outcome: delivered (2xx), failed (to be tried "
            "again), gave_up (failed, and the retry window is over).",
            ("outcome",),
            registry=registry,
        )
        self._attempts = {outcome: attempts.labels(outcome) for outcome in self.OUTCOMES}
        self._duration = Histogram(
            "threadline_webhook_attempt_seconds",
            "Time one webhook attempt took: resolving, connecting, sending, the answer.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, outcome: str, seconds: float) -> None:
        """Count one attempt (outcome one of OUTCOMES) and its time."""
        self._attempts[outcome].inc()
        self._duration.observe(seconds)


# -- the store ----------------------------------------------------------------------


class StoreMetrics:
    """SQLite write transactions: waiting for the single writer, holding it, events in each."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._wait = Histogram(
            "threadline_store_write_wait_seconds",
            "Time a write transaction waited for the single SQLite writer.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._held = Histogram(
            "threadline_store_write_seconds",
            "Time a write transaction held the SQLite writer, BEGIN IMMEDIATE to COMMIT "
            "(or ROLLBACK), fsync included.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._events = Histogram(
            "threadline_store_commit_events",
            "Events stored by a write transaction that stored any: how many agent steps "
            "and messages one commit (and its fsync) carried.",
            buckets=COUNT_BUCKETS,
            registry=registry,
        )

    def observe_write(self, waited: float, held: float) -> None:
        """Record one write transaction (the store's write observer)."""
        self._wait.observe(waited)
        self._held.observe(held)

    def publish(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Count the events of a committed transaction (an event listener)."""
        del tenant  # every tenant's commits count alike
        stored = sum(1 for event in events if event.event_id)  # not thread.deleted notices
        if stored:
            self._events.observe(stored)


# -- runs ---------------------------------------------------------------------------


class RunMetrics:
    """Runs in flight by agent and status (the queue is ``status="queued"``), and ends.

    Counts start from the store and then follow committed events: the read
    and the subscription happen in one write transaction, so no commit falls
    between them. Runs in flight are remembered by id (and by thread, since a
    deleted thread takes its runs with it), so memory grows with runs in
    flight only.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._in_flight = Gauge(
            "threadline_runs_in_flight",
            "Runs queued or running now, by agent and status.",
            ("agent_id", "status"),
            registry=registry,
        )
        self._created = Counter(
            "threadline_runs_created_total",
            "Runs created since the server started, by agent.",
            ("agent_id",),
            registry=registry,
        )
        self._ended = Counter(
            "threadline_runs_ended_total",
            "Runs that ended since the server started, by agent and final status.",
            ("agent_id", "status"),
            registry=registry,
        )
        # run id -> ((tenant, thread id), agent id, status), for runs in flight
        self._runs: dict[str, tuple[tuple[str, str], str, int]] = {}
        self._by_thread: dict[tuple[str, str], set[str]] = collections.defaultdict(set)

    async def follow(self, store: Store, agents: Iterable[str]) -> None:
        """Count the runs in flight, and from then on follow every commit.

        The served agents are shown at zero from the start.
        """
        for agent_id in agents:
            for status in _IN_FLIGHT:
                self._in_flight.labels(agent_id, status_label(status))

        async def work(tx: StoreTransaction) -> None:
            for record in await tx.all_runs_in_flight():
                run = record.run
                thread = (record.thread.tenant, record.thread.thread_id)
                self._enter(run.run_id, thread, run.agent_id, run.status)
            store.add_event_listener(self.publish)

        # A transaction for its place in the commit order: it reads every
        # tenant's runs and writes nothing.
        await store.transaction(ACROSS_TENANTS, work)

    def _enter(self, run_id: str, thread: tuple[str, str], agent_id: str, status: int) -> None:
        self._runs[run_id] = (thread, agent_id, status)
        self._by_thread[thread].add(run_id)
        self._in_flight.labels(agent_id, status_label(status)).inc()

    def _leave(self, run_id: str) -> tuple[tuple[str, str], str, int] | None:
        known = self._runs.pop(run_id, None)
        if known is None:
            return None
        thread_id, agent_id, status = known
        runs = self._by_thread.get(thread_id)
        if runs is not None:
            runs.discard(run_id)
            if not runs:
                del self._by_thread[thread_id]
        self._in_flight.labels(agent_id, status_label(status)).dec()
        return known

    def publish(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Follow the run state changes of a committed transaction (an event listener)."""
        for event in events:
            thread = (tenant, event.thread_id)
            if event.type == THREAD_DELETED:
                for run_id in list(self._by_thread.get(thread, ())):
                    self._leave(run_id)
                continue
            if not event.HasField("run"):
                continue
            run = event.run
            before = self._leave(run.run_id)
            if run.status in _IN_FLIGHT:
                if before is None:
                    self._created.labels(run.agent_id).inc()
                self._enter(run.run_id, thread, run.agent_id, run.status)
            elif before is not None:
                self._ended.labels(run.agent_id, status_label(run.status)).inc()


# -- stream readers -----------------------------------------------------------------


@dataclass(eq=False)
class StreamReader:
    """One open StreamRunEvents, StreamRun or WatchThread call, as the lag sees it."""

    method: str
    tenant: str
    run_id: str
    thread_id: str
    after: int
    opened: float
    last: run_pb2.RunEvent | None = None


class StreamReaders(Collector):
    """How far behind the newest committed event each stream reader is.

    A reader is behind when an event of what it follows (its run, or its
    thread for WatchThread) has committed after the last one it was sent. Its
    lag is then the age of the last event it was sent (or, before the first,
    the time since it opened): how long its client has been waiting for
    events that exist. A reader that is up to date has no lag. Exported per
    method: the largest lag, and how many readers are behind.

    The newest event of each run and thread comes from the store's event
    listener (the last NEWEST_REMEMBERED of each); a reader costs one
    attribute write per event sent. All of it is read when scraped.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self._readers: set[StreamReader] = set()
        self._newest_by_run: collections.OrderedDict[str, int] = collections.OrderedDict()
        # By (tenant, thread id): two tenants may each have a thread of one id.
        self._newest_by_thread: collections.OrderedDict[tuple[str, str], int] = (
            collections.OrderedDict()
        )
        registry.register(self)

    def publish(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Remember the newest event id of each run and thread (an event listener)."""
        for event in events:
            if event.type == THREAD_DELETED:
                self._newest_by_thread.pop((tenant, event.thread_id), None)
                continue
            _remember(self._newest_by_thread, (tenant, event.thread_id), event.event_id)
            if event.run_id:
                _remember(self._newest_by_run, event.run_id, event.event_id)

    @contextlib.contextmanager
    def reader(
        self, method: str, tenant: str, *, run_id: str = "", thread_id: str = "", after: int = 0
    ) -> Iterator[StreamReader]:
        """Track a stream while it is open; set ``last`` to each event sent.

        A run reader is given run_id, or learns it from its first event
        (StreamRun); a thread reader is given thread_id.
        """
        reader = StreamReader(method, tenant, run_id, thread_id, after, time.time())
        self._readers.add(reader)
        try:
            yield reader
        finally:
            self._readers.discard(reader)

    def _lag(self, reader: StreamReader, now: float) -> float | None:
        """Seconds behind, or None when the reader is up to date."""
        last = reader.last
        if reader.thread_id:
            newest = self._newest_by_thread.get((reader.tenant, reader.thread_id))
        else:
            run_id = reader.run_id or (last.run_id if last is not None else "")
            newest = self._newest_by_run.get(run_id) if run_id else None
        sent = last.event_id if last is not None else reader.after
        if newest is None or newest <= sent:
            return None
        since = last.created_at.ToMicroseconds() / 1e6 if last is not None else reader.opened
        return max(0.0, now - since)

    def describe(self) -> Iterable[Metric]:
        """Name the families (so the registry need not collect to register)."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """Compute lag per reader now; report the worst and the count behind, per method."""
        now = time.time()
        worst: dict[str, float] = {}
        behind: dict[str, int] = {}
        for reader in self._readers:
            worst.setdefault(reader.method, 0.0)
            behind.setdefault(reader.method, 0)
            lag = self._lag(reader, now)
            if lag is not None:
                worst[reader.method] = max(worst[reader.method], lag)
                behind[reader.method] += 1
        lag_family, behind_family = self._families()
        for method, seconds in sorted(worst.items()):
            service, name = split_method(method)
            lag_family.add_metric([service, name], seconds)
            behind_family.add_metric([service, name], behind[method])
        return [lag_family, behind_family]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        labels = ["grpc_service", "grpc_method"]
        return [
            GaugeMetricFamily(
                "threadline_stream_reader_lag_seconds",
                "Of the open streams of run or thread events whose client has newer events "
                "waiting, the longest wait: the age of the last event sent to it.",
                labels=labels,
            ),
            GaugeMetricFamily(
                "threadline_stream_readers_behind",
                "Open streams of run or thread events with newer events waiting to be sent.",
                labels=labels,
            ),
        ]


def _remember(newest: collections.OrderedDict[K, int], key: K, event_id: int) -> None:
    newest[key] = event_id
    newest.move_to_end(key)
    if len(newest) > NEWEST_REMEMBERED:
        newest.popitem(last=False)


# -- all of them --------------------------------------------------------------------


class Metrics:
    """Every metric of one server, in a registry of its own (tests run several servers)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info(
            "threadline_build",
            "The server's version, and the gRPC and SQLite versions it runs on.",
            registry=self.registry,
        ).info(
            {"version": __version__, "grpcio": grpc.__version__, "sqlite": sqlite3.sqlite_version}
        )
        self.grpc = GrpcMetrics(self.registry)
        self.http = HttpMetrics(self.registry)
        self.store = StoreMetrics(self.registry)
        self.runs = RunMetrics(self.registry)
        self.streams = StreamReaders(self.registry)
        self.webhooks = WebhookMetrics(self.registry)
        self.handler = make_aiohttp_handler(self.registry)
        """The aiohttp handler of GET /metrics (text format, or OpenMetrics when asked)."""

    async def follow(self, store: Store, agents: Iterable[str]) -> None:
        """Start following the store: run counts from it, then every commit's events."""
        await self.runs.follow(store, agents)
        store.add_event_listener(self.streams.publish)
        store.add_event_listener(self.store.publish)
