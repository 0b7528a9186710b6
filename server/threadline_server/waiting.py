"""Waiting with a time limit that never loses a cancellation.

``asyncio.wait_for`` on Python 3.11 returns the awaited result when the task
is cancelled at the moment that result arrives, and the cancellation is gone
(python/cpython#86296, fixed in 3.12): a loop cancelled to stop it runs on,
and whoever awaits it waits forever. The server stopping while its webhook
dispatcher's wake-up fired hung that way. ``asyncio.timeout`` cancels the
task itself, so a cancellation from outside always wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable


async def wait_up_to(awaitable: Awaitable[object], seconds: float) -> bool:
    """Await for at most seconds; tell whether it finished in time (cancelled if not)."""
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        return False
    return True
