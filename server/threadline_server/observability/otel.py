"""The OpenTelemetry pieces: a tracer provider, and the instrumentations that use it.

- gRPC: opentelemetry-instrumentation-grpc's grpc.aio server interceptor. It
  runs inside Threadline's own interceptor, so a call refused at the
  concurrency cap costs no span. The health and reflection services are not
  traced (probes would drown the traces; and health's Watch, which writes with
  context.write, is not the async generator the interceptor expects).
- HTTP: opentelemetry-instrumentation-aiohttp-server's middleware. The HTTP
  side routes every request itself, so the span is renamed to the route
  template once it is known (``GET /v1/threads/{thread_id}``), and the trace
  context is put in the metadata of the loopback gRPC call it makes: the gRPC
  span is a child of the HTTP span.

Only imported when traces are on (observability.traces).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import grpc
from aiohttp import web
from opentelemetry import propagate, trace
from opentelemetry.distro import OpenTelemetryConfigurator
from opentelemetry.instrumentation.aiohttp_server import (
    AioHttpServerInstrumentor,
    create_aiohttp_middleware,
)
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.instrumentation.grpc.filters import any_of, negate, service_prefix
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE

from threadline_server import __version__

UNTRACED_SERVICES = ("grpc.health.", "grpc.reflection.")


class Tracing:
    """Traces of one server, through one tracer provider."""

    def __init__(self, provider: trace.TracerProvider, *, owned: bool = False) -> None:
        self.provider = provider
        # The provider made from the environment is flushed and shut down with
        # the server; one handed in (a test's) belongs to whoever made it.
        self._owned = owned

    def grpc_interceptor(self) -> grpc.aio.ServerInterceptor:  # type: ignore[type-arg]
        """Return the gRPC server interceptor that starts a span per call."""
        # Untyped in opentelemetry-instrumentation-grpc.
        interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[type-arg,no-untyped-call]
            tracer_provider=self.provider,
            filter_=negate(any_of(*(service_prefix(name) for name in UNTRACED_SERVICES))),
        )
        return interceptor

    def http_middleware(self) -> Any:
        """Return the aiohttp middleware that starts a span per request.

        The instrumentor sets the middleware's module state (tracer, meters,
        excluded URLs from OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS) and would
        patch every aiohttp Application in the process; it is undone at once,
        and the middleware is given to the gateway's application alone. (The
        patch subclasses web.Application, which aiohttp warns about; since that
        subclass is never used, the warning is not shown.)
        """
        instrumentor = AioHttpServerInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "ignore", "Inheritance class _InstrumentedApplication", DeprecationWarning
                )
                instrumentor.instrument(tracer_provider=self.provider)
            instrumentor.uninstrument()
        return create_aiohttp_middleware(tracer_provider=self.provider)

    @staticmethod
    def routed(request: web.Request, route: str) -> None:
        """Name the request's span after the route template it matched."""
        span = trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{request.method} {route}")
            span.set_attribute(HTTP_ROUTE, route)

    @staticmethod
    def inject(metadata: list[tuple[str, str]]) -> None:
        """Add the current trace context (traceparent…) to outgoing gRPC metadata."""
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        metadata.extend(carrier.items())

    def shutdown(self) -> None:
        """Export what is still buffered (when the provider is the server's own)."""
        shutdown = getattr(self.provider, "shutdown", None)
        if self._owned and shutdown is not None:
            shutdown()


def configure_from_environment() -> Tracing:
    """Configure the SDK from the OTEL_* variables, as opentelemetry-instrument would.

    An OTLP endpoint alone means the ``otlp`` exporter (what the OpenTelemetry
    distro assumes too); a service name is ``threadline`` unless one is given.
    """
    environ = os.environ
    if not environ.get("OTEL_TRACES_EXPORTER", "").strip():
        environ["OTEL_TRACES_EXPORTER"] = "otlp"
    if not environ.get("OTEL_SERVICE_NAME", "").strip() and "service.name=" not in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    ):
        environ["OTEL_SERVICE_NAME"] = "threadline"
    attributes: dict[str, str] = {}
    if "service.version=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        attributes["service.version"] = __version__
    # The distro's configurator is untyped.
    configurator = OpenTelemetryConfigurator()  # type: ignore[no-untyped-call]
    configurator.configure(resource_attributes=attributes)  # type: ignore[no-untyped-call]
    return Tracing(trace.get_tracer_provider(), owned=True)
