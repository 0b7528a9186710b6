"""Running in-process agents: one asyncio task per run, its steps recorded as they come.

An in-process agent is driven here the way a worker drives its own: its
steps go to the same recorder (through a StepWriter, which batches them),
and the run ends the same way. What is particular to this process: the
tools are run here, the run's timeout is enforced here, and stopping the
server ends the runs it holds (FAILED, SERVER_STOPPED).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import actions, validation
from threadline_server.domain.agents import (
    AgentContext,
    AgentDirectory,
    AgentEvent,
    AgentFailure,
    AgentInput,
    RequiresAction,
    Resumption,
    ToolCallRequest,
    ToolOutcome,
    ToolSpec,
)
from threadline_server.domain.recorder import (
    Finish,
    Pause,
    StepRefused,
    ToolCallEnd,
    ToolCallStart,
)
from threadline_server.domain.run_log import RunEndedError
from threadline_server.domain.step_writer import Record, StepWriter
from threadline_server.domain.tools import BUILTIN_TOOLS, run_tool
from threadline_server.errors import Violations
from threadline_server.store.records import RunRecord

logger = logging.getLogger(__name__)

# With a store several processes share, a run executed here carries this
# process's lease, renewed every third of it: when the process dies, another
# ends the run once the lease has run out (LEASE_EXPIRED, one final event).
SERVER_LEASE_US = 15_000_000

SERVER_STOPPED = Finish(
    run_pb2.RUN_STATUS_FAILED, "SERVER_STOPPED", "the server stopped while the run was in flight"
)


class InProcessExecutor:
    """Runs in-process agents as tasks, and stops them."""

    def __init__(
        self,
        agents: AgentDirectory,
        record: Record,
        *,
        run_timeout: float,
        action_timeout: float = actions.DEFAULT_ACTION_TIMEOUT_SECONDS,
        lease_us: int = SERVER_LEASE_US,
    ) -> None:
        self._agents = agents
        self._record = record
        self._run_timeout = run_timeout
        self.action_timeout = action_timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.stopping = False
        self.lease_us = lease_us
        """How long a run executed here stays held without renewal, when the store is shared."""
        self.lease_id = ids.new_lease_id()
        """The lease this process holds its runs by, when the store is shared."""
        self.holder = f"server {socket.gethostname()}:{os.getpid()}"
        """Who holds them, as a run's worker_id shows it."""

    async def launch(self, record: RunRecord, context: AgentContext) -> None:
        """Run a started run's agent in a task of its own, with what it reads."""
        run_id = record.run.run_id
        if self.stopping:  # stop() came while the run was being started
            await self._finish_quietly(record.thread.tenant, run_id, SERVER_STOPPED)
            return
        task = asyncio.create_task(self._execute(record, context), name=f"run {run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))

    def cancel(self, run_ids: Sequence[str]) -> None:
        """Stop the tasks of runs that were ended from outside."""
        for run_id in run_ids:
            task = self._tasks.get(run_id)
            if task is not None:
                task.cancel()

    async def stop(self) -> None:
        """Stop every run: each ends FAILED with SERVER_STOPPED and its final event."""
        self.stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _execute(self, record: RunRecord, context: AgentContext) -> None:
        """Drive an in-process agent through one run."""
        run = record.run
        tenant = record.thread.tenant
        agent = self._agents.in_process[run.agent_id]
        allowed = list(run.tools) or list(agent.tools)
        request = AgentInput(
            run_id=run.run_id,
            thread_id=run.thread_id,
            messages=context.messages,
            context=jsonvalue.struct_to_python(run.context),
            tools=[
                tool.spec if (tool := BUILTIN_TOOLS.get(name)) else ToolSpec(name, "")
                for name in allowed
            ],
            max_iterations=run.max_iterations,
            state=jsonvalue.struct_to_python(context.state.values),
            client_tools=list(run.client_tools),
            resumed=Resumption(run.required_action, run.action_response)
            if run.HasField("action_response")
            else None,
        )
        generator = agent.run(request)
        writer = StepWriter(self._record, tenant, run.run_id)
        finish: Finish | None = None
        renewer = None
        if record.lease_duration_us:
            renewer = asyncio.create_task(
                self._renew(tenant, run.run_id, record.lease_duration_us / 3e6),
                name=f"lease of {run.run_id}",
            )
        try:
            async with asyncio.timeout(self._run_timeout):
                finish = await self._drive(generator, writer, tenant, run.run_id, allowed)
        except RunEndedError:
            return
        except TimeoutError:
            finish = Finish(
                run_pb2.RUN_STATUS_FAILED,
                "TIMEOUT",
                f"the run took longer than {self._run_timeout:g}s",
            )
        except AgentFailure as failure:
            finish = Finish(run_pb2.RUN_STATUS_FAILED, failure.code, failure.message)
        except StepRefused as refused:
            # What it wrote before the refused batch stays; the run ends here.
            finish = Finish(
                run_pb2.RUN_STATUS_FAILED,
                "AGENT_ERROR",
                f"the agent broke a limit: its output {refused.description}",
            )
        except asyncio.CancelledError:
            if self.stopping:
                await asyncio.shield(writer.settle())
                await asyncio.shield(self._finish_quietly(tenant, run.run_id, SERVER_STOPPED))
            raise
        except Exception as error:
            logger.exception("agent %s failed in run %s", run.agent_id, run.run_id)
            finish = Finish(run_pb2.RUN_STATUS_FAILED, "AGENT_ERROR", f"the agent failed: {error}")
        finally:
            if renewer is not None:
                renewer.cancel()
            await asyncio.shield(writer.settle())
            with contextlib.suppress(Exception):
                await generator.aclose()
        if finish is not None and not writer.ended:
            await self._finish_quietly(tenant, run.run_id, finish)

    async def _drive(
        self,
        generator: AsyncGenerator[AgentEvent, ToolOutcome | None],
        writer: StepWriter,
        tenant: str,
        run_id: str,
        allowed: Sequence[str],
    ) -> Finish | None:
        """Feed the agent's steps to the writer; return how the run ends (None: ended, paused)."""
        outcome: ToolOutcome | None = None
        while True:
            try:
                step = await generator.asend(outcome)
            except StopAsyncIteration:
                await writer.flush()
                return Finish(run_pb2.RUN_STATUS_COMPLETED)
            outcome = None
            if isinstance(step, RequiresAction):
                await writer.flush()
                if not writer.ended:
                    await self._pause(tenant, run_id, step)
                return None
            if isinstance(step, ToolCallRequest):
                await writer.flush()
                if writer.ended:
                    return None
                outcome = await self._call_tool(tenant, run_id, step, allowed)
            else:
                await writer.add(step)
            if writer.ended:
                return None

    async def _renew(self, tenant: str, run_id: str, every: float) -> None:
        """Renew this process's lease on a run until it ends; stop the run if it was lost."""
        while True:
            await asyncio.sleep(every)
            try:
                await self._record(tenant, run_id, [])
            except RunEndedError:
                # Ended elsewhere (cancelled, or the lease ran out meanwhile).
                self.cancel([run_id])
                return
            except Exception:
                logger.exception("renewing the lease of run %s failed", run_id)

    async def _pause(self, tenant: str, run_id: str, step: RequiresAction) -> None:
        """Pause the run for what the agent asks; a malformed request fails the run."""
        try:
            action = actions.new_request(
                tool_calls=[(call.name, call.arguments) for call in step.tool_calls],
                question=step.question,
                answer_schema=step.answer_schema,
            )
        except (TypeError, ValueError) as error:
            raise AgentFailure("AGENT_ERROR", f"the agent asked wrongly: {error}") from None
        # The recorder checks it against the run's client tools (StepRefused).
        await self._record(tenant, run_id, [Pause(action, int(self.action_timeout * 1_000_000))])

    async def _finish_quietly(self, tenant: str, run_id: str, finish: Finish) -> None:
        with contextlib.suppress(RunEndedError):
            await self._record(tenant, run_id, [finish])

    async def _call_tool(
        self, tenant: str, run_id: str, request: ToolCallRequest, allowed: Sequence[str]
    ) -> ToolOutcome:
        """Run a tool for an in-process agent, recording its start and end."""
        call = message_pb2.ToolCall(id=ids.new_tool_call_id(), name=request.name)
        call.arguments.update(dict(request.arguments))
        # The bounds a worker's tool call is held to (domain.workers).
        found = Violations()
        validation.tool_call(found, "tool_call", call)
        if found.items:
            problem = found.items[0]
            raise StepRefused(ToolCallStart(call), f"{problem.field} {problem.description}")
        await self._record(tenant, run_id, [ToolCallStart(call)])
        started = time.perf_counter()
        outcome = await run_tool(request.name, request.arguments, allowed)
        duration_ms = int((time.perf_counter() - started) * 1000)
        result = message_pb2.ToolResult(tool_call_id=call.id, is_error=outcome.is_error)
        if outcome.is_error:
            result.text = outcome.error_message or outcome.error_code
        else:
            result.json.CopyFrom(_to_value(outcome.output))
        await self._record(tenant, run_id, [ToolCallEnd(result, duration_ms, outcome.error_code)])
        return outcome


def _to_value(output: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    try:
        json_format.ParseDict(output, value)
    except (OverflowError, json_format.ParseError, TypeError, ValueError):
        # A number too large for a JSON double, say: keep it exact, as text.
        value.string_value = jsonvalue.dumps(output)
    return value
