"""Which deliveries an event makes, and what an attempt's outcome does to a delivery.

The domain decides, the store persists: enqueue() runs inside the
transaction that writes the events (RunLog), so a delivery exists exactly
when its event does, and a crash between the commit and the send loses
nothing: the dispatcher finds it in the outbox after the restart. The
retry schedule (exponential backoff with jitter, for a bounded time) is
decided here too, as pure functions of the delivery and the clock.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import json_format
from threadline.v1 import run_pb2, webhook_pb2

from threadline_server import ids
from threadline_server.domain import event_types
from threadline_server.domain.run_end import FINAL_EVENT_TYPES
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import ACROSS_TENANTS, OutboxEntry, StoredWebhook, ThreadRef

# The event types a webhook is sent: every run end, and a run that waits for
# an answer when this server has that event (human in the loop).
WEBHOOK_EVENT_TYPES: frozenset[str] = frozenset(FINAL_EVENT_TYPES.values()) | frozenset(
    name for name in (getattr(event_types, "RUN_REQUIRES_ACTION", None),) if isinstance(name, str)
)
# How long a delivery that is done (succeeded, or failed for good) is kept.
RETENTION_US = 7 * 24 * 3600 * 1_000_000
# Deliveries deleted per transaction by the sweep.
SWEEP_BATCH = 500
# The attempts a delivery shows (the count goes on).
KEPT_ATTEMPTS = 20
# The most bytes of an error kept with an attempt.
MAX_ERROR_CHARS = 256


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is tried again, and when it is given up (all in seconds).

    The n-th retry waits first_delay * 2**(n-1), at most max_delay, times a
    random factor between 0.5 and 1 (jitter, so that a receiver that comes
    back is not hit by every delivery at once). A delivery whose next try
    would come more than window after it was written fails for good.
    """

    first_delay: float = 5.0
    max_delay: float = 3600.0
    window: float = 24 * 3600.0
    # One attempt's time limit (connect, send, read the answer).
    attempt_timeout: float = 10.0

    def delay_us(self, attempts: int, rand: float) -> int:
        """Return the wait after the given number of failed attempts, jittered by rand in [0, 1)."""
        base = min(self.first_delay * 2.0 ** min(attempts - 1, 62), self.max_delay)
        return int(base * (0.5 + rand / 2) * 1_000_000)


def matches(webhook: StoredWebhook, event_type: str) -> bool:
    """Tell whether a webhook wants events of a type (no types: every type)."""
    wanted = webhook.webhook.event_types
    return not wanted or event_type in wanted


def body(event: run_pb2.RunEvent) -> bytes:
    """Return the JSON a delivery sends: the Standard Webhooks envelope around the event."""
    envelope = {
        "type": event.type,
        "timestamp": event.created_at.ToJsonString(),
        "data": json_format.MessageToDict(event),
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


async def enqueue(
    tx: StoreTransaction, thread: ThreadRef, events: Sequence[run_pb2.RunEvent]
) -> int:
    """Write a delivery for each stored event of a thread and each webhook that wants it.

    Returns how many it wrote.
    """
    wanted = [event for event in events if event.type in WEBHOOK_EVENT_TYPES]
    if not wanted:
        return 0
    entries: list[OutboxEntry] = []
    hooks_of_run: dict[str, list[StoredWebhook]] = {}
    for event in wanted:
        hooks = hooks_of_run.get(event.run_id)
        if hooks is None:
            hooks = hooks_of_run[event.run_id] = await tx.webhooks_of_run(event.run_id)
        payload = body(event) if hooks else b""
        for hook in hooks:
            if not matches(hook, event.type):
                continue
            delivery = webhook_pb2.WebhookDelivery(
                delivery_id=ids.new_delivery_id(),
                webhook_id=hook.webhook.webhook_id,
                run_id=event.run_id,
                event_type=event.type,
                event_id=event.event_id,
                status=webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING,
            )
            delivery.next_attempt_at.FromMicroseconds(tx.now)
            delivery.created_at.FromMicroseconds(tx.now)
            entries.append(OutboxEntry(hook.key, delivery, payload))
    if entries:
        await tx.insert_deliveries(thread, entries)
    return len(entries)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    started_at: int
    duration_us: int
    status_code: int = 0
    error: str = ""

    @property
    def succeeded(self) -> bool:
        """A 2xx answer."""
        return 200 <= self.status_code < 300 and not self.error


def after_attempt(
    delivery: webhook_pb2.WebhookDelivery,
    outcome: Outcome,
    now: int,
    policy: RetryPolicy,
    rand: float | None = None,
) -> webhook_pb2.WebhookDelivery:
    """Return the delivery with an attempt recorded: done, or due again, or failed for good."""
    updated = webhook_pb2.WebhookDelivery()
    updated.CopyFrom(delivery)
    attempt = webhook_pb2.WebhookAttempt(
        status_code=outcome.status_code,
        error=outcome.error[:MAX_ERROR_CHARS],
        duration_ms=outcome.duration_us // 1000,
    )
    attempt.attempted_at.FromMicroseconds(outcome.started_at)
    kept = [*updated.attempts, attempt][-KEPT_ATTEMPTS:]
    del updated.attempts[:]
    updated.attempts.extend(kept)
    updated.attempt_count += 1
    updated.ClearField("next_attempt_at")
    if outcome.succeeded:
        updated.status = webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED
        return updated
    # S311: jitter, not cryptography.
    delay = policy.delay_us(updated.attempt_count, random.random() if rand is None else rand)  # noqa: S311
    next_at = now + delay
    if next_at > delivery.created_at.ToMicroseconds() + round(policy.window * 1_000_000):
        updated.status = webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED
    else:
        updated.status = webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
        updated.next_attempt_at.FromMicroseconds(next_at)
    return updated


async def forget_old(store: Store) -> int:
    """Delete deliveries done and older than RETENTION_US, a batch per transaction; count them."""
    forgotten = 0
    while True:

        async def work(tx: StoreTransaction) -> int:
            return await tx.forget_deliveries(before=tx.now - RETENTION_US, limit=SWEEP_BATCH)

        batch = await store.transaction(ACROSS_TENANTS, work)
        forgotten += batch
        if batch < SWEEP_BATCH:
            return forgotten
