"""One webhook attempt over HTTP: signed, to a checked address, bounded in time and size.

aiohttp's client, with a resolver that refuses addresses the operator has
not allowed (domain.webhook_urls), so the connection goes to an address
that was checked at this attempt; no redirects are followed, no proxy
from the environment is used, no cookies are kept, and at most
MAX_RESPONSE_BYTES of an answer are read.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from threadline_server import __version__
from threadline_server.domain import webhook_signing
from threadline_server.domain.webhook_outbox import Outcome
from threadline_server.domain.webhook_urls import AddressPolicy, AddressRefusedError, target
from threadline_server.store.records import DueDelivery

# The most bytes of a receiver's answer read (it is not kept; only its status counts).
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = f"threadline-webhooks/{__version__}"


def now_us() -> int:
    """Return the wall clock in microseconds since the epoch."""
    return time.time_ns() // 1000


class GuardedResolver(AbstractResolver):
    """Resolves a host and refuses it unless every address it has is allowed."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the host's addresses, all of them allowed (else AddressRefusedError)."""
        addresses = await self._policy.resolve(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release."""


class Sender:
    """Sends webhook attempts; one HTTP client session for the server's life."""

    def __init__(self, policy: AddressPolicy, *, timeout: float) -> None:
        self._policy = policy
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the client session (in the running event loop)."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=GuardedResolver(self._policy), limit=64),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            auto_decompress=False,
        )

    async def close(self) -> None:
        """Close the client session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, due: DueDelivery) -> Outcome:
        """Make one attempt; return what it came to (it never raises for the receiver's faults)."""
        session = self._session
        if session is None:
            raise RuntimeError("sender is not started")
        started = now_us()
        began = time.perf_counter()
        status = 0
        error = ""
        try:
            where = target(due.url)
            # Literal addresses never reach the resolver: check every URL here.
            await self._policy.resolve(where.host, where.port)
            headers: dict[str, Any] = webhook_signing.headers(
                due.secret, due.delivery.delivery_id, started // 1_000_000, due.body
            )
            headers |= {"Content-Type": "application/json", "User-Agent": USER_AGENT}
            async with asyncio.timeout(self._timeout):
                async with session.post(
                    due.url, data=due.body, headers=headers, allow_redirects=False
                ) as response:
                    status = response.status
                    await response.content.read(MAX_RESPONSE_BYTES)
            if not 200 <= status < 300:
                error = f"the receiver answered HTTP {status}"
                if 300 <= status < 400:
                    error += " (redirects are not followed)"
        except AddressRefusedError as refused:
            error = str(refused)
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except aiohttp.ClientConnectorError as failed:
            cause = failed.os_error
            error = (
                str(cause)
                if isinstance(cause, AddressRefusedError)
                else f"cannot connect: {failed}"
            )
        except aiohttp.ClientError as failed:
            error = f"{type(failed).__name__}: {failed}"
        return Outcome(
            started_at=started,
            duration_us=round((time.perf_counter() - began) * 1_000_000),
            status_code=status,
            error=error,
        )
