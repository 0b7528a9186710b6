"""Writing an in-process agent's steps while the agent goes on producing them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from threadline_server.domain.recorder import Step
from threadline_server.domain.run_end import is_over
from threadline_server.store.records import RunRecord

Record = Callable[[str, str, Sequence[Step]], Awaitable[RunRecord]]
"""Records a run's steps: (tenant, run id, steps) -> the run after them."""


class StepWriter:
    """Batches one run's steps into transactions, in order.

    While one transaction commits, the next steps gather; the next
    transaction takes them all. So a fast agent pays one commit (one fsync)
    per batch instead of per word, and a slow one still sees each step
    stored at once. Steps are stored before any reader sees them, in order.
    At most MAX_PENDING steps wait, which bounds memory and paces the agent.
    """

    MAX_PENDING = 256

    def __init__(self, record: Record, tenant: str, run_id: str) -> None:
        self._record = record
        self._tenant = tenant
        self._run_id = run_id
        self._pending: list[Step] = []
        self._task: asyncio.Task[None] | None = None
        self.ended = False

    async def add(self, step: Step) -> None:
        """Queue a step; wait only when too many are waiting."""
        self._pending.append(step)
        if self._task is None or self._task.done():
            if self._task is not None:
                await self._task  # surfaces a RunEndedError of the last batch
            self._task = asyncio.create_task(self._drain())
        elif len(self._pending) >= self.MAX_PENDING:
            await self.flush()

    async def _drain(self) -> None:
        while self._pending and not self.ended:
            steps, self._pending = self._pending, []
            record = await self._record(self._tenant, self._run_id, steps)
            if is_over(record.run.status):
                self.ended = True
                self._pending.clear()

    async def flush(self) -> None:
        """Wait until every queued step is stored (raises RunEndedError if the run ended)."""
        while True:
            if self._task is not None:
                # Shielded: a cancelled agent leaves its last batch to finish.
                await asyncio.shield(self._task)
            if not self._pending or self.ended:
                return
            self._task = asyncio.create_task(self._drain())

    async def settle(self) -> None:
        """Wait for the write in flight without raising: the run is ending anyway."""
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._task
        self._pending.clear()
