"""The HTTP/JSON side: aiohttp in front of this process's own gRPC services.

Each HTTP request is turned into a gRPC call, exactly as grpc-gateway v2
(default options) proxies a request, and the answer is framed the way
grpc-gateway frames it. In the server the call is made in process
(transport/local_calls.py: the server's own handlers behind its own
interceptors, so the access log, metrics, keys and caps, validation and errors
apply unchanged, without a loopback gRPC hop); given a target address instead,
the gateway calls that over a grpc.aio channel.

This module is the wiring: the aiohttp app and its limits, one request's
way (route, build the call, answer), the access log and the observers. Each
other job has a module of its own:
- Routing: routes.Router (grpc-gateway's ServeMux rules).
- Request: decode.py (body, then path parameters, then query parameters,
  params.py), JSON read as protojson with DiscardUnknown (jsonpb.py).
- Metadata and deadline: headers.py (``grpcgateway-<name>``,
  ``Grpc-Timeout``, ``Grpc-Metadata-<key>`` on answers).
- Errors: errors.py (``{"code", "message", "details"}`` with the HTTP status
  of the code).
- Replies and the API documents: responses.py (OpenAPI 3.1 at /openapi.json,
  Swagger 2.0 at /swagger.json).
- Server streaming: streaming.py (NDJSON, or Server-Sent Events).
- The gRPC call is cancelled as soon as the HTTP client goes away: grpc.aio no
  longer cancels an abandoned call by itself (grpc/grpc#43462).
- Browser safety (browser.py): cross-origin requests that act are refused,
  CORS only for listed origins, a loopback listener answers loopback names
  only; request bodies must be JSON (415), and are read within a deadline
  (408) and never inflated. Slow clients: connections.py.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from aiohttp import web
from aiohttp import web_response as _aiohttp_responses
from aiohttp.http_exceptions import HttpProcessingError
from google.rpc import code_pb2

from threadline_server.http import jsonpb, params
from threadline_server.http.browser import BrowserPolicy
from threadline_server.http.connections import (
    LISTEN_BACKLOG,
    GuardedSite,
    HttpLimits,
    track_requests,
)
from threadline_server.http.decode import (
    MAX_BODY_BYTES,
    Call,
    fill_body,
    fill_path,
    read_form,
    read_json,
)
from threadline_server.http.errors import (
    ROUTING_ERRORS,
    GatewayError,
    error_response,
    refused,
    status_from_error,
)
from threadline_server.http.headers import call_metadata, grpc_timeout, response_headers
from threadline_server.http.responses import (
    API_DOCUMENTS,
    answer_and_close,
    api_document,
    response_json,
)
from threadline_server.http.routes import Binding, Router, RoutingError, bindings_for
from threadline_server.http.streaming import NDJSON, serve_events, serve_stream
from threadline_server.transport.local_calls import LocalChannel

logger = logging.getLogger("threadline")
access_log = logging.getLogger("threadline.access")
ACCESS_LINE = (
    "http method=%(method)s path=%(path)s status=%(status)d duration_ms=%(duration_ms).2f "
    "peer=%(peer)s"
)

# The request line (with its query string) and each header field; beyond
# them aiohttp answers 400 before the request reaches the gateway.
MAX_LINE_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADERS = 128


class _OneLineParseErrors(logging.Filter):
    """Log a request aiohttp could not parse (too long a header, say) as one warning line.

    aiohttp answers such a request 400 itself and logs the parser's traceback
    at ERROR; a client can cause that at will, so it is a warning here.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            record.msg = "http request refused (%d): %s"
            record.args = (error.code, " ".join(str(error.message).split())[:200])
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


server_log = logging.getLogger("threadline.http")
server_log.addFilter(_OneLineParseErrors())

# aiohttp names itself and Python with their versions in a Server header on
# every answer (its own 400s too), with setdefault from this module global:
# the one place to say less.
setattr(_aiohttp_responses, "SERVER_SOFTWARE", "threadline")  # noqa: B010 - not re-exported


ROUTE = web.RequestKey("threadline_route", str)
"""The route template a request matched ("" until one matched), for metrics and traces."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Observers:
    """What watches the gateway (metrics and traces); every part is optional.

    The gateway calls plain functions and never imports a metrics or tracing
    library itself.
    """

    request_done: Callable[[str, str, int, float], None] | None = None
    """Called with method, route template ("" when none matched), status, seconds."""
    routed: Callable[[web.Request, str], None] | None = None
    """Called once a request matched a route template."""
    outgoing: Callable[[list[tuple[str, str]]], None] | None = None
    """May add to the metadata of the gRPC call a request makes (trace context)."""
    middlewares: tuple[Any, ...] = ()
    metrics: Handler | None = None
    """Serves GET /metrics, when given."""


def bind_tcp(listen: str) -> socket.socket:
    """Bind and listen on host:port (port 0: any free port); serving comes later."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpGateway:
    """Serves the annotated RPCs of some services over HTTP/JSON, by calling them as gRPC calls."""

    def __init__(
        self,
        grpc_target: str | LocalChannel,
        service_names: Iterable[str],
        observers: Observers | None = None,
        *,
        limits: HttpLimits | None = None,
        browser: BrowserPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._target = grpc_target
        self._observers = observers or Observers()
        self.router = Router(bindings_for(service_names))
        self.limits = limits or HttpLimits()
        self.browser = browser or BrowserPolicy(
            methods=(b.http_method for b in self.router.bindings)
        )
        self._ssl_context = ssl_context
        # A grpc.aio.Channel, or a LocalChannel (the same calls, in process).
        self._channel: Any = None
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._callables: dict[str, Any] = {}
        self._site: web.BaseSite | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self.port = 0

    def bind(self, listen: str) -> int:
        """Bind the listening socket (serving starts later, with start); return the port."""
        sock = bind_tcp(listen)
        self._socket = sock
        self.port = sock.getsockname()[1]
        return self.port

    async def start(self) -> None:
        """Open the channel to the gRPC server and start serving on the bound socket."""
        if self._socket is None:
            raise RuntimeError("bind the HTTP socket before starting")
        target = self._target
        self._channel = grpc.aio.insecure_channel(target) if isinstance(target, str) else target
        app = web.Application(
            middlewares=(track_requests, *self._observers.middlewares),
            client_max_size=MAX_BODY_BYTES,
            handler_args={
                "logger": server_log,
                "max_line_size": MAX_LINE_BYTES,
                "max_field_size": MAX_FIELD_BYTES,
                "max_headers": MAX_HEADERS,
                "keepalive_timeout": self.limits.idle_timeout,
                # Bodies are read as sent: a Content-Encoding is refused (415)
                # rather than inflated to an unknown size.
                "auto_decompress": False,
            },
        )
        if self.browser.cors:
            app.on_response_prepare.append(self.browser.add_cors_headers)
        if self._observers.metrics is not None:
            app.router.add_get("/metrics", self._metrics(self._observers.metrics))
        # Every path, those with a line break among their decoded characters
        # too (".*" stops at one, and aiohttp would answer a plain-text 404).
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.handle)
        # handler_cancellation: a client that hangs up cancels its handler,
        # which cancels its gRPC call.
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = GuardedSite(runner, self._socket, self.limits, ssl_context=self._ssl_context)
        await site.start()
        self._runner, self._site = runner, site

    async def stop(self, grace: float) -> None:
        """Stop taking requests, give those in flight up to grace seconds, then end them."""
        if self._site is not None:
            await self._site.stop()
            self._site = None
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        elif self._socket is not None:
            self._socket.close()
        self._socket = None
        if self._channel is not None:
            await self._channel.close(None)
            self._channel = None

    # -- one request ----------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request; log and count it: method, path, route, status, duration."""
        started = time.perf_counter()
        status = 499  # the client went away before an answer
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        request[ROUTE] = ""
        try:
            response = await self._serve(request)
            status = response.status
            return response
        finally:
            if task is not None:
                self._in_flight.discard(task)
            seconds = time.perf_counter() - started
            if self._observers.request_done is not None:
                self._observers.request_done(request.method, request[ROUTE], status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                # One mapping is both the line's arguments and, in JSON logs, its fields.
                access_log.info(
                    ACCESS_LINE,
                    {
                        "method": request.method,
                        "path": request.path,
                        "route": request[ROUTE],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "peer": request.remote,
                    },
                )

    def _metrics(self, serve: Handler) -> Handler:
        """GET /metrics, under the same Host rule as the API."""

        async def metrics(request: web.Request) -> web.StreamResponse:
            refusal = self.browser.refusal(request)
            if refusal is None:
                return await serve(request)
            return refused(refusal)

        return metrics

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        refusal = self.browser.refusal(request)
        if refusal is not None:
            return refused(refusal)
        target = request.raw_path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            raw_path, query = parts.path, parts.query
        else:
            raw_path, _, query = target.partition("?")
        if request.method == "GET" and raw_path in API_DOCUMENTS:
            self._routed(request, raw_path)
            return api_document(API_DOCUMENTS[raw_path])
        try:
            path = params.unescape_path(raw_path)
        except params.InvalidUtf8Error as error:
            return error_response(GatewayError(code_pb2.INVALID_ARGUMENT, str(error)).status)
        except params.ParamError:
            # Go's net/http answers a bad %-escape in the path with text/plain
            # "400 Bad Request"; this says the same in an error with an ErrorInfo.
            return error_response(GatewayError(code_pb2.INVALID_ARGUMENT, "Bad Request").status)
        try:
            call, streaming = await self._prepare(request, path, query)
        except GatewayError as error:
            response = error_response(error.status, error.http_status, error.headers)
            if error.ends_connection:
                await answer_and_close(request, response)
            return response
        if streaming:
            accept = request.headers.get("Accept", "")
            if "text/event-stream" in accept:
                return await serve_events(request, call, self._start_call)
            content_type = NDJSON if NDJSON in accept else "application/json"
            return await serve_stream(request, call, content_type, self._start_call)
        return await self._serve_unary(call)

    async def _prepare(self, request: web.Request, path: str, query: str) -> tuple[Call, bool]:
        """Route a request and build its gRPC request, metadata and deadline."""
        method = request.method
        is_form_post = (
            method == "POST" and request.content_type == "application/x-www-form-urlencoded"
        )
        form: params.Query | None = None
        body: bytes | None = None
        override = request.headers.get("X-HTTP-Method-Override", "")
        if override and is_form_post:
            form, body = await read_form(request, query, self.limits.body_timeout), b""
            method = override.upper()
        try:
            match = self.router.route(method, path, form_fallback=is_form_post)
        except RoutingError as error:
            code, text, reason = ROUTING_ERRORS[error.status]
            allow = {"Allow": ", ".join(error.allow)} if error.allow else None
            raise GatewayError(code, text, error.status, reason=reason, headers=allow) from None
        binding = match.binding
        self._routed(request, binding.template.template)
        if is_form_post and binding.http_method == "GET" and form is None:
            form, body = await read_form(request, query, self.limits.body_timeout), b""
        timeout = grpc_timeout(request)
        metadata = call_metadata(request)
        if self._observers.outgoing is not None:
            self._observers.outgoing(metadata)
        message = binding.request_type()
        try:
            if binding.body:
                if body is None:
                    body = await read_json(request, self.limits.body_timeout)
                fill_body(binding, message, body)
            fill_path(binding, message, match.params)
            if binding.reads_query:
                values = form if form is not None else params.parse_query(query)
                params.populate_query(message, values, binding.query_skip)
        except jsonpb.JsonError as error:
            raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error)) from None
        except params.ParamError as error:
            raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error), field=error.field) from None
        return Call(binding, message, metadata, timeout), binding.server_streaming

    def _routed(self, request: web.Request, route: str) -> None:
        request[ROUTE] = route
        if self._observers.routed is not None:
            self._observers.routed(request, route)

    def _callable(self, binding: Binding) -> Any:
        found = self._callables.get(binding.rpc)
        if found is None:
            if self._channel is None:
                raise RuntimeError("the HTTP gateway is not started")
            kind = (
                self._channel.unary_stream
                if binding.server_streaming
                else self._channel.unary_unary
            )
            found = kind(
                binding.rpc,
                request_serializer=binding.request_type.SerializeToString,
                response_deserializer=binding.response_type.FromString,
            )
            self._callables[binding.rpc] = found
        return found

    def _start_call(self, call: Call) -> Any:
        try:
            return self._callable(call.binding)(
                call.message, timeout=call.timeout, metadata=tuple(call.metadata)
            )
        except (ValueError, UnicodeError) as error:
            raise GatewayError(
                code_pb2.INTERNAL, f"grpc: error while marshaling: {error}"
            ) from None

    async def _serve_unary(self, call: Call) -> web.StreamResponse:
        try:
            grpc_call = self._start_call(call)
        except GatewayError as error:
            return error_response(error.status, error.http_status)
        try:
            reply = await grpc_call
            header_metadata = await grpc_call.initial_metadata()
        except grpc.aio.AioRpcError as error:
            return error_response(status_from_error(error))
        finally:
            if not grpc_call.done():
                grpc_call.cancel()
        headers = response_headers(header_metadata)
        return web.json_response(
            body=jsonpb.dumps(response_json(call.binding, reply)), headers=headers
        )


# -- pieces of a request --------------------------------------------------------------


# -- pieces of a response ---------------------------------------------------------------
