"""What a run's steps change, as pure functions: the run and its steps in, rows and events out.

An agent (in this process or a worker) reports steps: an iteration began, a
chunk of text, tokens used, a tool call began or ended, a change of the
thread's state, the end. Each function here takes the run as stored, what
its log says is under way (RunProgress), the steps and the time, and
returns RunChanges: the run after them, the messages and checkpoints to
append and every event, in order. Nothing here reads or writes; run_log
writes the changes in one transaction, and reads what changes of the state
need (a StateContext) in it first. The inputs are never modified.

A run that ends FAILED or CANCELLED after changing the state puts it back
as it was just before its first change: one more checkpoint (source
RESTORE), with its state.updated event just before the run's final event.

What agents produce is held to the limits clients are (domain.sizes): every
message a run writes, its streamed answer included, is at most
MAX_MESSAGE_BYTES, and a run makes at most MAX_TOOL_CALLS tool calls. A step
that would break one raises StepRefused, and its whole batch is written
nothing of.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from google.protobuf import struct_pb2
from threadline.v1 import message_pb2, run_pb2, thread_pb2

from threadline_server import ids
from threadline_server.domain import actions, event_types, sizes, state
from threadline_server.domain.agents import IterationStarted, StateUpdate, TextDelta, UsageReport
from threadline_server.domain.messages import message_events
from threadline_server.domain.run_end import FINAL_EVENT_TYPES, has_started, is_over
from threadline_server.domain.state import StateContext, StateRefused
from threadline_server.errors import Violations
from threadline_server.store.records import RunRecord


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
class Pause:
    """The run pauses in REQUIRES_ACTION for what action asks (checked by domain.actions).

    The action has its id and its tool calls theirs; the pause stamps its
    expire_time, timeout_us after the time it is recorded.
    """

    action: run_pb2.RequiredAction
    timeout_us: int


@dataclass(frozen=True)
class Finish:
    """The run is over, as its agent says (or as whoever ends it says)."""

    status: int
    error_code: str = ""
    error_message: str = ""


Step = (
    IterationStarted
    | TextDelta
    | UsageReport
    | ToolCallStart
    | ToolCallEnd
    | StateUpdate
    | Pause
    | Finish
)

# The statuses whose end undoes the run's changes to the state.
RESTORING_STATUSES = frozenset({run_pb2.RUN_STATUS_FAILED, run_pb2.RUN_STATUS_CANCELLED})

# The most tool calls one run makes: a run and its events stay well under
# what a client accepts (each record is at most about 400 bytes).
MAX_TOOL_CALLS = 1000
# Token counts add up to at most this, so their sum still fits an int64.
MAX_TOKENS = 2**62 - 1
# The longest error code and message a run keeps (RunError in run.proto).
MAX_ERROR_CODE = 128
MAX_ERROR_MESSAGE = 1024


class StepRefused(Exception):  # noqa: N818 - a refusal, not a failure of the server
    """A step would break a limit on what a run writes; nothing of its batch is written.

    index is the step's place in the batch it came in (apply_steps sets it).
    """

    def __init__(self, step: Step, description: str) -> None:
        super().__init__(description)
        self.step = step
        self.description = description
        self.index = 0


@dataclass
class OpenMessage:
    """The message an agent is streaming: its id, and the text so far."""

    message_id: str
    text: list[str] = field(default_factory=list)
    # The bytes of the text so far (UTF-8), for the limit on a message's size.
    text_bytes: int = 0


@dataclass
class RunProgress:
    """What a run's event log says is under way: a message being streamed, tool calls begun.

    It follows from the run's events alone (advance), so it is rebuilt by
    replaying the log after a restart, and kept current from committed events.
    """

    thread_id: str
    open_message: OpenMessage | None = None
    calls: dict[str, message_pb2.ToolCall] = field(default_factory=dict)

    def copy(self) -> RunProgress:
        """Return a copy that can change without changing this one."""
        open_message = self.open_message
        return RunProgress(
            self.thread_id,
            None
            if open_message is None
            else OpenMessage(
                open_message.message_id, [*open_message.text], open_message.text_bytes
            ),
            dict(self.calls),
        )


def advance(progress: RunProgress, event: run_pb2.RunEvent) -> None:
    """Take one more of the run's events into account."""
    if event.type == event_types.MESSAGE_CREATED and not event.message.parts:
        progress.open_message = OpenMessage(event.message.message_id)
    elif event.type == event_types.MESSAGE_DELTA and progress.open_message is not None:
        progress.open_message.text.append(event.delta.text)
        progress.open_message.text_bytes += len(event.delta.text.encode())
    elif event.type == event_types.MESSAGE_COMPLETED:
        progress.open_message = None
    elif event.type == event_types.TOOL_CALL_STARTED:
        progress.calls[event.tool_call.call.id] = event.tool_call.call


@dataclass
class RunChanges:
    """What to write for a run: its row (when save_run), new messages and checkpoints, events."""

    record: RunRecord
    messages: list[message_pb2.Message] = field(default_factory=list)
    checkpoints: list[thread_pb2.ThreadCheckpoint] = field(default_factory=list)
    events: list[run_pb2.RunEvent] = field(default_factory=list)
    save_run: bool = False

    @property
    def ended(self) -> bool:
        """Tell whether these changes end the run."""
        return is_over(self.record.run.status)

    @property
    def paused(self) -> bool:
        """Tell whether these changes leave the run waiting in REQUIRES_ACTION."""
        return self.record.run.status == run_pb2.RUN_STATUS_REQUIRES_ACTION


def start(
    record: RunRecord,
    now: int,
    *,
    lease_id: str | None = None,
    lease_duration_us: int | None = None,
    worker_id: str = "",
) -> RunChanges:
    """Start a queued run: RUNNING, with a lease when a worker holds it."""
    recording = _Recording(record, RunProgress(record.thread.thread_id), now)
    run = recording.record.run
    run.status = run_pb2.RUN_STATUS_RUNNING
    if not run.HasField("started_at"):  # a resumed run keeps when it first started
        run.started_at.FromMicroseconds(now)
    recording.record.lease_id = lease_id
    recording.record.lease_duration_us = lease_duration_us
    recording.record.lease_expires_at = now + lease_duration_us if lease_duration_us else None
    recording.record.worker_id = worker_id
    recording.changes.save_run = True
    recording.emit(run_pb2.RunEvent(run_id=run.run_id, type=event_types.RUN_STARTED, run=run))
    return recording.changes


def resume(
    record: RunRecord, progress: RunProgress, response: run_pb2.ActionResponse, now: int
) -> RunChanges:
    """Resume a run waiting in REQUIRES_ACTION: outputs of its client tool calls, QUEUED again.

    Each output ends its tool call as a tool's result does (tool_call.completed
    and a tool message); run.resumed follows, with the run holding the
    response, and the run is QUEUED to go on (started here or claimed).
    """
    recording = _Recording(record, progress, now)
    for result in response.tool_outputs:
        recording.apply(ToolCallEnd(result, 0, ""))
    run = recording.record.run
    run.status = run_pb2.RUN_STATUS_QUEUED
    run.action_response.CopyFrom(response)
    recording.changes.save_run = True
    recording.emit(run_pb2.RunEvent(run_id=run.run_id, type=event_types.RUN_RESUMED, run=run))
    return recording.changes


def needs_state(steps: Sequence[Step]) -> bool:
    """Tell whether applying steps needs a StateContext: they change the state, or may undo it."""
    return any(
        isinstance(step, StateUpdate)
        or (isinstance(step, Finish) and step.status in RESTORING_STATUSES)
        for step in steps
    )


def apply_steps(
    record: RunRecord,
    progress: RunProgress,
    steps: Sequence[Step],
    now: int,
    *,
    state_context: StateContext | None = None,
    new_message_id: Callable[[], str] = ids.new_message_id,
) -> RunChanges:
    """Apply a running run's steps; renew its lease, if it has one.

    A step that ends the run (Finish, or one IterationStarted too many)
    makes every later step moot. state_context is required when
    needs_state(steps).
    """
    recording = _Recording(record, progress, now, new_message_id, state_context)
    if record.lease_duration_us:
        recording.record.lease_expires_at = now + record.lease_duration_us
        recording.changes.save_run = True
    for index, step in enumerate(steps):
        try:
            ended = recording.apply(step)
        except StepRefused as refused:
            refused.index = index
            raise
        if ended:
            break
    return recording.changes


def end(
    record: RunRecord,
    progress: RunProgress | None,
    finish: Finish,
    now: int,
    *,
    state_context: StateContext | None = None,
) -> RunChanges:
    """End a run in flight, whoever ends it; a half-streamed answer is stored first.

    progress is needed for a RUNNING run only (a queued one streamed nothing),
    and so is state_context, for an end FAILED or CANCELLED (a queued run
    changed no state).
    """
    recording = _Recording(
        record, progress or RunProgress(record.thread.thread_id), now, state_context=state_context
    )
    recording.end(finish)
    return recording.changes


class _Recording:
    """The changes being built from one batch of steps, and the state they lead to."""

    def __init__(
        self,
        record: RunRecord,
        progress: RunProgress,
        now: int,
        new_message_id: Callable[[], str] = ids.new_message_id,
        state_context: StateContext | None = None,
    ) -> None:
        run = run_pb2.Run()
        run.CopyFrom(record.run)
        self.record = dataclasses.replace(record, run=run)
        self.progress = progress.copy()
        self.now = now
        self.new_message_id = new_message_id
        self.changes = RunChanges(self.record)
        # The state as the steps change it, with the newest message so far.
        self.state = state_context

    def emit(self, event: run_pb2.RunEvent) -> None:
        """Add an event, stamped with the time, and follow it in the progress."""
        event.created_at.FromMicroseconds(self.now)
        self.changes.events.append(event)
        advance(self.progress, event)

    def add_message(
        self, message: message_pb2.Message, step: Step, *, streamed: bool = False
    ) -> None:
        """Add a message of the run, with its events; refuse one over MAX_MESSAGE_BYTES."""
        size = sizes.message_size(message)
        # An end is never refused: a run must always be able to end, and the
        # answer it closes was checked delta by delta.
        if size > sizes.MAX_MESSAGE_BYTES and not isinstance(step, Finish):
            raise StepRefused(
                step,
                f"makes a message of {size} bytes; a message is at most "
                f"{sizes.MAX_MESSAGE_BYTES} bytes",
            )
        self.changes.messages.append(message)
        if self.state is not None:
            self.state = dataclasses.replace(self.state, last_message_id=message.message_id)
        for event in message_events(message, self.now, streamed=streamed):
            self.emit(event)

    def message(
        self, role: message_pb2.MessageRole.ValueType, part: message_pb2.Part, message_id: str = ""
    ) -> message_pb2.Message:
        """Return a message of this run, stored now."""
        message = message_pb2.Message(
            message_id=message_id or self.new_message_id(),
            thread_id=self.record.thread.thread_id,
            role=role,
            parts=[part],
            run_id=self.record.run.run_id,
        )
        message.metadata.SetInParent()
        message.created_at.FromMicroseconds(self.now)
        message.updated_at.FromMicroseconds(self.now)
        return message

    def apply(self, step: Step) -> bool:
        """Apply one step; return True when it ended the run."""
        run = self.record.run
        if isinstance(step, Finish):
            self.end(step)
            return True
        if isinstance(step, Pause):
            self._pause(step)
            return True
        if isinstance(step, IterationStarted):
            if run.iterations >= run.max_iterations:
                self.end(Finish(run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED))
                return True
            run.iterations += 1
            self.changes.save_run = True
        elif isinstance(step, TextDelta):
            self._text(step)
        elif isinstance(step, UsageReport):
            run.usage.prompt_tokens = min(
                run.usage.prompt_tokens + max(step.prompt_tokens, 0), MAX_TOKENS
            )
            run.usage.completion_tokens = min(
                run.usage.completion_tokens + max(step.completion_tokens, 0), MAX_TOKENS
            )
            run.usage.total_tokens = run.usage.prompt_tokens + run.usage.completion_tokens
            self.changes.save_run = True
        elif isinstance(step, ToolCallStart):
            self._tool_call_start(step)
        elif isinstance(step, StateUpdate):
            self._state_update(step)
        else:
            self._tool_call_end(step)
        return False

    def _checkpoint(
        self, values: struct_pb2.Struct, source: thread_pb2.CheckpointSource.ValueType
    ) -> None:
        """Add a checkpoint of the state, made by this run, and its state.updated event."""
        context = self.state
        if context is None:
            raise RuntimeError("the state changes without its context (run_log reads it)")
        checkpoint = state.new_checkpoint(
            self.record.thread,
            context,
            values,
            self.now,
            source=source,
            run_id=self.record.run.run_id,
        )
        self.changes.checkpoints.append(checkpoint)
        self.emit(state.updated_event(checkpoint))
        # The state before the run's first change is what its failure restores.
        restore = context.values if context.restore is None else context.restore
        self.state = dataclasses.replace(
            context, values=values, checkpoint_id=checkpoint.checkpoint_id, restore=restore
        )

    def _state_update(self, step: StateUpdate) -> None:
        if self.state is None:
            raise RuntimeError("a state update without its context (run_log reads it)")
        values = struct_pb2.Struct()
        try:
            values.update(dict(step.values))
        except (TypeError, ValueError) as error:
            raise StepRefused(step, f"sets state values that are not JSON: {error}") from None
        found = Violations()
        paths = state.check_change(found, "values", "update_mask", values, list(step.update_mask))
        if found.items:
            problem = found.items[0]
            raise StepRefused(
                step, f"changes the state wrongly: {problem.field} {problem.description}"
            )
        changed = state.apply(self.state.values, values, paths)
        try:
            state.check_result("values", changed)
        except StateRefused as refused:
            raise StepRefused(step, refused.description) from None
        self._checkpoint(changed, thread_pb2.CHECKPOINT_SOURCE_RUN)

    def _text(self, step: TextDelta) -> None:
        # Text deltas only add events: the run's row needs no update for them.
        if not step.text:
            return
        run = self.record.run
        so_far = 0 if self.progress.open_message is None else self.progress.open_message.text_bytes
        size = sizes.text_message_size(so_far + len(step.text.encode()))
        if size > sizes.MAX_MESSAGE_BYTES:
            raise StepRefused(
                step,
                f"takes the answer to {size} bytes; it is one message, at most "
                f"{sizes.MAX_MESSAGE_BYTES} bytes",
            )
        if self.progress.open_message is None:
            self.emit(
                run_pb2.RunEvent(
                    run_id=run.run_id,
                    type=event_types.MESSAGE_CREATED,
                    message=message_pb2.Message(
                        message_id=self.new_message_id(),
                        thread_id=self.record.thread.thread_id,
                        role=message_pb2.MESSAGE_ROLE_AGENT,
                        run_id=run.run_id,
                    ),
                )
            )
        assert self.progress.open_message is not None  # noqa: S101 - message.created opened it
        self.emit(
            run_pb2.RunEvent(
                run_id=run.run_id,
                type=event_types.MESSAGE_DELTA,
                delta=run_pb2.MessageDelta(
                    message_id=self.progress.open_message.message_id, text=step.text
                ),
            )
        )

    def _count_tool_call(self, step: Step) -> None:
        if len(self.record.run.tool_calls) >= MAX_TOOL_CALLS:
            raise StepRefused(step, f"a run makes at most {MAX_TOOL_CALLS} tool calls")

    def _tool_call_start(self, step: ToolCallStart) -> None:
        run = self.record.run
        self._count_tool_call(step)
        self.close_message(step)
        self.add_message(
            self.message(message_pb2.MESSAGE_ROLE_AGENT, message_pb2.Part(tool_call=step.call)),
            step,
        )
        entry = run.tool_calls.add(
            tool_call_id=step.call.id,
            tool=step.call.name,
            status=run_pb2.TOOL_CALL_STATUS_RUNNING,
        )
        self.changes.save_run = True
        self.emit(
            run_pb2.RunEvent(
                run_id=run.run_id,
                type=event_types.TOOL_CALL_STARTED,
                tool_call=run_pb2.ToolCallEvent(call=step.call, record=entry),
            )
        )

    def _tool_call_end(self, step: ToolCallEnd) -> None:
        run = self.record.run
        call_id = step.result.tool_call_id
        found = next((c for c in run.tool_calls if c.tool_call_id == call_id), None)
        if found is None:
            self._count_tool_call(step)
        entry = found if found is not None else run.tool_calls.add(tool_call_id=call_id)
        entry.status = (
            run_pb2.TOOL_CALL_STATUS_FAILED
            if step.error_code or step.result.is_error
            else run_pb2.TOOL_CALL_STATUS_SUCCEEDED
        )
        entry.duration_ms = max(step.duration_ms, 0)
        entry.error_code = step.error_code or ("TOOL_ERROR" if step.result.is_error else "")
        self.changes.save_run = True
        self.emit(
            run_pb2.RunEvent(
                run_id=run.run_id,
                type=event_types.TOOL_CALL_COMPLETED,
                tool_call=run_pb2.ToolCallEvent(
                    call=self.progress.calls.get(call_id, message_pb2.ToolCall(id=call_id)),
                    record=entry,
                    result=step.result,
                ),
            )
        )
        self.add_message(
            self.message(message_pb2.MESSAGE_ROLE_TOOL, message_pb2.Part(tool_result=step.result)),
            step,
        )

    def _pause(self, step: Pause) -> None:
        """Pause the run: its answer so far stored, its client tool calls begun, no lease."""
        run = self.record.run
        found = Violations()
        actions.check_request(found, "requires_action", step.action, run.client_tools)
        if found.items:
            problem = found.items[0]
            raise StepRefused(step, f"{problem.field} {problem.description}")
        self.close_message(step)
        for call in step.action.tool_calls.calls:
            self._tool_call_start(ToolCallStart(call))
        run.status = run_pb2.RUN_STATUS_REQUIRES_ACTION
        run.required_action.CopyFrom(step.action)
        run.required_action.expire_time.FromMicroseconds(self.now + step.timeout_us)
        run.ClearField("action_response")
        self.record.lease_id = None
        self.record.lease_expires_at = None
        self.record.lease_duration_us = None
        self.changes.save_run = True
        self.emit(
            run_pb2.RunEvent(run_id=run.run_id, type=event_types.RUN_REQUIRES_ACTION, run=run)
        )

    def close_message(self, step: Step) -> None:
        """Store the message the agent was streaming, as one text part; it is the run's answer."""
        open_message = self.progress.open_message
        if open_message is None:
            return
        text = "".join(open_message.text)
        self.add_message(
            self.message(
                message_pb2.MESSAGE_ROLE_AGENT,
                message_pb2.Part(text=text),
                open_message.message_id,
            ),
            step,
            streamed=True,
        )
        self.record.run.response = text

    def end(self, finish: Finish) -> None:
        """Set the run's final state and its final event, once."""
        run = self.record.run
        if has_started(run.status):
            self.close_message(finish)
        if (
            finish.status in RESTORING_STATUSES
            and self.state is not None
            and self.state.restore is not None
        ):
            self._checkpoint(self.state.restore, thread_pb2.CHECKPOINT_SOURCE_RESTORE)
        run.status = finish.status  # type: ignore[assignment]
        run.ended_at.FromMicroseconds(self.now)
        if finish.error_code:
            run.error.code = finish.error_code[:MAX_ERROR_CODE]
            run.error.message = (finish.error_message or finish.error_code)[:MAX_ERROR_MESSAGE]
        for call in run.tool_calls:
            if call.status == run_pb2.TOOL_CALL_STATUS_RUNNING:
                call.status = run_pb2.TOOL_CALL_STATUS_FAILED
                call.error_code = "RUN_ENDED"
        self.record.lease_id = None
        self.record.lease_expires_at = None
        self.changes.save_run = True
        self.emit(
            run_pb2.RunEvent(run_id=run.run_id, type=FINAL_EVENT_TYPES[finish.status], run=run)
        )
