"""wait_up_to: a time-limited wait whose cancellation is never lost.

The server stops its loops (the webhook dispatcher, ClaimRun's and WaitRun's
waits, stream readers) by cancelling them. asyncio.wait_for on Python 3.11
drops a cancellation that arrives as the awaited thing finishes, and a server
stopping at that moment hung forever (found by a CI run whose webhook test
never finished its teardown).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from threadline_server.waiting import wait_up_to

pytestmark = pytest.mark.unit


async def _cancel_as_it_wakes(
    wait: Callable[[Awaitable[Any], float], Awaitable[Any]],
) -> asyncio.Task[None]:
    """Start a task that waits on an event, then set the event and cancel the task at once."""
    event = asyncio.Event()

    async def loop_until_cancelled() -> None:
        while True:
            await wait(event.wait(), 10.0)
            event.clear()

    task = asyncio.create_task(loop_until_cancelled())
    await asyncio.sleep(0)  # the task now waits on the event
    event.set()
    await asyncio.sleep(0)  # the wait's inner waiter completes...
    task.cancel()  # ...as the stop arrives
    await asyncio.wait([task], timeout=1.0)
    return task


async def test_a_cancellation_that_arrives_as_the_wait_ends_stops_the_task() -> None:
    task = await _cancel_as_it_wakes(wait_up_to)
    assert task.cancelled()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for was fixed in Python 3.12")
async def test_asyncio_wait_for_loses_that_cancellation_on_this_python() -> None:
    """The reason wait_up_to exists; if this starts failing, wait_for was fixed."""
    task = await _cancel_as_it_wakes(asyncio.wait_for)
    try:
        assert not task.done(), "asyncio.wait_for kept the cancellation"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_it_tells_whether_the_wait_finished() -> None:
    event = asyncio.Event()
    assert await wait_up_to(event.wait(), 0.01) is False
    event.set()
    assert await wait_up_to(event.wait(), 0.01) is True
