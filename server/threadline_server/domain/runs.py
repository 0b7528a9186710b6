"""RunService rules: validating requests, and what each call does to runs and threads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from google.protobuf import duration_pb2, struct_pb2
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server import ids
from threadline_server.domain import (
    actions,
    event_types,
    idempotency,
    paging,
    sizes,
    validation,
    webhooks,
)
from threadline_server.domain.engine import RunEngine
from threadline_server.domain.messages import add_messages, new_message
from threadline_server.domain.recorder import Finish
from threadline_server.domain.run_end import ends_run, is_over
from threadline_server.domain.threads import activity, check_ttl_cap, create_thread
from threadline_server.domain.webhook_urls import AddressPolicy
from threadline_server.errors import (
    FailedPreconditionError,
    NotFoundError,
    ResourceExhaustedError,
    Violations,
    request_fields,
)
from threadline_server.store.base import StoreTransaction
from threadline_server.store.records import RunPageQuery, RunRecord, ThreadRef

MAX_ITERATIONS_LIMIT = 20
MAX_INPUT_MESSAGES = 100
MAX_TOOLS = 50
MAX_WAIT_SECONDS = 3600.0
# WaitRun and Chat answer this long before the caller's deadline, so the
# caller gets the run as it stands instead of DEADLINE_EXCEEDED.
DEADLINE_MARGIN_SECONDS = 0.25
# When a tenant at its cap of runs in flight may try again: runs end in seconds.
RUNS_RETRY_SECONDS = 1.0

_RUN_ORDERS = {"": True, "created_at desc": True, "created_at": False, "created_at asc": False}
_END_REASONS = {
    run_pb2.MULTITASK_STRATEGY_INTERRUPT: (
        "INTERRUPTED",
        "interrupted by run {run_id} (multitask_strategy INTERRUPT)",
    ),
    run_pb2.MULTITASK_STRATEGY_ROLLBACK: (
        "ROLLED_BACK",
        "rolled back by run {run_id} (multitask_strategy ROLLBACK)",
    ),
}


# The most event types a stream may ask for: more than there are.
MAX_EVENT_TYPES = 32


def _check_cursor(found: Violations, after_event_id: int) -> None:
    if after_event_id < 0:
        found.add("after_event_id", "must not be negative")


def check_event_types(found: Violations, path: str, names: Sequence[str]) -> frozenset[str] | None:
    """Check the event types a stream asks for; return them (None: every type)."""
    if not names:
        return None
    if len(names) > MAX_EVENT_TYPES:
        found.add(path, f"must name at most {MAX_EVENT_TYPES} event types")
        return None
    for index, name in enumerate(names):
        if name not in event_types.STREAMED:
            found.add(
                f"{path}[{index}]",
                f"{name[:64]!r} is not an event type this server sends; it sends: "
                f"{', '.join(sorted(event_types.STREAMED))}",
            )
    return frozenset(names)


def busy_error(thread_id: str, run_ids: Sequence[str]) -> FailedPreconditionError:
    """Return the error for a run refused because the thread is busy."""
    return FailedPreconditionError(
        "THREAD_BUSY",
        f"thread {thread_id!r} already has a run in flight ({', '.join(run_ids)}); "
        "use multitask_strategy ENQUEUE, INTERRUPT or ROLLBACK, or wait for it to end",
        metadata={"thread_id": thread_id, "field": "multitask_strategy"},
    )


def wait_budget(timeout: float | None, time_remaining: float | None) -> float:
    """Return how long a waiting call may wait: its timeout, capped by its deadline."""
    budget = MAX_WAIT_SECONDS if timeout is None else min(timeout, MAX_WAIT_SECONDS)
    if time_remaining is not None:
        budget = min(budget, time_remaining - DEADLINE_MARGIN_SECONDS)
    return max(budget, 0.0)


class RunHandler:
    """Carries out RunService calls.

    default_thread_ttl_us is the ttl of threads Chat makes when its request
    gives none (--default-thread-ttl); max_thread_ttl_us the longest ttl a
    request may give (--max-thread-ttl). None: no default, no cap.
    """

    def __init__(
        self,
        engine: RunEngine,
        *,
        default_thread_ttl_us: int | None = None,
        max_thread_ttl_us: int | None = None,
        webhook_addresses: AddressPolicy | None = None,
    ) -> None:
        self._engine = engine
        self._store = engine.store
        self._default_thread_ttl_us = default_thread_ttl_us
        self._max_thread_ttl_us = max_thread_ttl_us
        # Which addresses a run's own webhook_url may reach (--webhook-allow).
        self._webhook_addresses = webhook_addresses or AddressPolicy()

    # -- validation -----------------------------------------------------------

    def _check_create(
        self, tenant: str, found: Violations, request: run_pb2.CreateRunRequest
    ) -> None:
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.reference(found, "agent_id", request.agent_id, required=True)
        if len(request.input_messages) > MAX_INPUT_MESSAGES:
            found.add("input_messages", f"must have at most {MAX_INPUT_MESSAGES} messages")
        else:
            for index, message in enumerate(request.input_messages):
                validation.message_fields(found, f"input_messages[{index}]", message)
        validation.struct(found, "context", request.context)
        validation.struct(found, "metadata", request.metadata)
        if request.max_iterations and not 1 <= request.max_iterations <= MAX_ITERATIONS_LIMIT:
            found.add(
                "max_iterations",
                f"must be between 1 and {MAX_ITERATIONS_LIMIT}, or 0 for the agent's default",
            )
        self._check_tools(tenant, found, request.agent_id, request.tools)
        actions.check_client_tools(
            found,
            "client_tools",
            request.client_tools,
            self._engine.agents.tools_of(request.agent_id, tenant),
        )
        if request.multitask_strategy not in run_pb2.MultitaskStrategy.values():
            found.add("multitask_strategy", "must be REJECT, ENQUEUE, INTERRUPT or ROLLBACK")
        webhooks.check_run_webhook(found, "", request.webhook_url, request.webhook_secret)

    def _check_tools(
        self, tenant: str, found: Violations, agent_id: str, tools: Sequence[str]
    ) -> None:
        """Check the tools a run may use: at most MAX_TOOLS, each one the agent has."""
        if len(tools) > MAX_TOOLS:
            found.add("tools", f"must name at most {MAX_TOOLS} tools")
            return
        known_tools = self._engine.agents.tools_of(agent_id, tenant)
        for index, tool in enumerate(tools):
            validation.reference(found, f"tools[{index}]", tool, required=True)
            if known_tools is not None and tool and tool not in known_tools:
                found.add(
                    f"tools[{index}]",
                    f"agent {agent_id!r} has no tool {tool!r} "
                    f"(it has: {', '.join(known_tools) or 'none'})",
                )

    def _check_agent(self, tenant: str, agent_id: str) -> None:
        if not self._engine.agents.serves(agent_id, tenant):
            known = ", ".join(self._engine.agents.names(tenant))
            raise NotFoundError("agent", agent_id, hint=f"known agents: {known}")

    async def _check_runs_cap(self, tx: StoreTransaction) -> None:
        """Refuse a run when its tenant has as many in flight as it may (its cap)."""
        cap = self._engine.max_runs_in_flight
        if cap and await tx.count_runs_in_flight(cap) >= cap:
            raise ResourceExhaustedError(
                "TOO_MANY_RUNS",
                f"this tenant already has {cap} runs queued or running, its limit; "
                "wait for some to end (or cancel them) and retry",
                retry_after=RUNS_RETRY_SECONDS,
                metadata={"limit": str(cap)},
            )

    # -- calls ----------------------------------------------------------------

    def _new_run(self, request: run_pb2.CreateRunRequest) -> run_pb2.Run:
        """Return the run a request asks for, QUEUED, under a fresh id."""
        run = run_pb2.Run(
            run_id=ids.new_run_id(),
            agent_id=request.agent_id,
            status=run_pb2.RUN_STATUS_QUEUED,
            max_iterations=request.max_iterations
            or self._engine.agents.default_max_iterations(request.agent_id),
            tools=request.tools,
            multitask_strategy=request.multitask_strategy or run_pb2.MULTITASK_STRATEGY_REJECT,
            webhook_url=request.webhook_url,
        )
        run.context.CopyFrom(request.context)
        run.metadata.CopyFrom(request.metadata)
        run.client_tools.extend(request.client_tools)
        return run

    async def _queue(
        self,
        tx: StoreTransaction,
        thread: ThreadRef,
        run: run_pb2.Run,
        input_messages: Sequence[message_pb2.Message],
        *,
        webhook_secret: str = "",
    ) -> tuple[RunRecord, list[str]]:
        """Settle the runs in flight by the run's strategy, then queue it with its input.

        Returns the run as stored and the ids of the runs it ended. A run
        with a webhook_url gets its webhook, signed with webhook_secret.
        """
        strategy = run.multitask_strategy
        in_flight = await tx.runs_in_flight(thread)
        ended: list[str] = []
        if in_flight and strategy == run_pb2.MULTITASK_STRATEGY_REJECT:
            raise busy_error(thread.thread_id, [r.run.run_id for r in in_flight])
        if in_flight and strategy in _END_REASONS:
            code, template = _END_REASONS[strategy]
            for record in in_flight:
                await self._engine.log.end(
                    tx,
                    record,
                    Finish(run_pb2.RUN_STATUS_CANCELLED, code, template.format(run_id=run.run_id)),
                )
                ended.append(record.run.run_id)
            if strategy == run_pb2.MULTITASK_STRATEGY_ROLLBACK:
                deleted = await tx.delete_run_messages(thread, ended)
                if deleted:
                    await tx.touch_thread(thread, activity(thread, tx.now, -deleted))
        await self._check_runs_cap(tx)
        run.created_at.FromMicroseconds(tx.now)
        if run.webhook_url:
            await webhooks.attach_to_run(tx, thread, run, webhook_secret)
        record = await tx.insert_run(thread, run)
        created = run_pb2.RunEvent(run_id=run.run_id, type=event_types.RUN_CREATED, run=record.run)
        created.created_at.FromMicroseconds(tx.now)
        await tx.append_events(thread, [created])
        await add_messages(
            tx,
            thread,
            [
                new_message(message, thread.thread_id, run.run_id, tx.now)
                for message in input_messages
            ],
        )
        waiting = any(
            r.run.status == run_pb2.RUN_STATUS_REQUIRES_ACTION and r.run.run_id not in ended
            for r in in_flight
        )
        # A run queued behind one that waits for action leaves the thread INTERRUPTED.
        await tx.set_thread_status(
            thread,
            thread_pb2.THREAD_STATUS_INTERRUPTED if waiting else thread_pb2.THREAD_STATUS_BUSY,
        )
        return record, ended

    async def create_run(
        self, tenant: str, request: run_pb2.CreateRunRequest, *, method: str = "CreateRun"
    ) -> run_pb2.Run:
        """Validate, settle what runs in flight, and queue a run (once per request_id).

        method scopes the request_id: StreamRun's are apart from CreateRun's.
        """
        found = Violations()
        self._check_create(tenant, found, request)
        if method == "StreamRun":
            check_event_types(found, "stream_event_types", request.stream_event_types)
        elif request.stream_event_types:
            found.add("stream_event_types", "is for StreamRun only; CreateRun streams nothing")
        once = idempotency.attempt(found, method, request)
        found.raise_if_any()
        self._check_agent(tenant, request.agent_id)
        if request.webhook_url:
            await webhooks.check_address(
                self._webhook_addresses, "webhook_url", request.webhook_url
            )
        run = self._new_run(request)

        async def work(tx: StoreTransaction) -> tuple[RunRecord, list[str] | None]:
            thread = await tx.thread(request.thread_id)
            earlier = await idempotency.earlier(tx, once)
            if earlier is not None:
                with request_fields(run="request_id"):
                    return await tx.run(earlier.resource_id), None
            queued = await self._queue(
                tx, thread, run, request.input_messages, webhook_secret=request.webhook_secret
            )
            await idempotency.remember(
                tx, once, thread_id=request.thread_id, resource_id=run.run_id
            )
            return queued

        record, ended = await self._store.transaction(tenant, work)
        if ended is not None:  # None: a retry, which started nothing
            await self._engine.ended_elsewhere(tenant, ended, request.thread_id)
        return record.run

    async def get_run(self, tenant: str, request: run_pb2.GetRunRequest) -> run_pb2.Run:
        """Return one run."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        found.raise_if_any()
        return await self._store.get_run(tenant, request.run_id)

    async def list_runs(
        self, tenant: str, request: run_pb2.ListRunsRequest
    ) -> run_pb2.ListRunsResponse:
        """Return one page of a thread's runs."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        descending = paging.order(
            found,
            request.order_by,
            _RUN_ORDERS,
            "must be 'created_at desc' (newest first) or 'created_at'",
        )
        size, cursor, key = paging.start(
            found,
            request.page_size,
            request.page_token,
            None if descending is None else ("runs", request.thread_id, descending),
        )
        found.raise_if_any()
        page = await self._store.list_runs(
            tenant,
            RunPageQuery(
                thread_id=request.thread_id,
                descending=bool(descending),
                limit=size,
                after=cursor,
                max_bytes=sizes.REPLY_BYTES,
            ),
        )
        return run_pb2.ListRunsResponse(
            runs=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )

    async def cancel_run(self, tenant: str, request: run_pb2.CancelRunRequest) -> run_pb2.Run:
        """Cancel a run in flight; return a finished one as it ended."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> tuple[RunRecord, bool]:
            record = await tx.run(request.run_id)
            if is_over(record.run.status):
                return record, False
            ended = await self._engine.log.end(
                tx,
                record,
                Finish(
                    run_pb2.RUN_STATUS_CANCELLED, "CANCELLED_BY_CLIENT", "cancelled by a client"
                ),
            )
            return ended, True

        record, cancelled = await self._store.transaction(tenant, work)
        if cancelled:
            await self._engine.ended_elsewhere(tenant, [record.run.run_id], record.thread.thread_id)
        return record.run

    async def resume_run(self, tenant: str, request: run_pb2.ResumeRunRequest) -> run_pb2.Run:
        """Answer a run waiting in REQUIRES_ACTION and queue it to go on (once per request_id)."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        once = idempotency.attempt(found, "ResumeRun", request)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> tuple[RunRecord, bool]:
            record = await tx.run(request.run_id)
            earlier = await idempotency.earlier(tx, once)
            if earlier is not None:  # a retry: the run as it is now
                return record, False
            if record.run.status != run_pb2.RUN_STATUS_REQUIRES_ACTION:
                raise actions.not_waiting(record.run)
            answers = Violations()
            response = actions.check_response(answers, record.run.required_action, request)
            answers.raise_if_any()
            resumed = await self._engine.log.resume(tx, record, response)
            await idempotency.remember(
                tx, once, thread_id=record.thread.thread_id, resource_id=record.run.run_id
            )
            return resumed, True

        record, resumed = await self._store.transaction(tenant, work)
        if resumed:
            await self._engine.resumed(tenant, record.thread.thread_id)
        return record.run

    async def wait_run(
        self, tenant: str, request: run_pb2.WaitRunRequest, time_remaining: float | None
    ) -> run_pb2.Run:
        """Wait for a run to end, within the timeout and the call's deadline."""
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        timeout: float | None = None
        if request.HasField("timeout") and validation.duration(found, "timeout", request.timeout):
            timeout = request.timeout.ToMicroseconds() / 1e6
            if timeout < 0 or timeout > MAX_WAIT_SECONDS:
                found.add("timeout", "must be between 0 and 1 hour")
        found.raise_if_any()
        return await self._engine.ends.wait(
            tenant, request.run_id, wait_budget(timeout, time_remaining)
        )

    def wire(self, event: run_pb2.RunEvent) -> bytes:
        """Return an event serialized, as the event bus made it once for every reader."""
        return self._engine.bus.wire(event)

    async def stream_run_events(
        self, tenant: str, request: run_pb2.StreamRunEventsRequest
    ) -> AsyncIterator[run_pb2.RunEvent]:
        """Yield a run's stored events after the cursor, then live ones, to its end."""
        async for batch in self.stream_run_event_batches(tenant, request):
            for event in batch:
                yield event

    async def stream_run_event_batches(
        self, tenant: str, request: run_pb2.StreamRunEventsRequest, *, pace: bool = False
    ) -> AsyncIterator[list[run_pb2.RunEvent]]:
        """Yield the events of stream_run_events in batches: what was ready at once.

        With pace, a live reader waits a little to take more at once (EventBus.follow_batches).
        """
        found = Violations()
        validation.resource_id(found, "run_id", request.run_id)
        _check_cursor(found, request.after_event_id)
        types = check_event_types(found, "event_types", request.event_types)
        found.raise_if_any()
        run = await self._store.get_run(tenant, request.run_id)
        async for batch in self._engine.bus.follow_batches(
            tenant,
            run.thread_id,
            after=request.after_event_id,
            run_id=request.run_id,
            until=ends_run,
            finished=self._engine.ends.checker(tenant, request.run_id, run.thread_id),
            types=types,
            pace=pace,
        ):
            yield batch

    async def stream_run(
        self, tenant: str, request: run_pb2.CreateRunRequest
    ) -> AsyncIterator[run_pb2.RunEvent]:
        """Create a run, then stream its events from the first."""
        run = await self.create_run(tenant, request, method="StreamRun")
        async for event in self._engine.bus.follow(
            tenant,
            run.thread_id,
            after=0,
            run_id=run.run_id,
            until=ends_run,
            finished=self._engine.ends.checker(tenant, run.run_id, run.thread_id),
            types=frozenset(request.stream_event_types) or None,
        ):
            yield event

    async def watch_thread(
        self, tenant: str, request: run_pb2.WatchThreadRequest
    ) -> AsyncIterator[run_pb2.RunEvent]:
        """Yield every event of a thread after the cursor, live, until the caller leaves."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        _check_cursor(found, request.after_event_id)
        types = check_event_types(found, "event_types", request.event_types)
        found.raise_if_any()
        await self._store.get_thread(tenant, request.thread_id)
        async for event in self._engine.bus.follow(
            tenant, request.thread_id, after=request.after_event_id, types=types
        ):
            yield event

    def _chat_ttl(
        self, found: Violations, request: run_pb2.ChatRequest
    ) -> duration_pb2.Duration | None:
        """Return the ttl of the thread a chat makes: the request's, or the server's default."""
        if not request.HasField("ttl"):
            if self._default_thread_ttl_us is None:
                return None
            default = duration_pb2.Duration()
            default.FromMicroseconds(self._default_thread_ttl_us)
            return default
        if request.thread_id:
            found.add("ttl", "is for the thread Chat makes; UpdateThread changes a thread's ttl")
            return None
        validation.ttl(found, "ttl", request.ttl)
        check_ttl_cap(found, "ttl", request.ttl, self._max_thread_ttl_us)
        return request.ttl

    async def chat(
        self, tenant: str, request: run_pb2.ChatRequest, time_remaining: float | None
    ) -> run_pb2.ChatResponse:
        """One call: a thread if needed, the user's message, a run, and its answer.

        The thread, the message and the run are made in one transaction, once
        per request_id; a retry waits for the first call's run.
        """
        found = Violations()
        message = message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=request.message)]
        )
        if not request.message:
            found.add("message", "is required")
        else:
            validation.message_size(found, "message", message)
        validation.reference(found, "agent_id", request.agent_id, required=True)
        validation.client_chosen_id(found, "thread_id", request.thread_id)
        validation.struct(found, "context", request.context)
        if request.max_iterations and not 1 <= request.max_iterations <= MAX_ITERATIONS_LIMIT:
            found.add("max_iterations", f"must be between 1 and {MAX_ITERATIONS_LIMIT}")
        self._check_tools(tenant, found, request.agent_id, request.tools)
        actions.check_client_tools(
            found,
            "client_tools",
            request.client_tools,
            self._engine.agents.tools_of(request.agent_id, tenant),
        )
        ttl = self._chat_ttl(found, request)
        webhooks.check_run_webhook(found, "", request.webhook_url, request.webhook_secret)
        once = idempotency.attempt(found, "Chat", request)
        found.raise_if_any()
        self._check_agent(tenant, request.agent_id)
        if request.webhook_url:
            await webhooks.check_address(
                self._webhook_addresses, "webhook_url", request.webhook_url
            )
        run = self._new_run(
            run_pb2.CreateRunRequest(
                agent_id=request.agent_id,
                context=request.context if request.HasField("context") else struct_pb2.Struct(),
                max_iterations=request.max_iterations,
                tools=request.tools,
                multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
                client_tools=request.client_tools,
                webhook_url=request.webhook_url,
            )
        )

        async def work(tx: StoreTransaction) -> tuple[str, str, list[str] | None]:
            earlier = await idempotency.earlier(tx, once)
            if earlier is not None:
                return earlier.thread_id, earlier.resource_id, None
            thread_id = request.thread_id
            if not thread_id:
                thread_id = ids.new_thread_id()
                fields = thread_pb2.Thread(agent_id=request.agent_id)
                if ttl is not None:
                    fields.ttl.CopyFrom(ttl)
                await create_thread(tx, fields, thread_id, reuse_existing=False, fresh_id=True)
            _, ended = await self._queue(
                tx,
                await tx.thread(thread_id),
                run,
                [message],
                webhook_secret=request.webhook_secret,
            )
            await idempotency.remember(tx, once, thread_id=thread_id, resource_id=run.run_id)
            return thread_id, run.run_id, ended

        thread_id, run_id, ended = await self._store.transaction(tenant, work)
        if ended is not None:  # None: a retry, which started nothing
            await self._engine.ended_elsewhere(tenant, ended, thread_id)
        with request_fields(run="request_id"):
            run = await self._engine.ends.wait(tenant, run_id, wait_budget(None, time_remaining))
        response = run_pb2.ChatResponse(
            thread_id=thread_id,
            run_id=run.run_id,
            response=run.response,
            tool_calls=run.tool_calls,
            iterations=run.iterations,
            status=run.status,
            usage=run.usage,
        )
        if run.HasField("error"):
            response.error.CopyFrom(run.error)
        return response
