"""A listener that serves GET /metrics alone (--metrics-listen).

For deployments that keep metrics off the public HTTP/JSON port, or that turn
HTTP/JSON off (--no-http) and still want to be scraped.
"""

from __future__ import annotations

import socket

from aiohttp import web

from threadline_server.http.connections import GuardedSite, HttpLimits, track_requests
from threadline_server.http.gateway import Handler, bind_tcp


class MetricsListener:
    """An aiohttp server with one route: GET /metrics; slow clients cut off as on HTTP/JSON."""

    def __init__(self, handler: Handler, limits: HttpLimits | None = None) -> None:
        self._handler = handler
        self._limits = limits or HttpLimits()
        self._socket: socket.socket | None = None
        self._runner: web.AppRunner | None = None

    def bind(self, listen: str) -> int:
        """Bind the socket (serving starts with start); return the port."""
        self._socket = bind_tcp(listen)
        port: int = self._socket.getsockname()[1]
        return port

    async def start(self) -> None:
        """Serve on the bound socket."""
        if self._socket is None:
            raise RuntimeError("bind the metrics socket before starting")
        app = web.Application(
            middlewares=(track_requests,),
            handler_args={"keepalive_timeout": self._limits.idle_timeout},
        )
        app.router.add_get("/metrics", self._handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await GuardedSite(runner, self._socket, self._limits).start()
        self._runner = runner

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving and close the socket."""
        del grace  # a scrape is short; it gets aiohttp's shutdown_timeout
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        elif self._socket is not None:
            self._socket.close()
        self._socket = None
