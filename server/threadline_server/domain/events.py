"""Live delivery of stored events to any number of readers, in bounded memory.

The store calls the bus after each commit with that transaction's tenant and
events, in commit order. The bus keeps, per thread (a tenant and a thread
id: two tenants may each have a thread of the same id), the most recent events in a bounded
tail and a future that resolves at the next commit. A reader holds only its
own cursor (the last event id it sent): it takes what follows its cursor from
the tail when the tail covers it, or from the store when it has fallen
further behind, then waits for the next commit. Each event in a tail is
serialized once, when it is published, and every stream sends those same
bytes (``wire``): fan-out costs no protobuf work per reader. No reader has a
queue of its own, so a slow or stalled reader costs no memory and never
slows the writer or other readers; it simply catches up from the store.

Readers of batches take turns (``pace``), so many of them together take a
bounded share of the event loop the writer shares with them, and the writer
comes first: a paced reader that has caught up is parked on its thread's
tail (no task of its own woken per commit); a commit moves the tail's parked
readers into the queue of turns, and turns are given one per turn of the
event loop. While writers write fast (at least HOT_EVENTS events committed
within WRITER_ACTIVE_SECONDS: a writer that needs the event loop, since a
slow one commits a few events at a time), at most TURNS_PER_WINDOW turns are
given per TURN_WINDOW_SECONDS. Each turn takes everything pending (up to
PACED_BATCH events), so the faster the writer, the more events a message
holds and the fewer messages per event: readers lag while a run writes
fast, and catch up when it pauses. A slow writer's readers are not held back.

The tails are bounded in bytes, not only in events (an event can carry a
1 MiB message): each thread's to TAIL_BYTES, and all of them together to
the bus's max_bytes, the least recently written threads giving up their
oldest events first. What falls out is read from the store when needed.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from threadline.v1 import run_pb2

from threadline_server.domain import event_types, sizes
from threadline_server.store.base import Store
from threadline_server.waiting import wait_up_to

# Events kept in memory per thread, their bytes (serialized), and threads
# kept at once; beyond these, readers read from the store instead.
TAIL_LENGTH = 32768
TAIL_BYTES = 4 * 1024 * 1024
MAX_THREADS = 1024
# The default for the bytes of every thread's tail together.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# The largest batch a reader takes from the store at once (and at most
# sizes.READ_BATCH_BYTES of it).
READ_BATCH = 500
# The most a paced reader takes from the tail in one turn: a turn stays short
# (the writer's callbacks wait for at most one), and a reader behind takes
# a turn per PACED_BATCH events.
PACED_BATCH = READ_BATCH
# A turn is put off while other callbacks are ready, at most this many times in a row.
MAX_DEFERRALS = 2
# Writers write fast while at least HOT_EVENTS events were committed in a
# window of WRITER_ACTIVE_SECONDS, and for one such window after: then paced
# readers get at most TURNS_PER_WINDOW turns in each TURN_WINDOW_SECONDS (the
# rest of the event loop is the writers'), and a reader's delay behind a
# writer that stops is at most about WRITER_ACTIVE_SECONDS.
HOT_EVENTS = 64
WRITER_ACTIVE_SECONDS = 0.010
TURN_WINDOW_SECONDS = 0.005
TURNS_PER_WINDOW = 1
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
    # Each event with its serialized form (its size is the length).
    events: collections.deque[tuple[run_pb2.RunEvent, bytes]] = field(
        default_factory=collections.deque
    )
    size: int = 0
    changed: asyncio.Future[None] | None = None
    # Paced readers waiting for the next commit: their turns, queued at that commit.
    parked: dict[asyncio.Future[None], None] = field(default_factory=dict)

    def waited_on(self) -> bool:
        """Whether a reader waits for this thread's next commit (then the tail is kept)."""
        return bool(self.parked) or (self.changed is not None and not self.changed.done())


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
        # The serialized form of every event in a tail, by the event's id().
        self._wire: dict[int, bytes] = {}
        # Paced readers waiting for their turn, and whether turns are being given.
        self._turns: collections.deque[asyncio.Future[None]] = collections.deque()
        self._giving_turns = False
        # Turns put off in a row because other callbacks were ready.
        self._deferred = 0
        # Events committed since (loop time) _counted_since; writers are fast
        # until _hot_until; and the turns given in the current window then.
        self._counted = 0
        self._counted_since = float("-inf")
        self._hot_until = float("-inf")
        self._window_end = float("-inf")
        self._window_turns = 0
        store.add_event_listener(self.publish)
        store.add_wake_listener(self.wake)

    def wire(self, event: run_pb2.RunEvent) -> bytes:
        """Return an event serialized: the bytes made once when it was published, if kept."""
        found = self._wire.get(id(event))
        return found if found is not None else event.SerializeToString()

    def publish(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Take a committed transaction's events (called by the store, in commit order)."""
        self._count(len(events))
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
                    self._forget(tail)
                    self.size -= tail.size
                    self._release(tail)
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
            wire = event.SerializeToString()
            size = len(wire)
            tail.events.append((event, wire))
            self._wire[id(event)] = wire
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

    def _count(self, events: int) -> None:
        """Count committed events: HOT_EVENTS in one window make the writers fast for a while."""
        now = asyncio.get_running_loop().time()
        if now - self._counted_since >= WRITER_ACTIVE_SECONDS:
            self._counted_since = now
            self._counted = 0
        self._counted += events
        if self._counted >= HOT_EVENTS:
            self._hot_until = now + WRITER_ACTIVE_SECONDS

    def _drop_oldest(self, tail: _ThreadTail) -> None:
        """Drop a tail's oldest event: from now on, readers read it from the store."""
        event, wire = tail.events.popleft()
        self._wire.pop(id(event), None)
        tail.floor = event.event_id
        tail.size -= len(wire)
        self.size -= len(wire)

    def _forget(self, tail: _ThreadTail) -> None:
        """Forget the serialized forms of a tail that is dropped whole."""
        for event, _ in tail.events:
            self._wire.pop(id(event), None)

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
            if not tail.events and not tail.waited_on():
                del self._tails[key]

    def _evict(self) -> None:
        """Drop the least recently used tails that no reader waits on."""
        excess = len(self._tails) - MAX_THREADS
        for key in list(self._tails):
            if excess <= 0:
                break
            tail = self._tails[key]
            if not tail.waited_on():
                del self._tails[key]
                self._forget(tail)
                self.size -= tail.size
                excess -= 1

    def _wake(self, key: ThreadKey) -> None:
        tail = self._tails.get(key)
        if tail is not None:
            self._release(tail)

    def _release(self, tail: _ThreadTail) -> None:
        """Wake a tail's readers: resolve its future, queue its parked readers' turns."""
        if tail.changed is not None and not tail.changed.done():
            tail.changed.set_result(None)
        tail.changed = None
        if tail.parked:
            self._turns.extend(tail.parked)
            tail.parked = {}
            self._start_turns(asyncio.get_running_loop())

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

    def _pending(self, key: ThreadKey, after: int) -> bool:
        """Whether a read after this cursor may find events (a paced reader takes a turn for it).

        False only when the tail covers the cursor and holds nothing after
        it: the reader then finds nothing, at no cost, and parks.
        """
        tail = self._tails.get(key)
        if tail is None or tail.floor < 0 or after < tail.floor:
            return True
        return bool(tail.events) and tail.events[-1][0].event_id > after

    def _from_tail(
        self, key: ThreadKey, after: int, limit: int = READ_BATCH
    ) -> list[run_pb2.RunEvent] | None:
        tail = self._tails.get(key)
        if tail is None or tail.floor < 0 or after < tail.floor:
            return None
        events = tail.events
        start = bisect.bisect_right(events, after, key=lambda e: e[0].event_id)
        return [event for event, _ in itertools.islice(events, start, start + limit)]

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

        The events of follow_batches, one at a time.
        """
        async for batch in self.follow_batches(
            tenant,
            thread_id,
            after=after,
            run_id=run_id,
            until=until,
            finished=finished,
            types=types,
        ):
            for event in batch:
                yield event

    async def follow_batches(
        self,
        tenant: str,
        thread_id: str,
        *,
        after: int,
        run_id: str = "",
        until: Callable[[run_pb2.RunEvent], bool] | None = None,
        finished: Callable[[], Awaitable[bool]] | None = None,
        types: frozenset[str] | None = None,
        pace: bool = False,
    ) -> AsyncIterator[list[run_pb2.RunEvent]]:
        """Yield a thread's events after an id (only one run's, when run_id is set), in batches.

        Stored events first, then live ones; ends after an event for which
        `until` is true, or when nothing follows the cursor and `finished`
        says nothing ever will (a cursor already past a run's final event);
        otherwise runs until the caller stops iterating. `finished` is asked
        each time the reader has caught up, so it should be cheap after the
        first time (run_end.RunEnds.checker is). Each batch is what was ready
        at once (at most READ_BATCH events, never empty): a reader that keeps
        up gets one batch per commit, read from the tail without a store read.

        With types, only events of those types are yielded; the others move
        the cursor on all the same, and `until` is asked of every event, so
        a stream that leaves out a run's final event still ends there, and a
        reader that resumes after the last event it got sees exactly the
        later events of its types.

        With pace, the reader waits for its turn before it takes each batch:
        paced readers (of every thread) take turns, one per turn of the event
        loop (_turn), so however many they are, the writer's callbacks wait
        for at most one reader's batch at a time, never for a burst of every
        reader woken by one commit; a reader that has caught up is parked
        (_park) and its turn queued by the next commit, without a wake-up of
        its own. While a writer writes, turns are rationed (_give_turn), so
        the more readers there are and the faster the writer, the longer a
        round of turns takes and the more events each takes at once: the
        messages per second stay bounded while the events per message grow.
        """
        key = (tenant, thread_id)
        async for batch in self._batches(
            key, after, run_id=run_id, until=until, finished=finished, types=types, pace=pace
        ):
            yield batch

    def _turn(self) -> asyncio.Future[None]:
        """Return a future that resolves at this paced reader's turn."""
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._turns.append(turn)
        self._start_turns(loop)
        return turn

    def _start_turns(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._giving_turns:
            self._giving_turns = True
            loop.call_soon(self._give_turn)

    async def _park(self, key: ThreadKey, changed: asyncio.Future[None]) -> None:
        """Wait for the thread's next commit (or the idle re-check), then for a turn.

        `changed` is the future taken before the reader's last read: when it
        has resolved since, a commit landed in between, and the reader only
        waits for a turn. Otherwise the reader's turn is parked on the tail
        (which is kept while it is) and queued by the next commit: readers
        that wait cost nothing per commit beyond that move.
        """
        tail = self._tails.get(key)
        if changed.done() or tail is None or tail.changed is not changed:
            await self._turn()
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        tail.parked[turn] = None
        try:
            async with asyncio.timeout(self._idle_recheck):
                await turn
        except TimeoutError:
            await self._turn()
        finally:
            tail.parked.pop(turn, None)

    async def _wait(self, key: ThreadKey, changed: asyncio.Future[None], *, pace: bool) -> None:
        """Wait for the thread's next commit (at most the idle re-check); paced, for a turn too."""
        if pace:
            await self._park(key, changed)
            return
        await wait_up_to(asyncio.shield(changed), self._idle_recheck)

    def _give_turn(self) -> None:
        """Let the next paced reader go (one per turn of the event loop).

        Only when nothing else is ready to run: a turn waits for the writer's
        callbacks (and everyone else's) to run first, so readers take the
        event loop's spare time. While writers write fast, at most
        TURNS_PER_WINDOW turns are given in each TURN_WINDOW_SECONDS; the
        next window's turns wait on a timer.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        writing = now < self._hot_until
        if writing:
            if now >= self._window_end:
                self._window_end = now + TURN_WINDOW_SECONDS
                self._window_turns = 0
            elif self._window_turns >= TURNS_PER_WINDOW:
                loop.call_at(self._window_end, self._give_turn)
                return
        # CPython's event loop keeps its ready callbacks in _ready (this one is not there).
        ready = getattr(loop, "_ready", None)
        if ready and self._deferred < MAX_DEFERRALS:
            self._deferred += 1
            loop.call_soon(self._give_turn)
            return
        self._deferred = 0
        turns = self._turns
        while turns:
            turn = turns.popleft()
            if not turn.done():  # a reader that left cancelled its turn
                turn.set_result(None)
                if writing:
                    self._window_turns += 1
                break
        if turns:
            loop.call_soon(self._give_turn)
        else:
            self._giving_turns = False

    async def _batches(
        self,
        key: ThreadKey,
        cursor: int,
        *,
        run_id: str,
        until: Callable[[run_pb2.RunEvent], bool] | None,
        finished: Callable[[], Awaitable[bool]] | None,
        types: frozenset[str] | None,
        pace: bool,
    ) -> AsyncIterator[list[run_pb2.RunEvent]]:
        tenant, thread_id = key
        # Whether this paced reader has its turn already (it waited for it when parked).
        turned = False
        while True:
            if pace and not turned and self._pending(key, cursor):
                await self._turn()
            # Take the wake-up future before reading, so a commit that lands
            # between the read and the wait still wakes this reader.
            changed = self.change_of(tenant, thread_id)
            batch = self._from_tail(key, cursor, PACED_BATCH if pace else READ_BATCH)
            if batch is None:
                batch = await self._read_store(key, run_id, cursor)
            if not batch and finished is not None and await finished():
                # Everything is stored by now; one last read from the store
                # catches events committed since the read above.
                batch = await self._read_store(key, run_id, cursor)
                if not batch:
                    return
            turned = False
            if not batch:
                await self._wait(key, changed, pace=pace)
                turned = pace
                continue
            chosen: list[run_pb2.RunEvent] = []
            ended = False
            for event in batch:
                cursor = event.event_id
                if run_id and event.run_id != run_id:
                    continue
                if types is None or event.type in types:
                    chosen.append(event)
                if until is not None and until(event):
                    ended = True
                    break
            if chosen:
                yield chosen
            if ended:
                return
