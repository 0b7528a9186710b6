"""The plain data that crosses between the domain and a store.

Protos for what clients see (Thread, Message, Run, RunEvent), dataclasses
for the rest. Nothing here knows SQL: a second store implements the same
interface (store.base) over the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from threadline.v1 import run_pb2, thread_pb2, webhook_pb2

from threadline_server.jsonvalue import JsonValue

T = TypeVar("T")

DEFAULT_TENANT = "default"
"""The tenant a server without keys serves (on a loopback address only)."""

ACROSS_TENANTS = ""
"""The tenant of a transaction that reads or sweeps every tenant's rows (the
run metrics' first count, the sweep of old request ids): no tenant is named
so, so it finds no row of anyone's by id, and it writes no row of its own."""


class ThreadOrder(Enum):
    """The columns threads can be listed by."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's sort value and its row key."""

    sort_value: int
    row_key: int


@dataclass(frozen=True)
class ThreadFilter:
    """A validated thread filter; times are microseconds since the epoch."""

    agent_id: str = ""
    user_id: str = ""
    external_ref: str = ""
    statuses: tuple[int, ...] = ()
    thread_ids: tuple[str, ...] = ()
    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    metadata: dict[str, JsonValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ThreadPageQuery:
    """One page of a thread listing."""

    filter: ThreadFilter
    order: ThreadOrder
    descending: bool
    limit: int
    after: Cursor | None
    # The most bytes the page's items may take (each as a repeated field's entry).
    max_bytes: int


@dataclass(frozen=True)
class MessagePageQuery:
    """One page of a thread's messages."""

    thread_id: str
    descending: bool
    limit: int
    after: Cursor | None
    # The most bytes the page's items may take (each as a repeated field's entry).
    max_bytes: int


@dataclass(frozen=True)
class RunPageQuery:
    """One page of a thread's runs."""

    thread_id: str
    descending: bool
    limit: int
    after: Cursor | None
    # The most bytes the page's items may take (each as a repeated field's entry).
    max_bytes: int


@dataclass(frozen=True)
class CheckpointPageQuery:
    """One page of a thread's checkpoints, newest first."""

    thread_id: str
    limit: int
    after: Cursor | None
    # The most bytes the page's items may take (each as a repeated field's entry).
    max_bytes: int


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items of one page, and the cursor to continue from (None on the last page)."""

    items: list[T]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class ThreadRef:
    """A live thread, as a transaction found it.

    key is the store's own handle for the row, meaningless to the domain;
    tenant is whose thread it is (thread ids are unique only within a
    tenant); ttl_us is what the domain needs to move the thread's expiry on
    activity.
    """

    key: int
    tenant: str
    thread_id: str
    ttl_us: int | None = None


@dataclass(frozen=True)
class StoredThread:
    """A live thread and its API view (with its current etag)."""

    ref: ThreadRef
    thread: thread_pb2.Thread


@dataclass(frozen=True)
class ThreadActivity:
    """What a write did to its thread besides its own rows.

    Activity moves last_activity_at and expire_at (None: the thread has no
    ttl) and changes the etag; message_count_change counts messages added
    (or removed, when negative).
    """

    at: int
    expire_at: int | None
    message_count_change: int = 0


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as a transaction found it.

    message_key is the store's own handle on where the thread's messages
    stood when the checkpoint was made, meaningless to the domain: a fork
    hands it back to copy_messages.
    """

    checkpoint: thread_pb2.ThreadCheckpoint
    message_key: int


@dataclass
class RunRecord:
    """A run as stored: the API view, plus what only the server sees."""

    run: run_pb2.Run
    thread: ThreadRef
    lease_id: str | None = None
    lease_expires_at: int | None = None
    lease_duration_us: int | None = None
    worker_id: str = ""


@dataclass(frozen=True)
class RememberedRequest:
    """A creation call remembered by its request_id: what the request was, and what it made.

    fingerprint tells a retry of the same request from another one with the
    same id; thread_id and resource_id (the thread, message or run made; the
    thread itself for CreateThread) are what a retry returns.
    """

    method: str
    request_id: str
    fingerprint: bytes
    thread_id: str
    resource_id: str
    created_at: int


@dataclass(frozen=True)
class KeyRecord:
    """An API key as stored: never the key itself, only its digest."""

    key_id: str
    tenant: str
    scope: str
    digest: bytes
    created_at: int
    revoked_at: int | None = None
    note: str = ""


EventListener = Callable[[str, list[run_pb2.RunEvent]], None]
"""Called after each commit with the transaction's tenant and its events."""

WriteObserver = Callable[[float, float], None]
"""Told of each write transaction: seconds it waited for the writer, seconds it held it."""


@dataclass(frozen=True)
class StoredWebhook:
    """A webhook as the store keeps it: its API view (without secret), the secret, its key."""

    webhook: webhook_pb2.Webhook
    secret: str
    key: int


@dataclass(frozen=True)
class OutboxEntry:
    """A delivery to write beside its event: the webhook's key, the record, the body sent.

    It belongs to its event's thread, and goes when the thread does.
    """

    webhook_key: int
    delivery: webhook_pb2.WebhookDelivery
    body: bytes


@dataclass(frozen=True)
class DueDelivery:
    """A delivery claimed for an attempt: what to send, where, and signed with what."""

    tenant: str
    delivery: webhook_pb2.WebhookDelivery
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class WebhookPageQuery:
    """One page of a tenant's webhooks made by CreateWebhook, newest first."""

    limit: int
    after: Cursor | None
    max_bytes: int


@dataclass(frozen=True)
class DeliveryPageQuery:
    """One page of a tenant's deliveries, newest first, of a webhook and/or a run ('' any)."""

    webhook_id: str
    run_id: str
    limit: int
    after: Cursor | None
    max_bytes: int
