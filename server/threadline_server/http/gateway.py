"""The HTTP/JSON side: aiohttp in front of this process's own gRPC services.

Each HTTP request is turned into a gRPC call, exactly as grpc-gateway v2
(default options) proxies a request, and the answer is framed the way
grpc-gateway frames it. In the server the call is made in process
(transport/local_calls.py: the server's own handlers behind its own
interceptors, so the access log, metrics, keys and caps, validation and errors
apply unchanged, without a loopback gRPC hop); given a target address instead,
the gateway calls that over a grpc.aio channel.

- Routing: routes.Router (grpc-gateway's ServeMux rules).
- Request: body, then path parameters, then query parameters (params.py),
  JSON read as protojson with DiscardUnknown (jsonpb.py).
- Metadata: permanent HTTP headers as ``grpcgateway-<name>``, ``Authorization``
  also as ``authorization``, ``x-forwarded-host`` and ``x-forwarded-for``;
  ``Grpc-Timeout`` sets the deadline. Response header metadata comes back as
  ``Grpc-Metadata-<key>``.
- Errors: ``{"code", "message", "details"}`` with the HTTP status of the code.
- Server streaming: newline-delimited ``{"result": …}`` lines, an error as an
  ``{"error": …}`` line, labelled application/json as grpc-gateway does, or
  application/x-ndjson when the client asks for that. With ``Accept:
  text/event-stream``: Server-Sent Events (a ``retry:`` hint first; ``event:``
  is the message's type, ``id:`` its event id, and ``Last-Event-ID`` resumes),
  with keepalive comments.
- The API documents: OpenAPI 3.1 at /openapi.json, Swagger 2.0 (what
  protoc-gen-openapiv2 makes for grpc-gateway) at /swagger.json.
- The gRPC call is cancelled as soon as the HTTP client goes away: grpc.aio no
  longer cancels an abandoned call by itself (grpc/grpc#43462).
- Browser safety (browser.py): cross-origin requests that act are refused,
  CORS only for listed origins, a loopback listener answers loopback names
  only; request bodies must be JSON (415), and are read within a deadline
  (408) and never inflated. Slow clients: connections.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from aiohttp import hdrs, web
from aiohttp import web_response as _aiohttp_responses
from aiohttp.http_exceptions import HttpProcessingError
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from threadline_server.http import jsonpb, params
from threadline_server.http.browser import BrowserPolicy
from threadline_server.http.connections import (
    LISTEN_BACKLOG,
    GuardedSite,
    HttpLimits,
    track_requests,
)
from threadline_server.http.routes import Binding, Router, RoutingError, bindings_for
from threadline_server.package_data import openapi_document
from threadline_server.transport.errors import (
    ERROR_DOMAIN,
    MAX_DESCRIPTION_BYTES,
    MAX_VALUE_BYTES,
    clip,
    pack,
)
from threadline_server.transport.local_calls import LocalChannel

logger = logging.getLogger("threadline")
access_log = logging.getLogger("threadline.access")
ACCESS_LINE = (
    "http method=%(method)s path=%(path)s status=%(status)d duration_ms=%(duration_ms).2f "
    "peer=%(peer)s"
)

# A larger request body is refused with 413 before it is read whole. It is
# twice the gRPC server's 4 MiB message limit, since a message's JSON is
# longer than its binary form: a body under this whose message is over 4 MiB
# gets the server's RESOURCE_EXHAUSTED (429), as through grpc-gateway.
MAX_BODY_BYTES = 8 * 1024 * 1024
# The request line (with its query string) and each header field; beyond
# them aiohttp answers 400 before the request reaches the gateway.
MAX_LINE_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADERS = 128
# Server-Sent Events: a comment line every this many seconds of silence keeps
# proxies and browsers from timing the stream out.
SSE_KEEPALIVE_SECONDS = 15.0
# Sent as ``retry:`` when an event stream opens: how long an EventSource waits
# before it reconnects (and resumes with Last-Event-ID), the same in every
# browser and client library whatever its own default.
SSE_RETRY_MILLISECONDS = 3000
# How long an event stream waits for its first event (or its error) before it
# answers 200 anyway, so that a bad request still gets its own HTTP status.
SSE_FIRST_EVENT_WAIT_SECONDS = 1.0
# The media type of every request body (RFC 8259 JSON is UTF-8; parameters are ignored).
JSON_MEDIA_TYPE = "application/json"
# The longest deadline passed on (grpc-gateway caps Grpc-Timeout at ~292 years).
MAX_TIMEOUT_SECONDS = 100 * 365 * 24 * 3600.0

# The API documents, by the path they are served at. /openapi.json is where
# client generators and API tools look first, and they want OpenAPI 3.x there;
# the Swagger 2.0 document keeps the name protoc-gen-openapiv2 gives it.
API_DOCUMENTS = {
    "/openapi.json": "threadline.openapi.json",
    "/swagger.json": "threadline.swagger.json",
}
NDJSON = "application/x-ndjson"

# grpc-gateway's HTTPStatusFromCode.
HTTP_STATUS = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}
# Routing errors: code, message (grpc-gateway's) and ErrorInfo reason. A path
# that only other methods serve is HTTP 405 with an Allow header, where
# grpc-gateway answers 501: bad input is a 4xx (a deliberate difference).
_ROUTING_ERRORS = {
    400: (code_pb2.INVALID_ARGUMENT, "Bad Request", "MALFORMED_REQUEST"),
    404: (code_pb2.NOT_FOUND, "Not Found", "ROUTE_NOT_FOUND"),
    405: (code_pb2.UNIMPLEMENTED, "Method Not Allowed", "METHOD_NOT_ALLOWED"),
}
# The ErrorInfo reasons of the errors the gateway answers itself.
MALFORMED_REQUEST = "MALFORMED_REQUEST"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
INVALID_TIMEOUT = "INVALID_TIMEOUT"
BODY_TIMEOUT = "BODY_TIMEOUT"
REQUEST_REFUSED = "REQUEST_REFUSED"

# IANA permanent request headers that grpc-gateway forwards as grpcgateway-<name>.
PERMANENT_HEADERS = frozenset(
    {
        "Accept",
        "Accept-Charset",
        "Accept-Language",
        "Accept-Ranges",
        "Authorization",
        "Cache-Control",
        "Content-Type",
        "Cookie",
        "Date",
        "Expect",
        "From",
        "Host",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Schedule-Tag-Match",
        "If-Unmodified-Since",
        "Max-Forwards",
        "Origin",
        "Pragma",
        "Referer",
        "User-Agent",
        "Via",
        "Warning",
    }
)
METADATA_HEADER_PREFIX = "Grpc-Metadata-"
# 2**64 has 20 digits: a longer amount is out of range without being read as a number.
_MAX_TIMEOUT_DIGITS = 20
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
# What a grpc-go client (so grpc-gateway) reports as header metadata of every
# answer of this server that has headers: transport headers that grpc.aio's
# client keeps to itself.
TRANSPORT_HEADERS = (
    ("Grpc-Metadata-Content-Type", "application/grpc"),
    ("Grpc-Metadata-Grpc-Accept-Encoding", "identity, deflate, gzip"),
)
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


# The end of a stream (grpc-stubs lacks grpc.aio.EOF).
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]

_INT64_TYPES = frozenset({FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64})


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


class GatewayError(Exception):
    """An error answered without calling the server: a google.rpc.Status and its HTTP status.

    Unlike grpc-gateway's (``"details": []``), the status carries an ErrorInfo
    (domain threadline.dev, ``reason``), and a BadRequest naming ``field``
    when one parameter is at fault, as every other error of the server does.
    """

    def __init__(
        self,
        code: int,
        message: str,
        http_status: int | None = None,
        *,
        reason: str = MALFORMED_REQUEST,
        field: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        message = _utf8(message)
        super().__init__(message)
        self.status = status_pb2.Status(code=code, message=message)
        self.status.details.append(
            pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
        )
        if field:
            bad = error_details_pb2.BadRequest()
            bad.field_violations.add(
                field=clip(_utf8(field), MAX_VALUE_BYTES),
                description=clip(message, MAX_DESCRIPTION_BYTES),
                reason=reason,
            )
            self.status.details.append(pack(bad))
        self.http_status = http_status if http_status is not None else HTTP_STATUS[code]
        self.headers = headers or {}
        # Answer, then close the connection at once (not after aiohttp's lingering read).
        self.ends_connection = False


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


@dataclass
class _Call:
    """A request turned into a gRPC call."""

    binding: Binding
    message: Message
    metadata: list[tuple[str, str]]
    timeout: float | None


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: ``x-foo-bar`` → ``X-Foo-Bar``."""
    if not name or any(char not in _TOKEN_CHARS for char in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _utf8(text: str) -> str:
    r"""Return text that encodes as UTF-8, so that an error can quote any input.

    Bytes of a header that are not UTF-8 (aiohttp keeps them as lone
    surrogates) are written as ``\xff``.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")
    return text


def _printable(value: str) -> bool:
    return all(" " <= char <= "~" for char in value)


_CLIENT_DEADLINE_MESSAGES = frozenset({"Deadline Exceeded", "Stream removed (Deadline Exceeded)"})


def status_from_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """Return the google.rpc.Status of a failed call, with details when the server sent them."""
    try:
        status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        status = None
    if status is None:
        code = error.code().value[0]
        message = error.details() or ""
        if code == code_pb2.DEADLINE_EXCEEDED and message in _CLIENT_DEADLINE_MESSAGES:
            # The deadline ran out here, in the gateway: say so as grpc-gateway does.
            message = "context deadline exceeded"
        status = status_pb2.Status(code=code, message=message)
    return status


def error_body(status: status_pb2.Status) -> Any:
    """Return the JSON of a status as grpc-gateway writes it: code, message, details."""
    try:
        return jsonpb.to_json(status)
    except (TypeError, ValueError, KeyError):
        # protojson cannot write a detail whose type it does not know; nor can we.
        return {"code": code_pb2.INTERNAL, "message": "failed to marshal error message"}


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
            return _refused(refusal)

        return metrics

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        refusal = self.browser.refusal(request)
        if refusal is not None:
            return _refused(refusal)
        target = request.raw_path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            raw_path, query = parts.path, parts.query
        else:
            raw_path, _, query = target.partition("?")
        if request.method == "GET" and raw_path in API_DOCUMENTS:
            self._routed(request, raw_path)
            return _api_document(API_DOCUMENTS[raw_path])
        try:
            path = params.unescape_path(raw_path)
        except params.InvalidUtf8Error as error:
            return _error_response(GatewayError(code_pb2.INVALID_ARGUMENT, str(error)).status)
        except params.ParamError:
            # Go's net/http answers a bad %-escape in the path with text/plain
            # "400 Bad Request"; this says the same in an error with an ErrorInfo.
            return _error_response(GatewayError(code_pb2.INVALID_ARGUMENT, "Bad Request").status)
        try:
            call, streaming = await self._prepare(request, path, query)
        except GatewayError as error:
            response = _error_response(error.status, error.http_status, error.headers)
            if error.ends_connection:
                await _answer_and_close(request, response)
            return response
        if streaming:
            accept = request.headers.get("Accept", "")
            if "text/event-stream" in accept:
                return await self._serve_events(request, call)
            content_type = NDJSON if NDJSON in accept else "application/json"
            return await self._serve_stream(request, call, content_type)
        return await self._serve_unary(call)

    async def _prepare(self, request: web.Request, path: str, query: str) -> tuple[_Call, bool]:
        """Route a request and build its gRPC request, metadata and deadline."""
        method = request.method
        is_form_post = (
            method == "POST" and request.content_type == "application/x-www-form-urlencoded"
        )
        form: params.Query | None = None
        body: bytes | None = None
        override = request.headers.get("X-HTTP-Method-Override", "")
        if override and is_form_post:
            form, body = await self._read_form(request, query), b""
            method = override.upper()
        try:
            match = self.router.route(method, path, form_fallback=is_form_post)
        except RoutingError as error:
            code, text, reason = _ROUTING_ERRORS[error.status]
            allow = {"Allow": ", ".join(error.allow)} if error.allow else None
            raise GatewayError(code, text, error.status, reason=reason, headers=allow) from None
        binding = match.binding
        self._routed(request, binding.template.template)
        if is_form_post and binding.http_method == "GET" and form is None:
            form, body = await self._read_form(request, query), b""
        timeout = _timeout(request)
        metadata = _metadata(request)
        if self._observers.outgoing is not None:
            self._observers.outgoing(metadata)
        message = binding.request_type()
        try:
            if binding.body:
                if body is None:
                    body = await self._read_json(request)
                _fill_body(binding, message, body)
            _fill_path(binding, message, match.params)
            if binding.reads_query:
                values = form if form is not None else params.parse_query(query)
                params.populate_query(message, values, binding.query_skip)
        except jsonpb.JsonError as error:
            raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error)) from None
        except params.ParamError as error:
            raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error), field=error.field) from None
        return _Call(binding, message, metadata, timeout), binding.server_streaming

    def _routed(self, request: web.Request, route: str) -> None:
        request[ROUTE] = route
        if self._observers.routed is not None:
            self._observers.routed(request, route)

    async def _read_form(self, request: web.Request, query: str) -> params.Query:
        body = await self._read_body(request)
        try:
            form = params.parse_query(body.decode("latin-1"))
            return params.parse_query(query, into=form)
        except params.ParamError as error:
            raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error), field=error.field) from None

    async def _read_json(self, request: web.Request) -> bytes:
        """Read a body that must be JSON: one with another Content-Type (or none) is 415.

        An empty body needs no Content-Type: it reads as ``{}`` (as through
        grpc-gateway), and nothing in it can be mistaken for JSON; ``curl -X
        POST .../runs/ID:cancel`` sends just that. A page on another site that
        sends an empty POST is refused by origin before this (browser.py).
        """
        body = await self._read_body(request)
        if body:
            _check_json_media_type(request.headers.get(hdrs.CONTENT_TYPE))
        return body

    async def _read_body(self, request: web.Request) -> bytes:
        """Read the whole body, in time and within the size limit, as sent (not inflated)."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise _too_large()
        encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if encoding != "identity" and request.body_exists:
            raise GatewayError(
                code_pb2.INVALID_ARGUMENT,
                f"Content-Encoding {encoding!r} is not supported: send the body uncompressed",
                http_status=415,
                reason=UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large() from None
        except TimeoutError:
            error = GatewayError(
                code_pb2.DEADLINE_EXCEEDED,
                f"the request body did not arrive within {self.limits.body_timeout:g}s",
                http_status=408,
                reason=BODY_TIMEOUT,
            )
            error.ends_connection = True
            raise error from None

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

    def _start_call(self, call: _Call) -> Any:
        try:
            return self._callable(call.binding)(
                call.message, timeout=call.timeout, metadata=tuple(call.metadata)
            )
        except (ValueError, UnicodeError) as error:
            raise GatewayError(
                code_pb2.INTERNAL, f"grpc: error while marshaling: {error}"
            ) from None

    async def _serve_unary(self, call: _Call) -> web.StreamResponse:
        try:
            grpc_call = self._start_call(call)
        except GatewayError as error:
            return _error_response(error.status, error.http_status)
        try:
            reply = await grpc_call
            header_metadata = await grpc_call.initial_metadata()
        except grpc.aio.AioRpcError as error:
            return _error_response(status_from_error(error))
        finally:
            if not grpc_call.done():
                grpc_call.cancel()
        headers = _response_headers(header_metadata)
        return web.json_response(
            body=jsonpb.dumps(_response_json(call.binding, reply)), headers=headers
        )

    async def _serve_stream(
        self, request: web.Request, call: _Call, content_type: str
    ) -> web.StreamResponse:
        """grpc-gateway's ForwardResponseStream: NDJSON lines of {"result": …}."""
        try:
            grpc_call = self._start_call(call)
        except GatewayError as error:
            return _error_response(error.status, error.http_status)
        response: web.StreamResponse | None = None
        try:
            async for item in _read_all(grpc_call):
                if response is None:
                    headers = _response_headers(await grpc_call.initial_metadata())
                    headers["Content-Type"] = content_type
                    response = web.StreamResponse(status=200, headers=headers)
                    response.enable_chunked_encoding()
                    await response.prepare(request)
                line = jsonpb.dumps({"result": _response_json(call.binding, item)}) + b"\n"
                await response.write(line)
        except grpc.aio.AioRpcError as error:
            chunk = jsonpb.dumps({"error": error_body(status_from_error(error))}) + b"\n"
            if response is None:
                status = status_from_error(error)
                response = web.StreamResponse(
                    status=HTTP_STATUS.get(status.code, 500),
                    headers={"Content-Type": "application/json"},
                )
                response.enable_chunked_encoding()
                await response.prepare(request)
            await _write_quietly(response, chunk)
        except ConnectionError:
            return response or web.Response(status=499)
        finally:
            if not grpc_call.done():
                grpc_call.cancel()
        if response is None:
            # No message at all: 200 with an empty body and no content type.
            return web.Response(status=200)
        await _write_eof_quietly(response)
        return response

    async def _serve_events(  # noqa: PLR0912 - one loop: wait, open, keepalive, event, end
        self, request: web.Request, call: _Call
    ) -> web.StreamResponse:
        """Server-Sent Events: one event per message (``event:`` its type, ``id:`` its event id).

        The answer waits briefly for the first message, so a request the server
        refuses gets its own HTTP status and JSON error; after that, an error
        is an ``event: error``. A stream that ends with nothing to send is 204,
        which tells EventSource not to reconnect.
        """
        last_event_id = request.headers.get("Last-Event-ID")
        if last_event_id is not None:
            try:
                _resume_after(call.message, last_event_id)
            except GatewayError as error:
                return _error_response(error.status, error.http_status)
        try:
            grpc_call = self._start_call(call)
        except GatewayError as error:
            return _error_response(error.status, error.http_status)
        response: web.StreamResponse | None = None
        pending: asyncio.Future[Any] | None = None
        try:
            wait = SSE_FIRST_EVENT_WAIT_SECONDS
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(grpc_call.read())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                wait = SSE_KEEPALIVE_SECONDS
                item = pending.result() if done else None
                if item is _EOF:
                    break
                if response is None:
                    response = await _open_event_stream(request)
                if item is None:
                    await response.write(b": keepalive\n\n")
                    continue
                pending = None
                await response.write(_event(call.binding, item))
        except grpc.aio.AioRpcError as error:
            status = status_from_error(error)
            if response is None:
                return _error_response(status)
            chunk = b"event: error\ndata: " + jsonpb.dumps(error_body(status)) + b"\n\n"
            await _write_quietly(response, chunk)
        except ConnectionError:
            return response or web.Response(status=499)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
            if not grpc_call.done():
                grpc_call.cancel()
        if response is None:
            return web.Response(status=204)
        await _write_eof_quietly(response)
        return response


# -- pieces of a request --------------------------------------------------------------


async def _open_event_stream(request: web.Request) -> web.StreamResponse:
    """Answer 200 with the event stream's headers and its ``retry:`` hint."""
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"retry: %d\n\n" % SSE_RETRY_MILLISECONDS)
    return response


def _api_document(name: str) -> web.StreamResponse:
    try:
        body = openapi_document(name)
    except OSError:
        return _error_response(
            GatewayError(code_pb2.NOT_FOUND, "Not Found", reason="ROUTE_NOT_FOUND").status
        )
    return web.Response(body=body, content_type="application/json")


def _check_json_media_type(content_type: str | None) -> None:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise GatewayError(
            code_pb2.INVALID_ARGUMENT,
            f"a request body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE} "
            f"({given} was sent)",
            http_status=415,
            reason=UNSUPPORTED_MEDIA_TYPE,
        )


async def _answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send an answer now and close the connection, unread body and all."""
    response.force_close()
    with contextlib.suppress(ConnectionError):
        await response.prepare(request)
        await response.write_eof()
    request.protocol.force_close()


def _refused(reason: web.StreamResponse | str) -> web.StreamResponse:
    """Answer a browser-safety refusal: 403 PERMISSION_DENIED, or a preflight's answer."""
    if isinstance(reason, str):
        refusal = GatewayError(code_pb2.PERMISSION_DENIED, reason, reason=REQUEST_REFUSED)
        return _error_response(refusal.status)
    return reason


def _too_large() -> GatewayError:
    return GatewayError(
        code_pb2.RESOURCE_EXHAUSTED,
        f"request body is larger than the limit of {MAX_BODY_BYTES} bytes",
        http_status=413,
        reason=REQUEST_TOO_LARGE,
    )


def _fill_body(binding: Binding, message: Message, body: bytes) -> None:
    """Read the body into the whole request (``*``) or into its body field."""
    if binding.body == "*":
        document = jsonpb.read_document(body)
        if document is not jsonpb.EMPTY:
            jsonpb.merge_json(document, message)
        return
    *parents, last = binding.body.split(".")
    target = message
    for name in parents:
        target = getattr(target, name)
        target.SetInParent()
    field = jsonpb.descriptor_of(target).fields_by_name[last]
    document = jsonpb.read_document(body)
    if field.message_type is not None and not field.is_repeated:
        child = getattr(target, last)
        # Set even for an empty body: grpc-gateway allocates the field first.
        child.SetInParent()
        if document is not jsonpb.EMPTY:
            jsonpb.merge_json(document, child)
    elif document is not jsonpb.EMPTY:
        jsonpb.merge_json({last: document}, target)
    mask = binding.inferred_mask
    if mask is not None and not getattr(message, mask.name).paths:
        paths: list[str] = []
        if field.message_type is not None:
            loose = jsonpb.read_document(body, loose=True)
            if loose is not jsonpb.EMPTY:
                paths = params.field_mask_from_body(loose, field.message_type)
        inferred = getattr(message, mask.name)
        inferred.SetInParent()
        inferred.paths.extend(paths)


def _fill_path(binding: Binding, message: Message, values: dict[str, str]) -> None:
    """Set the fields captured from the path (they overwrite the body's)."""
    for field_path in binding.template.fields:
        value = values[field_path]
        try:
            params.populate_field(message, field_path.split("."), [value])
        except params.ParamError as error:
            mismatch = params.ParamError(f"type mismatch, parameter: {field_path}, error: {error}")
            mismatch.field = field_path
            raise mismatch from None


def _timeout(request: web.Request) -> float | None:
    """Return the deadline of ``Grpc-Timeout: <digits><H|M|S|m|u|n>``; 0 means none."""
    raw = request.headers.get("Grpc-Timeout")
    if raw is None or raw == "":
        return None
    invalid = GatewayError(
        code_pb2.INVALID_ARGUMENT, f"invalid grpc-timeout: {raw}", reason=INVALID_TIMEOUT
    )
    if len(raw) < 2 or raw[-1] not in _TIMEOUT_UNITS or not raw[:-1].isdigit():
        raise invalid
    if not raw[:-1].isascii() or len(raw[:-1].lstrip("0")) > _MAX_TIMEOUT_DIGITS:
        raise invalid
    amount = int(raw[:-1])
    if amount >= 1 << 64:
        raise invalid
    seconds = amount * _TIMEOUT_UNITS[raw[-1]]
    if seconds == 0:
        return None
    return min(seconds, MAX_TIMEOUT_SECONDS)


def _metadata(request: web.Request) -> list[tuple[str, str]]:
    """Return the gRPC metadata of a request, as grpc-gateway's annotateContext builds it.

    With grpc-gateway's default header matcher (v2.33): the IANA permanent
    request headers as ``grpcgateway-<name>``, ``Authorization`` also as
    ``authorization``, then ``x-forwarded-host`` and ``x-forwarded-for``.
    ``Grpc-Metadata-*`` headers are not forwarded: since v2.33 grpc-gateway
    only does that with WithLegacyHeaderMatching, since it let any HTTP client
    set any metadata key a backend might trust.
    """
    pairs = [
        ("authorization", value)
        for value in request.headers.getall("Authorization", [])
        if _printable(value)
    ]
    for name, value in request.headers.items():
        header = canonical_header(name)
        # Go keeps Host out of the header map; X-Forwarded-* are handled below.
        if header in PERMANENT_HEADERS and header != "Host" and _printable(value):
            pairs.append(("grpcgateway-" + header.lower(), value))
    forwarded_host = request.headers.get("X-Forwarded-Host", "")
    host = forwarded_host if forwarded_host and _printable(forwarded_host) else request.host
    if host and _printable(host):
        pairs.append(("x-forwarded-host", host))
    forwarded = [v for v in request.headers.getall("X-Forwarded-For", []) if _printable(v)]
    if request.remote:
        forwarded.append(request.remote)
    if forwarded:
        pairs.append(("x-forwarded-for", ", ".join(forwarded)))
    return pairs


def _resume_after(message: Message, last_event_id: str) -> None:
    """Point a stream request's after_event_id at the SSE Last-Event-ID header."""
    field = jsonpb.descriptor_of(message).fields_by_name.get("after_event_id")
    if field is None:
        return
    try:
        value = params.parse_value(field, last_event_id.strip(), "Last-Event-ID")
    except params.ParamError as error:
        raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error)) from None
    setattr(message, "after_event_id", value)  # noqa: B010


# -- pieces of a response ---------------------------------------------------------------


def _response_headers(metadata: Any) -> dict[str, str]:
    headers = dict(TRANSPORT_HEADERS)
    for key, value in metadata or ():
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
        headers[canonical_header(METADATA_HEADER_PREFIX + key)] = text
    return headers


def _response_json(binding: Binding, reply: Message) -> Any:
    if not binding.response_body:
        return jsonpb.to_json(reply)
    field = jsonpb.descriptor_of(reply).fields_by_name[binding.response_body]
    whole = jsonpb.to_json(reply)
    value = whole.get(field.json_name)
    if field.message_type is None and field.cpp_type in _INT64_TYPES:
        # grpc-gateway writes a non-message response_body with encoding/json.
        return [int(v) for v in value] if isinstance(value, list) else int(value)
    return value


def _event(binding: Binding, item: Message) -> bytes:
    """One Server-Sent Event, named by the message's type and numbered by its event_id.

    A batch of events (RunEventBatch) is one Server-Sent Event numbered by
    its last event's event_id.

    An EventSource dispatches an event to the listeners of its name
    (``addEventListener("message.delta", …)``); one without a name goes to
    ``onmessage``. A type that is empty, or that would break the line, is left out.
    """
    fields = jsonpb.descriptor_of(item).fields_by_name
    lines = []
    kind = getattr(item, "type", "") if "type" in fields else ""
    if isinstance(kind, str) and kind and kind.isprintable():
        lines.append(b"event: " + kind.encode())
    if "event_id" in fields:
        lines.append(b"id: %d" % getattr(item, "event_id"))  # noqa: B009
    elif "events" in fields and getattr(item, "events"):  # noqa: B009
        # A batch (RunEventBatch): its last event is where Last-Event-ID resumes.
        lines.append(b"id: %d" % getattr(item, "events")[-1].event_id)  # noqa: B009
    lines.append(b"data: " + jsonpb.dumps(_response_json(binding, item)))
    return b"\n".join(lines) + b"\n\n"


def _error_response(
    status: status_pb2.Status,
    http_status: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    body = jsonpb.dumps(error_body(status))
    headers = dict(extra_headers or {})
    if status.code == code_pb2.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = status.message
    return web.Response(
        status=http_status or HTTP_STATUS.get(status.code, 500),
        body=body,
        content_type="application/json",
        headers=headers,
    )


async def _read_all(call: Any) -> AsyncIterator[Message]:
    while True:
        item = await call.read()
        if item is _EOF:
            return
        yield item


async def _write_quietly(response: web.StreamResponse, data: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        await response.write(data)


async def _write_eof_quietly(response: web.StreamResponse) -> None:
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
