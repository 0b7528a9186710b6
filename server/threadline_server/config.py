"""Configuration: the one place every setting is defined, with its flag and variable.

Precedence is flag, then THREADLINE_* environment variable, then default.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from threadline_server import key_secret

LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Settings:
    """Everything the server can be told at start-up."""

    listen: str = "127.0.0.1:50051"
    http_listen: str = "127.0.0.1:8080"
    database: str = "./threadline.db"
    log_level: str = "INFO"
    log_format: str = "text"
    grace_period: float = 10.0
    max_concurrent_rpcs: int = 1000
    read_connections: int = 4
    db_busy_timeout: float = 5.0
    db_maintenance_interval: float = 5.0
    expiry_sweep_interval: float = 60.0
    agents: tuple[str, ...] = ()
    worker_agents: tuple[str, ...] = ()
    run_timeout: float = 600.0
    lease_check_interval: float = 1.0
    server_lease: float = 15.0
    action_timeout: float = 24 * 3600.0
    metrics_listen: str = ""
    event_tail_bytes: int = 64 * 1024 * 1024
    key_secret_file: str = ""
    reflection: str = "auto"
    agent_tenants: tuple[str, ...] = ()
    tenant_max_streams: int = 500
    tenant_max_runs: int = 1000
    tenant_calls_per_second: int = 2000
    default_thread_ttl: float = 0.0
    max_thread_ttl: float = 0.0
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    cors_origins: tuple[str, ...] = ()
    http_allowed_hosts: tuple[str, ...] = ()
    handshake_timeout: float = 10.0
    http_header_timeout: float = 10.0
    http_body_timeout: float = 60.0
    http_idle_timeout: float = 60.0
    grpc_max_connection_idle: float = 300.0
    grpc_max_connection_age: float = 3600.0
    grpc_max_connection_age_grace: float = 600.0
    webhook_allow: tuple[str, ...] = ()
    webhook_timeout: float = 10.0
    webhook_first_retry: float = 5.0
    webhook_max_retry_delay: float = 3600.0
    webhook_retry_window: float = 86400.0

    @property
    def key_secret_path(self) -> str:
        """The file with the secret keys are hashed with: given, or beside the database."""
        return self.key_secret_file or key_secret.default_path(self.database)

    @property
    def default_thread_ttl_us(self) -> int | None:
        """The ttl of threads Chat makes, in microseconds; None: they never expire."""
        return _micros_or_none(self.default_thread_ttl)

    @property
    def max_thread_ttl_us(self) -> int | None:
        """The longest ttl a request may give, in microseconds; None: no cap."""
        return _micros_or_none(self.max_thread_ttl)

    def agent_tenant_map(self) -> dict[str, frozenset[str]]:
        """Return, for each agent restricted to some tenants, those tenants."""
        found: dict[str, set[str]] = {}
        for spec in self.agent_tenants:
            name, _, tenant = spec.partition("=")
            found.setdefault(name, set()).add(tenant)
        return {name: frozenset(tenants) for name, tenants in found.items()}


def _micros_or_none(seconds: float) -> int | None:
    return round(seconds * 1_000_000) if seconds else None


# A thread's ttl is 1 second to 3650 days (thread.proto).
_TTL_RANGE = (1.0, 3650 * 24 * 3600.0)

_HELP = {
    "listen": "host:port for gRPC (port 0 picks a free port)",
    "http_listen": "host:port for HTTP/JSON (port 0 picks a free port; empty or --no-http: off)",
    "database": "SQLite database file (a path, or sqlite:PATH), or a PostgreSQL database "
    "(postgresql://user@host/name, for several processes on one database)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "log_format": "text (one line of key=value pairs) or json (one JSON object per line)",
    "grace_period": "seconds in-flight calls get to finish on SIGTERM/SIGINT",
    "max_concurrent_rpcs": "calls over this many at once get RESOURCE_EXHAUSTED",
    "read_connections": "SQLite read connections (reads run beside the single writer)",
    "db_busy_timeout": "seconds a write waits for a database another process holds locked "
    "before the call fails UNAVAILABLE (with a RetryInfo hint)",
    "db_maintenance_interval": "seconds between the database's upkeep: purging deleted "
    "threads' rows in batches, and a TRUNCATE checkpoint when the WAL outgrew its limit",
    "expiry_sweep_interval": "seconds between sweeps that delete expired threads",
    "agents": "a Python agent to serve, NAME=module:attribute; repeat for more "
    "(the variable takes a comma-separated list)",
    "worker_agents": "an agent whose runs worker processes serve over AgentWorkerService; "
    "repeat for more (the variable takes a comma-separated list)",
    "run_timeout": "seconds an in-process run may take before it fails with TIMEOUT",
    "lease_check_interval": "seconds between checks for worker leases that ran out (and for "
    "paused runs past their --action-timeout)",
    "action_timeout": "seconds a run paused in REQUIRES_ACTION waits for ResumeRun before it "
    "ends CANCELLED with ACTION_EXPIRED",
    "server_lease": "with PostgreSQL: seconds a server holds a run it executes without "
    "renewing (renewed every third of it); runs of a server that died end this long after",
    "key_secret_file": "file with the secret API keys are hashed with (default: the "
    "database's path + .key-secret; `threadline keys create` makes it)",
    "reflection": "server reflection: open (to anyone), closed (to callers with a valid key), "
    "or auto (open on a loopback address, else closed)",
    "agent_tenants": "serve an agent to this tenant only, NAME=TENANT; repeat for more "
    "tenants (an agent named in none is served to every tenant; the variable takes a "
    "comma-separated list)",
    "tenant_max_streams": "streams one tenant may have open at once (0: no limit)",
    "tenant_max_runs": "runs one tenant may have queued or running at once (0: no limit)",
    "tenant_calls_per_second": "calls per second one tenant may make, in bursts of up to "
    "a second's worth (0: no limit)",
    "metrics_listen": "host:port of a listener that serves only GET /metrics (Prometheus); "
    "empty: /metrics is served on the HTTP/JSON listener, or nowhere with --no-http",
    "event_tail_bytes": "bytes of recent events kept in memory for streams, all threads "
    "together (older ones are read from the database)",
    "default_thread_ttl": "seconds of inactivity after which a thread made by Chat expires, "
    "unless the Chat request gives a ttl (0: never; 86400 is Hermes' 24 hours)",
    "max_thread_ttl": "the longest ttl, in seconds, a request may give a thread; a longer one "
    "is refused with INVALID_ARGUMENT, not shortened (0: no cap; Hermes allows 2592000, 720 "
    "hours)",
    "tls_cert": "PEM file with the server's certificate chain: TLS on the gRPC and HTTP/JSON "
    "listeners (with --tls-key; SIGHUP reloads both files)",
    "tls_key": "PEM file with the private key of --tls-cert (not encrypted)",
    "tls_client_ca": "PEM file of the CAs that sign client certificates: mutual TLS, where a "
    "client without such a certificate is refused (needs --tls-cert)",
    "cors_origins": "an origin (https://app.example) whose pages may call the HTTP/JSON API; "
    "repeat for more (the variable takes a comma-separated list); none: CORS is off",
    "http_allowed_hosts": "a Host name accepted on a loopback HTTP/JSON listener besides "
    "loopback names (for a reverse proxy that passes its own); repeat for more (the variable "
    "takes a comma-separated list)",
    "handshake_timeout": "seconds a new connection has for its TLS handshake (both listeners) "
    "and, on gRPC, its HTTP/2 preface",
    "http_header_timeout": "seconds an HTTP client has to send a request's headers, from "
    "connecting or from the first byte of its next request",
    "http_body_timeout": "seconds an HTTP client has to send a request's body (408 after)",
    "http_idle_timeout": "seconds an HTTP keep-alive connection may wait for its next request "
    "(0: close after each response)",
    "grpc_max_connection_idle": "seconds a gRPC connection with no call open is kept "
    "(then GOAWAY; clients reconnect by themselves); 0: no limit",
    "grpc_max_connection_age": "seconds after which a gRPC connection is asked to go (GOAWAY, "
    "give or take 10%%): new calls go to a new connection; 0: no limit",
    "grpc_max_connection_age_grace": "seconds calls still open at that GOAWAY may go on; "
    "streams then end UNAVAILABLE and resume from their last event id; 0: no limit",
    "webhook_allow": "a CIDR (10.0.0.0/8) or host name webhooks may call although it is "
    "loopback, private, link-local or otherwise not global; repeat for more (the variable "
    "takes a comma-separated list); none: only global addresses",
    "webhook_timeout": "seconds one webhook attempt may take (connect, send, answer)",
    "webhook_first_retry": "seconds before a failed webhook delivery is first tried again "
    "(doubled after each failure, with jitter)",
    "webhook_max_retry_delay": "the longest wait, in seconds, between two tries of a delivery",
    "webhook_retry_window": "seconds after which a delivery still failing is given up "
    "(it then shows WEBHOOK_DELIVERY_STATUS_FAILED)",
}

# Settings that take several values: a repeated flag, or a comma-separated variable.
_FLAG_NAMES = {
    "agents": "--agent",
    "worker_agents": "--worker-agent",
    "agent_tenants": "--agent-tenant",
    "cors_origins": "--cors-origin",
    "http_allowed_hosts": "--http-allowed-host",
    "webhook_allow": "--webhook-allow",
}
_REFLECTION = ("auto", "open", "closed")
# Flags that set a setting to a fixed value: --no-http is --http-listen "".
_SWITCHES = {"http_listen": ("--no-http", "", "serve no HTTP/JSON (the same as --http-listen '')")}


def env_name(name: str) -> str:
    """Return the environment variable for a setting."""
    return "THREADLINE_" + name.upper()


def add_arguments(parser: argparse.ArgumentParser, only: Collection[str] = ()) -> None:
    """Add a --flag for every setting (or those named in only), with its variable and default."""
    for item in fields(Settings):
        if only and item.name not in only:
            continue
        if isinstance(item.default, tuple):
            parser.add_argument(
                _FLAG_NAMES[item.name],
                dest=item.name,
                action="append",
                default=None,
                help=f"{_HELP[item.name]} (${env_name(item.name)})",
            )
            continue
        parser.add_argument(
            "--" + item.name.replace("_", "-"),
            dest=item.name,
            type=type(item.default),
            default=None,
            help=f"{_HELP[item.name]} (${env_name(item.name)}, default {item.default})",
        )
        if item.name in _SWITCHES:
            flag, value, text = _SWITCHES[item.name]
            parser.add_argument(flag, dest=item.name, action="store_const", const=value, help=text)


def load(
    arguments: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build settings from parsed flags and the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for item in fields(Settings):
        flag = getattr(arguments, item.name, None) if arguments is not None else None
        kind: type[Any] = type(item.default)
        if flag is not None:
            values[item.name] = tuple(flag) if isinstance(item.default, tuple) else flag
        elif env_name(item.name) in environ and isinstance(item.default, tuple):
            raw = environ[env_name(item.name)]
            values[item.name] = tuple(part.strip() for part in raw.split(",") if part.strip())
        elif env_name(item.name) in environ:
            try:
                values[item.name] = kind(environ[env_name(item.name)])
            except ValueError:
                raise SystemExit(
                    f"{env_name(item.name)}={environ[env_name(item.name)]!r} is not a valid "
                    f"{kind.__name__}"
                ) from None
    settings = Settings(**values)
    _check(settings)
    return settings


def _check_database(settings: Settings) -> None:
    if settings.db_busy_timeout < 0 or settings.db_maintenance_interval <= 0:
        raise SystemExit("--db-busy-timeout must be >= 0 and --db-maintenance-interval > 0")


def _check_run_times(settings: Settings) -> None:
    if min(settings.run_timeout, settings.lease_check_interval, settings.action_timeout) <= 0:
        raise SystemExit("run timeout, lease check interval and action timeout must be positive")
    if settings.server_lease < 1:
        raise SystemExit("the server lease must be 1 s or more")


def _check(settings: Settings) -> None:
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SystemExit(f"log level {settings.log_level!r} is not DEBUG, INFO, WARNING or ERROR")
    if settings.log_format not in LOG_FORMATS:
        raise SystemExit(f"log format {settings.log_format!r} is not text or json")
    if settings.grace_period < 0:
        raise SystemExit("grace period must not be negative")
    _check_database(settings)
    if settings.max_concurrent_rpcs < 1 or settings.read_connections < 1:
        raise SystemExit("max concurrent RPCs and read connections must be at least 1")
    if settings.expiry_sweep_interval <= 0:
        raise SystemExit("expiry sweep interval must be positive")
    _check_run_times(settings)
    if settings.event_tail_bytes < 0:
        raise SystemExit("event tail bytes must not be negative")
    _check_ttls(settings)
    for flag, address in (
        ("--http-listen", settings.http_listen),
        ("--metrics-listen", settings.metrics_listen),
    ):
        if address:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or int(port) > 65535:
                raise SystemExit(f"{flag} {address!r} is not host:port")
    for spec in settings.agents:
        name, _, target = spec.partition("=")
        if not name or ":" not in target:
            raise SystemExit(f"--agent {spec!r} is not NAME=module:attribute")
    _check_transport(settings)
    _check_tenancy(settings)
    _check_webhooks(settings)


def _check_ttls(settings: Settings) -> None:
    low, high = _TTL_RANGE
    for flag, value in (
        ("--default-thread-ttl", settings.default_thread_ttl),
        ("--max-thread-ttl", settings.max_thread_ttl),
    ):
        if value and not low <= value <= high:
            raise SystemExit(f"{flag} must be 0 (none) or 1 to {high:.0f} seconds (3650 days)")
    if settings.max_thread_ttl and settings.default_thread_ttl > settings.max_thread_ttl:
        raise SystemExit("--default-thread-ttl must not be longer than --max-thread-ttl")


# scheme://host[:port], as a browser sends it in Origin: no path, no trailing slash.
_ORIGIN = re.compile(r"https?://[^/\s:]+(?::\d{1,5})?\Z|https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\Z")


def _check_transport(settings: Settings) -> None:
    """TLS files come as a pair; origins are origins; timeouts are positive."""
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together: give both, or neither")
    if settings.tls_client_ca and not settings.tls_cert:
        raise SystemExit("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
    for origin in settings.cors_origins:
        if not _ORIGIN.match(origin):
            raise SystemExit(
                f"--cors-origin {origin!r} is not an origin: scheme://host[:port], with no "
                "path or trailing slash (https://app.example)"
            )
    for host in settings.http_allowed_hosts:
        if not host or any(char in host for char in "/: "):
            raise SystemExit(f"--http-allowed-host {host!r} is not a host name (no port)")
    for name in ("handshake_timeout", "http_header_timeout", "http_body_timeout"):
        if getattr(settings, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    for name in (
        "http_idle_timeout",
        "grpc_max_connection_idle",
        "grpc_max_connection_age",
        "grpc_max_connection_age_grace",
    ):
        if getattr(settings, name) < 0:
            raise SystemExit(f"--{name.replace('_', '-')} must not be negative")


def _check_tenancy(settings: Settings) -> None:
    for spec in settings.agent_tenants:
        name, _, tenant = spec.partition("=")
        if not name or not tenant:
            raise SystemExit(f"--agent-tenant {spec!r} is not NAME=TENANT")
    if settings.reflection not in _REFLECTION:
        raise SystemExit(f"--reflection {settings.reflection!r} is not auto, open or closed")
    if (
        min(settings.tenant_max_streams, settings.tenant_max_runs, settings.tenant_calls_per_second)
        < 0
    ):
        raise SystemExit("tenant limits must not be negative (0 means no limit)")


def _check_webhooks(settings: Settings) -> None:
    for item in settings.webhook_allow:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            if not item or any(char in item for char in "/: "):
                raise SystemExit(
                    f"--webhook-allow {item!r} is neither a CIDR (10.0.0.0/8, fd00::/8) nor a "
                    "host name"
                ) from None
    for name in ("webhook_timeout", "webhook_first_retry", "webhook_max_retry_delay"):
        if getattr(settings, name) <= 0:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive")
    if settings.webhook_retry_window < 0:
        raise SystemExit("--webhook-retry-window must not be negative")


def parse(argv: Sequence[str]) -> Settings:
    """Parse ``serve`` flags (used by tests and the CLI alike)."""
    parser = argparse.ArgumentParser(prog="threadline serve")
    add_arguments(parser)
    return load(parser.parse_args(list(argv)))
