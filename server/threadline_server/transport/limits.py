"""Caps on calls: the server's concurrency cap, and each tenant's streams and call rate.

Every cap answers at once with RESOURCE_EXHAUSTED, an ErrorInfo reason and a
RetryInfo hint, rather than queueing (grpc.aio's own maximum_concurrent_rpcs
has queued instead of rejecting, grpc/grpc#30424). Health and reflection
never reach these caps (transport/auth.py lets them through untouched), so a
load balancer's checks still answer when the server is full.

A tenant's runs in flight are capped where runs are made (domain/runs.py):
only the store knows how many there are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from threadline_server.errors import ResourceExhaustedError

# What the hint says to a caller refused for concurrency: calls end quickly.
BUSY_RETRY_SECONDS = 1.0
# ... and to one refused a stream: streams end when their readers leave.
STREAM_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Caps:
    """The limits; 0 means no limit."""

    max_concurrent_calls: int
    streams_per_tenant: int = 0
    calls_per_second_per_tenant: float = 0.0


class _Bucket:
    """A token bucket holding at most one second of a tenant's calls."""

    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class CallLimits:
    """Admits a call or refuses it; counts the calls and streams that are open."""

    def __init__(self, caps: Caps) -> None:
        self.caps = caps
        self.active = 0
        self._streams: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, tenant: str, *, streaming: bool) -> None:
        """Count a call in (release it later), or raise ResourceExhaustedError."""
        caps = self.caps
        if self.active >= caps.max_concurrent_calls:
            raise ResourceExhaustedError(
                "TOO_MANY_CALLS",
                f"server is at its limit of {caps.max_concurrent_calls} concurrent calls; "
                "retry later",
                retry_after=BUSY_RETRY_SECONDS,
                metadata={"limit": str(caps.max_concurrent_calls)},
            )
        streams = self._streams.get(tenant, 0)
        if streaming and caps.streams_per_tenant and streams >= caps.streams_per_tenant:
            raise ResourceExhaustedError(
                "TOO_MANY_STREAMS",
                f"this tenant has {caps.streams_per_tenant} streams open, its limit; "
                "close one and retry",
                retry_after=STREAM_RETRY_SECONDS,
                metadata={"limit": str(caps.streams_per_tenant)},
            )
        if caps.calls_per_second_per_tenant:
            self._take_token(tenant, caps.calls_per_second_per_tenant)
        self.active += 1
        if streaming:
            self._streams[tenant] = streams + 1

    def release(self, tenant: str, *, streaming: bool) -> None:
        """Count a call out."""
        self.active -= 1
        if streaming:
            left = self._streams[tenant] - 1
            if left:
                self._streams[tenant] = left
            else:
                del self._streams[tenant]

    def _take_token(self, tenant: str, rate: float) -> None:
        now = time.monotonic()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(rate, now)
        else:
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens < 1:
            raise ResourceExhaustedError(
                "CALL_RATE_EXCEEDED",
                f"this tenant is over its limit of {rate:g} calls per second; slow down and retry",
                retry_after=(1 - bucket.tokens) / rate,
                metadata={"limit": f"{rate:g}"},
            )
        bucket.tokens -= 1
