"""Live delivery of stored events to any number of readers, in bounded memory.

The store calls the bus after each commit with that transaction's tenant and
events, in commit order. The bus keeps, per thread (a tenant and a thread
id: two tenants may each have a thread of the same id), the most recent events in a bounded
tail and a future that resolves at the next commit. A reader holds only its
own cursor (the last event id it sent): it takes what follows its cursor from
the tail when the tail covers it, or from the store when it has fallen
further behind, then waits for the next commit. No reader has a queue of its
own, so a slow or stalled reader costs no memory and never slows the writer
or other readers; it simply catches up from the store.

The tails are bounded in bytes, not only in events (an event can carry a
1 MiB message): each thread's to TAIL_BYTES, and all of them together to
the bus's max_bytes, the least recently written threads giving up their
oldest events first. What falls out is read from the store when needed.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from threadline.v1 import run_pb2

from threadline_server.domain import event_types, sizes
from threadline_server.store.base import Store

# Events kept in memory per thread, their bytes (serialized), and threads
# kept at once; beyond these, readers read from the store instead.
TAIL_LENGTH = 2048
TAIL_BYTES = 4 * 1024 * 1024
MAX_THREADS = 1024
# The default for the bytes of every thread's tail together.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# The largest batch a reader takes from the store at once (and at most
# sizes.READ_BATCH_BYTES of it).
READ_BATCH = 500
# How often an idle reader checks again even without a wake-up: a safety net,
# not the delivery path.
IDLE_RECHECK_SECONDS = 5.0
# The same with a store several processes share, where a wake-up from another
# process (a notification) may be lost with its connection.
SHARED_IDLE_RECHECK_SECONDS = 1.0


@dataclass
class _ThreadTail:
    # Every event of the thread with an id above `floor` is in `events`.
    floor: int
    # Each event with its size in bytes.
    events: collections.deque[tuple[run_pb2.RunEvent, int]] = field(
        default_factory=collections.deque
    )
    size: int = 0
    changed: asyncio.Future[None] | None = None


ThreadKey = tuple[str, str]
"""A thread as the bus knows it: (tenant, thread id)."""


class EventBus:
    """Fans committed events out to stream readers."""

    def __init__(self, store: Store, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._store = store
        self._tails: collections.OrderedDict[ThreadKey, _ThreadTail] = collections.OrderedDict()
        self._max_bytes = max_bytes
        self.size = 0
        """The bytes every tail holds together."""
        # A store other processes write too (PostgreSQL) commits events this
        # process never hears of: then no tail can be complete, so readers
        # read every event from the store, and commits only wake them (this
        # process's own, and other processes' through the store's wake-ups),
        # with a shorter idle re-read as the net for a missed notification.
        self._shared = store.shared
        self._idle_recheck = SHARED_IDLE_RECHECK_SECONDS if store.shared else IDLE_RECHECK_SECONDS
        store.add_event_listener(self.publish)
        store.add_wake_listener(self.wake)

    def publish(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Take a committed transaction's events (called by the store, in commit order)."""
        if self._shared:
            for thread_id in {event.thread_id for event in events}:
                self.wake(tenant, thread_id)
            return
        touched: set[ThreadKey] = set()
        for event in events:
            key = (tenant, event.thread_id)
            if event.type == event_types.THREAD_DELETED:
                # Drop the tail and wake the readers: their next read from the
                # store finds the thread gone.
                tail = self._tails.pop(key, None)
                if tail is not None:
                    self.size -= tail.size
                    if tail.changed is not None and not tail.changed.done():
                        tail.changed.set_result(None)
                continue
            tail = self._tails.get(key)
            if tail is None:
                tail = _ThreadTail(floor=-1)
                self._tails[key] = tail
                self._evict()
            else:
                self._tails.move_to_end(key)
            if tail.floor < 0:
                # Every earlier event of this thread is in the store; from now
                # on, every one passes through here.
                tail.floor = event.event_id - 1
            size = event.ByteSize()
            tail.events.append((event, size))
            tail.size += size
            self.size += size
            while len(tail.events) > TAIL_LENGTH or (
                tail.size > TAIL_BYTES and len(tail.events) > 1
            ):
                self._drop_oldest(tail)
            touched.add(key)
        if self.size > self._max_bytes:
            self._shrink()
        for key in touched:
            self._wake(key)

    def _drop_oldest(self, tail: _ThreadTail) -> None:
        """Drop a tail's oldest event: from now on, readers read it from the store."""
        event, size = tail.events.popleft()
        tail.floor = event.event_id
        tail.size -= size
        self.size -= size

    def _shrink(self) -> None:
        """Drop the oldest events of the least recently written threads, to max_bytes.

        A thread left with no events keeps its tail (and floor) while a reader
        waits on it; others are dropped whole.
        """
        for key in list(self._tails):
            if self.size <= self._max_bytes:
                return
            tail = self._tails[key]
            while tail.events and self.size > self._max_bytes:
                self._drop_oldest(tail)
            if not tail.events and (tail.changed is None or tail.changed.done()):
                del self._tails[key]

    def _evict(self) -> None:
        """Drop the least recently used tails that no reader waits on."""
        excess = len(self._tails) - MAX_THREADS
        for key in list(self._tails):
            if excess <= 0:
                break
            tail = self._tails[key]
            if tail.changed is None or tail.changed.done():
                del self._tails[key]
                self.size -= tail.size
                excess -= 1

    def _wake(self, key: ThreadKey) -> None:
        tail = self._tails.get(key)
        if tail is not None and tail.changed is not None and not tail.changed.done():
            tail.changed.set_result(None)
            tail.changed = None

    def wake(self, tenant: str, thread_id: str) -> None:
        """Wake a thread's readers (every thread's, when thread_id is ''): they read the store."""
        if thread_id:
            self._wake((tenant, thread_id))
            return
        for key in list(self._tails):
            self._wake(key)

    def change_of(self, tenant: str, thread_id: str) -> asyncio.Future[None]:
        """Return a future that resolves when the thread's next events commit.

        Take it before reading state, then await it: a commit that lands in
        between still resolves it.
        """
        key = (tenant, thread_id)
        tail = self._tails.get(key)
        if tail is None:
            # Nothing published for this thread yet: its floor stays unknown
            # (read from the store) until its first event passes through.
            tail = _ThreadTail(floor=-1)
            self._tails[key] = tail
            self._evict()
        if tail.changed is None or tail.changed.done():
            tail.changed = asyncio.get_running_loop().create_future()
        return tail.changed

    def _from_tail(self, key: ThreadKey, after: int) -> list[run_pb2.RunEvent] | None:
        tail = self._tails.get(key)
        if tail is None or tail.floor < 0 or after < tail.floor:
            return None
        events = tail.events
        start = bisect.bisect_right(events, after, key=lambda e: e[0].event_id)
        return [event for event, _ in itertools.islice(events, start, start + READ_BATCH)]

    async def _read_store(self, key: ThreadKey, run_id: str, after: int) -> list[run_pb2.RunEvent]:
        tenant, thread_id = key
        return await self._store.read_events(
            tenant,
            thread_id="" if run_id else thread_id,
            run_id=run_id,
            after=after,
            limit=READ_BATCH,
            max_bytes=sizes.READ_BATCH_BYTES,
        )

    async def follow(
        self,
        tenant: str,
        thread_id: str,
        *,
        after: int,
        run_id: str = "",
        until: Callable[[run_pb2.RunEvent], bool] | None = None,
        finished: Callable[[], Awaitable[bool]] | None = None,
        types: frozenset[str] | None = None,
    ) -> AsyncIterator[run_pb2.RunEvent]:
        """Yield a thread's events after an id (only one run's, when run_id is set).

        Stored events first, then live ones; ends after an event for which
        `until` is true, or when nothing follows the cursor and `finished`
        says nothing ever will (a cursor already past a run's final event);
        otherwise runs until the caller stops iterating. `finished` is asked
        each time the reader has caught up, so it should be cheap after the
        first time (run_end.RunEnds.checker is).

        With types, only events of those types are yielded; the others move
        the cursor on all the same, and `until` is asked of every event, so
        a stream that leaves out a run's final event still ends there, and a
        reader that resumes after the last event it got sees exactly the
        later events of its types.
        """
        key = (tenant, thread_id)
        cursor = after
        while True:
            # Take the wake-up future before reading, so a commit that lands
            # between the read and the wait still wakes this reader.
            changed = self.change_of(tenant, thread_id)
            batch = self._from_tail(key, cursor)
            if batch is None:
                batch = await self._read_store(key, run_id, cursor)
            if not batch and finished is not None and await finished():
                # Everything is stored by now; one last read from the store
                # catches events committed since the read above.
                batch = await self._read_store(key, run_id, cursor)
                if not batch:
                    return
            if not batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(changed), self._idle_recheck)
                continue
            for event in batch:
                cursor = event.event_id
                if run_id and event.run_id != run_id:
                    continue
                if types is None or event.type in types:
                    yield event
                if until is not None and until(event):
                    return
