"""The store interface the domain layer depends on.

The domain validates requests and decides what to do; a store makes it durable
and atomic. One RPC is one store call and so one transaction. SQLite is the
embedded default (store.sqlite); a server database (PostgreSQL) is meant to
implement this same interface when one machine is not enough.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

from threadline.v1 import message_pb2, thread_pb2

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
        self, thread: thread_pb2.Thread, paths: Sequence[str], *, etag: str
    ) -> thread_pb2.Thread:
        """Copy the fields named by paths from thread onto the stored one."""

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
        self, message: message_pb2.Message, paths: Sequence[str]
    ) -> message_pb2.Message:
        """Copy the fields named by paths from message onto the stored one."""

    @abc.abstractmethod
    async def delete_message(self, thread_id: str, message_id: str) -> None:
        """Delete one message of a thread."""

    @abc.abstractmethod
    async def delete_expired_threads(self, *, limit: int) -> int:
        """Delete up to limit threads whose expire time has passed; return how many."""
