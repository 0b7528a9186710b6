"""Which run starts when: one at a time per thread, oldest first.

A thread runs one run at a time; the others wait QUEUED in the order they
were created. When a thread may start its next run (a run was created, one
ended, the server started), kick starts it: in this process for an
in-process agent, or by waking the workers of a worker agent, who claim it.
Runs a server cannot serve any more are failed rather than left to block
their thread. Leases that ran out and runs cut off by a restart are ended
here too, since each frees its thread for the next run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from threadline.v1 import run_pb2

from threadline_server import ids
from threadline_server.domain import sizes, state
from threadline_server.domain.actions import ACTION_EXPIRED
from threadline_server.domain.agents import AgentContext, AgentDirectory
from threadline_server.domain.executor import InProcessExecutor
from threadline_server.domain.recorder import Finish
from threadline_server.domain.run_end import has_started
from threadline_server.domain.run_log import RunLog
from threadline_server.errors import NotFoundError
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import RunRecord
from threadline_server.wire import entry_size

# The most recent messages an agent reads from its thread (as many of them
# as fit in a reply beside the run: a worker gets them in ClaimRunResponse).
AGENT_CONTEXT_MESSAGES = 1000

SERVER_RESTARTED = Finish(
    run_pb2.RUN_STATUS_FAILED,
    "SERVER_RESTARTED",
    "the server restarted while the run was in flight",
)

# With a shared store: how often queued runs are looked for (a process that
# stopped may have left some), and how often a waiting claim looks again.
REQUEUE_SECONDS = 5.0
CLAIM_RECHECK_SECONDS = 1.0

# A run claimed by a worker, and what its agent reads.
Claimed = tuple[RunRecord, AgentContext]


@dataclass(frozen=True)
class _Next:
    """What kick does after its transaction, when it started no run here."""

    wake_workers_of: str = ""
    kick_again: bool = False


def _next_in_line(in_flight: list[RunRecord]) -> RunRecord | None:
    """Return the run that may start: its oldest queued one, if none runs or waits for action."""
    if any(has_started(r.run.status) for r in in_flight):
        return None
    return next((r for r in in_flight if r.run.status == run_pb2.RUN_STATUS_QUEUED), None)


async def _agent_context(tx: StoreTransaction, started: RunRecord) -> AgentContext:
    """Return what an agent reads for a run: its thread's state, the latest messages that fit."""
    newest = await tx.newest_checkpoint(started.thread)
    thread_state = state.view(
        started.thread.thread_id, None if newest is None else newest.checkpoint
    )
    messages, omitted = await tx.latest_messages(
        started.thread,
        AGENT_CONTEXT_MESSAGES,
        max_bytes=sizes.REPLY_BYTES
        - entry_size(started.run.ByteSize())
        - entry_size(thread_state.ByteSize()),
    )
    return AgentContext(messages, omitted, thread_state)


def _lease_expired(record: RunRecord) -> Finish:
    return Finish(
        run_pb2.RUN_STATUS_FAILED,
        "LEASE_EXPIRED",
        f"worker {record.worker_id or '(unnamed)'} stopped renewing its lease",
    )


class Scheduler:
    """Starts each thread's next run, hands worker runs out by claim, recovers after a stop.

    Each transaction here is one tenant's: the jobs that look at every
    tenant (recovery, expired leases) find their runs with a read across
    tenants, then end each in a transaction of its own tenant, checking
    again there that it is still stale.
    """

    def __init__(
        self,
        store: Store,
        log: RunLog,
        agents: AgentDirectory,
        executor: InProcessExecutor,
    ) -> None:
        self._store = store
        self._log = log
        self._agents = agents
        self._executor = executor
        self._worker_wakeups: dict[tuple[str, str], asyncio.Event] = {}
        self._next_requeue = 0.0
        self.claim_recheck_seconds = CLAIM_RECHECK_SECONDS if store.shared else None
        """How often a waiting claim looks again without a wake-up (a shared
        store: runs queued through another process wake nobody here)."""

    def worker_wakeup(self, tenant: str, agent_id: str) -> asyncio.Event:
        """Return the event set whenever a tenant's run of a worker agent may be claimable."""
        return self._worker_wakeups.setdefault((tenant, agent_id), asyncio.Event())

    async def kick(self, tenant: str, thread_id: str) -> None:
        """Start the thread's next queued run, if nothing runs on it."""

        async def work(tx: StoreTransaction) -> tuple[RunRecord, AgentContext] | _Next | None:
            try:
                thread = await tx.thread(thread_id)
            except NotFoundError:  # the thread was deleted meanwhile
                return None
            record = _next_in_line(await tx.runs_in_flight(thread))
            if record is None or self._executor.stopping:
                # While stopping, queued runs stay queued for the next start.
                return None
            agent_id = record.run.agent_id
            if self._agents.serves_by_workers(agent_id, tenant):
                return _Next(wake_workers_of=agent_id)
            if agent_id not in self._agents.in_process or not self._agents.serves(agent_id, tenant):
                # Queued before a restart with another configuration: fail it
                # rather than leave the thread busy for ever.
                await self._log.end(
                    tx,
                    record,
                    Finish(
                        run_pb2.RUN_STATUS_FAILED,
                        "AGENT_UNAVAILABLE",
                        f"this server no longer serves agent {agent_id!r}",
                    ),
                )
                return _Next(kick_again=True)
            if self._store.shared:
                # Other processes must see when this one stops holding it.
                started = await self._log.start(
                    tx,
                    record,
                    lease_id=self._executor.lease_id,
                    lease_duration_us=self._executor.lease_us,
                    worker_id=self._executor.holder,
                )
            else:
                started = await self._log.start(tx, record)
            return started, await _agent_context(tx, started)

        outcome = await self._store.transaction(tenant, work)
        if isinstance(outcome, _Next):
            if outcome.kick_again:
                await self.kick(tenant, thread_id)  # the next run in line, if any
            else:
                self.worker_wakeup(tenant, outcome.wake_workers_of).set()
        elif outcome is not None:
            await self._executor.launch(*outcome)

    async def claim(
        self, tenant: str, agent_id: str, worker_id: str, lease_duration_us: int
    ) -> Claimed | None:
        """Claim the tenant's oldest startable run of a worker agent, with a lease."""

        async def work(tx: StoreTransaction) -> Claimed | None:
            record = await tx.claimable_run(agent_id)
            if record is None:
                return None
            started = await self._log.start(
                tx,
                record,
                lease_id=ids.new_lease_id(),
                lease_duration_us=lease_duration_us,
                worker_id=worker_id,
            )
            return started, await _agent_context(tx, started)

        return await self._store.transaction(tenant, work)

    async def _end_if_stale(self, stale: RunRecord, *, in_process_too: bool) -> bool:
        """End a run found stale, in its tenant's transaction, if it still is; tell whether."""
        tenant = stale.thread.tenant

        async def work(tx: StoreTransaction) -> bool:
            try:
                record = await tx.run(stale.run.run_id)
            except NotFoundError:  # its thread was deleted meanwhile
                return False
            if record.run.status != run_pb2.RUN_STATUS_RUNNING:
                return False
            if record.lease_id is None:
                if not in_process_too:
                    return False
                await self._log.end(tx, record, SERVER_RESTARTED)
                return True
            if (record.lease_expires_at or 0) > tx.now:  # renewed meanwhile
                return False
            await self._log.end(tx, record, _lease_expired(record))
            return True

        return await self._store.transaction(tenant, work)

    async def recover(self) -> None:
        """After a start: fail runs that were running in this process, restart the queues."""
        for record in await self._store.stale_runs():
            await self._end_if_stale(record, in_process_too=True)
        for thread in await self._store.threads_with_queued_runs():
            await self.kick(thread.tenant, thread.thread_id)

    async def expire_actions(self) -> int:
        """End runs nobody resumed before their action expired (CANCELLED); return how many."""
        expired = 0
        for stale in await self._store.expired_waiting_runs():

            async def work(tx: StoreTransaction, stale: RunRecord = stale) -> bool:
                try:
                    record = await tx.run(stale.run.run_id)
                except NotFoundError:  # its thread was deleted meanwhile
                    return False
                action = record.run.required_action
                if (
                    record.run.status != run_pb2.RUN_STATUS_REQUIRES_ACTION
                    or action.expire_time.ToMicroseconds() > tx.now
                ):
                    return False  # resumed (or cancelled) meanwhile
                await self._log.end(
                    tx,
                    record,
                    Finish(
                        run_pb2.RUN_STATUS_CANCELLED,
                        ACTION_EXPIRED,
                        f"nobody resumed the run before {action.expire_time.ToJsonString()}",
                    ),
                )
                return True

            if await self._store.transaction(stale.thread.tenant, work):
                expired += 1
                await self.kick(stale.thread.tenant, stale.thread.thread_id)
        return expired

    async def expire_leases(self) -> int:
        """End runs whose worker (or server) stopped renewing its lease; return how many.

        With a shared store, also start the queued runs that a process which
        stopped left waiting (at most every REQUEUE_SECONDS).
        """
        expired = 0
        if self._store.shared:
            now = asyncio.get_running_loop().time()
            if now >= self._next_requeue:
                self._next_requeue = now + REQUEUE_SECONDS
                for thread in await self._store.threads_with_queued_runs():
                    await self.kick(thread.tenant, thread.thread_id)
        for record in await self._store.stale_runs():
            if record.lease_id is not None and await self._end_if_stale(
                record, in_process_too=False
            ):
                expired += 1
                await self.kick(record.thread.tenant, record.thread.thread_id)
        return expired
