"""AgentWorkerService rules: claiming runs with a lease, recording what workers report.

A worker is trusted with one run at a time per lease. Every report and
renewal checks the lease inside the transaction that applies it (see
domain.run_log), so a worker whose lease ran out, or whose run was cancelled,
can never write into it again: it is told so, and drops the run.
"""

from __future__ import annotations

import asyncio

from google.protobuf import timestamp_pb2
from threadline.v1 import run_pb2, worker_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import state, validation
from threadline_server.domain.agents import IterationStarted, StateUpdate, TextDelta, UsageReport
from threadline_server.domain.engine import RunEngine
from threadline_server.domain.recorder import (
    MAX_ERROR_CODE,
    MAX_ERROR_MESSAGE,
    Finish,
    Pause,
    Step,
    StepRefused,
    ToolCallEnd,
    ToolCallStart,
)
from threadline_server.domain.run_log import RunEndedError
from threadline_server.domain.runs import DEADLINE_MARGIN_SECONDS
from threadline_server.errors import (
    FailedPreconditionError,
    FieldViolation,
    NotFoundError,
    ValidationError,
    Violations,
)
from threadline_server.store.records import RunRecord
from threadline_server.waiting import wait_up_to

DEFAULT_LEASE_SECONDS = 30.0
MIN_LEASE_SECONDS = 1.0
MAX_LEASE_SECONDS = 600.0
MAX_CLAIM_WAIT_SECONDS = 60.0
MAX_EVENTS_PER_REPORT = 500


def _lease_lost(run_id: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        "LEASE_LOST",
        f"the lease on run {run_id!r} is no longer current (it expired, or the run ended); "
        "drop the run",
        metadata={"run_id": run_id, "field": "lease_id"},
    )


def _expire_time(record: RunRecord) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    if record.lease_expires_at is not None:
        stamp.FromMicroseconds(record.lease_expires_at)
    return stamp


class WorkerHandler:
    """Carries out AgentWorkerService calls."""

    def __init__(self, engine: RunEngine) -> None:
        self._engine = engine
        self._action_timeout_us = int(engine.executor.action_timeout * 1_000_000)

    async def claim_run(
        self, tenant: str, request: worker_pb2.ClaimRunRequest, time_remaining: float | None
    ) -> worker_pb2.ClaimRunResponse:
        """Claim the tenant's next run of a worker agent, waiting up to `wait` for one."""
        found = Violations()
        validation.reference(found, "agent_id", request.agent_id, required=True)
        validation.reference(found, "worker_id", request.worker_id)
        lease_seconds = DEFAULT_LEASE_SECONDS
        if request.HasField("lease_duration") and validation.duration(
            found, "lease_duration", request.lease_duration
        ):
            lease_seconds = request.lease_duration.ToMicroseconds() / 1e6
            if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
                found.add("lease_duration", "must be between 1 second and 10 minutes")
        wait = 0.0
        if request.HasField("wait") and validation.duration(found, "wait", request.wait):
            wait = request.wait.ToMicroseconds() / 1e6
            if not 0 <= wait <= MAX_CLAIM_WAIT_SECONDS:
                found.add("wait", "must be between 0 and 60 seconds")
        found.raise_if_any()
        if not self._engine.agents.serves_by_workers(request.agent_id, tenant):
            raise NotFoundError(
                "agent",
                request.agent_id,
                hint="not an agent served by workers; start the server with "
                f"--worker-agent {request.agent_id}",
            )
        if time_remaining is not None:
            wait = max(min(wait, time_remaining - DEADLINE_MARGIN_SECONDS), 0.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        wakeup = self._engine.scheduler.worker_wakeup(tenant, request.agent_id)
        while True:
            wakeup.clear()
            claimed = await self._engine.scheduler.claim(
                tenant, request.agent_id, request.worker_id, int(lease_seconds * 1_000_000)
            )
            if claimed is not None:
                record, context = claimed
                return worker_pb2.ClaimRunResponse(
                    run=record.run,
                    lease_id=record.lease_id or "",
                    lease_expire_time=_expire_time(record),
                    messages=context.messages,
                    omitted_message_count=context.omitted,
                    state=context.state,
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                return worker_pb2.ClaimRunResponse()
            recheck = self._engine.scheduler.claim_recheck_seconds
            await wait_up_to(
                wakeup.wait(), remaining if recheck is None else min(remaining, recheck)
            )

    async def report_run_events(
        self, tenant: str, request: worker_pb2.ReportRunEventsRequest
    ) -> worker_pb2.ReportRunEventsResponse:
        """Record a batch of a worker's events under its lease."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        validation.reference(found, "lease_id", request.lease_id, required=True)
        if not request.events:
            found.add("events", "must have at least one event")
        elif len(request.events) > MAX_EVENTS_PER_REPORT:
            found.add("events", f"must have at most {MAX_EVENTS_PER_REPORT} events")
        steps = [
            _to_step(found, f"events[{index}]", event, self._action_timeout_us)
            for index, event in enumerate(request.events)
        ]
        for index, step in enumerate(steps[:-1]):
            if isinstance(step, Finish | Pause):
                found.add(f"events[{index + 1}]", "nothing may follow a finish or requires_action")
        found.raise_if_any()
        try:
            record = await self._engine.record(
                tenant,
                request.run_id,
                [s for s in steps if s is not None],
                lease_id=request.lease_id,
            )
        except RunEndedError as ended:
            return self._ended_answer(request.run_id, ended.record)
        except StepRefused as refused:
            # Every step is valid by now, so steps line up with events.
            kind = request.events[refused.index].WhichOneof("kind")
            raise ValidationError(
                [FieldViolation(f"events[{refused.index}].{kind}", refused.description)]
            ) from None
        paused = record.run.status == run_pb2.RUN_STATUS_REQUIRES_ACTION
        return worker_pb2.ReportRunEventsResponse(
            cancelled=record.run.status == run_pb2.RUN_STATUS_CANCELLED,
            ended=record.run.status != run_pb2.RUN_STATUS_RUNNING and not paused,
            lease_expire_time=_expire_time(record),
            paused=paused,
        )

    async def renew_lease(
        self, tenant: str, request: worker_pb2.RenewLeaseRequest
    ) -> worker_pb2.RenewLeaseResponse:
        """Extend a lease; tell the worker when its run was cancelled."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        validation.reference(found, "lease_id", request.lease_id, required=True)
        found.raise_if_any()
        try:
            record = await self._engine.record(
                tenant, request.run_id, [], lease_id=request.lease_id
            )
        except RunEndedError as ended:
            answer = self._ended_answer(request.run_id, ended.record)
            return worker_pb2.RenewLeaseResponse(cancelled=answer.cancelled)
        return worker_pb2.RenewLeaseResponse(lease_expire_time=_expire_time(record))

    @staticmethod
    def _ended_answer(run_id: str, record: RunRecord | None) -> worker_pb2.ReportRunEventsResponse:
        """Tell a worker its run was cancelled; any other lost lease is an error."""
        if record is not None and record.run.status == run_pb2.RUN_STATUS_CANCELLED:
            return worker_pb2.ReportRunEventsResponse(cancelled=True, ended=True)
        raise _lease_lost(run_id)


def _to_step(
    found: Violations, path: str, event: worker_pb2.WorkerEvent, action_timeout_us: int
) -> Step | None:
    """Turn a worker's event into a recorder step, checking it."""
    kind = event.WhichOneof("kind")
    if kind == "requires_action":
        # Checked against the run's client tools when recorded (StepRefused).
        action = run_pb2.RequiredAction()
        action.CopyFrom(event.requires_action)
        action.action_id = ids.new_action_id()
        action.ClearField("expire_time")
        return Pause(action, action_timeout_us)
    if kind == "iteration_started":
        return IterationStarted()
    if kind == "text_delta":
        # Its size is checked with the answer it adds to (recorder).
        return TextDelta(event.text_delta)
    if kind == "usage":
        if event.usage.prompt_tokens < 0 or event.usage.completion_tokens < 0:
            found.add(f"{path}.usage", "token counts must not be negative")
        return UsageReport(event.usage.prompt_tokens, event.usage.completion_tokens)
    if kind == "tool_call_started":
        call = event.tool_call_started
        validation.tool_call(found, f"{path}.tool_call_started", call)
        return ToolCallStart(call)
    if kind == "tool_call_finished":
        finished = event.tool_call_finished
        validation.tool_result(found, f"{path}.tool_call_finished.result", finished.result)
        if finished.duration_ms < 0:
            found.add(f"{path}.tool_call_finished.duration_ms", "must not be negative")
        validation.reference(
            found,
            f"{path}.tool_call_finished.error_code",
            finished.error_code,
            limit=MAX_ERROR_CODE,
        )
        return ToolCallEnd(finished.result, finished.duration_ms, finished.error_code)
    if kind == "finish":
        status = event.finish.status
        if status not in (run_pb2.RUN_STATUS_COMPLETED, run_pb2.RUN_STATUS_FAILED):
            found.add(f"{path}.finish.status", "must be COMPLETED or FAILED")
        if status == run_pb2.RUN_STATUS_FAILED and not event.finish.error.code:
            found.add(f"{path}.finish.error.code", "is required when the run FAILED")
        validation.reference(
            found, f"{path}.finish.error.code", event.finish.error.code, limit=MAX_ERROR_CODE
        )
        validation.text(
            found,
            f"{path}.finish.error.message",
            event.finish.error.message,
            limit=MAX_ERROR_MESSAGE,
        )
        return Finish(status, event.finish.error.code, event.finish.error.message)
    if kind == "state_update":
        update = event.state_update
        paths = state.check_change(
            found,
            f"{path}.state_update.values",
            f"{path}.state_update.update_mask",
            update.values,
            list(update.update_mask.paths),
        )
        # Its size is checked with the state it changes (recorder).
        values = (
            {} if jsonvalue.problem(update.values) else jsonvalue.struct_to_python(update.values)
        )
        return StateUpdate(values, tuple(paths))
    found.add(path, "must set one kind of event")
    return None
