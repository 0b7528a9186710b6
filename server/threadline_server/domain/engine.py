"""The run machinery: scheduling runs on threads, recording what agents do, ending runs.

One rule holds everything together: a run's state only changes inside a store
transaction that first checks the run is still in flight (and, for a worker,
that its lease is current), and every change appends its events in that same
transaction. So the final event of a run is written exactly once, whoever
ends it (the agent, a client's cancel, a later run, a timeout, an expired
lease, or recovery after a restart), and a stream that replays the log sees
exactly what happened.

In-process agents run as asyncio tasks here. Runs of worker agents wait in
the store until a worker claims them (domain.workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import event_types
from threadline_server.domain.agents import (
    Agent,
    AgentEvent,
    AgentFailure,
    AgentInput,
    IterationStarted,
    TextDelta,
    ToolCallRequest,
    ToolOutcome,
    ToolSpec,
    UsageReport,
)
from threadline_server.domain.events import EventBus
from threadline_server.domain.messages import add_messages
from threadline_server.domain.run_end import FINAL_EVENT_TYPES, is_over, thread_status
from threadline_server.domain.tools import BUILTIN_TOOLS, run_tool
from threadline_server.errors import FailedPreconditionError, NotFoundError
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import RunRecord, ThreadRef

logger = logging.getLogger(__name__)

# The most recent messages an agent reads from its thread.
AGENT_CONTEXT_MESSAGES = 1000


class RunEndedError(Exception):
    """The run is no longer in flight (or the caller's lease is stale): stop working on it."""

    def __init__(self, record: RunRecord | None) -> None:
        super().__init__(
            "the run has ended" if record is None else f"run {record.run.run_id} has ended"
        )
        self.record = record


@dataclass(frozen=True)
class ToolCallStart:
    """A tool call begins (the worker or the machinery runs it)."""

    call: message_pb2.ToolCall


@dataclass(frozen=True)
class ToolCallEnd:
    """A tool call ended."""

    result: message_pb2.ToolResult
    duration_ms: int
    error_code: str


@dataclass(frozen=True)
class Finish:
    """The run is over, as its agent says."""

    status: int
    error_code: str = ""
    error_message: str = ""


Step = IterationStarted | TextDelta | UsageReport | ToolCallStart | ToolCallEnd | Finish


@dataclass(frozen=True)
class _Next:
    """What kick does after its transaction, when it started no run here."""

    wake_workers_of: str = ""
    kick_again: bool = False


@dataclass
class _OpenMessage:
    message_id: str
    text: list[str] = field(default_factory=list)


@dataclass
class Recorder:
    """What the machinery remembers of a run in progress between transactions."""

    open_message: _OpenMessage | None = None
    calls: dict[str, message_pb2.ToolCall] = field(default_factory=dict)


def _status_name(status: int) -> str:
    return run_pb2.RunStatus.Name(status).removeprefix("RUN_STATUS_")  # type: ignore[arg-type]


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
    ) -> None:
        self.store = store
        self.bus = bus
        self.agents = dict(agents)
        self.worker_agents = frozenset(worker_agents)
        self.run_timeout = run_timeout
        self._recorders: dict[str, Recorder] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._worker_wakeups: dict[str, asyncio.Event] = {}
        self._stopping = False

    # -- life cycle -----------------------------------------------------------

    async def recover(self) -> None:
        """After a start: fail runs that were running in this process, restart the queue."""

        async def work(tx: StoreTransaction) -> list[ThreadRef]:
            for record in await tx.stale_runs():
                if record.lease_id is None:
                    await self.end_run(
                        tx,
                        record,
                        run_pb2.RUN_STATUS_FAILED,
                        "SERVER_RESTARTED",
                        "the server restarted while the run was in flight",
                    )
                else:
                    await self._fail_lease_expired(tx, record)
            return await tx.threads_with_queued_runs()

        for thread in await self.store.transaction(work):
            await self.kick(thread.thread_id)

    async def stop(self) -> None:
        """Stop in-process runs: each ends FAILED with SERVER_STOPPED and its final event."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def expire_leases(self) -> int:
        """End runs whose worker stopped renewing its lease; return how many."""

        async def work(tx: StoreTransaction) -> list[RunRecord]:
            expired = [r for r in await tx.stale_runs() if r.lease_id is not None]
            for record in expired:
                await self._fail_lease_expired(tx, record)
            return expired

        expired = await self.store.transaction(work)
        for record in expired:
            await self.kick(record.thread.thread_id)
        return len(expired)

    async def _fail_lease_expired(self, tx: StoreTransaction, record: RunRecord) -> None:
        await self.end_run(
            tx,
            record,
            run_pb2.RUN_STATUS_FAILED,
            "LEASE_EXPIRED",
            f"worker {record.worker_id or '(unnamed)'} stopped renewing its lease",
        )

    # -- scheduling -----------------------------------------------------------

    def is_known_agent(self, agent_id: str) -> bool:
        """Tell whether runs of this agent can be served."""
        return agent_id in self.agents or agent_id in self.worker_agents

    def default_max_iterations(self, agent_id: str) -> int:
        """Return the agent's own default iteration limit."""
        agent = self.agents.get(agent_id)
        return agent.default_max_iterations if agent is not None else 10

    def agent_tools(self, agent_id: str) -> Sequence[str] | None:
        """Return the tools an in-process agent has; None for worker agents (unknown)."""
        agent = self.agents.get(agent_id)
        return tuple(agent.tools) if agent is not None else None

    def worker_wakeup(self, agent_id: str) -> asyncio.Event:
        """Return the event set whenever a run of a worker agent may be claimable."""
        return self._worker_wakeups.setdefault(agent_id, asyncio.Event())

    async def kick(self, thread_id: str) -> None:
        """Start the thread's next queued run, if nothing runs on it."""

        async def work(
            tx: StoreTransaction,
        ) -> tuple[RunRecord, list[message_pb2.Message]] | _Next | None:
            try:
                thread = await tx.thread(thread_id)
            except NotFoundError:  # the thread was deleted meanwhile
                return None
            record = _next_in_line(await tx.runs_in_flight(thread))
            if record is None or self._stopping:
                # While stopping, queued runs stay queued for the next start.
                return None
            if record.run.agent_id in self.worker_agents:
                return _Next(wake_workers_of=record.run.agent_id)
            if record.run.agent_id not in self.agents:
                # Queued before a restart with another configuration: fail it
                # rather than leave the thread busy for ever.
                await self.end_run(
                    tx,
                    record,
                    run_pb2.RUN_STATUS_FAILED,
                    "AGENT_UNAVAILABLE",
                    f"this server no longer serves agent {record.run.agent_id!r}",
                )
                return _Next(kick_again=True)
            await self._start_in_tx(tx, record)
            return record, await tx.latest_messages(thread, AGENT_CONTEXT_MESSAGES)

        outcome = await self.store.transaction(work)
        if isinstance(outcome, _Next):
            if outcome.kick_again:
                await self.kick(thread_id)  # the next run in line, if any
            else:
                self.worker_wakeup(outcome.wake_workers_of).set()
        elif outcome is not None:
            record, messages = outcome
            if self._stopping:  # stop() came while the run was being started
                await self._finish_quietly(
                    record.run.run_id,
                    Finish(
                        run_pb2.RUN_STATUS_FAILED,
                        "SERVER_STOPPED",
                        "the server stopped while the run was in flight",
                    ),
                )
                return
            task = asyncio.create_task(
                self._execute(record, messages), name=f"run {record.run.run_id}"
            )
            self._tasks[record.run.run_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(record.run.run_id, None))

    async def _start_in_tx(
        self,
        tx: StoreTransaction,
        record: RunRecord,
        *,
        lease_id: str | None = None,
        lease_duration_us: int | None = None,
        worker_id: str = "",
    ) -> None:
        record.run.status = run_pb2.RUN_STATUS_RUNNING
        record.run.started_at.FromMicroseconds(tx.now)
        record.lease_id = lease_id
        record.lease_duration_us = lease_duration_us
        record.lease_expires_at = tx.now + lease_duration_us if lease_duration_us else None
        record.worker_id = worker_id
        await tx.save_run(record)
        await _append(
            tx,
            record.thread,
            run_pb2.RunEvent(
                run_id=record.run.run_id, type=event_types.RUN_STARTED, run=record.run
            ),
        )
        await tx.set_thread_status(record.thread, thread_pb2.THREAD_STATUS_BUSY)
        self._recorders[record.run.run_id] = Recorder()

    async def claim(
        self, agent_id: str, worker_id: str, lease_duration_us: int
    ) -> tuple[RunRecord, list[message_pb2.Message]] | None:
        """Claim the oldest startable run of a worker agent, with a lease."""

        async def work(
            tx: StoreTransaction,
        ) -> tuple[RunRecord, list[message_pb2.Message]] | None:
            record = await tx.claimable_run(agent_id)
            if record is None:
                return None
            await self._start_in_tx(
                tx,
                record,
                lease_id=ids.new_lease_id(),
                lease_duration_us=lease_duration_us,
                worker_id=worker_id,
            )
            return record, await tx.latest_messages(record.thread, AGENT_CONTEXT_MESSAGES)

        return await self.store.transaction(work)

    # -- recording ------------------------------------------------------------

    async def _recorder(self, record: RunRecord) -> Recorder:
        """Return the run's recorder, rebuilding it from the event log after a restart."""
        recorder = self._recorders.get(record.run.run_id)
        if recorder is not None:
            return recorder
        recorder = Recorder()
        events = await self.store.read_events(run_id=record.run.run_id, after=0, limit=1_000_000)
        for event in events:
            if event.type == event_types.MESSAGE_CREATED and not event.message.parts:
                recorder.open_message = _OpenMessage(event.message.message_id)
            elif event.type == event_types.MESSAGE_DELTA and recorder.open_message is not None:
                recorder.open_message.text.append(event.delta.text)
            elif event.type == event_types.MESSAGE_COMPLETED:
                recorder.open_message = None
            elif event.type == event_types.TOOL_CALL_STARTED:
                recorder.calls[event.tool_call.call.id] = event.tool_call.call
        self._recorders[record.run.run_id] = recorder
        return recorder

    async def record(
        self, run_id: str, steps: Sequence[Step], *, lease_id: str | None = None
    ) -> RunRecord:
        """Apply an agent's steps to a run in one transaction; return the run after them.

        Raises RunEndedError when the run is no longer in flight or the lease
        is stale; nothing is written then. A step that ends the run (Finish,
        or one IterationStarted too many) makes every later step moot.
        """

        async def work(tx: StoreTransaction) -> RunRecord:
            try:
                record = await tx.run(run_id)
            except NotFoundError:  # its thread was deleted
                self._recorders.pop(run_id, None)
                raise RunEndedError(None) from None
            if record.run.status != run_pb2.RUN_STATUS_RUNNING or (
                lease_id is not None
                and (record.lease_id != lease_id or (record.lease_expires_at or 0) <= tx.now)
            ):
                raise RunEndedError(record)
            recorder = await self._recorder(record)
            if record.lease_duration_us:
                record.lease_expires_at = tx.now + record.lease_duration_us
            try:
                for step in steps:
                    if await self._apply(tx, record, recorder, step):
                        return record
                # Text deltas only add events: the run's row needs no update then.
                if record.lease_duration_us or not all(isinstance(s, TextDelta) for s in steps):
                    await tx.save_run(record)
            except BaseException:
                # The transaction rolls back: forget what the recorder learned in
                # it, so it is rebuilt from the event log as committed.
                self._recorders.pop(run_id, None)
                raise
            return record

        record = await self.store.transaction(work)
        if is_over(record.run.status):
            await self.kick(record.thread.thread_id)
        return record

    async def _apply(
        self, tx: StoreTransaction, record: RunRecord, recorder: Recorder, step: Step
    ) -> bool:
        """Apply one step; return True when it ended the run."""
        run = record.run
        if isinstance(step, IterationStarted):
            if run.iterations >= run.max_iterations:
                await self.end_run(
                    tx,
                    record,
                    run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED,
                    "",
                    "",
                    recorder=recorder,
                )
                return True
            run.iterations += 1
        elif isinstance(step, TextDelta):
            if not step.text:
                return False
            if recorder.open_message is None:
                recorder.open_message = _OpenMessage(ids.new_message_id())
                await _append(
                    tx,
                    record.thread,
                    run_pb2.RunEvent(
                        run_id=run.run_id,
                        type=event_types.MESSAGE_CREATED,
                        message=message_pb2.Message(
                            message_id=recorder.open_message.message_id,
                            thread_id=record.thread.thread_id,
                            role=message_pb2.MESSAGE_ROLE_AGENT,
                            run_id=run.run_id,
                        ),
                    ),
                )
            recorder.open_message.text.append(step.text)
            await _append(
                tx,
                record.thread,
                run_pb2.RunEvent(
                    run_id=run.run_id,
                    type=event_types.MESSAGE_DELTA,
                    delta=run_pb2.MessageDelta(
                        message_id=recorder.open_message.message_id, text=step.text
                    ),
                ),
            )
        elif isinstance(step, UsageReport):
            run.usage.prompt_tokens += max(step.prompt_tokens, 0)
            run.usage.completion_tokens += max(step.completion_tokens, 0)
            run.usage.total_tokens = run.usage.prompt_tokens + run.usage.completion_tokens
        elif isinstance(step, ToolCallStart):
            await self._close_message(tx, record, recorder)
            recorder.calls[step.call.id] = step.call
            await add_messages(
                tx,
                record.thread,
                [
                    _agent_message(
                        tx.now,
                        record,
                        message_pb2.MESSAGE_ROLE_AGENT,
                        message_pb2.Part(tool_call=step.call),
                    )
                ],
            )
            entry = run.tool_calls.add(
                tool_call_id=step.call.id,
                tool=step.call.name,
                status=run_pb2.TOOL_CALL_STATUS_RUNNING,
            )
            await _append(
                tx,
                record.thread,
                run_pb2.RunEvent(
                    run_id=run.run_id,
                    type=event_types.TOOL_CALL_STARTED,
                    tool_call=run_pb2.ToolCallEvent(call=step.call, record=entry),
                ),
            )
        elif isinstance(step, ToolCallEnd):
            call_id = step.result.tool_call_id
            found = next((c for c in run.tool_calls if c.tool_call_id == call_id), None)
            entry = found if found is not None else run.tool_calls.add(tool_call_id=call_id)
            entry.status = (
                run_pb2.TOOL_CALL_STATUS_FAILED
                if step.error_code or step.result.is_error
                else run_pb2.TOOL_CALL_STATUS_SUCCEEDED
            )
            entry.duration_ms = max(step.duration_ms, 0)
            entry.error_code = step.error_code or ("TOOL_ERROR" if step.result.is_error else "")
            await _append(
                tx,
                record.thread,
                run_pb2.RunEvent(
                    run_id=run.run_id,
                    type=event_types.TOOL_CALL_COMPLETED,
                    tool_call=run_pb2.ToolCallEvent(
                        call=recorder.calls.get(call_id, message_pb2.ToolCall(id=call_id)),
                        record=entry,
                        result=step.result,
                    ),
                ),
            )
            await add_messages(
                tx,
                record.thread,
                [
                    _agent_message(
                        tx.now,
                        record,
                        message_pb2.MESSAGE_ROLE_TOOL,
                        message_pb2.Part(tool_result=step.result),
                    )
                ],
            )
        else:
            await self.end_run(
                tx, record, step.status, step.error_code, step.error_message, recorder=recorder
            )
            return True
        return False

    async def _close_message(
        self, tx: StoreTransaction, record: RunRecord, recorder: Recorder
    ) -> None:
        """Store the message the agent was streaming, as one text part."""
        if recorder.open_message is None:
            return
        text = "".join(recorder.open_message.text)
        message = _agent_message(
            tx.now, record, message_pb2.MESSAGE_ROLE_AGENT, message_pb2.Part(text=text)
        )
        message.message_id = recorder.open_message.message_id
        await add_messages(tx, record.thread, [message], streamed=True)
        record.run.response = text
        recorder.open_message = None

    async def end_run(
        self,
        tx: StoreTransaction,
        record: RunRecord,
        status: int,
        error_code: str,
        error_message: str,
        *,
        recorder: Recorder | None = None,
    ) -> None:
        """End a run in a transaction: close its message, set its final state and event.

        Whoever ends it (its agent, a cancel, a later run, a timeout, a lost lease,
        recovery) comes through here, once: the caller checked it was in flight.
        """
        if record.run.status == run_pb2.RUN_STATUS_RUNNING:
            # After a restart the recorder is rebuilt from the log, so a
            # half-streamed answer is still stored, with its message.completed.
            await self._close_message(tx, record, recorder or await self._recorder(record))
        self._recorders.pop(record.run.run_id, None)
        run = record.run
        run.status = status  # type: ignore[assignment]
        run.ended_at.FromMicroseconds(tx.now)
        if error_code:
            run.error.code = error_code
            run.error.message = error_message or error_code
        for call in run.tool_calls:
            if call.status == run_pb2.TOOL_CALL_STATUS_RUNNING:
                call.status = run_pb2.TOOL_CALL_STATUS_FAILED
                call.error_code = "RUN_ENDED"
        record.lease_id = None
        record.lease_expires_at = None
        await tx.save_run(record)
        await _append(
            tx,
            record.thread,
            run_pb2.RunEvent(run_id=run.run_id, type=FINAL_EVENT_TYPES[status], run=run),
        )
        in_flight = await tx.runs_in_flight(record.thread)
        await tx.set_thread_status(
            record.thread, thread_status(run_in_flight=bool(in_flight), last_ended=status)
        )

    def after_end(self, run_ids: Sequence[str]) -> None:
        """Stop the in-process tasks of runs that were ended from outside."""
        for run_id in run_ids:
            task = self._tasks.get(run_id)
            if task is not None:
                task.cancel()

    # -- in-process execution -------------------------------------------------

    async def _execute(self, record: RunRecord, messages: list[message_pb2.Message]) -> None:
        """Drive an in-process agent through one run."""
        run = record.run
        agent = self.agents[run.agent_id]
        allowed = list(run.tools) or list(agent.tools)
        request = AgentInput(
            run_id=run.run_id,
            thread_id=run.thread_id,
            messages=messages,
            context=jsonvalue.struct_to_python(run.context),
            tools=[
                tool.spec if (tool := BUILTIN_TOOLS.get(name)) else ToolSpec(name, "")
                for name in allowed
            ],
            max_iterations=run.max_iterations,
        )
        generator = agent.run(request)
        writer = _StepWriter(self, run.run_id)
        finish: Finish | None = None
        try:
            async with asyncio.timeout(self.run_timeout):
                finish = await self._drive(generator, writer, run.run_id, allowed)
        except RunEndedError:
            return
        except TimeoutError:
            finish = Finish(
                run_pb2.RUN_STATUS_FAILED,
                "TIMEOUT",
                f"the run took longer than {self.run_timeout:g}s",
            )
        except AgentFailure as failure:
            finish = Finish(run_pb2.RUN_STATUS_FAILED, failure.code, failure.message)
        except asyncio.CancelledError:
            if self._stopping:
                await asyncio.shield(writer.settle())
                await asyncio.shield(
                    self._finish_quietly(
                        run.run_id,
                        Finish(
                            run_pb2.RUN_STATUS_FAILED,
                            "SERVER_STOPPED",
                            "the server stopped while the run was in flight",
                        ),
                    )
                )
            raise
        except Exception as error:
            logger.exception("agent %s failed in run %s", run.agent_id, run.run_id)
            finish = Finish(run_pb2.RUN_STATUS_FAILED, "AGENT_ERROR", f"the agent failed: {error}")
        finally:
            await asyncio.shield(writer.settle())
            with contextlib.suppress(Exception):
                await generator.aclose()
        if finish is not None and not writer.ended:
            await self._finish_quietly(run.run_id, finish)

    async def _drive(
        self,
        generator: AsyncGenerator[AgentEvent, ToolOutcome | None],
        writer: _StepWriter,
        run_id: str,
        allowed: Sequence[str],
    ) -> Finish | None:
        """Feed the agent's steps to the writer; return how the run ends (None: it ended)."""
        outcome: ToolOutcome | None = None
        while True:
            try:
                step = await generator.asend(outcome)
            except StopAsyncIteration:
                await writer.flush()
                return Finish(run_pb2.RUN_STATUS_COMPLETED)
            outcome = None
            if isinstance(step, ToolCallRequest):
                await writer.flush()
                if writer.ended:
                    return None
                outcome = await self._call_tool(run_id, step, allowed)
            else:
                await writer.add(step)
            if writer.ended:
                return None

    async def _finish_quietly(self, run_id: str, finish: Finish) -> None:
        with contextlib.suppress(RunEndedError):
            await self.record(run_id, [finish])

    async def _call_tool(
        self, run_id: str, request: ToolCallRequest, allowed: Sequence[str]
    ) -> ToolOutcome:
        """Run a tool for an in-process agent, recording its start and end."""
        call = message_pb2.ToolCall(id=ids.new_tool_call_id(), name=request.name)
        call.arguments.update(dict(request.arguments))
        await self.record(run_id, [ToolCallStart(call)])
        started = time.perf_counter()
        outcome = await run_tool(request.name, request.arguments, allowed)
        duration_ms = int((time.perf_counter() - started) * 1000)
        result = message_pb2.ToolResult(tool_call_id=call.id, is_error=outcome.is_error)
        if outcome.is_error:
            result.text = outcome.error_message or outcome.error_code
        else:
            result.json.CopyFrom(_to_value(outcome.output))
        await self.record(run_id, [ToolCallEnd(result, duration_ms, outcome.error_code)])
        return outcome

    # -- waiting ----------------------------------------------------------------

    async def wait_for_end(self, run_id: str, budget: float) -> run_pb2.Run:
        """Return the run once it has ended, or as it stands when budget seconds pass.

        Returning the run at the end of the budget (rather than raising) is the
        point: WaitRun and Chat answer just before the caller's deadline.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(budget, 0)
        run = await self.store.get_run(run_id)
        thread_id = run.thread_id
        while not is_over(run.status):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return await self.store.get_run(run_id)
            changed = self.bus.change_of(thread_id)
            if not self.bus.ended_since_start(run_id):
                try:
                    await asyncio.wait_for(asyncio.shield(changed), min(remaining, 5.0))
                except TimeoutError:
                    pass  # read the run again now and then, whatever happened
                else:
                    # Most changes on the thread are other events of the run
                    # (a delta per word): read it again only once it ended, or
                    # when the thread went away (the read then says NOT_FOUND).
                    if not self.bus.ended_since_start(run_id) and not self.bus.was_deleted(
                        thread_id
                    ):
                        continue
            run = await self.store.get_run(run_id)
        return run


class _StepWriter:
    """Writes an in-process agent's steps while the agent goes on producing them.

    While one transaction commits, the next steps gather; the next
    transaction takes them all. So a fast agent pays one commit (one fsync)
    per batch instead of per word, and a slow one still sees each step
    stored at once. Steps are stored before any reader sees them, in order.
    At most MAX_PENDING steps wait, which bounds memory and paces the agent.
    """

    MAX_PENDING = 256

    def __init__(self, engine: RunEngine, run_id: str) -> None:
        self._engine = engine
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
            record = await self._engine.record(self._run_id, steps)
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


def _next_in_line(in_flight: list[RunRecord]) -> RunRecord | None:
    """Return the run that may start on a thread: its oldest queued one, if none is running."""
    if any(r.run.status == run_pb2.RUN_STATUS_RUNNING for r in in_flight):
        return None
    return next((r for r in in_flight if r.run.status == run_pb2.RUN_STATUS_QUEUED), None)


async def _append(tx: StoreTransaction, thread: ThreadRef, event: run_pb2.RunEvent) -> None:
    """Store one event of a run, stamped with the transaction's time."""
    event.created_at.FromMicroseconds(tx.now)
    await tx.append_events(thread, [event])


def _agent_message(
    now: int, record: RunRecord, role: message_pb2.MessageRole.ValueType, part: message_pb2.Part
) -> message_pb2.Message:
    """Return a message a run writes at `now`, under a fresh id."""
    message = message_pb2.Message(
        message_id=ids.new_message_id(),
        thread_id=record.thread.thread_id,
        role=role,
        parts=[part],
        run_id=record.run.run_id,
    )
    message.metadata.SetInParent()
    message.created_at.FromMicroseconds(now)
    message.updated_at.FromMicroseconds(now)
    return message


def _to_value(output: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    try:
        json_format.ParseDict(output, value)
    except (OverflowError, json_format.ParseError, TypeError, ValueError):
        # A number too large for a JSON double, say: keep it exact, as text.
        value.string_value = jsonvalue.dumps(output)
    return value


def busy_error(thread_id: str, run_ids: Sequence[str]) -> FailedPreconditionError:
    """Return the error for a run refused because the thread is busy."""
    return FailedPreconditionError(
        "THREAD_BUSY",
        f"thread {thread_id!r} already has a run in flight ({', '.join(run_ids)}); "
        "use multitask_strategy ENQUEUE, INTERRUPT or ROLLBACK, or wait for it to end",
        metadata={"thread_id": thread_id, "field": "multitask_strategy"},
    )
