"""The store interface the domain layer depends on.

The domain validates requests and decides what to do; a store makes it durable
and atomic. One RPC is one store call and so one transaction. SQLite is the
embedded default (store.sqlite); a server database (PostgreSQL) is meant to
implement this same interface when one machine is not enough.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server.jsonvalue import JsonValue

T = TypeVar("T")


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


@dataclass(frozen=True)
class MessagePageQuery:
    """One page of a thread's messages."""

    thread_id: str
    descending: bool
    limit: int
    after: Cursor | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items of one page, and the cursor to continue from (None on the last page)."""

    items: list[T]
    next_cursor: Cursor | None


@dataclass(frozen=True)
class ThreadRef:
    """A live thread, as a transaction sees it."""

    pk: int
    thread_id: str


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
class RunPageQuery:
    """One page of a thread's runs."""

    thread_id: str
    descending: bool
    limit: int
    after: Cursor | None


EventListener = Callable[[list[run_pb2.RunEvent]], None]

WriteObserver = Callable[[float, float], None]
"""Told of each write transaction: seconds it waited for the writer, seconds it held it."""

# The type of the event, never stored, that tells listeners a thread is gone.
THREAD_DELETED = "thread.deleted"


class StoreTransaction(abc.ABC):
    """One write transaction, for domain logic that spans several rows.

    The domain composes run state changes from these primitives; the store
    owns the SQL and the transaction. Everything done through one
    StoreTransaction commits together or not at all.
    """

    now: int

    @abc.abstractmethod
    async def thread(self, thread_id: str, *, field: str = "thread_id") -> ThreadRef:
        """Return a live thread or raise NotFoundError."""

    @abc.abstractmethod
    async def run(self, run_id: str, *, field: str = "run_id") -> RunRecord:
        """Return a run or raise NotFoundError."""

    @abc.abstractmethod
    async def runs_in_flight(self, thread: ThreadRef) -> list[RunRecord]:
        """Return the thread's QUEUED and RUNNING runs, oldest first."""

    @abc.abstractmethod
    async def insert_run(self, thread: ThreadRef, run: run_pb2.Run) -> RunRecord:
        """Insert a new run (run_id set); sets created_at."""

    @abc.abstractmethod
    async def save_run(self, record: RunRecord) -> None:
        """Write every mutable field of a run back."""

    @abc.abstractmethod
    async def insert_message(
        self, thread: ThreadRef, message: message_pb2.Message, *, announced: bool = False
    ) -> message_pb2.Message:
        """Append a message (message_id set), touch the thread, record its events.

        Records message.created (unless announced: already recorded when an
        agent began streaming it) and message.completed.
        """

    @abc.abstractmethod
    async def delete_run_messages(self, thread: ThreadRef, run_ids: Sequence[str]) -> int:
        """Delete the messages the given runs wrote; return how many."""

    @abc.abstractmethod
    async def thread_messages(self, thread: ThreadRef, limit: int) -> list[message_pb2.Message]:
        """Return the thread's latest messages, oldest first."""

    @abc.abstractmethod
    async def append_event(self, thread: ThreadRef, event: run_pb2.RunEvent) -> run_pb2.RunEvent:
        """Store an event; return it with event_id, thread_id and created_at set."""

    @abc.abstractmethod
    async def refresh_thread_status(self, thread: ThreadRef) -> None:
        """Set the thread's status from its runs: BUSY, ERROR or IDLE."""

    @abc.abstractmethod
    async def next_queued_run(self, thread: ThreadRef) -> RunRecord | None:
        """Return the thread's oldest queued run when no run of it is RUNNING."""

    @abc.abstractmethod
    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest queued run of an agent that may start now."""

    @abc.abstractmethod
    async def runs_to_recover(self, now: int) -> list[RunRecord]:
        """Return RUNNING runs whose lease ran out, or that had no lease (in-process)."""

    @abc.abstractmethod
    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Return every thread that has a queued run."""

    @abc.abstractmethod
    async def all_runs_in_flight(self) -> list[RunRecord]:
        """Return every QUEUED and RUNNING run, of every thread."""


class Store(abc.ABC):
    """Durable state of threads and messages. Every method is one transaction.

    Methods raise threadline_server.errors (NotFoundError, AlreadyExistsError,
    EtagMismatchError); they never validate client input, which the domain
    layer has done before calling.
    """

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending writes and disconnect."""

    @abc.abstractmethod
    async def create_thread(
        self, thread: thread_pb2.Thread, *, reuse_existing: bool
    ) -> tuple[thread_pb2.Thread, bool]:
        """Insert a thread with thread.thread_id; return it and whether it is new.

        With reuse_existing, a taken id returns the existing thread instead of
        raising AlreadyExistsError.
        """

    @abc.abstractmethod
    async def get_thread(self, thread_id: str, *, message_limit: int = 0) -> thread_pb2.Thread:
        """Return a thread, with up to message_limit of its latest messages."""

    @abc.abstractmethod
    async def list_threads(self, query: ThreadPageQuery) -> Page[thread_pb2.Thread]:
        """Return one page of matching threads."""

    @abc.abstractmethod
    async def count_threads(self, thread_filter: ThreadFilter) -> int:
        """Count matching threads."""

    @abc.abstractmethod
    async def update_thread(
        self, thread_id: str, change: Callable[[thread_pb2.Thread], None], *, etag: str
    ) -> thread_pb2.Thread:
        """Apply change() to the stored thread when etag (if given) is current; store it."""

    @abc.abstractmethod
    async def delete_thread(self, thread_id: str, *, etag: str) -> None:
        """Delete a thread and everything under it."""

    @abc.abstractmethod
    async def copy_thread(self, thread_id: str, new_thread_id: str) -> thread_pb2.Thread:
        """Copy a thread and all its messages under a new id."""

    @abc.abstractmethod
    async def create_message(
        self, thread_id: str, message: message_pb2.Message
    ) -> message_pb2.Message:
        """Append a message (with message_id set) to a thread."""

    @abc.abstractmethod
    async def get_message(self, thread_id: str, message_id: str) -> message_pb2.Message:
        """Return one message of a thread."""

    @abc.abstractmethod
    async def list_messages(self, query: MessagePageQuery) -> Page[message_pb2.Message]:
        """Return one page of a thread's messages."""

    @abc.abstractmethod
    async def update_message(
        self, thread_id: str, message_id: str, change: Callable[[message_pb2.Message], None]
    ) -> message_pb2.Message:
        """Apply change() to a stored message; its metadata is what gets stored back."""

    @abc.abstractmethod
    async def delete_message(self, thread_id: str, message_id: str) -> None:
        """Delete one message of a thread."""

    @abc.abstractmethod
    async def delete_expired_threads(self, *, limit: int) -> int:
        """Delete up to limit threads whose expire time has passed; return how many."""

    # -- runs and events ------------------------------------------------------

    @abc.abstractmethod
    def add_event_listener(self, listener: EventListener) -> None:
        """Call listener with the events of each transaction, right after it commits.

        Listeners run in commit order, before the next transaction starts, so
        they see every thread's events in event_id order.
        """

    @abc.abstractmethod
    async def transaction(self, work: Callable[[StoreTransaction], Awaitable[T]]) -> T:
        """Run work in one write transaction; commit when it returns, roll back when it raises."""

    @abc.abstractmethod
    async def get_run(self, run_id: str) -> run_pb2.Run:
        """Return one run."""

    @abc.abstractmethod
    async def list_runs(self, query: RunPageQuery) -> Page[run_pb2.Run]:
        """Return one page of a thread's runs."""

    @abc.abstractmethod
    async def read_events(
        self, *, thread_id: str = "", run_id: str = "", after: int, limit: int
    ) -> list[run_pb2.RunEvent]:
        """Return the events of a thread or of a run with event_id > after, oldest first."""
