"""A write transaction its caller cannot interrupt: the rule both stores keep.

A caller that goes away (its client's deadline passed) before its work
began leaves nothing behind: the work does not run. Once begun, the
transaction finishes (or rolls back) as one, and its outcome, which no one
awaits any more, is logged rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from threadline_server.store.base import StoreTransaction

logger = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[StoreTransaction], Awaitable[T]]


class _CallerLeftError(Exception):
    """The caller of a write went away before its work began, so the work is skipped."""


def _retrieve_outcome(task: asyncio.Task[Any]) -> None:
    """Collect the outcome of a write whose caller left, so a failure is logged, not lost."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, _CallerLeftError):
        logger.warning("a write whose caller had gone failed: %r", error)


async def uninterruptible(
    run_write: Callable[[str, Work[T]], Awaitable[T]],
    tenant: str,
    work: Work[T],
    pending: set[asyncio.Task[Any]],
) -> T:
    """Run work through the store's run_write as a task shielded from the caller.

    The task is kept in pending (the store waits for those when it closes).
    """
    caller_left = False

    async def guarded(tx: StoreTransaction) -> T:
        if caller_left:
            raise _CallerLeftError
        return await work(tx)

    task = asyncio.ensure_future(run_write(tenant, guarded))
    pending.add(task)
    task.add_done_callback(pending.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        caller_left = True
        task.add_done_callback(_retrieve_outcome)
        raise
