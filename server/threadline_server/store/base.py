"""The store interface the domain layer depends on: plain data in, plain data out.

The domain validates requests and decides everything (ids, times, statuses,
expiry, the events a change makes); a store makes those decisions durable
and atomic, and answers queries. Every write goes through one API,
Store.transaction(work): work gets a StoreTransaction, whose primitives
read and write rows, and all it does commits together or not at all; the
events it appends reach the event listeners after the commit, in commit
order. Reads that are not part of a write are methods of the Store.

Every row belongs to a tenant, and every read and every transaction is
for one tenant, given by the caller: a row of another tenant is exactly as
absent as a row that does not exist. The only reads across tenants are
the few the server's own background jobs need (stale runs, queued threads,
expired threads); they return each row's tenant, and the job then writes
in a transaction of that tenant.

A store raises NotFoundError(kind, id) when a row named by id does not
exist (or its thread has expired, or it is another tenant's); the domain
says which request field named it. It raises nothing else of the domain's:
"the id is taken" comes back as None, and the domain decides what that means.

SQLite is the embedded default (store.sqlite); a server database
(PostgreSQL) implements this same interface when one machine is not enough.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from threadline.v1 import message_pb2, run_pb2, thread_pb2, webhook_pb2

from threadline_server.store.records import (
    CheckpointPageQuery,
    DeliveryPageQuery,
    DueDelivery,
    EventListener,
    KeyRecord,
    MessagePageQuery,
    OutboxEntry,
    Page,
    RememberedRequest,
    RunPageQuery,
    RunRecord,
    StoredCheckpoint,
    StoredThread,
    StoredWebhook,
    ThreadActivity,
    ThreadFilter,
    ThreadPageQuery,
    ThreadRef,
    WebhookPageQuery,
)

T = TypeVar("T")


class SchemaTooNewError(Exception):
    """The database's schema is newer than this release knows: it must not serve it."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the database's schema is version {found}, newer than this release knows "
            f"({known}): run a release at least as new as the one that migrated it"
        )
        self.found = found
        self.known = known


class StoreTransaction(abc.ABC):
    """One write transaction of one tenant: the primitives the domain composes its writes from."""

    now: int
    """The transaction's time, microseconds since the epoch, taken once it began."""
    tenant: str
    """The tenant whose rows the transaction reads and writes."""

    # -- threads ----------------------------------------------------------------

    @abc.abstractmethod
    async def thread(self, thread_id: str) -> ThreadRef:
        """Return a live thread, or raise NotFoundError."""

    @abc.abstractmethod
    async def get_thread(self, thread_id: str) -> StoredThread:
        """Return a live thread with its API view, or raise NotFoundError."""

    @abc.abstractmethod
    async def insert_thread(self, thread: thread_pb2.Thread) -> StoredThread | None:
        """Insert a thread exactly as given (times, status, expiry); None if it is taken.

        Stores client-settable fields, status, created_at, updated_at,
        last_activity_at, expire_time, message_count and is_default. Taken:
        its id is, or (is_default) the tenant already has a default thread of
        its agent_id and user_id. The database decides the second, with a
        unique index, so that concurrent first calls of several processes
        agree.
        """

    @abc.abstractmethod
    async def default_thread(self, agent_id: str, user_id: str) -> StoredThread | None:
        """Return the tenant's default thread of an agent and user, or None."""

    @abc.abstractmethod
    async def update_thread(self, ref: ThreadRef, thread: thread_pb2.Thread) -> thread_pb2.Thread:
        """Store a thread's client-settable fields and times; return it with its new etag."""

    @abc.abstractmethod
    async def touch_thread(self, ref: ThreadRef, activity: ThreadActivity) -> None:
        """Record activity on a thread (which changes its etag)."""

    @abc.abstractmethod
    async def set_thread_status(
        self, ref: ThreadRef, status: thread_pb2.ThreadStatus.ValueType
    ) -> None:
        """Store a thread's status (its etag stays: status is the server's, not the client's)."""

    @abc.abstractmethod
    async def delete_thread(self, ref: ThreadRef) -> None:
        """Delete a thread and everything under it.

        It is gone for every reader once the transaction commits, and its id
        is free; a store may remove its rows later, in the background.
        """

    async def hide_thread(self, ref: ThreadRef) -> None:
        """Keep a thread this transaction inserted out of sight until publish_thread.

        For a copy filled in batches (Store.copy_messages_in_batches): no
        reader sees it half filled, and its id stays taken. A store that
        copies in one transaction need not hide anything.
        """
        del ref  # by default a copy is never hidden

    async def publish_thread(self, ref: ThreadRef, expire_at: int | None) -> None:
        """Bring a hidden thread into view, with its expire time (microseconds, or None).

        Raises NotFoundError when it is no longer there to publish (the copy
        was abandoned, by a restart say).
        """
        del ref, expire_at  # by default a copy is never hidden

    @abc.abstractmethod
    async def delete_expired_threads(self, thread_ids: Sequence[str]) -> list[str]:
        """Delete those of the threads whose expire time has passed; return their ids."""

    # -- messages ---------------------------------------------------------------

    @abc.abstractmethod
    async def insert_messages(
        self, ref: ThreadRef, messages: Sequence[message_pb2.Message]
    ) -> list[message_pb2.Message]:
        """Append messages exactly as given (ids and times set); return them as stored."""

    @abc.abstractmethod
    async def message(self, ref: ThreadRef, message_id: str) -> message_pb2.Message:
        """Return one message of a thread, or raise NotFoundError."""

    @abc.abstractmethod
    async def update_message(
        self, ref: ThreadRef, message: message_pb2.Message
    ) -> message_pb2.Message:
        """Store a message's metadata and updated_at; return it as stored."""

    @abc.abstractmethod
    async def delete_message(self, ref: ThreadRef, message_id: str) -> None:
        """Delete one message of a thread, or raise NotFoundError."""

    @abc.abstractmethod
    async def delete_run_messages(self, ref: ThreadRef, run_ids: Sequence[str]) -> int:
        """Delete the messages the given runs wrote; return how many."""

    @abc.abstractmethod
    async def latest_messages(
        self, ref: ThreadRef, limit: int, *, max_bytes: int
    ) -> tuple[list[message_pb2.Message], int]:
        """Return the thread's latest messages, oldest first, and how many were left out.

        Up to limit of them, as many as fit in max_bytes (each counted as an
        entry of a repeated field; the newest is always returned): the ones
        left out are the oldest of the latest limit.
        """

    @abc.abstractmethod
    async def copy_messages(
        self,
        source: ThreadRef,
        target: ThreadRef,
        new_message_id: Callable[[], str],
        *,
        through: int | None = None,
    ) -> int:
        """Copy every message of source to target in order, each under a new id; count them.

        With through (a checkpoint's message_key), only the messages up to
        the one that was newest when that checkpoint was made.
        """

    @abc.abstractmethod
    async def delete_all_messages(self, ref: ThreadRef) -> int:
        """Delete every message of a thread; return how many."""

    @abc.abstractmethod
    async def newest_message_id(self, ref: ThreadRef) -> str:
        """Return the id of the thread's newest message, or '' when it has none."""

    # -- checkpoints ------------------------------------------------------------

    @abc.abstractmethod
    async def insert_checkpoints(
        self, ref: ThreadRef, checkpoints: Sequence[thread_pb2.ThreadCheckpoint]
    ) -> None:
        """Append checkpoints exactly as given, in order (their last messages are written).

        The store notes where each one's last_message_id stands among the
        thread's messages (its message_key), for forks.
        """

    @abc.abstractmethod
    async def newest_checkpoint(self, ref: ThreadRef) -> StoredCheckpoint | None:
        """Return the thread's newest checkpoint (its state), or None when it has none."""

    @abc.abstractmethod
    async def checkpoint(self, ref: ThreadRef, checkpoint_id: str) -> StoredCheckpoint:
        """Return one checkpoint of the thread, or raise NotFoundError."""

    @abc.abstractmethod
    async def first_checkpoint_of_run(self, ref: ThreadRef, run_id: str) -> StoredCheckpoint | None:
        """Return the first checkpoint a run made on the thread, or None when it made none."""

    # -- runs -------------------------------------------------------------------

    @abc.abstractmethod
    async def run(self, run_id: str) -> RunRecord:
        """Return a run of a live thread, or raise NotFoundError."""

    @abc.abstractmethod
    async def insert_run(self, ref: ThreadRef, run: run_pb2.Run) -> RunRecord:
        """Insert a new run exactly as given (run_id, status and created_at set)."""

    @abc.abstractmethod
    async def save_run(self, record: RunRecord) -> None:
        """Write every mutable field of a run back."""

    @abc.abstractmethod
    async def runs_in_flight(self, ref: ThreadRef) -> list[RunRecord]:
        """Return the thread's QUEUED and RUNNING runs, oldest first."""

    @abc.abstractmethod
    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest QUEUED run of an agent that is first in line on its live thread.

        First in line: no run of its thread is RUNNING and none queued before it.
        """

    @abc.abstractmethod
    async def count_runs_in_flight(self, limit: int) -> int:
        """Count the tenant's QUEUED and RUNNING runs, up to limit (counting stops there)."""

    @abc.abstractmethod
    async def all_runs_in_flight(self) -> list[RunRecord]:
        """Return every QUEUED and RUNNING run, of every tenant.

        The one read across tenants in a transaction: the run metrics count
        from it and follow commits from the same instant.
        """

    # -- request ids ------------------------------------------------------------

    @abc.abstractmethod
    async def remembered_request(
        self, method: str, request_id: str, *, since: int
    ) -> RememberedRequest | None:
        """Return the call remembered under this method and request_id made at or after since."""

    @abc.abstractmethod
    async def remember_request(self, request: RememberedRequest) -> None:
        """Remember a call, replacing one under the same method and id made before."""

    @abc.abstractmethod
    async def forget_requests(self, *, before: int, limit: int) -> int:
        """Forget up to limit calls (of every tenant) made before a time; return how many."""

    # -- webhooks ---------------------------------------------------------------

    @abc.abstractmethod
    async def insert_webhook(
        self, webhook: webhook_pb2.Webhook, secret: str, *, thread: ThreadRef | None = None
    ) -> StoredWebhook:
        """Insert a webhook exactly as given (webhook_id, run_id and created_at set).

        A run's own webhook is given its run's thread, and is deleted with it.
        """

    @abc.abstractmethod
    async def webhook(self, webhook_id: str) -> StoredWebhook:
        """Return one of the tenant's webhooks, or raise NotFoundError."""

    @abc.abstractmethod
    async def count_webhooks(self, limit: int) -> int:
        """Count the tenant's webhooks made by CreateWebhook, up to limit (counting stops there)."""

    @abc.abstractmethod
    async def delete_webhook(self, webhook_id: str) -> None:
        """Delete a webhook and its deliveries, or raise NotFoundError."""

    @abc.abstractmethod
    async def webhooks_of_run(self, run_id: str) -> list[StoredWebhook]:
        """Return the tenant's webhooks for every run and the run's own, oldest first."""

    @abc.abstractmethod
    async def insert_deliveries(self, ref: ThreadRef, entries: Sequence[OutboxEntry]) -> None:
        """Write deliveries of a thread's events to the outbox exactly as given.

        They are deleted with the thread (and with their webhook).
        """

    @abc.abstractmethod
    async def claim_deliveries(self, delivery_ids: Sequence[str], until: int) -> list[DueDelivery]:
        """Lease those of the deliveries that are due by now for an attempt until a time.

        The lease is a delivery's next_attempt_at moved to until: another
        dispatcher (or this one after a crash) tries it then, not before.
        Deliveries no longer due (another took them) are left out.
        """

    @abc.abstractmethod
    async def forget_deliveries(self, *, before: int, limit: int) -> int:
        """Delete up to limit done deliveries (of every tenant) made before a time; count them."""

    @abc.abstractmethod
    async def save_deliveries(self, deliveries: Sequence[webhook_pb2.WebhookDelivery]) -> None:
        """Write deliveries' status, next_attempt_at and attempts back (those that still exist).

        A delivery with no next_attempt_at is done: its body is dropped.
        """

    # -- events -----------------------------------------------------------------

    @abc.abstractmethod
    async def append_events(
        self, ref: ThreadRef, events: Sequence[run_pb2.RunEvent]
    ) -> list[run_pb2.RunEvent]:
        """Store events in order; return them with event_id and thread_id set.

        Each event's id is greater than every id its thread had before, in
        commit order, which is what readers resume by.
        """

    @abc.abstractmethod
    def announce(self, events: Sequence[run_pb2.RunEvent]) -> None:
        """Hand events to the listeners after the commit without storing them."""


class Store(abc.ABC):
    """Durable state of threads, messages, runs and events.

    Reads are methods; every write is one call to transaction(work).
    """

    shared: bool = False
    """True when other processes write the same database (PostgreSQL): then
    events commit that this process's listeners never see, so stream readers
    read every event from the store, woken by add_wake_listener, and runs
    executed here carry a lease that the other processes can see run out."""

    def add_wake_listener(self, listener: Callable[[str, str], None]) -> None:  # noqa: B027 - optional: a store of one process has nothing to tell
        """Call listener(tenant, thread_id) when another process may have committed on a thread.

        Also called for every thread (thread_id '') when notifications may
        have been missed, so readers read again. A store that only one
        process writes never calls it.
        """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and disconnect."""

    @property
    @abc.abstractmethod
    def keys(self) -> KeyStore:
        """The API keys, read on every call (once the store is open)."""

    @abc.abstractmethod
    async def transaction(self, tenant: str, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run work in one write transaction of a tenant, committed when it returns.

        It is rolled back when work raises. The caller's cancellation never
        interrupts a transaction half done.
        """

    async def copy_messages_in_batches(
        self,
        tenant: str,
        source: ThreadRef,
        target: ThreadRef,
        new_message_id: Callable[[], str],
        *,
        through: int | None = None,
    ) -> int:
        """Copy messages as StoreTransaction.copy_messages does, in transactions of their own.

        Messages newer than the source's newest when the call began are not
        copied. A store may split the copy into many short transactions, so
        that a big thread does not hold the writer; the caller's cancellation
        stops it between two of them (the target is then left to delete).
        This default copies in one transaction.
        """

        async def work(tx: StoreTransaction) -> int:
            return await tx.copy_messages(source, target, new_message_id, through=through)

        return await self.transaction(tenant, work)

    @abc.abstractmethod
    def add_event_listener(self, listener: EventListener) -> None:
        """Call listener with the tenant and the events of each transaction after it commits.

        Listeners run in commit order, before the next transaction starts, so
        they see every thread's events in event_id order.
        """

    # -- reads ------------------------------------------------------------------

    @abc.abstractmethod
    async def get_thread(
        self, tenant: str, thread_id: str, *, message_limit: int = 0, max_bytes: int = 0
    ) -> thread_pb2.Thread:
        """Return a live thread, with up to message_limit of its latest messages.

        With messages, the thread with them takes at most max_bytes; those
        of the latest message_limit that did not fit are counted in its
        omitted_message_count.
        """

    @abc.abstractmethod
    async def list_threads(self, tenant: str, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
        """Return one page of matching live threads."""

    @abc.abstractmethod
    async def count_threads(self, tenant: str, thread_filter: ThreadFilter) -> int:
        """Count matching live threads."""

    @abc.abstractmethod
    async def get_message(
        self, tenant: str, thread_id: str, message_id: str
    ) -> message_pb2.Message:
        """Return one message of a live thread."""

    @abc.abstractmethod
    async def list_messages(
        self, tenant: str, query: MessagePageQuery
    ) -> Page[message_pb2.Message]:
        """Return one page of a live thread's messages."""

    @abc.abstractmethod
    async def newest_checkpoint(
        self, tenant: str, thread_id: str
    ) -> thread_pb2.ThreadCheckpoint | None:
        """Return a live thread's newest checkpoint (its state), or None when it has none."""

    @abc.abstractmethod
    async def list_checkpoints(
        self, tenant: str, query: CheckpointPageQuery
    ) -> Page[thread_pb2.ThreadCheckpoint]:
        """Return one page of a live thread's checkpoints, newest first."""

    @abc.abstractmethod
    async def get_run(self, tenant: str, run_id: str) -> run_pb2.Run:
        """Return one run of a live thread."""

    @abc.abstractmethod
    async def list_runs(self, tenant: str, query: RunPageQuery) -> Page[run_pb2.Run]:
        """Return one page of a live thread's runs."""

    @abc.abstractmethod
    async def read_events(
        self,
        tenant: str,
        *,
        thread_id: str = "",
        run_id: str = "",
        after: int,
        limit: int,
        max_bytes: int,
    ) -> list[run_pb2.RunEvent]:
        """Return the events of a live thread or of a run with event_id > after, oldest first.

        At most limit events taking at most max_bytes (the first is always
        returned).
        """

    @abc.abstractmethod
    async def get_webhook(self, tenant: str, webhook_id: str) -> webhook_pb2.Webhook:
        """Return one webhook, without its secret."""

    @abc.abstractmethod
    async def list_webhooks(
        self, tenant: str, query: WebhookPageQuery
    ) -> Page[webhook_pb2.Webhook]:
        """Return one page of the tenant's webhooks made by CreateWebhook, newest first."""

    @abc.abstractmethod
    async def list_deliveries(
        self, tenant: str, query: DeliveryPageQuery
    ) -> Page[webhook_pb2.WebhookDelivery]:
        """Return one page of deliveries, newest first (NotFoundError for an unknown webhook)."""

    # -- reads across tenants, for the server's own background jobs ----------------

    @abc.abstractmethod
    async def due_deliveries(self, limit: int) -> list[tuple[str, str]]:
        """Return (tenant, delivery id) of up to limit deliveries due by now, soonest first."""

    @abc.abstractmethod
    async def next_delivery_due(self) -> int | None:
        """Return when the next pending delivery is due (microseconds), or None."""

    @abc.abstractmethod
    async def stale_runs(self) -> list[RunRecord]:
        """Return RUNNING runs whose lease ran out by now, or that have no lease, oldest first."""

    @abc.abstractmethod
    async def expired_waiting_runs(self) -> list[RunRecord]:
        """Return REQUIRES_ACTION runs of every tenant whose action expired by now, oldest first."""

    @abc.abstractmethod
    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Return every thread that has a queued run."""

    @abc.abstractmethod
    async def expired_threads(self, limit: int) -> list[ThreadRef]:
        """Return up to limit threads whose expire time has passed."""


class KeyStore(abc.ABC):
    """API keys: read by the server on every call, written by the `threadline keys` command.

    Reads are synchronous on purpose: a lookup by primary key in a small
    table takes microseconds, less than a hop to a database thread would, and
    reading the stored row on every call is what makes a revocation count at once.
    """

    @abc.abstractmethod
    def find(self, key_id: str) -> KeyRecord | None:
        """Return the key with this id, revoked or not, or None."""

    @abc.abstractmethod
    def any_active(self) -> bool:
        """Tell whether any key is not revoked."""


class KeyAdmin(abc.ABC):
    """API keys as the `threadline keys` command changes them."""

    @abc.abstractmethod
    async def insert(self, record: KeyRecord) -> None:
        """Store a new key."""

    @abc.abstractmethod
    async def revoke(self, key_id: str, at: int) -> KeyRecord | None:
        """Mark a key revoked at `at` (if it was not already); None if there is no such key."""

    @abc.abstractmethod
    async def list(self) -> list[KeyRecord]:
        """Return every key, revoked ones too, oldest first."""
