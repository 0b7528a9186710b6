"""A real HTTP receiver of webhooks for the tests: aiohttp on 127.0.0.1, port 0 (or a given one).

It records every request it gets (headers and body), answers with the
status the test sets (200 by default), can hold requests unanswered, and
can be stopped and started again on the same port (a receiver that is down,
then back up). It verifies nothing itself: the tests do.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        """The webhook-id header."""
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP endpoint that records what it is sent."""

    port: int = 0
    status: int = 200
    # While set, requests wait for it to be set before being answered.
    hold: asyncio.Event | None = None
    # What the answer carries besides the status.
    reply_body: bytes = b"noted"
    reply_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where to send webhooks."""
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            self.received.append(Received({k.lower(): v for k, v in request.headers.items()}, body))
            self.arrived.notify_all()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.status, body=self.reply_body, headers=self.reply_headers)

    async def start(self) -> Receiver:
        """Listen (on the same port as before, once it has one)."""
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening: connections to the port are refused until start()."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int) -> list[Received]:
        """Wait (10 s at most) until at least count requests arrived; return them all."""
        async with asyncio.timeout(10.0), self.arrived:
            await self.arrived.wait_for(lambda: len(self.received) >= count)
        return list(self.received)
