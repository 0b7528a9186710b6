"""The delivery loop: sends what the outbox holds, at least once, and records every attempt.

An asyncio task for the server's life. It takes due deliveries from the
store (of every tenant), leases each in a transaction of its tenant (its
next_attempt_at moves past the attempt's time limit, so a crash mid-attempt
only delays it), sends it (outbound.sender), and records the attempt and
what comes next (domain.webhook_outbox.after_attempt) in another. It wakes
when a commit carries an event webhooks are sent, when an attempt ends,
when the next delivery is due, and at least every POLL_SECONDS (for
deliveries other processes wrote). Stopping waits a little for attempts
under way; one cut short keeps its lease and is tried again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

from threadline.v1 import run_pb2, webhook_pb2

from threadline_server.domain.webhook_outbox import WEBHOOK_EVENT_TYPES, RetryPolicy, after_attempt
from threadline_server.outbound.sender import Sender, now_us
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import DueDelivery

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# An attempt's outcome, by the status it left its delivery in.
_OUTCOMES = {
    webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED: "delivered",
    webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING: "failed",
    webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED: "gave_up",
}
# A lease lasts the attempt's time limit and this much more.
LEASE_MARGIN_SECONDS = 5.0


class Dispatcher:
    """Sends webhook deliveries from the outbox, a few at a time."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        policy: RetryPolicy,
        *,
        concurrency: int = 8,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        self._store = store
        # Told each attempt's outcome (delivered, failed, gave_up) and seconds.
        self._observe = observe
        self._sender = sender
        self._policy = policy
        self._concurrency = concurrency
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        store.add_event_listener(self._follow)

    def _follow(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Wake up when a commit may have written deliveries (a store listener)."""
        if any(event.type in WEBHOOK_EVENT_TYPES for event in events):
            self._wake.set()

    async def start(self) -> None:
        """Open the HTTP client and start the loop."""
        await self._sender.start()
        self._task = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self, grace: float) -> None:
        """Stop taking deliveries; give attempts under way up to grace seconds, then cut them."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        attempts = list(self._in_flight.values())
        if attempts:
            _, late = await asyncio.wait(attempts, timeout=max(grace, 0.0))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._sender.close()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._take_due()
                wait = POLL_SECONDS
                if len(self._in_flight) < self._concurrency:
                    next_at = await self._store.next_delivery_due()
                    if next_at is not None:
                        wait = min(max((next_at - now_us()) / 1e6, 0.0), POLL_SECONDS)
            except Exception:
                logger.exception("webhook dispatcher failed; trying again")
                wait = POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _take_due(self) -> None:
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return
        due = await self._store.due_deliveries(self._concurrency * 2)
        for tenant, delivery_id in due:
            if free <= 0:
                break
            if delivery_id in self._in_flight:
                continue
            task = asyncio.create_task(self._attempt(tenant, delivery_id))
            self._in_flight[delivery_id] = task
            task.add_done_callback(functools.partial(self._done, delivery_id))
            free -= 1

    def _done(self, delivery_id: str, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(delivery_id, None)
        self._wake.set()

    async def _attempt(self, tenant: str, delivery_id: str) -> None:
        """Lease, send and record one attempt of one delivery."""
        lease_us = round((self._policy.attempt_timeout + LEASE_MARGIN_SECONDS) * 1_000_000)

        async def claim(tx: StoreTransaction) -> DueDelivery | None:
            return await tx.claim_delivery(delivery_id, tx.now + lease_us)

        try:
            due = await self._store.transaction(tenant, claim)
            if due is None:  # taken by someone else, or no longer due
                return
            outcome = await self._sender.send(due)

            async def record(tx: StoreTransaction) -> webhook_pb2.WebhookDelivery:
                updated = after_attempt(due.delivery, outcome, tx.now, self._policy)
                await tx.save_delivery(updated)
                return updated

            updated = await self._store.transaction(tenant, record)
        except Exception:
            logger.exception("webhook delivery %s: attempt failed", delivery_id)
            return
        if self._observe is not None:
            self._observe(_OUTCOMES[updated.status], outcome.duration_us / 1e6)
        if updated.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED:
            logger.warning(
                "webhook delivery %s to %s failed for good after %d attempts: %s",
                delivery_id,
                updated.webhook_id,
                updated.attempt_count,
                outcome.error,
            )
        elif outcome.error:
            logger.info(
                "webhook delivery %s: attempt %d failed (%s); next try in %.1f s",
                delivery_id,
                updated.attempt_count,
                outcome.error,
                (updated.next_attempt_at.ToMicroseconds() - now_us()) / 1e6,
            )
