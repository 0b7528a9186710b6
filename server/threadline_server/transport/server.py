"""The gRPC server: Threadline's services, health, reflection, and a graceful stop.

Start-up order: check the keys rule (without keys, loopback addresses only),
bind, open the store (migrations run), then serve. On stop:
health flips to NOT_SERVING for every service (so load balancers drain), the
server refuses new calls and gives in-flight ones the grace period, then the
store finishes its pending writes and closes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)

from threadline_server.config import Settings
from threadline_server.domain import idempotency, webhook_outbox
from threadline_server.domain.agents import Agent, load_agent
from threadline_server.domain.builtin_agents import BUILTIN_AGENTS
from threadline_server.domain.engine import RunEngine
from threadline_server.domain.events import EventBus
from threadline_server.domain.keys import KeyVerifier
from threadline_server.domain.messages import MessageHandler
from threadline_server.domain.runs import RunHandler
from threadline_server.domain.state import StateHandler
from threadline_server.domain.threads import ThreadHandler
from threadline_server.domain.webhook_outbox import RetryPolicy
from threadline_server.domain.webhook_urls import AddressPolicy
from threadline_server.domain.webhooks import WebhookHandler
from threadline_server.domain.workers import WorkerHandler
from threadline_server.http.browser import BrowserPolicy
from threadline_server.http.connections import HttpLimits
from threadline_server.http.gateway import HttpGateway, Observers
from threadline_server.http.routes import bindings_for
from threadline_server.key_secret import KeySecretFile
from threadline_server.observability.exposition import MetricsListener
from threadline_server.observability.metrics import Metrics
from threadline_server.outbound.dispatcher import Dispatcher
from threadline_server.outbound.sender import Sender
from threadline_server.store import choice
from threadline_server.store.base import SchemaTooNewError
from threadline_server.store.records import DEFAULT_TENANT
from threadline_server.transport.auth import AccessInterceptor
from threadline_server.transport.health import HealthServicer
from threadline_server.transport.interceptors import ServerInterceptor
from threadline_server.transport.limits import CallLimits, Caps
from threadline_server.transport.local_calls import LocalChannel
from threadline_server.transport.reflection import enable_server_reflection
from threadline_server.transport.requests import ParsingRegistrar
from threadline_server.transport.run_services import AgentWorkerService, RunService
from threadline_server.transport.services import MessageService, ThreadService
from threadline_server.transport.tls import ServerTls, TlsError, TlsFiles
from threadline_server.transport.webhook_services import WebhookService

if TYPE_CHECKING:
    from threadline_server.observability.otel import Tracing

logger = logging.getLogger("threadline")

SERVICE_NAMES = (
    thread_pb2.DESCRIPTOR.services_by_name["ThreadService"].full_name,
    message_pb2.DESCRIPTOR.services_by_name["MessageService"].full_name,
    run_pb2.DESCRIPTOR.services_by_name["RunService"].full_name,
    worker_pb2.DESCRIPTOR.services_by_name["AgentWorkerService"].full_name,
    webhook_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name,
)

# Keepalive: ping idle clients every 60 s so a silent stream on a dead
# connection is noticed (the default is 2 hours), and let clients ping as often
# as every 10 s; a client that pings more often without data in between gets
# GOAWAY "too_many_pings" at its third such ping.
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 2),
    ("grpc.http2.max_pings_without_data", 0),
)
SERVER_OPTIONS = (
    *KEEPALIVE_OPTIONS,
    # Bounded streams per connection (HTTP/2 rapid reset, CVE-2023-44487).
    ("grpc.max_concurrent_streams", 256),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
)
# What gRPC means by "no limit" for the connection limits below.
_NO_LIMIT_MS = 2**31 - 1


def server_options(settings: Settings) -> tuple[tuple[str, Any], ...]:
    """SERVER_OPTIONS with the connection limits of the settings (0 there: no limit).

    Idle: a connection with no call open is sent GOAWAY (clients reconnect when
    they next call). Age: every connection is sent GOAWAY after a while (give
    or take 10 %), so clients spread over new server processes and pick up a
    reloaded certificate, and a client whose certificate is no longer trusted
    does not keep its connection; calls open then get the grace to end, after
    which streams end UNAVAILABLE and clients resume from their last event id.
    Handshake: TLS and the HTTP/2 preface must be done in time.
    """

    def milliseconds(seconds: float) -> int:
        return round(seconds * 1000) if seconds > 0 else _NO_LIMIT_MS

    return (
        *SERVER_OPTIONS,
        ("grpc.max_connection_idle_ms", milliseconds(settings.grpc_max_connection_idle)),
        ("grpc.max_connection_age_ms", milliseconds(settings.grpc_max_connection_age)),
        (
            "grpc.max_connection_age_grace_ms",
            milliseconds(settings.grpc_max_connection_age_grace),
        ),
        ("grpc.server_handshake_timeout_ms", milliseconds(settings.handshake_timeout)),
    )


class ThreadlineServer:
    """One Threadline process: store, gRPC server, health, and background sweeps.

    Metrics are always kept (in a registry of the server's own); traces only
    when given a Tracing (the command line makes one from OTEL_* variables).
    """

    def __init__(self, settings: Settings, *, tracing: Tracing | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.tracing = tracing
        self.store = choice.open_store(
            settings.database,
            read_connections=settings.read_connections,
            busy_timeout=settings.db_busy_timeout,
            maintenance_interval=settings.db_maintenance_interval,
            write_observer=self.metrics.store.observe_write,
        )
        self._health = HealthServicer(("", *SERVICE_NAMES))
        self._server: grpc.aio.Server | None = None
        self._background: list[asyncio.Task[None]] = []
        self.bus = EventBus(self.store, max_bytes=settings.event_tail_bytes)
        self.threads = ThreadHandler(self.store, max_ttl_us=settings.max_thread_ttl_us)
        self.engine = RunEngine(
            self.store,
            self.bus,
            _agents(settings.agents),
            settings.worker_agents,
            run_timeout=settings.run_timeout,
            action_timeout=settings.action_timeout,
            agent_tenants=settings.agent_tenant_map(),
            max_runs_in_flight=settings.tenant_max_runs,
            server_lease_us=int(settings.server_lease * 1_000_000),
        )
        # Webhooks: which addresses they may reach, and the outbox's dispatcher.
        self.webhook_addresses = AddressPolicy(settings.webhook_allow)
        retry = RetryPolicy(
            first_delay=settings.webhook_first_retry,
            max_delay=settings.webhook_max_retry_delay,
            window=settings.webhook_retry_window,
            attempt_timeout=settings.webhook_timeout,
        )
        self.dispatcher = Dispatcher(
            self.store,
            Sender(self.webhook_addresses, timeout=settings.webhook_timeout),
            retry,
            observe=self.metrics.webhooks.observe,
        )
        self.key_secret = KeySecretFile(settings.key_secret_path)
        self.limits = CallLimits(
            Caps(
                max_concurrent_calls=settings.max_concurrent_rpcs,
                streams_per_tenant=settings.tenant_max_streams,
                calls_per_second_per_tenant=settings.tenant_calls_per_second,
            )
        )
        self.local_only = _is_loopback(settings.listen) and (
            not settings.http_listen or _is_loopback(settings.http_listen)
        )
        self.access = AccessInterceptor(
            self.limits,
            reflection_open=settings.reflection == "open"
            or (settings.reflection == "auto" and _is_loopback(settings.listen)),
        )
        self.port = 0
        # TLS for both listeners, when --tls-cert is given (loaded in start).
        self.tls: ServerTls | None = None
        # The HTTP/JSON side: a gateway that calls this server's handlers in
        # process, behind the same interceptors (local_calls.LocalChannel): no
        # port or socket of its own, so it needs no client certificate and
        # offers no other way in. None when settings.http_listen is empty.
        self.http: HttpGateway | None = None
        self._local: LocalChannel | None = None
        self.http_port = 0
        # GET /metrics on a listener of its own (--metrics-listen), if asked for.
        self.metrics_listener: MetricsListener | None = None
        self.metrics_port = 0

    async def start(self) -> int:
        """Bind, open the store, recover runs, then serve; return the bound gRPC port.

        Binding comes first (gRPC, then HTTP), so a second server started by
        mistake on a busy port stops before it touches the database. HTTP is
        served once gRPC is, since it calls the gRPC server.
        """
        await self._check_keys_rule()
        self.tls = _load_tls(self.settings)
        interceptors: list[grpc.aio.ServerInterceptor] = [  # type: ignore[type-arg]
            ServerInterceptor(self.metrics.grpc)
        ]
        # The gauge of the cap shows the cap transport/limits.py enforces.
        self.metrics.grpc.calls_limit.set(self.settings.max_concurrent_rpcs)
        if self.tracing is not None:
            interceptors.append(self.tracing.grpc_interceptor())
        # Innermost, so that refused calls are logged, counted and traced too.
        interceptors.append(self.access)
        self.metrics.grpc.initialise(SERVICE_NAMES)
        # Our interceptors return the same wrapped handler for a method on
        # every call, so without tracing (whose interceptor makes a span per
        # call) each method is wrapped once, below, and grpc runs no
        # interceptor per call (two cost about 10% of the empty server's CPU
        # per call: bench/grpc_cost.py, the interceptors variant).
        per_call = self.tracing is not None
        server = grpc.aio.server(
            interceptors=interceptors if per_call else None,
            options=server_options(self.settings),
        )
        # Every service registers through the registrar: each method then
        # takes its request as bytes and answers undecodable ones itself.
        registrar: Any = ParsingRegistrar(server)
        self._register_services(registrar)
        self._add_ports(server)
        host = self.settings.listen.rsplit(":", 1)[0]
        self._local = LocalChannel(registrar.handlers, interceptors)
        if not per_call:
            # Each method as the interceptors wrap it: the very handler they
            # would return on every call (the HTTP side's calls wrap the same way).
            local = self._local
            registrar.serve(
                {method: await local.resolve(method, ()) for method in registrar.handlers}
            )
        try:
            self._bind_listeners()
            await self._open_store()
        except SystemExit:
            await server.stop(None)
            for listener in (self.http, self.metrics_listener):
                if listener is not None:
                    await listener.stop(0)
            raise
        self.access.verifier = KeyVerifier(
            self.store.keys, self.key_secret.read, anonymous_allowed=self.local_only
        )
        if self.access.verifier.anonymous:
            logger.info(
                "no API keys: calls without a key act as tenant %r (loopback only)",
                DEFAULT_TENANT,
            )
        # Before recovery, which may end runs: run counts start from the store
        # and follow every commit from then on.
        await self.metrics.follow(self.store, self.engine.agents.names())
        await self.engine.scheduler.recover()
        await server.start()
        self._server = server
        # Deliveries left in the outbox by an earlier process go out now.
        await self.dispatcher.start()
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._background = [
            asyncio.create_task(
                self._every(self.settings.expiry_sweep_interval, self._sweep_expired),
                name="expiry-sweeper",
            ),
            asyncio.create_task(
                self._every(self.settings.lease_check_interval, self._expire_leases),
                name="lease-checker",
            ),
            asyncio.create_task(
                self._every(self.settings.lease_check_interval, self._expire_actions),
                name="action-expirer",
            ),
        ]
        logger.info(
            "listening on %s:%d database=%s%s",
            host,
            self.port,
            self._database_name(),
            self._tls_note(),
        )
        if self.http is not None:
            await self.http.start()
            http_host = self.settings.http_listen.rsplit(":", 1)[0]
            logger.info("http listening on %s:%d%s", http_host, self.http_port, self._tls_note())
        if self.metrics_listener is not None:
            await self.metrics_listener.start()
            metrics_host = self.settings.metrics_listen.rsplit(":", 1)[0]
            logger.info("metrics listening on %s:%d", metrics_host, self.metrics_port)
        elif self.http is None:
            logger.info("metrics not served: no HTTP listener and no --metrics-listen")
        return self.port

    def _register_services(self, registrar: Any) -> None:
        """Register every service (Threadline's, health, reflection) through the registrar."""
        thread_pb2_grpc.add_ThreadServiceServicer_to_server(
            ThreadService(self.threads, StateHandler(self.store)), registrar
        )
        message_pb2_grpc.add_MessageServiceServicer_to_server(
            MessageService(MessageHandler(self.store)), registrar
        )
        run_pb2_grpc.add_RunServiceServicer_to_server(
            RunService(
                RunHandler(
                    self.engine,
                    default_thread_ttl_us=self.settings.default_thread_ttl_us,
                    max_thread_ttl_us=self.settings.max_thread_ttl_us,
                    webhook_addresses=self.webhook_addresses,
                ),
                self.metrics.streams,
            ),
            registrar,
        )
        worker_pb2_grpc.add_AgentWorkerServiceServicer_to_server(
            AgentWorkerService(WorkerHandler(self.engine)), registrar
        )
        webhook_pb2_grpc.add_WebhookServiceServicer_to_server(
            WebhookService(WebhookHandler(self.store, self.webhook_addresses)), registrar
        )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, registrar)
        enable_server_reflection((*SERVICE_NAMES, health.SERVICE_NAME), registrar)

    async def _open_store(self) -> None:
        """Open the store (migrating it); refuse a schema newer than this release knows."""
        try:
            await self.store.open()
        except SchemaTooNewError as error:
            await self.store.close()
            raise SystemExit(f"refusing to serve {self._database_name()}: {error}") from None

    def _database_name(self) -> str:
        """Return the database as logs show it: a PostgreSQL URL without its password."""
        database = self.settings.database
        if choice.is_postgres(database):
            return choice.without_password(database)
        return database

    async def _check_keys_rule(self) -> None:
        """Refuse to serve without keys beyond loopback, or with keys that cannot be checked."""
        settings = self.settings
        has_keys = await choice.has_active_key(settings.database)
        if not has_keys and not self.local_only:
            addresses = " and ".join(
                a for a in (settings.listen, settings.http_listen) if a and not _is_loopback(a)
            )
            raise SystemExit(
                f"refusing to serve on {addresses} without API keys: anyone who reaches it "
                "could read and change every thread. Make a key first, "
                f"`threadline keys create --database {settings.database} --tenant "
                f"{DEFAULT_TENANT} --scope write` (callers send it as 'authorization: Bearer "
                "<key>'), or listen on a loopback address such as 127.0.0.1"
            )
        if has_keys and self.key_secret.read() is None:
            raise SystemExit(
                f"the database has API keys but their secret file {settings.key_secret_path} "
                "is missing: restore it from the backup of this database (or give "
                "--key-secret-file); without it no key can be checked"
            )

    def _add_ports(self, server: grpc.aio.Server) -> None:
        """Add the public port (TLS when asked for)."""
        try:
            if self.tls is not None:
                self.port = server.add_secure_port(
                    self.settings.listen, self.tls.grpc_credentials()
                )
            else:
                self.port = server.add_insecure_port(self.settings.listen)
        except RuntimeError as error:
            raise SystemExit(
                f"cannot listen on {self.settings.listen}: is another server using it? ({error})"
            ) from None

    def _tls_note(self) -> str:
        if self.tls is None:
            return ""
        kind = "mutual TLS" if self.tls.files.mutual else "TLS"
        return f" ({kind}, certificate sha256 {self.tls.fingerprint})"

    def reload_tls(self) -> None:
        """Load the certificate files again (SIGHUP); a bad file keeps the old certificate."""
        if self.tls is None:
            logger.info("SIGHUP: no TLS certificate to reload (no --tls-cert)")
            return
        try:
            self.tls.reload()
        except TlsError as error:
            logger.error("TLS certificate not reloaded, the old one is still served: %s", error)  # noqa: TRY400 - the reason is the message, a traceback adds nothing
            return
        logger.info("TLS certificate reloaded: new connections get sha256 %s", self.tls.fingerprint)

    def _bind_listeners(self) -> None:
        """Bind the HTTP/JSON socket and the metrics socket, when asked for.

        /metrics is on a listener of its own when --metrics-listen is set,
        else on the HTTP/JSON listener.
        """
        tracing = self.tracing
        settings = self.settings
        limits = HttpLimits(
            header_timeout=settings.http_header_timeout,
            body_timeout=settings.http_body_timeout,
            idle_timeout=settings.http_idle_timeout,
            handshake_timeout=settings.handshake_timeout,
        )
        if settings.http_listen and self._local is not None:
            observers = Observers(
                request_done=self.metrics.http.observe,
                routed=tracing.routed if tracing is not None else None,
                outgoing=tracing.inject if tracing is not None else None,
                middlewares=(tracing.http_middleware(),) if tracing is not None else (),
                metrics=None if self.settings.metrics_listen else self.metrics.handler,
            )
            self.http = HttpGateway(
                self._local,
                SERVICE_NAMES,
                observers,
                limits=limits,
                browser=BrowserPolicy(
                    cors_origins=settings.cors_origins,
                    methods=(binding.http_method for binding in bindings_for(SERVICE_NAMES)),
                    loopback=_is_loopback(settings.http_listen),
                    allowed_hosts=settings.http_allowed_hosts,
                ),
                ssl_context=self.tls.http_context() if self.tls is not None else None,
            )
            self.http_port = _bind("HTTP", self.http.bind, settings.http_listen)
        if self.settings.metrics_listen:
            self.metrics_listener = MetricsListener(self.metrics.handler, limits)
            self.metrics_port = _bind(
                "metrics", self.metrics_listener.bind, self.settings.metrics_listen
            )

    @staticmethod
    async def _every(interval: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run a background job every interval seconds; log its failures, never stop."""
        while True:
            await asyncio.sleep(interval)
            try:
                await job()
            except Exception:
                logger.exception("background job %s failed", job.__name__)

    async def _sweep_expired(self) -> None:
        deleted = await self.threads.delete_expired(limit=500)
        if deleted:
            logger.info("deleted %d expired threads", deleted)
        forgotten = await idempotency.forget_old(self.store)
        if forgotten:
            logger.info("forgot %d request ids older than 24 hours", forgotten)
        deliveries = await webhook_outbox.forget_old(self.store)
        if deliveries:
            logger.info("deleted %d webhook deliveries done more than 7 days ago", deliveries)

    async def _expire_leases(self) -> None:
        expired = await self.engine.scheduler.expire_leases()
        if expired:
            logger.info("%d worker leases ran out; their runs failed", expired)

    async def _expire_actions(self) -> None:
        expired = await self.engine.scheduler.expire_actions()
        if expired:
            logger.info("%d paused runs were not resumed in time; they were cancelled", expired)

    async def wait(self) -> None:
        """Wait until the server stops."""
        if self._server is not None:
            await self._server.wait_for_termination()

    async def stop(self, grace: float | None = None) -> None:
        """Drain: NOT_SERVING, refuse new calls, let in-flight ones finish, close the store."""
        grace = self.settings.grace_period if grace is None else grace
        logger.info("draining (grace %.1fs)", grace)
        await self._health.enter_graceful_shutdown()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        # In-process runs end now (FAILED, SERVER_STOPPED) with their final
        # events, so the streams that follow them end cleanly within the grace.
        await self.engine.stop()
        # Attempts under way get a part of the grace; the rest are tried again later.
        await self.dispatcher.stop(min(grace, self.settings.webhook_timeout) / 2)
        # HTTP stops first: its requests are calls to the gRPC services. The two
        # share one grace period.
        deadline = asyncio.get_running_loop().time() + grace
        if self.http is not None:
            await self.http.stop(grace)
        if self._server is not None:
            await self._server.stop(max(0.0, deadline - asyncio.get_running_loop().time()))
        await self.store.close()
        if self.metrics_listener is not None:
            await self.metrics_listener.stop()
        if self.tracing is not None:
            # The exporter's network call blocks: not on the event loop.
            await asyncio.to_thread(self.tracing.shutdown)
        logger.info("stopped")


def _is_loopback(address: str) -> bool:
    """Tell whether a listen address (host:port, or unix:path) is reachable from here only."""
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost, or a wildcard
        return False


def _bind(what: str, bind: Callable[[str], int], address: str) -> int:
    """Bind a listener; a taken address stops the server with a message saying so."""
    try:
        return bind(address)
    except OSError as error:
        raise SystemExit(
            f"cannot listen for {what} on {address}: is another server using it? ({error})"
        ) from None


def _load_tls(settings: Settings) -> ServerTls | None:
    """Load and check the TLS files of the settings; one that cannot be used stops the server."""
    if not settings.tls_cert:
        return None
    try:
        return ServerTls(TlsFiles(settings.tls_cert, settings.tls_key, settings.tls_client_ca))
    except TlsError as error:
        raise SystemExit(f"cannot serve TLS: {error}") from None


def _agents(specs: tuple[str, ...]) -> dict[str, Agent]:
    """Return the built-in agents plus those named with --agent (which may replace them)."""
    agents: dict[str, Agent] = dict(BUILTIN_AGENTS)
    for spec in specs:
        try:
            name, agent = load_agent(spec)
        except (ImportError, AttributeError, TypeError, ValueError) as error:
            raise SystemExit(f"cannot load --agent {spec!r}: {error}") from error
        agents[name] = agent
    return agents
