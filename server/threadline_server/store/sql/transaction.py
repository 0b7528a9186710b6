"""The transaction API's plumbing both stores share: ownership checks and delegation.

A store's transaction is one of these over its own Session. What is the
same on both databases (checkpoints, runs, request ids, webhooks and their
deliveries, the events queued for the listeners) is delegated here, once;
each adapter adds what is its own: threads, messages and events (their SQL
differs), how a writer finds and locks a thread or a run, and the claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from threadline.v1 import message_pb2, run_pb2, thread_pb2, webhook_pb2

from threadline_server.store.base import StoreTransaction
from threadline_server.store.records import (
    DueDelivery,
    OutboxEntry,
    RememberedRequest,
    RunRecord,
    StoredCheckpoint,
    StoredWebhook,
    ThreadActivity,
    ThreadRef,
)
from threadline_server.store.sql import checkpoints, request_ids, runs, webhooks
from threadline_server.store.sql.session import SqlSession

S = TypeVar("S", bound=SqlSession)
S_in_contra = TypeVar("S_in_contra", contravariant=True)


class ThreadRows(Protocol[S_in_contra]):
    """What of an adapter's threads module the shared delegation calls (rows stay its own)."""

    async def touch(self, session: S_in_contra, key: int, activity: ThreadActivity, /) -> None:
        """Record activity on a thread."""

    async def set_status(self, session: S_in_contra, key: int, status: int, /) -> None:
        """Store a thread's status."""

    async def delete(self, session: S_in_contra, key: int, /) -> None:
        """Delete a thread."""

    async def delete_expired(self, session: S_in_contra, thread_ids: Sequence[str], /) -> list[str]:
        """Delete those of the threads that expired; return their ids."""


class MessageRows(Protocol[S_in_contra]):
    """What of an adapter's messages module the shared delegation calls."""

    async def insert(
        self, session: S_in_contra, ref: ThreadRef, messages: Sequence[message_pb2.Message], /
    ) -> list[message_pb2.Message]:
        """Append messages as given."""

    async def update(
        self, session: S_in_contra, ref: ThreadRef, message: message_pb2.Message, /
    ) -> message_pb2.Message:
        """Store a message's metadata and updated_at."""

    async def delete(self, session: S_in_contra, ref: ThreadRef, message_id: str, /) -> None:
        """Delete one message of a thread."""

    async def delete_of_runs(
        self, session: S_in_contra, ref: ThreadRef, run_ids: Sequence[str], /
    ) -> int:
        """Delete what the runs wrote."""

    async def latest(
        self, session: S_in_contra, ref: ThreadRef, limit: int, /, *, max_bytes: int
    ) -> tuple[list[message_pb2.Message], int]:
        """Return the latest messages that fit, oldest first, and how many did not."""

    async def copy(
        self,
        session: S_in_contra,
        source: ThreadRef,
        target: ThreadRef,
        new_message_id: Callable[[], str],
        /,
        *,
        through: int | None = None,
    ) -> int:
        """Copy the messages of a thread to another under new ids."""

    async def delete_all(self, session: S_in_contra, ref: ThreadRef, /) -> int:
        """Delete every message of a thread."""

    async def newest_id(self, session: S_in_contra, ref: ThreadRef, /) -> str:
        """Return the id of the thread's newest message, or ''."""


class EventRows(Protocol[S_in_contra]):
    """What of an adapter's events module the shared delegation calls."""

    async def append(
        self, session: S_in_contra, thread: ThreadRef, events: Sequence[run_pb2.RunEvent], /
    ) -> list[run_pb2.RunEvent]:
        """Store events in order; return them with event_id and thread_id."""


class SqlTransaction(StoreTransaction, Generic[S]):
    """One write transaction of one tenant; collects its events for the listeners after COMMIT.

    An adapter names its own modules for the rows whose SQL differs.
    """

    _threads: ThreadRows[S]
    _messages: MessageRows[S]
    _events: EventRows[S]

    def __init__(self, session: S, tenant: str) -> None:
        self._session = session
        self.now = session.now
        self.tenant = tenant
        # Stored and announced events, handed to listeners after the commit.
        self.events: list[run_pb2.RunEvent] = []

    def _own(self, ref: ThreadRef) -> None:
        """Refuse a thread of another tenant: a ref only ever comes from this tenant's reads."""
        if ref.tenant != self.tenant:
            raise RuntimeError(f"a transaction of {self.tenant!r} given a thread of {ref.tenant!r}")

    # -- threads ----------------------------------------------------------------

    async def touch_thread(self, ref: ThreadRef, activity: ThreadActivity) -> None:
        """Record activity on a thread."""
        self._own(ref)
        await self._threads.touch(self._session, ref.key, activity)

    async def set_thread_status(
        self, ref: ThreadRef, status: thread_pb2.ThreadStatus.ValueType
    ) -> None:
        """Store a thread's status."""
        self._own(ref)
        await self._threads.set_status(self._session, ref.key, status)

    async def delete_thread(self, ref: ThreadRef) -> None:
        """Delete a thread and everything under it."""
        self._own(ref)
        await self._threads.delete(self._session, ref.key)

    async def delete_expired_threads(self, thread_ids: Sequence[str]) -> list[str]:
        """Delete those of the threads that expired; return their ids."""
        return await self._threads.delete_expired(self._session, thread_ids)

    # -- messages ---------------------------------------------------------------

    async def insert_messages(
        self, ref: ThreadRef, messages_: Sequence[message_pb2.Message]
    ) -> list[message_pb2.Message]:
        """Append messages as given."""
        self._own(ref)
        return await self._messages.insert(self._session, ref, messages_)

    async def update_message(
        self, ref: ThreadRef, message: message_pb2.Message
    ) -> message_pb2.Message:
        """Store a message's metadata and updated_at."""
        self._own(ref)
        return await self._messages.update(self._session, ref, message)

    async def delete_message(self, ref: ThreadRef, message_id: str) -> None:
        """Delete one message of a thread."""
        self._own(ref)
        await self._messages.delete(self._session, ref, message_id)

    async def delete_run_messages(self, ref: ThreadRef, run_ids: Sequence[str]) -> int:
        """Delete what the runs wrote."""
        self._own(ref)
        return await self._messages.delete_of_runs(self._session, ref, run_ids)

    async def latest_messages(
        self, ref: ThreadRef, limit: int, *, max_bytes: int
    ) -> tuple[list[message_pb2.Message], int]:
        """Return the latest messages that fit, oldest first, and how many did not."""
        self._own(ref)
        return await self._messages.latest(self._session, ref, limit, max_bytes=max_bytes)

    async def copy_messages(
        self,
        source: ThreadRef,
        target: ThreadRef,
        new_message_id: Callable[[], str],
        *,
        through: int | None = None,
    ) -> int:
        """Copy the messages of a thread (up to a checkpoint's) to another under new ids."""
        self._own(source)
        self._own(target)
        return await self._messages.copy(
            self._session, source, target, new_message_id, through=through
        )

    async def delete_all_messages(self, ref: ThreadRef) -> int:
        """Delete every message of a thread."""
        self._own(ref)
        return await self._messages.delete_all(self._session, ref)

    async def newest_message_id(self, ref: ThreadRef) -> str:
        """Return the id of the thread's newest message, or ''."""
        self._own(ref)
        return await self._messages.newest_id(self._session, ref)

    # -- events -----------------------------------------------------------------

    async def append_events(
        self, ref: ThreadRef, events_: Sequence[run_pb2.RunEvent]
    ) -> list[run_pb2.RunEvent]:
        """Store events and queue them for the listeners after the commit."""
        self._own(ref)
        stored = await self._events.append(self._session, ref, events_)
        self.events.extend(stored)
        return stored

    def announce(self, events_: Sequence[run_pb2.RunEvent]) -> None:
        """Queue events that are not stored for the listeners (a deleted thread, say)."""
        self.events.extend(events_)

    # -- checkpoints ------------------------------------------------------------

    async def insert_checkpoints(
        self, ref: ThreadRef, checkpoints_: Sequence[thread_pb2.ThreadCheckpoint]
    ) -> None:
        """Append checkpoints as given."""
        self._own(ref)
        await checkpoints.insert(self._session, ref, checkpoints_)

    async def newest_checkpoint(self, ref: ThreadRef) -> StoredCheckpoint | None:
        """Return the thread's newest checkpoint, or None."""
        self._own(ref)
        return await checkpoints.newest(self._session, ref)

    async def checkpoint(self, ref: ThreadRef, checkpoint_id: str) -> StoredCheckpoint:
        """Return one checkpoint of the thread."""
        self._own(ref)
        return await checkpoints.one(self._session, ref, checkpoint_id)

    async def first_checkpoint_of_run(self, ref: ThreadRef, run_id: str) -> StoredCheckpoint | None:
        """Return the first checkpoint a run made on the thread, or None."""
        self._own(ref)
        return await checkpoints.first_of_run(self._session, ref, run_id)

    # -- runs -------------------------------------------------------------------

    async def insert_run(self, ref: ThreadRef, run: run_pb2.Run) -> RunRecord:
        """Insert a run."""
        self._own(ref)
        return await runs.insert(self._session, ref, run)

    async def save_run(self, record: RunRecord) -> None:
        """Write a run's mutable fields."""
        self._own(record.thread)
        await runs.save(self._session, record)

    async def runs_in_flight(self, ref: ThreadRef) -> list[RunRecord]:
        """Return the thread's queued and running runs, oldest first."""
        self._own(ref)
        return await runs.in_flight(self._session, ref)

    async def count_runs_in_flight(self, limit: int) -> int:
        """Count the tenant's queued and running runs, up to limit."""
        return await runs.count_in_flight(self._session, limit)

    async def all_runs_in_flight(self) -> list[RunRecord]:
        """Return every queued and running run."""
        return await runs.all_in_flight(self._session)

    # -- request ids ------------------------------------------------------------

    async def remembered_request(
        self, method: str, request_id: str, *, since: int
    ) -> RememberedRequest | None:
        """Return a call remembered under its request_id since a time."""
        return await request_ids.find(self._session, method, request_id, since=since)

    async def remember_request(self, request: RememberedRequest) -> None:
        """Remember a call under its request_id."""
        await request_ids.remember(self._session, request)

    async def forget_requests(self, *, before: int, limit: int) -> int:
        """Forget calls made before a time."""
        return await request_ids.forget(self._session, before=before, limit=limit)

    # -- webhooks ---------------------------------------------------------------

    async def insert_webhook(
        self, webhook: webhook_pb2.Webhook, secret: str, *, thread: ThreadRef | None = None
    ) -> StoredWebhook:
        """Insert a webhook as given (a run's own with its thread)."""
        if thread is not None:
            self._own(thread)
        return await webhooks.insert(
            self._session, webhook, secret, thread_key=None if thread is None else thread.key
        )

    async def webhook(self, webhook_id: str) -> StoredWebhook:
        """Return one of the tenant's webhooks."""
        return webhooks.to_stored(await webhooks.row_of(self._session, webhook_id))

    async def count_webhooks(self, limit: int) -> int:
        """Count the tenant's webhooks for every run, up to limit."""
        return await webhooks.count(self._session, limit)

    async def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook and its deliveries."""
        await webhooks.delete(self._session, webhook_id)

    async def webhooks_of_run(self, run_id: str) -> list[StoredWebhook]:
        """Return the webhooks for every run and the run's own."""
        return await webhooks.of_run(self._session, run_id)

    async def insert_deliveries(self, ref: ThreadRef, entries: Sequence[OutboxEntry]) -> None:
        """Write deliveries of a thread's events to the outbox."""
        self._own(ref)
        await webhooks.insert_deliveries(self._session, ref, entries)

    async def claim_deliveries(self, delivery_ids: Sequence[str], until: int) -> list[DueDelivery]:
        """Lease the due ones of the deliveries for an attempt."""
        return await webhooks.claim(self._session, delivery_ids, until)

    async def forget_deliveries(self, *, before: int, limit: int) -> int:
        """Delete done deliveries made before a time."""
        return await webhooks.forget(self._session, before=before, limit=limit)

    async def save_deliveries(self, deliveries: Sequence[webhook_pb2.WebhookDelivery]) -> None:
        """Write deliveries back."""
        for delivery in deliveries:
            await webhooks.save_delivery(self._session, delivery)
