"""The store reads both adapters answer alike: webhooks, deliveries and those due.

Also with_live: a read of a live thread's rows, the thread found first by the
adapter's own threads module.

A store lends a Session for a read through its own ``_read`` (SQLite: a
read connection from its pool; PostgreSQL: a pooled connection, in a
REPEATABLE READ transaction for a snapshot); what is read is the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Generic, Protocol, TypeVar

from threadline.v1 import webhook_pb2

from threadline_server.store.records import DeliveryPageQuery, Page, ThreadRef, WebhookPageQuery
from threadline_server.store.sql import webhooks
from threadline_server.store.sql.session import SqlSession

S = TypeVar("S", bound=SqlSession)
S_contra = TypeVar("S_contra", contravariant=True)
R = TypeVar("R")
T = TypeVar("T")


class LiveThreads(Protocol[S_contra, R]):
    """What of an adapter's threads module finds a live thread."""

    async def live_row(self, session: S_contra, thread_id: str, /) -> R:
        """Return a live thread's row, or raise NotFoundError."""

    def to_ref(self, row: R, /) -> ThreadRef:
        """Return a thread row's handle."""


async def with_live(
    threads: LiveThreads[S, R],
    session: S,
    thread_id: str,
    read: Callable[[S, ThreadRef], Awaitable[T]],
) -> T:
    """Run a read of a live thread's rows (the thread found first, or NotFoundError)."""
    return await read(session, threads.to_ref(await threads.live_row(session, thread_id)))


class WebhookReads(Generic[S]):
    """The Store's webhook reads, over the adapter's ``_read``."""

    def _read(
        self, tenant: str | None, *, snapshot: bool = False
    ) -> AbstractAsyncContextManager[S]:
        """Lend a Session for a read (each adapter has its own)."""
        raise NotImplementedError

    async def get_webhook(self, tenant: str, webhook_id: str) -> webhook_pb2.Webhook:
        """Return one of the tenant's webhooks, without its secret."""
        async with self._read(tenant) as session:
            return webhooks.to_webhook(await webhooks.row_of(session, webhook_id))

    async def list_webhooks(
        self, tenant: str, query: WebhookPageQuery
    ) -> Page[webhook_pb2.Webhook]:
        """Return one page of the tenant's webhooks."""
        async with self._read(tenant) as session:
            return await webhooks.list_page(session, query)

    async def list_deliveries(
        self, tenant: str, query: DeliveryPageQuery
    ) -> Page[webhook_pb2.WebhookDelivery]:
        """Return one page of the tenant's deliveries (the webhook and them in one snapshot)."""
        async with self._read(tenant, snapshot=bool(query.webhook_id)) as session:
            return await webhooks.list_deliveries(session, query)

    async def due_deliveries(self, limit: int) -> list[tuple[str, str]]:
        """Return (tenant, delivery id) of deliveries due by now, soonest first."""
        async with self._read(None) as session:
            return await webhooks.due(session, limit)

    async def next_delivery_due(self) -> int | None:
        """Return when the next pending delivery is due, or None."""
        async with self._read(None) as session:
            return await webhooks.next_due(session)
