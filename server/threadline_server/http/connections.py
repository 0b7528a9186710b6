"""Deadlines on HTTP connections, so that slow clients cannot hold them.

What aiohttp bounds by itself (read in its web_protocol.py, 3.14): an idle
keep-alive connection (``keepalive_timeout``, whose clock starts when the
connection opens and again after each response, and which closes the
connection only while no request is being handled). What it does not bound:
the time a client takes to send a request's headers, beyond that idle timeout
(Go's net/http calls the bound ReadHeaderTimeout), and the TLS handshake
(asyncio's default is 60 s).

So each connection's protocol is wrapped in a ``HeaderDeadline``: its clock
starts when the connection opens, and again at the first byte after a
request was handled; it stops when aiohttp hands a request to the application
(``track_requests``, a middleware, tells it). If the clock runs out first,
the connection is dropped. Nothing of aiohttp's is replaced or reached into:
the wrapper passes every event on, and the site creates its server with the
TLS handshake bounded. The body has its own deadline where it is read (the
gateway's ``_read_body``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from aiohttp import web

logger = logging.getLogger("threadline.http")

# Connections the kernel may hold for accept(): with aiohttp's 128, a burst of
# a few hundred new connections (slow clients among them) makes the rest wait
# for a SYN retransmit, a second or more.
LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class HttpLimits:
    """How long an HTTP client may take (seconds); the defaults are the server's."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 60.0
    handshake_timeout: float = 10.0


class HeaderDeadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for each request's headers."""

    def __init__(self, inner: asyncio.Protocol, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.BaseTransport | None = None
        # One timer at a time, moved on rather than made anew for each request
        # (as aiohttp's keep-alive timer is): a request costs a clock read.
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        # True while the clock runs: headers are awaited.
        self._awaiting_headers = False
        # True from a handled request until the next one's first byte.
        self._between_requests = False

    # The protocol's events, passed on; the clock starts with the connection
    # and again at the first byte after a handled request.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # noqa: D102
        self._transport = transport
        self._start()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:  # noqa: D102
        if self._between_requests:
            self._between_requests = False
            self._start()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:  # noqa: D102
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self._stop()
        self._transport = None
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:  # noqa: D102
        self._inner.pause_writing()

    def resume_writing(self) -> None:  # noqa: D102
        self._inner.resume_writing()

    def headers_read(self) -> None:
        """Stop the clock: a request reached the application, its headers in time."""
        self._between_requests = False
        self._awaiting_headers = False

    def request_handled(self) -> None:
        """Start the clock at the next byte: the application is done with a request."""
        self._between_requests = True

    def _start(self) -> None:
        self._awaiting_headers = True
        self._deadline = self._loop.time() + self._seconds
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expire)

    def _stop(self) -> None:
        self._awaiting_headers = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self._awaiting_headers:
            return
        if self._loop.time() < self._deadline:
            self._timer = self._loop.call_at(self._deadline, self._expire)
            return
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        peer = transport.get_extra_info("peername")
        logger.info(
            "http connection from %s dropped: no request headers in %gs", peer, self._seconds
        )
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        else:
            transport.close()


def _deadline_of(request: web.BaseRequest) -> HeaderDeadline | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, HeaderDeadline) else None


@web.middleware
async def track_requests(request: web.Request, handler: Any) -> web.StreamResponse:
    """Stop a connection's header clock while the application handles its request."""
    deadline = _deadline_of(request)
    if deadline is not None:
        deadline.headers_read()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        if deadline is not None:
            deadline.request_handled()


class GuardedSite(web.BaseSite):
    """aiohttp's SockSite, each connection under a HeaderDeadline, TLS handshakes bounded."""

    __slots__ = ("_limits", "_name", "_sock")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        limits: HttpLimits,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = LISTEN_BACKLOG,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._sock = sock
        self._limits = limits
        host, port = sock.getsockname()[:2]
        self._name = f"{'https' if ssl_context else 'http'}://{host}:{port}"

    @property
    def name(self) -> str:
        """The URL served, for aiohttp's messages."""
        return self._name

    async def start(self) -> None:
        """Serve on the socket."""
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("set the runner up before starting a site")
        header_timeout = self._limits.header_timeout
        self._server = await asyncio.get_running_loop().create_server(
            lambda: HeaderDeadline(server(), header_timeout),
            sock=self._sock,
            ssl=self._ssl_context,
            backlog=self._backlog,
            ssl_handshake_timeout=self._limits.handshake_timeout if self._ssl_context else None,
        )
