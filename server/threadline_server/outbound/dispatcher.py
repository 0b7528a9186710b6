"""The delivery loop: sends what the outbox holds, at least once, and records every attempt.

An asyncio task for the server's life. It takes due deliveries from the
store (of every tenant), leases them in a transaction of their tenant (a
delivery's next_attempt_at moves past the attempt's time limit, so a crash
mid-attempt only delays it), sends each (outbound.sender), and records the
attempts and what comes next (domain.webhook_outbox.after_attempt), as
many as have ended, in another: under load, a transaction leases or records
many deliveries, not one. It wakes
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

from threadline_server.domain.webhook_outbox import (
    WEBHOOK_EVENT_TYPES,
    Outcome,
    RetryPolicy,
    after_attempt,
)
from threadline_server.outbound.sender import Sender, now_us
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import DueDelivery
from threadline_server.waiting import wait_up_to

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
        # Attempts made and not yet recorded, and the task recording them.
        self._outcomes: list[tuple[DueDelivery, Outcome]] = []
        self._recorder: asyncio.Task[None] | None = None
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
        # What the attempts that ended came to is written before the store closes.
        if self._recorder is not None:
            await asyncio.gather(self._recorder, return_exceptions=True)
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
            await wait_up_to(self._wake.wait(), wait)

    async def _take_due(self) -> None:
        """Lease the due deliveries there is room for (a transaction per tenant), and send them."""
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            return
        due = [
            (tenant, delivery_id)
            for tenant, delivery_id in await self._store.due_deliveries(self._concurrency * 2)
            if delivery_id not in self._in_flight
        ][:free]
        by_tenant: dict[str, list[str]] = {}
        for tenant, delivery_id in due:
            by_tenant.setdefault(tenant, []).append(delivery_id)
        lease_us = round((self._policy.attempt_timeout + LEASE_MARGIN_SECONDS) * 1_000_000)
        for tenant, delivery_ids in by_tenant.items():

            async def claim(
                tx: StoreTransaction, ids: list[str] = delivery_ids
            ) -> list[DueDelivery]:
                return await tx.claim_deliveries(ids, tx.now + lease_us)

            for claimed in await self._store.transaction(tenant, claim):
                delivery_id = claimed.delivery.delivery_id
                task = asyncio.create_task(self._attempt(claimed))
                self._in_flight[delivery_id] = task
                task.add_done_callback(functools.partial(self._done, delivery_id))

    def _done(self, delivery_id: str, _task: asyncio.Task[None]) -> None:
        self._in_flight.pop(delivery_id, None)
        self._wake.set()

    async def _attempt(self, due: DueDelivery) -> None:
        """Send one attempt of a leased delivery; its outcome is recorded in a batch."""
        try:
            outcome = await self._sender.send(due)
        except Exception:
            # Its lease runs out, and it is tried again.
            logger.exception("webhook delivery %s: attempt failed", due.delivery.delivery_id)
            return
        self._outcomes.append((due, outcome))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record())

    async def _record(self) -> None:
        """Record the outcomes of attempts, all those waiting in a transaction per tenant.

        Outcomes that arrive while a transaction is under way wait for the
        next, so under load one transaction records many attempts.
        """
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            by_tenant: dict[str, list[tuple[DueDelivery, Outcome]]] = {}
            for due, outcome in batch:
                by_tenant.setdefault(due.tenant, []).append((due, outcome))
            for tenant, items in by_tenant.items():

                async def record(
                    tx: StoreTransaction, items: list[tuple[DueDelivery, Outcome]] = items
                ) -> list[webhook_pb2.WebhookDelivery]:
                    updated = [
                        after_attempt(due.delivery, outcome, tx.now, self._policy)
                        for due, outcome in items
                    ]
                    await tx.save_deliveries(updated)
                    return updated

                try:
                    updated = await self._store.transaction(tenant, record)
                except Exception:
                    # Their leases run out, and they are tried again.
                    logger.exception("recording %d webhook attempts failed", len(items))
                    continue
                for delivery, (_, outcome) in zip(updated, items, strict=True):
                    self._report(delivery, outcome)

    def _report(self, updated: webhook_pb2.WebhookDelivery, outcome: Outcome) -> None:
        """Count and log one recorded attempt."""
        if self._observe is not None:
            self._observe(_OUTCOMES[updated.status], outcome.duration_us / 1e6)
        if updated.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED:
            logger.warning(
                "webhook delivery %s to %s failed for good after %d attempts: %s",
                updated.delivery_id,
                updated.webhook_id,
                updated.attempt_count,
                outcome.error,
            )
        elif outcome.error:
            logger.info(
                "webhook delivery %s: attempt %d failed (%s); next try in %.1f s",
                updated.delivery_id,
                updated.attempt_count,
                outcome.error,
                (updated.next_attempt_at.ToMicroseconds() - now_us()) / 1e6,
            )
