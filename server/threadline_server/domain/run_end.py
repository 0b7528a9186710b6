"""When a run is over, said once: its terminal statuses and final events, and waiting for them.

A run is in flight while QUEUED, RUNNING or waiting in REQUIRES_ACTION; it
has started once RUNNING and holds its thread until it ends, exactly once, in one of
four terminal statuses, each with its own final event. RunEnds answers "is
this run over?" for streams and waits for the end for WaitRun and Chat,
from the committed events it sees and, when it must, from the store.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from threadline.v1 import run_pb2, thread_pb2

from threadline_server.domain import event_types
from threadline_server.domain.events import EventBus
from threadline_server.store.base import Store
from threadline_server.waiting import wait_up_to

K = TypeVar("K", bound=Hashable)

# Runs remembered as ended (and threads as deleted), so a stream need not ask
# the store; the oldest are forgotten first.
MAX_REMEMBERED = 65536
# A waiter reads the run again at least this often, whatever it heard: a
# safety net, not the way it learns of the end.
RECHECK_SECONDS = 5.0

FINAL_EVENT_TYPES: dict[int, str] = {
    run_pb2.RUN_STATUS_COMPLETED: event_types.RUN_COMPLETED,
    run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED: event_types.RUN_MAX_ITERATIONS_REACHED,
    run_pb2.RUN_STATUS_FAILED: event_types.RUN_FAILED,
    run_pb2.RUN_STATUS_CANCELLED: event_types.RUN_CANCELLED,
}
"""The final event of a run, by the terminal status it ended in."""

_FINAL_TYPES = frozenset(FINAL_EVENT_TYPES.values())


def is_over(status: int) -> bool:
    """Tell whether a run in this status has ended (and so will never change again)."""
    return status in FINAL_EVENT_TYPES


def ends_run(event: run_pb2.RunEvent) -> bool:
    """Tell whether an event is its run's last."""
    return event.type in _FINAL_TYPES


def has_started(status: int) -> bool:
    """Tell whether a run began and has not ended: RUNNING, or paused in REQUIRES_ACTION."""
    return status in (run_pb2.RUN_STATUS_RUNNING, run_pb2.RUN_STATUS_REQUIRES_ACTION)


def is_settled(status: int) -> bool:
    """Tell whether a run has ended or waits in REQUIRES_ACTION: what WaitRun waits for."""
    return is_over(status) or status == run_pb2.RUN_STATUS_REQUIRES_ACTION


def thread_status(
    *, run_in_flight: bool, last_ended: int, waiting: bool = False
) -> thread_pb2.ThreadStatus.ValueType:
    """Return a thread's status: INTERRUPTED, BUSY, ERROR or IDLE.

    INTERRUPTED while a run waits for action, BUSY with another run in flight,
    else ERROR if its last run failed.
    """
    if waiting:
        return thread_pb2.THREAD_STATUS_INTERRUPTED
    if run_in_flight:
        return thread_pb2.THREAD_STATUS_BUSY
    if last_ended == run_pb2.RUN_STATUS_FAILED:
        return thread_pb2.THREAD_STATUS_ERROR
    return thread_pb2.THREAD_STATUS_IDLE


def _remember(memory: collections.OrderedDict[K, None], key: K) -> None:
    memory[key] = None
    if len(memory) > MAX_REMEMBERED:
        memory.popitem(last=False)


class RunEnds:
    """Knows which runs ended (and which threads went away) since this process started."""

    def __init__(self, store: Store, bus: EventBus) -> None:
        self._store = store
        self._bus = bus
        # Run ids are made by the server, unique across tenants.
        self._ended: collections.OrderedDict[str, None] = collections.OrderedDict()
        # Threads (tenant, thread id) deleted and not written to since.
        self._deleted: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()
        # Runs whose latest event said they wait in REQUIRES_ACTION.
        self._paused: collections.OrderedDict[str, None] = collections.OrderedDict()
        store.add_event_listener(self._follow)

    def _follow(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Note ended runs and deleted threads from committed events (a store listener)."""
        for event in events:
            if event.type == event_types.THREAD_DELETED:
                _remember(self._deleted, (tenant, event.thread_id))
                continue
            self._deleted.pop((tenant, event.thread_id), None)
            if event.type == event_types.RUN_REQUIRES_ACTION:
                _remember(self._paused, event.run_id)
            elif event.run_id:
                self._paused.pop(event.run_id, None)
            if ends_run(event):
                _remember(self._ended, event.run_id)

    def checker(self, tenant: str, run_id: str, thread_id: str) -> Callable[[], Awaitable[bool]]:
        """Return a check that the run has ended, asking the store only when it must.

        The first check asks the store. After it, a run that ends does so
        through a commit this process sees, so the store is asked again only
        when the thread was deleted (the answer is then NOT_FOUND).
        """
        asked = False

        async def over() -> bool:
            nonlocal asked
            if run_id in self._ended:
                return True
            if asked and (tenant, thread_id) not in self._deleted:
                return False
            asked = True
            return is_over((await self._store.get_run(tenant, run_id)).status)

        return over

    async def wait(self, tenant: str, run_id: str, budget: float) -> run_pb2.Run:
        """Return the run once it has ended or waits for action, or as it stands after budget.

        Returning the run at the end of the budget (rather than raising) is the
        point: WaitRun and Chat answer just before the caller's deadline.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(budget, 0)
        run = await self._store.get_run(tenant, run_id)
        thread = (tenant, run.thread_id)
        while not is_settled(run.status):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return await self._store.get_run(tenant, run_id)
            changed = self._bus.change_of(tenant, run.thread_id)
            # Read the run again now and then, whatever happened. Most changes
            # on the thread are other events of the run (a delta per word):
            # read it again only once it ended, or when the thread went away
            # (the read then says NOT_FOUND).
            if (
                run_id not in self._ended
                and run_id not in self._paused
                and await wait_up_to(asyncio.shield(changed), min(remaining, RECHECK_SECONDS))
                and run_id not in self._ended
                and run_id not in self._paused
                and thread not in self._deleted
            ):
                continue
            run = await self._store.get_run(tenant, run_id)
        return run
