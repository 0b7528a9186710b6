"""The run machinery, wired together.

- recorder: what an agent's steps change (pure functions);
- run_log: the one way a run's state changes, in a store transaction;
- scheduler: which run starts when, claims by workers, recovery;
- executor (with step_writer): in-process agents as asyncio tasks;
- run_end: whether a run is over, and waiting for it.

Runs of worker agents wait in the store until a worker claims them
(domain.workers); their steps reach the same recorder through record().
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from threadline_server.domain.actions import DEFAULT_ACTION_TIMEOUT_SECONDS
from threadline_server.domain.agents import Agent, AgentDirectory
from threadline_server.domain.events import EventBus
from threadline_server.domain.executor import SERVER_LEASE_US, InProcessExecutor
from threadline_server.domain.recorder import Step
from threadline_server.domain.run_end import RunEnds, is_over
from threadline_server.domain.run_log import RunLog
from threadline_server.domain.scheduler import Scheduler
from threadline_server.store.base import Store
from threadline_server.store.records import RunRecord


class RunEngine:
    """Schedules, executes and records runs."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        agents: Mapping[str, Agent],
        worker_agents: Sequence[str],
        *,
        run_timeout: float,
        agent_tenants: Mapping[str, Collection[str]] | None = None,
        max_runs_in_flight: int = 0,
        server_lease_us: int = SERVER_LEASE_US,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT_SECONDS,
    ) -> None:
        self.store = store
        self.bus = bus
        self.agents = AgentDirectory(agents, worker_agents, agent_tenants)
        # A tenant's QUEUED and RUNNING runs at most (0: no cap).
        self.max_runs_in_flight = max_runs_in_flight
        self.log = RunLog(store)
        self.ends = RunEnds(store, bus)
        self.executor = InProcessExecutor(
            self.agents,
            self.record,
            run_timeout=run_timeout,
            action_timeout=action_timeout,
            lease_us=server_lease_us,
        )
        self.scheduler = Scheduler(store, self.log, self.agents, self.executor)

    async def record(
        self, tenant: str, run_id: str, steps: Sequence[Step], *, lease_id: str | None = None
    ) -> RunRecord:
        """Record an agent's steps (see RunLog.record); when they end the run, start the next."""
        record = await self.log.record(tenant, run_id, steps, lease_id=lease_id)
        if is_over(record.run.status):
            await self.scheduler.kick(tenant, record.thread.thread_id)
        return record

    async def resumed(self, tenant: str, thread_id: str) -> None:
        """After ResumeRun: start the run again here, or wake the workers who claim it."""
        await self.scheduler.kick(tenant, thread_id)

    async def ended_elsewhere(self, tenant: str, run_ids: Sequence[str], thread_id: str) -> None:
        """After a call ended runs (a cancel, a later run): stop their tasks, start the next."""
        self.executor.cancel(run_ids)
        await self.scheduler.kick(tenant, thread_id)

    async def stop(self) -> None:
        """Stop in-process runs (each ends FAILED, SERVER_STOPPED); queued runs stay queued."""
        await self.executor.stop()
