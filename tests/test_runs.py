"""RunService against the real in-process server over a real SQLite file.

Every test asserts what the proto comments in protos/threadline/v1/run.proto
document, driving the built-in agents (``echo`` and ``tools-demo``) and, for
failures, an agent defined here and loaded by the server by name
(``tests.test_runs:FailingAgent``). Waits are on events, never on fixed
sleeps, except where the point is that nothing more happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import grpc
import pytest
from google.protobuf import duration_pb2, json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.domain.agents import (
    AgentEvent,
    AgentFailure,
    AgentInput,
    IterationStarted,
    TextDelta,
    ToolOutcome,
    UsageReport,
)
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RpcFailure, RunningServer, connect, expect_failure, failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

if TYPE_CHECKING:
    from threadline.v1.run_pb2_grpc import RunServiceAsyncStub as Runs

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
RUN_ID = re.compile(r"run_[0-9a-z]{26}")
UNKNOWN_THREAD = "thr_0000000000000000000000zzzz"
UNKNOWN_RUN = "run_0000000000000000000000zzzz"

USER = message_pb2.MESSAGE_ROLE_USER
AGENT = message_pb2.MESSAGE_ROLE_AGENT
TOOL = message_pb2.MESSAGE_ROLE_TOOL

QUEUED = run_pb2.RUN_STATUS_QUEUED
RUNNING = run_pb2.RUN_STATUS_RUNNING
COMPLETED = run_pb2.RUN_STATUS_COMPLETED
MAX_ITERATIONS_REACHED = run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED
FAILED = run_pb2.RUN_STATUS_FAILED
CANCELLED = run_pb2.RUN_STATUS_CANCELLED

REJECT = run_pb2.MULTITASK_STRATEGY_REJECT
ENQUEUE = run_pb2.MULTITASK_STRATEGY_ENQUEUE
INTERRUPT = run_pb2.MULTITASK_STRATEGY_INTERRUPT
ROLLBACK = run_pb2.MULTITASK_STRATEGY_ROLLBACK

IDLE = thread_pb2.THREAD_STATUS_IDLE
BUSY = thread_pb2.THREAD_STATUS_BUSY
ERROR = thread_pb2.THREAD_STATUS_ERROR

FINAL_TYPES = {
    "run.completed",
    "run.max_iterations_reached",
    "run.failed",
    "run.cancelled",
}
# The longest any single event may take to arrive before a test gives up.
EVENT_WAIT = 10.0


# -- an agent the server loads from this module --------------------------------


class FailingAgent:
    """Starts an answer, then fails: with AgentFailure, or a plain exception when asked."""

    name: str = "failing"
    default_max_iterations: int = 3
    tools: Sequence[str] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Yield one iteration and some text, then fail."""
        yield IterationStarted()
        yield TextDelta("partial answer")
        yield UsageReport(prompt_tokens=3, completion_tokens=2)
        if request.context.get("crash"):
            raise RuntimeError("the model crashed")
        raise AgentFailure("MODEL_UNAVAILABLE", "the model is unavailable")


# -- fixtures --------------------------------------------------------------------


@pytest.fixture
def runs(server: RunningServer) -> Runs:
    """A RunService stub on the in-process server's channel."""
    return run_pb2_grpc.RunServiceStub(server.client.channel)


@pytest.fixture
async def strict_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A server with a 0.3 s run timeout and the failing agent of this module."""
    database = tmp_path / "strict.db"
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            database=str(database),
            grace_period=1.0,
            http_listen="",
            run_timeout=0.3,
            agents=("failing=tests.test_runs:FailingAgent",),
        )
    )
    port = await instance.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        yield RunningServer(instance, client, database)
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


# -- helpers -----------------------------------------------------------------------


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """Return a Struct holding a plain JSON object."""
    result = struct_pb2.Struct()
    result.update(values)
    return result


def user(text: str) -> message_pb2.Message:
    """Return a user message with one text part."""
    return message_pb2.Message(role=USER, parts=[message_pb2.Part(text=text)])


def words(count: int) -> str:
    """Return a sentence of `count` distinct words."""
    return " ".join(f"w{i}" for i in range(count))


def slow(delay_ms: int) -> struct_pb2.Struct:
    """Return a run context that makes the built-in agents pause before each delta."""
    return struct({"delay_ms": delay_ms})


def micros(run: run_pb2.Run, name: Literal["created_at", "started_at", "ended_at"]) -> int:
    """Return one of a run's timestamps (which must be set) in microseconds."""
    assert run.HasField(name), f"{name} is not set"
    value: int = getattr(run, name).ToMicroseconds()
    return value


async def new_thread(client: Any) -> str:
    """Create a thread and return its id."""
    thread: thread_pb2.Thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    return thread.thread_id


async def thread_status(client: Any, thread_id: str) -> int:
    """Return a thread's status."""
    thread: thread_pb2.Thread = await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id)
    )
    return thread.status


async def messages_of(client: Any, thread_id: str) -> list[message_pb2.Message]:
    """Return every message of a (small) thread, oldest first."""
    page: message_pb2.ListMessagesResponse = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100)
    )
    assert not page.next_page_token
    return list(page.messages)


async def start(
    runs: Runs,
    thread_id: str,
    text: str | None,
    *,
    agent: str = "echo",
    **fields: Any,
) -> run_pb2.Run:
    """Create a run with one user input message (none when text is None)."""
    request = run_pb2.CreateRunRequest(thread_id=thread_id, agent_id=agent, **fields)
    if text is not None:
        request.input_messages.append(user(text))
    return await runs.CreateRun(request)


async def wait(runs: Runs, run_id: str) -> run_pb2.Run:
    """Wait for a run to end (bounded), and return it."""
    run = await runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=run_id, timeout=duration_pb2.Duration(seconds=15)),
        timeout=20,
    )
    assert run.status not in (QUEUED, RUNNING), run
    return run


async def cancel(runs: Runs, run_id: str) -> run_pb2.Run:
    """Cancel a run and return it once it has ended.

    A running run "stops at its next step", so CancelRun may answer before
    the run has ended; either way it must end CANCELLED.
    """
    answered = await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run_id))
    assert answered.status in (RUNNING, CANCELLED), answered
    run = await wait(runs, run_id)
    assert run.status == CANCELLED, run
    return run


async def next_event(call: Any) -> run_pb2.RunEvent | None:
    """Read one event from a stream, or None at its end; never wait for ever."""
    item = await asyncio.wait_for(call.read(), EVENT_WAIT)
    # Anything else is grpc.aio.EOF (which grpc-stubs does not declare).
    return item if isinstance(item, run_pb2.RunEvent) else None


async def drain(call: Any) -> list[run_pb2.RunEvent]:
    """Read a stream to its end."""
    events: list[run_pb2.RunEvent] = []
    while (event := await next_event(call)) is not None:
        events.append(event)
    return events


async def read_until(call: Any, done: Callable[[run_pb2.RunEvent], bool]) -> list[run_pb2.RunEvent]:
    """Read a stream up to and including the first event for which done is true."""
    events: list[run_pb2.RunEvent] = []
    while True:
        event = await next_event(call)
        assert event is not None, f"the stream ended early after {[e.type for e in events]}"
        events.append(event)
        if done(event):
            return events


async def take(call: Any, count: int) -> list[run_pb2.RunEvent]:
    """Read exactly count events from a stream."""
    events: list[run_pb2.RunEvent] = []
    for _ in range(count):
        event = await next_event(call)
        assert event is not None, f"the stream ended after {len(events)} of {count} events"
        events.append(event)
    return events


async def replay(runs: Runs, run_id: str, after: int = 0) -> list[run_pb2.RunEvent]:
    """Return a run's events after an id, read with StreamRunEvents to its end."""
    call = runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after), timeout=20
    )
    return await drain(call)


async def until_event(runs: Runs, run_id: str, event_type: str) -> run_pb2.RunEvent:
    """Wait for a run's first event of a type, then hang up."""
    call = runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run_id), timeout=20)
    try:
        events = await read_until(call, lambda e: e.type == event_type)
    finally:
        call.cancel()
    return events[-1]


async def stream_failure(call: Any) -> RpcFailure:
    """Read a stream that must fail, and decode its status."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await drain(call)
    return failure(caught.value)


def types(events: Sequence[run_pb2.RunEvent]) -> list[str]:
    """Return the types of events, in order."""
    return [e.type for e in events]


def ids_of(events: Sequence[run_pb2.RunEvent]) -> list[int]:
    """Return the ids of events, in order."""
    return [e.event_id for e in events]


def assert_increasing(events: Sequence[run_pb2.RunEvent]) -> None:
    """Assert that event ids are positive and strictly increase."""
    got = ids_of(events)
    assert all(i > 0 for i in got), got
    assert all(a < b for a, b in itertools.pairwise(got)), got


def deltas(events: Sequence[run_pb2.RunEvent]) -> str:
    """Return the text of every message.delta, concatenated."""
    return "".join(e.delta.text for e in events if e.type == "message.delta")


def assert_final(events: Sequence[run_pb2.RunEvent], run: run_pb2.Run, event_type: str) -> None:
    """Assert that a run's events end with exactly one final event, carrying the run."""
    assert [e.type for e in events if e.type in FINAL_TYPES] == [event_type]
    assert events[-1].type == event_type
    assert events[-1].run == run
    assert events[0].type == "run.created"


# -- COMPLETED -------------------------------------------------------------------


async def test_echo_run_completes_with_every_field(client, runs):
    thread_id = await new_thread(client)
    created = await start(
        runs,
        thread_id,
        "hello brave new world",
        metadata=struct({"ticket": 42}),
        context=struct({"mood": "calm"}),
    )
    assert RUN_ID.fullmatch(created.run_id)
    assert created.thread_id == thread_id
    assert created.agent_id == "echo"
    assert created.status == QUEUED
    assert created.max_iterations == 1  # echo's own default
    assert created.multitask_strategy == REJECT
    assert list(created.tools) == []
    assert json_format.MessageToDict(created.metadata) == {"ticket": 42}
    assert json_format.MessageToDict(created.context) == {"mood": "calm"}
    assert created.HasField("created_at")
    assert not created.HasField("started_at")
    assert not created.HasField("ended_at")
    assert not created.HasField("error")
    assert created.response == ""

    run = await wait(runs, created.run_id)
    assert run.status == COMPLETED
    assert run.response == "hello brave new world"
    assert run.iterations == 1
    assert (run.usage.prompt_tokens, run.usage.completion_tokens, run.usage.total_tokens) == (
        4,
        4,
        8,
    )
    assert list(run.tool_calls) == []
    assert not run.HasField("error")
    assert micros(run, "created_at") == micros(created, "created_at")
    assert micros(run, "created_at") <= micros(run, "started_at") <= micros(run, "ended_at")
    assert json_format.MessageToDict(run.metadata) == {"ticket": 42}
    assert await runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id)) == run

    events = await replay(runs, run.run_id)
    assert types(events) == [
        "run.created",
        "message.created",
        "message.completed",
        "run.started",
        "message.created",
        "message.delta",
        "message.delta",
        "message.delta",
        "message.delta",
        "message.completed",
        "run.completed",
    ]
    assert_final(events, run, "run.completed")
    assert_increasing(events)
    assert all(e.run_id == run.run_id and e.thread_id == thread_id for e in events)
    assert deltas(events) == run.response
    assert events[0].run == created
    assert events[3].run.status == RUNNING
    assert events[3].run.HasField("started_at")
    assert not events[3].run.HasField("ended_at")

    # The input message came first and carries the run; so does the answer.
    stored = await messages_of(client, thread_id)
    assert [(m.role, m.parts[0].text, m.run_id) for m in stored] == [
        (USER, "hello brave new world", run.run_id),
        (AGENT, "hello brave new world", run.run_id),
    ]
    assert events[1].message == stored[0]
    assert events[2].message == stored[0]
    # The streamed answer is announced with no parts yet, and completed whole.
    assert events[4].message.message_id == stored[1].message_id
    assert events[4].message.role == AGENT
    assert events[4].message.run_id == run.run_id
    assert list(events[4].message.parts) == []
    assert events[9].message == stored[1]
    assert {e.delta.message_id for e in events if e.type == "message.delta"} == {
        stored[1].message_id
    }
    assert await thread_status(client, thread_id) == IDLE


async def test_thread_is_busy_while_a_run_is_in_flight(client, runs):
    thread_id = await new_thread(client)
    assert await thread_status(client, thread_id) == IDLE
    created = await start(runs, thread_id, words(20), context=slow(200))
    assert await thread_status(client, thread_id) == BUSY
    await until_event(runs, created.run_id, "message.delta")
    assert (await runs.GetRun(run_pb2.GetRunRequest(run_id=created.run_id))).status == RUNNING
    assert await thread_status(client, thread_id) == BUSY
    await cancel(runs, created.run_id)
    assert await thread_status(client, thread_id) == IDLE


async def test_tools_demo_records_tool_calls_as_messages(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "what is 2+3*4", agent="tools-demo")
    assert created.max_iterations == 5  # tools-demo's own default
    run = await wait(runs, created.run_id)
    assert run.status == COMPLETED
    assert run.response == "2+3*4 = 14."
    assert run.iterations == 2
    assert len(run.tool_calls) == 1
    call = run.tool_calls[0]
    assert call.tool == "calculator"
    assert call.status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED
    assert call.error_code == ""
    assert call.duration_ms >= 0
    assert call.tool_call_id
    # Every iteration reads the thread (3 words); the answer is 3 words.
    assert run.usage.prompt_tokens == 6
    assert run.usage.completion_tokens == 3
    assert run.usage.total_tokens == 9

    stored = await messages_of(client, thread_id)
    assert [m.role for m in stored] == [USER, AGENT, TOOL, AGENT]
    assert all(m.run_id == run.run_id for m in stored)
    tool_call = stored[1].parts[0]
    assert tool_call.WhichOneof("kind") == "tool_call"
    assert tool_call.tool_call.id == call.tool_call_id
    assert tool_call.tool_call.name == "calculator"
    assert json_format.MessageToDict(tool_call.tool_call.arguments) == {"expression": "2+3*4"}
    tool_result = stored[2].parts[0]
    assert tool_result.WhichOneof("kind") == "tool_result"
    assert tool_result.tool_result.tool_call_id == call.tool_call_id
    assert not tool_result.tool_result.is_error
    assert json_format.MessageToDict(tool_result.tool_result.json)["result"] == 14
    assert stored[3].parts[0].text == "2+3*4 = 14."

    events = await replay(runs, run.run_id)
    assert_final(events, run, "run.completed")
    started = [e for e in events if e.type == "tool_call.started"]
    ended = [e for e in events if e.type == "tool_call.completed"]
    assert len(started) == len(ended) == 1
    assert started[0].tool_call.call.id == call.tool_call_id
    assert started[0].tool_call.record.status == run_pb2.TOOL_CALL_STATUS_RUNNING
    assert ended[0].tool_call.record == call
    assert ended[0].tool_call.result == tool_result.tool_result
    assert types(events).index("tool_call.started") < types(events).index("tool_call.completed")


async def test_tools_demo_clock(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "what time is it in Europe/Paris", agent="tools-demo")
    run = await wait(runs, created.run_id)
    assert run.status == COMPLETED
    assert [(c.tool, c.status) for c in run.tool_calls] == [
        ("clock", run_pb2.TOOL_CALL_STATUS_SUCCEEDED)
    ]
    assert re.fullmatch(r"It is \d\d:\d\d on \w+day in Europe/Paris\.", run.response)
    stored = await messages_of(client, thread_id)
    result = json_format.MessageToDict(stored[2].parts[0].tool_result.json)
    assert result["time_zone"] == "Europe/Paris"


async def test_tool_restriction_fails_the_call_not_the_run(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "what is 2+3", agent="tools-demo", tools=["clock"])
    assert list(created.tools) == ["clock"]
    run = await wait(runs, created.run_id)
    assert run.status == COMPLETED
    assert not run.HasField("error")
    assert len(run.tool_calls) == 1
    assert run.tool_calls[0].tool == "calculator"
    assert run.tool_calls[0].status == run_pb2.TOOL_CALL_STATUS_FAILED
    assert run.tool_calls[0].error_code == "TOOL_NOT_ALLOWED"
    assert "TOOL_NOT_ALLOWED" in run.response
    stored = await messages_of(client, thread_id)
    results = [p.tool_result for m in stored for p in m.parts if p.HasField("tool_result")]
    assert len(results) == 1
    assert results[0].is_error
    assert results[0].tool_call_id == run.tool_calls[0].tool_call_id


async def test_unknown_tool_name_is_invalid_and_writes_nothing(client, runs):
    thread_id = await new_thread(client)
    request = run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="tools-demo",
        input_messages=[user("what is 2+3")],
        tools=["calculator", "nope"],
    )
    got = await expect_failure(runs.CreateRun(request))
    assert got.code == INVALID
    assert got.reason == "VALIDATION_ERROR"
    assert got.fields == ["tools[1]"]
    del request.tools[0]
    got = await expect_failure(runs.CreateRun(request))
    assert got.fields == ["tools[0]"]
    assert await messages_of(client, thread_id) == []
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert list(listed.runs) == []


# -- MAX_ITERATIONS_REACHED ---------------------------------------------------------


async def test_counting_past_the_limit_ends_max_iterations_reached(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "count to 10", agent="tools-demo", max_iterations=3)
    assert created.max_iterations == 3
    run = await wait(runs, created.run_id)
    assert run.status == MAX_ITERATIONS_REACHED
    assert run.iterations == 3
    assert run.response == ""
    assert not run.HasField("error")
    assert [c.tool for c in run.tool_calls] == ["calculator"] * 3
    assert all(c.status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED for c in run.tool_calls)
    assert all(c.error_code == "" and c.duration_ms >= 0 for c in run.tool_calls)
    assert len({c.tool_call_id for c in run.tool_calls}) == 3
    assert run.usage.prompt_tokens == 9  # 3 iterations reading "count to 10"
    assert run.usage.completion_tokens == 0
    assert run.usage.total_tokens == 9
    assert micros(run, "started_at") <= micros(run, "ended_at")
    events = await replay(runs, run.run_id)
    assert_final(events, run, "run.max_iterations_reached")
    assert types(events).count("tool_call.completed") == 3
    assert await thread_status(client, thread_id) == IDLE
    # The tool calls and results the run made stay in the thread.
    stored = await messages_of(client, thread_id)
    assert [m.role for m in stored] == [USER, *[AGENT, TOOL] * 3]


async def test_default_limit_of_tools_demo(runs, client):
    thread_id = await new_thread(client)
    four = await wait(runs, (await start(runs, thread_id, "count to 4", agent="tools-demo")).run_id)
    assert four.status == COMPLETED
    assert four.iterations == 5
    assert four.response == "Counting to 4: 1, 2, 3, 4."
    five = await wait(runs, (await start(runs, thread_id, "count to 5", agent="tools-demo")).run_id)
    assert five.status == MAX_ITERATIONS_REACHED
    assert five.iterations == 5
    assert len(five.tool_calls) == 5


# -- FAILED --------------------------------------------------------------------------


async def test_run_timeout_fails_the_run_and_marks_the_thread(strict_server):
    client = strict_server.client
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "slow slow slow", context=slow(1000))
    run = await wait(runs, created.run_id)
    assert run.status == FAILED
    assert run.error.code == "TIMEOUT"
    assert run.error.message
    assert "0.3" in run.error.message
    assert run.iterations == 1
    assert list(run.tool_calls) == []
    elapsed_us = micros(run, "ended_at") - micros(run, "started_at")
    assert 250_000 <= elapsed_us < 5_000_000
    events = await replay(runs, run.run_id)
    assert_final(events, run, "run.failed")
    assert "message.delta" not in types(events)
    assert await thread_status(client, thread_id) == ERROR

    # A later run that ends well puts the thread back to IDLE.
    fine = await wait(runs, (await start(runs, thread_id, "quick")).run_id)
    assert fine.status == COMPLETED
    assert fine.response == "quick"
    assert await thread_status(client, thread_id) == IDLE


async def test_agent_failure_fails_the_run_with_its_code(strict_server):
    client = strict_server.client
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "please fail", agent="failing")
    assert created.max_iterations == 3
    run = await wait(runs, created.run_id)
    assert run.status == FAILED
    assert run.error.code == "MODEL_UNAVAILABLE"
    assert run.error.message == "the model is unavailable"
    assert run.iterations == 1
    assert (run.usage.prompt_tokens, run.usage.completion_tokens, run.usage.total_tokens) == (
        3,
        2,
        5,
    )
    assert micros(run, "created_at") <= micros(run, "started_at") <= micros(run, "ended_at")
    events = await replay(runs, run.run_id)
    assert_final(events, run, "run.failed")
    assert deltas(events) == "partial answer"
    assert await thread_status(client, thread_id) == ERROR


async def test_agent_exception_fails_the_run_with_agent_error(strict_server):
    client = strict_server.client
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    thread_id = await new_thread(client)
    created = await start(
        runs, thread_id, "please crash", agent="failing", context=struct({"crash": True})
    )
    run = await wait(runs, created.run_id)
    assert run.status == FAILED
    assert run.error.code == "AGENT_ERROR"
    assert "the model crashed" in run.error.message
    assert_final(await replay(runs, run.run_id), run, "run.failed")
    assert await thread_status(client, thread_id) == ERROR


# -- CANCELLED ------------------------------------------------------------------------


async def test_cancel_a_running_run(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, words(30), context=slow(150))
    await until_event(runs, created.run_id, "message.delta")
    cancelled = await cancel(runs, created.run_id)
    assert cancelled.error.code == "CANCELLED_BY_CLIENT"
    assert cancelled.error.message
    assert cancelled.iterations == 1
    assert micros(cancelled, "created_at") <= micros(cancelled, "started_at")
    assert micros(cancelled, "started_at") <= micros(cancelled, "ended_at")
    assert await thread_status(client, thread_id) == IDLE

    events = await replay(runs, created.run_id)
    assert_final(events, cancelled, "run.cancelled")
    assert 1 <= types(events).count("message.delta") < 30
    # What the agent had said so far is kept as its answer.
    assert cancelled.response == deltas(events)
    stored = await messages_of(client, thread_id)
    assert [(m.role, m.run_id) for m in stored] == [(USER, created.run_id), (AGENT, created.run_id)]
    assert stored[1].parts[0].text == cancelled.response

    # Idempotent: cancelling again returns the run as it ended, and writes nothing.
    again = await runs.CancelRun(run_pb2.CancelRunRequest(run_id=created.run_id))
    assert again == cancelled
    # The agent has stopped: nothing more happens after the final event.
    await asyncio.sleep(0.4)
    assert await runs.GetRun(run_pb2.GetRunRequest(run_id=created.run_id)) == cancelled
    assert await replay(runs, created.run_id) == events
    assert await runs.WaitRun(run_pb2.WaitRunRequest(run_id=created.run_id)) == cancelled


async def test_cancel_a_queued_run(client, runs):
    thread_id = await new_thread(client)
    first = await start(runs, thread_id, words(20), context=slow(200))
    queued = await start(runs, thread_id, "second", multitask_strategy=ENQUEUE)
    assert queued.status == QUEUED
    assert queued.multitask_strategy == ENQUEUE
    await until_event(runs, first.run_id, "message.delta")
    assert (await runs.GetRun(run_pb2.GetRunRequest(run_id=queued.run_id))).status == QUEUED

    cancelled = await runs.CancelRun(run_pb2.CancelRunRequest(run_id=queued.run_id))
    assert cancelled.status == CANCELLED
    assert cancelled.error.code == "CANCELLED_BY_CLIENT"
    assert not cancelled.HasField("started_at")
    assert micros(cancelled, "created_at") <= micros(cancelled, "ended_at")
    assert cancelled.iterations == 0
    assert cancelled.response == ""
    events = await replay(runs, queued.run_id)
    assert_final(events, cancelled, "run.cancelled")
    assert "run.started" not in types(events)
    # The first run is untouched and the thread still busy with it.
    assert (await runs.GetRun(run_pb2.GetRunRequest(run_id=first.run_id))).status == RUNNING
    assert await thread_status(client, thread_id) == BUSY

    await cancel(runs, first.run_id)
    assert await thread_status(client, thread_id) == IDLE
    # The cancelled run never starts, even with nothing before it any more.
    assert await runs.CancelRun(run_pb2.CancelRunRequest(run_id=queued.run_id)) == cancelled
    assert await runs.GetRun(run_pb2.GetRunRequest(run_id=queued.run_id)) == cancelled


async def test_cancel_a_finished_run_changes_nothing(client, runs):
    thread_id = await new_thread(client)
    run = await wait(runs, (await start(runs, thread_id, "done already")).run_id)
    assert run.status == COMPLETED
    events = await replay(runs, run.run_id)
    for _ in range(2):
        assert await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id)) == run
    assert await runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id)) == run
    assert await replay(runs, run.run_id) == events
    assert await thread_status(client, thread_id) == IDLE

    maxed = await wait(
        runs,
        (await start(runs, thread_id, "count to 9", agent="tools-demo", max_iterations=1)).run_id,
    )
    assert maxed.status == MAX_ITERATIONS_REACHED
    assert await runs.CancelRun(run_pb2.CancelRunRequest(run_id=maxed.run_id)) == maxed


async def test_cancel_a_failed_run_changes_nothing(strict_server):
    runs = run_pb2_grpc.RunServiceStub(strict_server.client.channel)
    thread_id = await new_thread(strict_server.client)
    run = await wait(runs, (await start(runs, thread_id, "x", agent="failing")).run_id)
    assert run.status == FAILED
    assert await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id)) == run
    assert await thread_status(strict_server.client, thread_id) == ERROR


# -- multitask strategies ------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [run_pb2.MULTITASK_STRATEGY_UNSPECIFIED, REJECT])
async def test_reject_a_second_run_on_a_busy_thread(client, runs, strategy):
    thread_id = await new_thread(client)
    first = await start(runs, thread_id, words(20), context=slow(200))
    before = await messages_of(client, thread_id)
    got = await expect_failure(
        runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread_id,
                agent_id="echo",
                input_messages=[user("second")],
                multitask_strategy=strategy,
            )
        )
    )
    assert got.code == grpc.StatusCode.FAILED_PRECONDITION
    assert got.reason == "THREAD_BUSY"
    assert first.run_id in got.message
    # Nothing was written: no run, no input message.
    assert await messages_of(client, thread_id) == before
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert [r.run_id for r in listed.runs] == [first.run_id]
    # StreamRun refuses the same way.
    call = runs.StreamRun(
        run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="echo", input_messages=[user("x")])
    )
    got = await stream_failure(call)
    assert got.code == grpc.StatusCode.FAILED_PRECONDITION
    assert got.reason == "THREAD_BUSY"
    assert (await runs.GetRun(run_pb2.GetRunRequest(run_id=first.run_id))).status in (
        QUEUED,
        RUNNING,
    )
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=first.run_id))


async def test_enqueue_runs_one_after_the_other(client, runs):
    thread_id = await new_thread(client)
    watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=20)
    try:
        first = await start(runs, thread_id, "first run here", context=slow(60))
        second = await start(runs, thread_id, "second", multitask_strategy=ENQUEUE)
        assert second.status == QUEUED
        done_second = await wait(runs, second.run_id)
        done_first = await runs.GetRun(run_pb2.GetRunRequest(run_id=first.run_id))
        assert done_first.status == COMPLETED
        assert done_second.status == COMPLETED
        assert done_first.response == "first run here"
        assert done_second.response == "second"
        assert micros(done_first, "ended_at") <= micros(done_second, "started_at")
        events = await read_until(
            watch, lambda e: e.type == "run.completed" and e.run_id == second.run_id
        )
    finally:
        watch.cancel()
    assert_increasing(events)
    run_events = [(e.run_id, e.type) for e in events if e.type.startswith("run.")]
    assert run_events == [
        (first.run_id, "run.created"),
        (first.run_id, "run.started"),
        (second.run_id, "run.created"),
        (first.run_id, "run.completed"),
        (second.run_id, "run.started"),
        (second.run_id, "run.completed"),
    ]
    assert await thread_status(client, thread_id) == IDLE


async def test_concurrent_creates_on_an_idle_thread_start_exactly_one(client, runs):
    thread_id = await new_thread(client)

    async def create(index: int) -> run_pb2.Run | RpcFailure:
        try:
            return await start(runs, thread_id, f"attempt {index} {words(10)}", context=slow(100))
        except grpc.aio.AioRpcError as error:
            return failure(error)

    outcomes = await asyncio.gather(*(create(i) for i in range(6)))
    made = [o for o in outcomes if isinstance(o, run_pb2.Run)]
    refused = [o for o in outcomes if isinstance(o, RpcFailure)]
    assert len(made) == 1
    assert [(r.code, r.reason) for r in refused] == [
        (grpc.StatusCode.FAILED_PRECONDITION, "THREAD_BUSY")
    ] * 5
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert [r.run_id for r in listed.runs] == [made[0].run_id]
    stored = await messages_of(client, thread_id)
    assert [m.run_id for m in stored] == [made[0].run_id]
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=made[0].run_id))


async def test_a_queue_of_runs_runs_one_at_a_time_in_order(client, runs):
    thread_id = await new_thread(client)
    made = [
        await start(runs, thread_id, f"turn {i}", context=slow(20), multitask_strategy=ENQUEUE)
        for i in range(5)
    ]
    last = await wait(runs, made[-1].run_id)
    assert last.status == COMPLETED
    done = [await runs.GetRun(run_pb2.GetRunRequest(run_id=r.run_id)) for r in made]
    assert [r.status for r in done] == [COMPLETED] * 5
    # The first run started at once, so it read only its own input; echo
    # answers the newest user message the thread has when a run starts.
    assert done[0].response == "turn 0"
    assert all(re.fullmatch(r"turn \d", r.response) for r in done)
    for before, after in itertools.pairwise(done):
        assert micros(before, "ended_at") <= micros(after, "started_at")
    assert await thread_status(client, thread_id) == IDLE


async def test_interrupt_cancels_the_run_in_flight(client, runs):
    thread_id = await new_thread(client)
    first = await start(runs, thread_id, words(20), context=slow(200))
    await until_event(runs, first.run_id, "message.delta")
    second = await start(runs, thread_id, "second", multitask_strategy=INTERRUPT)
    assert second.multitask_strategy == INTERRUPT
    interrupted = await runs.GetRun(run_pb2.GetRunRequest(run_id=first.run_id))
    assert interrupted.status == CANCELLED
    assert interrupted.error.code == "INTERRUPTED"
    assert second.run_id in interrupted.error.message
    assert interrupted.HasField("ended_at")
    done = await wait(runs, second.run_id)
    assert done.status == COMPLETED
    assert done.response == "second"
    assert micros(interrupted, "ended_at") <= micros(done, "started_at")
    assert_final(await replay(runs, first.run_id), interrupted, "run.cancelled")
    assert_final(await replay(runs, second.run_id), done, "run.completed")
    # INTERRUPT keeps what the first run wrote (its input, at least).
    stored = await messages_of(client, thread_id)
    assert [m.run_id for m in stored if m.role == USER] == [first.run_id, second.run_id]
    assert await thread_status(client, thread_id) == IDLE


async def test_interrupt_cancels_queued_runs_too(client, runs):
    thread_id = await new_thread(client)
    first = await start(runs, thread_id, words(20), context=slow(200))
    queued = await start(runs, thread_id, "queued", multitask_strategy=ENQUEUE)
    last = await start(runs, thread_id, "last", multitask_strategy=INTERRUPT)
    for run_id in (first.run_id, queued.run_id):
        ended = await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
        assert ended.status == CANCELLED
        assert ended.error.code == "INTERRUPTED"
    assert not (await runs.GetRun(run_pb2.GetRunRequest(run_id=queued.run_id))).HasField(
        "started_at"
    )
    assert (await wait(runs, last.run_id)).response == "last"


async def test_rollback_deletes_what_the_run_in_flight_wrote(client, runs):
    thread_id = await new_thread(client)
    kept = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("written by a client"))
    )
    first = await start(runs, thread_id, "what is 2+3", agent="tools-demo", context=slow(300))
    await until_event(runs, first.run_id, "tool_call.completed")
    written = await messages_of(client, thread_id)
    assert [(m.role, m.run_id) for m in written] == [
        (USER, ""),
        (USER, first.run_id),
        (AGENT, first.run_id),
        (TOOL, first.run_id),
    ]

    second = await start(runs, thread_id, "after the rollback", multitask_strategy=ROLLBACK)
    rolled_back = await runs.GetRun(run_pb2.GetRunRequest(run_id=first.run_id))
    assert rolled_back.status == CANCELLED
    assert rolled_back.error.code == "ROLLED_BACK"
    assert second.run_id in rolled_back.error.message
    done = await wait(runs, second.run_id)
    assert done.status == COMPLETED
    assert done.response == "after the rollback"
    assert_final(await replay(runs, first.run_id), rolled_back, "run.cancelled")

    stored = await messages_of(client, thread_id)
    assert [(m.role, m.run_id, m.parts[0].text) for m in stored] == [
        (USER, "", "written by a client"),
        (USER, second.run_id, "after the rollback"),
        (AGENT, second.run_id, "after the rollback"),
    ]
    assert stored[0] == kept
    for message in written[1:]:
        got = await expect_failure(
            client.messages.GetMessage(
                message_pb2.GetMessageRequest(thread_id=thread_id, message_id=message.message_id)
            )
        )
        assert got.code == NOT_FOUND
        assert got.reason == "MESSAGE_NOT_FOUND"
    thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.message_count == 3
    assert thread.status == IDLE


# -- validation ------------------------------------------------------------------------


async def test_create_run_validation(client, runs):
    thread_id = await new_thread(client)

    async def refused(**fields: Any) -> RpcFailure:
        request = run_pb2.CreateRunRequest(**fields)
        got = await expect_failure(runs.CreateRun(request))
        stream_got = await stream_failure(runs.StreamRun(request))
        assert (stream_got.code, stream_got.reason, stream_got.fields) == (
            got.code,
            got.reason,
            got.fields,
        )
        return got

    got = await refused(thread_id=thread_id, agent_id="nobody", input_messages=[user("hi")])
    assert got.code == NOT_FOUND
    assert got.reason == "AGENT_NOT_FOUND"
    assert "echo" in got.message  # it names the agents there are

    got = await refused(thread_id=UNKNOWN_THREAD, agent_id="echo", input_messages=[user("hi")])
    assert got.code == NOT_FOUND
    assert got.reason == "THREAD_NOT_FOUND"

    got = await refused(thread_id=thread_id, agent_id="echo", max_iterations=21)
    assert got.code == INVALID
    assert got.reason == "VALIDATION_ERROR"
    assert got.fields == ["max_iterations"]
    got = await refused(thread_id=thread_id, agent_id="echo", max_iterations=-1)
    assert got.fields == ["max_iterations"]

    got = await refused(
        thread_id=thread_id, agent_id="echo", input_messages=[message_pb2.Message(role=USER)]
    )
    assert got.code == INVALID
    assert got.fields == ["input_messages[0].parts"]

    got = await refused(thread_id=thread_id, agent_id="")
    assert got.code == INVALID
    assert "agent_id" in got.fields
    got = await refused(thread_id="", agent_id="echo")
    assert got.code == INVALID
    assert "thread_id" in got.fields
    got = await refused(thread_id=thread_id, agent_id="echo", multitask_strategy=99)
    assert got.fields == ["multitask_strategy"]

    got = await refused(
        thread_id=thread_id, agent_id="echo", input_messages=[user(f"m{i}") for i in range(101)]
    )
    assert got.fields == ["input_messages"]
    got = await refused(thread_id=thread_id, agent_id="tools-demo", tools=["clock"] * 51)
    assert got.fields == ["tools"]
    got = await refused(
        thread_id=thread_id, agent_id="echo", context=struct({"big": "x" * (64 * 1024)})
    )
    assert got.fields == ["context"]
    got = await refused(
        thread_id=thread_id, agent_id="echo", metadata=struct({"big": "x" * (64 * 1024)})
    )
    assert got.fields == ["metadata"]

    # Every bad field at once.
    got = await refused(
        thread_id=thread_id,
        agent_id="echo",
        max_iterations=50,
        tools=["nope"],
        input_messages=[user("fine"), message_pb2.Message(parts=[message_pb2.Part(text="x")])],
    )
    assert sorted(got.fields) == sorted(["max_iterations", "tools[0]", "input_messages[1].role"])

    # Nothing of any refused call was written.
    assert await messages_of(client, thread_id) == []
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert list(listed.runs) == []
    assert await thread_status(client, thread_id) == IDLE

    # The limits themselves are fine.
    run = await start(runs, thread_id, "edge", max_iterations=20)
    assert run.max_iterations == 20
    assert (await wait(runs, run.run_id)).status == COMPLETED


async def test_overlong_lists_get_an_invalid_argument_a_client_can_read(client, runs):
    # Past its limit a list is wrong as a whole; naming every entry in it as
    # well makes a status too big for a client's default 8 KiB of trailing
    # metadata, which then sees RESOURCE_EXHAUSTED instead of the error.
    thread_id = await new_thread(client)
    too_many_tools = run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="echo",
        tools=[f"tool-{i}-{'x' * 100}" for i in range(51)],
    )
    too_many_messages = run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="echo",
        input_messages=[message_pb2.Message() for _ in range(101)],
    )
    outcomes = {}
    for name, request in (("tools", too_many_tools), ("input_messages", too_many_messages)):
        got = await expect_failure(runs.CreateRun(request))
        outcomes[name] = (got.code, got.reason, name in got.fields)
    assert outcomes == {
        "tools": (INVALID, "VALIDATION_ERROR", True),
        "input_messages": (INVALID, "VALIDATION_ERROR", True),
    }
    assert await messages_of(client, thread_id) == []


async def test_unknown_run_is_not_found_everywhere(runs):
    checks = [
        runs.GetRun(run_pb2.GetRunRequest(run_id=UNKNOWN_RUN)),
        runs.CancelRun(run_pb2.CancelRunRequest(run_id=UNKNOWN_RUN)),
        runs.WaitRun(run_pb2.WaitRunRequest(run_id=UNKNOWN_RUN)),
    ]
    for call in checks:
        got = await expect_failure(call)
        assert got.code == NOT_FOUND
        assert got.reason == "RUN_NOT_FOUND"
    got = await stream_failure(
        runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=UNKNOWN_RUN))
    )
    assert (got.code, got.reason) == (NOT_FOUND, "RUN_NOT_FOUND")
    got = await expect_failure(runs.GetRun(run_pb2.GetRunRequest(run_id="")))
    assert got.code == INVALID
    assert got.fields == ["run_id"]


async def test_negative_after_event_id_is_invalid(client, runs):
    thread_id = await new_thread(client)
    run = await wait(runs, (await start(runs, thread_id, "hi")).run_id)
    got = await stream_failure(
        runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run.run_id, after_event_id=-1))
    )
    assert got.code == INVALID
    assert got.fields == ["after_event_id"]
    got = await stream_failure(
        runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id, after_event_id=-5))
    )
    assert got.code == INVALID
    assert got.fields == ["after_event_id"]
    got = await stream_failure(
        runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=UNKNOWN_THREAD))
    )
    assert (got.code, got.reason) == (NOT_FOUND, "THREAD_NOT_FOUND")


async def test_list_runs_pages_in_either_order(client, runs):
    thread_id = await new_thread(client)
    made = []
    for index in range(5):
        run = await wait(runs, (await start(runs, thread_id, f"run {index}")).run_id)
        made.append(run)
    other = await new_thread(client)
    await wait(runs, (await start(runs, other, "elsewhere")).run_id)

    async def walk(order_by: str, page_size: int) -> list[list[str]]:
        pages: list[list[str]] = []
        token = ""
        while True:
            page = await runs.ListRuns(
                run_pb2.ListRunsRequest(
                    thread_id=thread_id, page_size=page_size, page_token=token, order_by=order_by
                )
            )
            pages.append([r.run_id for r in page.runs])
            token = page.next_page_token
            if not token:
                return pages
            assert len(pages) < 10

    ids = [r.run_id for r in made]
    assert await walk("", 2) == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    assert await walk("created_at desc", 2) == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]
    assert await walk("created_at", 2) == [[ids[0], ids[1]], [ids[2], ids[3]], [ids[4]]]
    assert await walk("created_at", 5) == [ids]
    assert await walk("", 0) == [ids[::-1]]  # 0 means the default of 20
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id, page_size=1))
    assert listed.runs[0] == made[4]

    for size in (-1, 101):
        got = await expect_failure(
            runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id, page_size=size))
        )
        assert got.code == INVALID
        assert got.fields == ["page_size"]
    got = await expect_failure(
        runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id, order_by="updated_at"))
    )
    assert got.fields == ["order_by"]
    # A token is only good with the query that made it.
    first = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id, page_size=2))
    assert first.next_page_token
    garbage = "not-a-token"
    for request in (
        run_pb2.ListRunsRequest(
            thread_id=thread_id, page_token=first.next_page_token, order_by="created_at"
        ),
        run_pb2.ListRunsRequest(thread_id=other, page_token=first.next_page_token),
        run_pb2.ListRunsRequest(thread_id=thread_id, page_token=garbage),
    ):
        got = await expect_failure(runs.ListRuns(request))
        assert got.code == INVALID
        assert got.fields == ["page_token"]
    got = await expect_failure(runs.ListRuns(run_pb2.ListRunsRequest(thread_id=UNKNOWN_THREAD)))
    assert (got.code, got.reason) == (NOT_FOUND, "THREAD_NOT_FOUND")


# -- WaitRun ------------------------------------------------------------------------------


async def test_wait_run_returns_the_finished_run(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, "one two three", context=slow(50))
    run = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=created.run_id), timeout=10)
    assert run.status == COMPLETED
    assert run.response == "one two three"
    assert run == await runs.GetRun(run_pb2.GetRunRequest(run_id=created.run_id))
    # Waiting for a run that has ended answers at once.
    began = time.monotonic()
    assert await runs.WaitRun(run_pb2.WaitRunRequest(run_id=created.run_id)) == run
    assert time.monotonic() - began < 1.0


async def test_wait_run_timeout_returns_the_run_in_flight(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, words(10), context=slow(500))
    began = time.monotonic()
    run = await runs.WaitRun(
        run_pb2.WaitRunRequest(
            run_id=created.run_id, timeout=duration_pb2.Duration(nanos=200_000_000)
        ),
        timeout=10,
    )
    elapsed = time.monotonic() - began
    assert run.status == RUNNING
    assert not run.HasField("ended_at")
    assert 0.15 <= elapsed < 2.0
    got = await expect_failure(
        runs.WaitRun(
            run_pb2.WaitRunRequest(run_id=created.run_id, timeout=duration_pb2.Duration(seconds=-1))
        )
    )
    assert got.code == INVALID
    assert got.fields == ["timeout"]
    got = await expect_failure(
        runs.WaitRun(
            run_pb2.WaitRunRequest(
                run_id=created.run_id, timeout=duration_pb2.Duration(seconds=3601)
            )
        )
    )
    assert got.fields == ["timeout"]
    # A zero timeout answers at once, with the run as it stands.
    now = await runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=created.run_id, timeout=duration_pb2.Duration()),
        timeout=10,
    )
    assert now.status == RUNNING
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=created.run_id))


async def test_wait_run_answers_before_the_call_deadline(client, runs):
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, words(10), context=slow(500))
    began = time.monotonic()
    run = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=created.run_id), timeout=1.0)
    elapsed = time.monotonic() - began
    assert run.status == RUNNING
    assert run.run_id == created.run_id
    assert 0.3 <= elapsed < 1.0
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=created.run_id))


# -- Chat -----------------------------------------------------------------------------------


async def test_chat_makes_a_thread_and_continues_it(client, runs):
    reply = await runs.Chat(run_pb2.ChatRequest(message="hello there", agent_id="echo"), timeout=10)
    assert reply.thread_id
    assert RUN_ID.fullmatch(reply.run_id)
    assert reply.status == COMPLETED
    assert reply.response == "hello there"
    assert reply.iterations == 1
    assert list(reply.tool_calls) == []
    assert reply.usage.total_tokens == 4
    assert not reply.HasField("error")
    thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=reply.thread_id))
    assert thread.agent_id == "echo"
    assert thread.status == IDLE
    stored = await messages_of(client, reply.thread_id)
    assert [(m.role, m.parts[0].text, m.run_id) for m in stored] == [
        (USER, "hello there", reply.run_id),
        (AGENT, "hello there", reply.run_id),
    ]
    run = await runs.GetRun(run_pb2.GetRunRequest(run_id=reply.run_id))
    assert run.thread_id == reply.thread_id
    assert run.response == reply.response

    again = await runs.Chat(
        run_pb2.ChatRequest(message="and again", agent_id="echo", thread_id=reply.thread_id),
        timeout=10,
    )
    assert again.thread_id == reply.thread_id
    assert again.run_id != reply.run_id
    assert again.response == "and again"
    # The agent read the whole thread: 4 words before, 2 new.
    assert again.usage.prompt_tokens == 6
    stored = await messages_of(client, reply.thread_id)
    assert [m.parts[0].text for m in stored] == [
        "hello there",
        "hello there",
        "and again",
        "and again",
    ]
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=reply.thread_id))
    assert [r.run_id for r in listed.runs] == [again.run_id, reply.run_id]


async def test_chat_with_tools(runs):
    reply = await runs.Chat(
        run_pb2.ChatRequest(message="what is 2+3*4", agent_id="tools-demo"), timeout=10
    )
    assert reply.status == COMPLETED
    assert reply.response == "2+3*4 = 14."
    assert reply.iterations == 2
    assert [(c.tool, c.status, c.error_code) for c in reply.tool_calls] == [
        ("calculator", run_pb2.TOOL_CALL_STATUS_SUCCEEDED, "")
    ]
    run = await runs.GetRun(run_pb2.GetRunRequest(run_id=reply.run_id))
    assert list(run.tool_calls) == list(reply.tool_calls)

    limited = await runs.Chat(
        run_pb2.ChatRequest(message="count to 10", agent_id="tools-demo", max_iterations=2),
        timeout=10,
    )
    assert limited.status == MAX_ITERATIONS_REACHED
    assert limited.iterations == 2
    assert len(limited.tool_calls) == 2


async def test_chat_refusals_write_nothing(client, runs):
    got = await expect_failure(runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="nobody")))
    assert got.code == NOT_FOUND
    assert got.reason == "AGENT_NOT_FOUND"
    got = await expect_failure(runs.Chat(run_pb2.ChatRequest(message="", agent_id="echo")))
    assert got.code == INVALID
    assert got.fields == ["message"]
    got = await expect_failure(
        runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", max_iterations=21))
    )
    assert got.fields == ["max_iterations"]
    got = await expect_failure(
        runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", thread_id=UNKNOWN_THREAD))
    )
    assert (got.code, got.reason) == (NOT_FOUND, "THREAD_NOT_FOUND")
    listed = await client.threads.ListThreads(thread_pb2.ListThreadsRequest())
    assert list(listed.threads) == []


async def test_chat_answers_before_the_call_deadline(runs):
    began = time.monotonic()
    reply = await runs.Chat(
        run_pb2.ChatRequest(message=words(10), agent_id="echo", context=slow(500)), timeout=1.0
    )
    assert time.monotonic() - began < 1.0
    assert reply.status == RUNNING
    assert reply.thread_id
    assert reply.run_id
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=reply.run_id))


# -- streaming -----------------------------------------------------------------------------------


async def test_stream_run_from_created_to_completed(client, runs):
    thread_id = await new_thread(client)
    call = runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user("stream  these\nfew words ")],
            context=slow(10),
        ),
        timeout=20,
    )
    events = await drain(call)
    assert events[0].type == "run.created"
    run_id = events[0].run.run_id
    assert RUN_ID.fullmatch(run_id)
    assert events[0].run.status == QUEUED
    run = await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
    assert run.status == COMPLETED
    assert run.response == "stream  these\nfew words "
    assert_final(events, run, "run.completed")
    assert_increasing(events)
    assert deltas(events) == run.response
    assert all(e.run_id == run_id and e.thread_id == thread_id for e in events)
    assert all(e.HasField("created_at") for e in events)
    # Replaying the finished run gives exactly the same events.
    assert await replay(runs, run_id) == events


async def test_resume_from_every_event_id(client, runs):
    thread_id = await new_thread(client)
    run = await wait(runs, (await start(runs, thread_id, "what is 1+1", agent="tools-demo")).run_id)
    events = await replay(runs, run.run_id)
    assert len(events) >= 10
    for index, event in enumerate(events[:-1]):
        rest = await replay(runs, run.run_id, after=event.event_id)
        assert ids_of(rest) == ids_of(events[index + 1 :])
        assert rest == events[index + 1 :]
    # An id between two of the run's events resumes at the next one.
    assert await replay(runs, run.run_id, after=events[0].event_id - 1) == events


async def test_resume_after_the_final_event_ends_at_once(client, runs):
    # The run has ended and nothing follows its final event: the stream must
    # end at once, empty, not wait for events that never come.
    thread_id = await new_thread(client)
    run = await wait(runs, (await start(runs, thread_id, "short")).run_id)
    events = await replay(runs, run.run_id)
    call = runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run.run_id, after_event_id=events[-1].event_id),
        timeout=3,
    )
    assert await drain(call) == []


async def test_a_broken_stream_resumes_with_nothing_missed_or_repeated(client, runs):
    thread_id = await new_thread(client)
    text = words(16)
    call = runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user(text)],
            context=slow(40),
        ),
        timeout=20,
    )
    head = await take(call, 7)
    call.cancel()
    run_id = head[0].run.run_id
    assert head[-1].type == "message.delta"
    # The run does not depend on the stream that started it.
    assert (await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))).status == RUNNING
    tail = await replay(runs, run_id, after=head[-1].event_id)
    combined = head + tail
    assert_increasing(combined)
    assert len(set(ids_of(combined))) == len(combined)
    run = await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
    assert run.status == COMPLETED
    assert_final(combined, run, "run.completed")
    assert deltas(combined) == text == run.response
    assert combined == await replay(runs, run_id)


async def test_many_readers_of_one_live_run_see_the_same_events(client, runs):
    # Two runs, 24 readers each; some join mid-run. Every reader must get the
    # complete sequence, up to and including the final event.
    for _ in range(2):
        thread_id = await new_thread(client)
        text = words(24)
        created = await start(runs, thread_id, text, context=slow(20))

        async def reader(index: int, run_id: str) -> list[run_pb2.RunEvent]:
            if index % 3 == 1:
                await asyncio.sleep(0.01 * index)
            return await replay(runs, run_id)

        results = await asyncio.gather(*(reader(i, created.run_id) for i in range(24)))
        run = await runs.GetRun(run_pb2.GetRunRequest(run_id=created.run_id))
        assert run.status == COMPLETED
        complete = await replay(runs, created.run_id)
        assert_final(complete, run, "run.completed")
        assert deltas(complete) == text
        assert types(complete).count("message.delta") == 24
        short = [i for i, events in enumerate(results) if events != complete]
        assert short == [], [types(results[i])[-2:] for i in short]


async def test_cancel_while_streaming_ends_the_stream_with_run_cancelled(client, runs):
    thread_id = await new_thread(client)
    call = runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user(words(40))],
            context=slow(100),
        ),
        timeout=20,
    )
    head = await read_until(call, lambda e: e.type == "message.delta")
    run_id = head[0].run.run_id
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run_id))
    rest = await drain(call)
    events = head + rest
    cancelled = await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
    assert cancelled.status == CANCELLED
    assert_final(events, cancelled, "run.cancelled")
    assert events[-1].run.error.code == "CANCELLED_BY_CLIENT"
    assert_increasing(events)
    assert types(events).count("message.delta") < 40
    assert await replay(runs, run_id) == events


async def test_watch_thread_sees_messages_and_runs_and_resumes(client, runs):
    thread_id = await new_thread(client)
    watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=20)
    try:
        written = await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("from a client"))
        )
        seen = await read_until(watch, lambda e: e.type == "message.completed")
        assert types(seen) == ["message.created", "message.completed"]
        assert all(e.run_id == "" and e.thread_id == thread_id for e in seen)
        assert seen[1].message == written

        first = await start(runs, thread_id, "first run")
        seen += await read_until(watch, lambda e: e.type == "run.completed")
        second = await start(runs, thread_id, "what is 1+2", agent="tools-demo")
        seen += await read_until(watch, lambda e: e.type == "run.completed")
    finally:
        watch.cancel()
    assert_increasing(seen)
    assert [e.run_id for e in seen if e.type == "run.completed"] == [first.run_id, second.run_id]
    assert seen[2].type == "run.created"
    assert seen[2].run.run_id == first.run_id
    # Everything a run did is on the thread too, the same as on the run's own stream.
    assert [e for e in seen if e.run_id == first.run_id] == await replay(runs, first.run_id)
    assert [e for e in seen if e.run_id == second.run_id] == await replay(runs, second.run_id)

    # From the start, the history is the same; from a point, it is the rest, then live.
    middle = next(e for e in seen if e.type == "run.completed").event_id
    again = runs.WatchThread(
        run_pb2.WatchThreadRequest(thread_id=thread_id, after_event_id=middle), timeout=20
    )
    try:
        rest = [e for e in seen if e.event_id > middle]
        assert await take(again, len(rest)) == rest
        later = await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("later"))
        )
        live = await take(again, 2)
    finally:
        again.cancel()
    assert types(live) == ["message.created", "message.completed"]
    assert live[1].message == later
    assert live[0].event_id > seen[-1].event_id

    everything = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=20)
    try:
        assert await take(everything, len(seen) + 2) == seen + live
    finally:
        everything.cancel()


# -- threads deleted and servers stopped under runs --------------------------------------


async def test_deleting_the_thread_ends_what_waits_on_its_run(client, runs):
    # A deleted thread takes its runs with it: calls that wait on one must
    # answer (NOT_FOUND, or the end of the stream) rather than wait for a
    # final event that will never be written.
    thread_id = await new_thread(client)
    created = await start(runs, thread_id, words(30), context=slow(100))
    await until_event(runs, created.run_id, "message.delta")
    stream = runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=created.run_id), timeout=3)
    watch = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=3)
    await read_until(stream, lambda e: e.type == "message.delta")
    await read_until(watch, lambda e: e.type == "message.delta")
    deleted_at = 0.0

    async def outcome(call: Any) -> tuple[str, bool]:
        # How the call ended, and whether it did so promptly after the deletion.
        try:
            if isinstance(call, asyncio.Future):
                await call
            else:
                await drain(call)
        except grpc.aio.AioRpcError as error:
            code = error.code()
        else:
            code = grpc.StatusCode.OK
        return code.name, time.monotonic() - deleted_at < 1.5

    waiting = asyncio.ensure_future(
        runs.WaitRun(run_pb2.WaitRunRequest(run_id=created.run_id), timeout=3)
    )
    await asyncio.sleep(0.05)
    deleted_at = time.monotonic()
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))
    ends = asyncio.gather(outcome(stream), outcome(watch), outcome(waiting))

    got = await expect_failure(runs.GetRun(run_pb2.GetRunRequest(run_id=created.run_id)))
    assert (got.code, got.reason) == (NOT_FOUND, "RUN_NOT_FOUND")
    got = await expect_failure(runs.CancelRun(run_pb2.CancelRunRequest(run_id=created.run_id)))
    assert (got.code, got.reason) == (NOT_FOUND, "RUN_NOT_FOUND")
    got = await expect_failure(runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id)))
    assert (got.code, got.reason) == (NOT_FOUND, "THREAD_NOT_FOUND")

    stream_end, watch_end, wait_end = await ends
    ended = {("NOT_FOUND", True), ("OK", True)}
    wrong = {
        name: outcome
        for name, outcome, allowed in (
            ("StreamRunEvents", stream_end, ended),
            ("WatchThread", watch_end, ended),
            ("WaitRun", wait_end, {("NOT_FOUND", True)}),
        )
        if outcome not in allowed
    }
    assert wrong == {}


async def test_stopping_the_server_fails_running_runs_and_keeps_queued_ones(tmp_path):
    database = tmp_path / "restart.db"
    first = ThreadlineServer(Settings(listen="127.0.0.1:0", database=str(database), http_listen=""))
    client = connect(f"127.0.0.1:{await first.start()}")
    stopped = False
    try:
        runs = run_pb2_grpc.RunServiceStub(client.channel)
        thread_id = await new_thread(client)
        running = await start(runs, thread_id, words(30), context=slow(100))
        queued = await start(runs, thread_id, "after the restart", multitask_strategy=ENQUEUE)
        stream = runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=running.run_id), timeout=10
        )
        head = await read_until(stream, lambda e: e.type == "message.delta")
        stopping = asyncio.ensure_future(first.stop(grace=1.0))
        # The stream of the run in flight ends cleanly, with the run's final event.
        events = head + await drain(stream)
        await stopping
        stopped = True
    finally:
        await client.channel.close(None)
        if not stopped:
            await first.stop(grace=1.0)
    assert events[-1].type == "run.failed"
    assert events[-1].run.status == FAILED
    assert events[-1].run.error.code == "SERVER_STOPPED"

    second = ThreadlineServer(
        Settings(listen="127.0.0.1:0", database=str(database), http_listen="")
    )
    client = connect(f"127.0.0.1:{await second.start()}")
    try:
        runs = run_pb2_grpc.RunServiceStub(client.channel)
        ended = await runs.GetRun(run_pb2.GetRunRequest(run_id=running.run_id))
        assert ended == events[-1].run
        # The queued run never started before the stop; it runs after the restart.
        resumed = await wait(runs, queued.run_id)
        assert (resumed.status, resumed.error.code) == (COMPLETED, "")
        assert resumed.response == "after the restart"
        assert await thread_status(client, thread_id) == IDLE
    finally:
        await client.channel.close(None)
        await second.stop(grace=1.0)


# -- clients that hang up -------------------------------------------------------------------


async def test_calls_cancelled_mid_read_leave_the_server_healthy(client, runs):
    # Clients hang up at any moment (a stream read up to what they wanted, a
    # UI closed). A call cancelled half-way through a store read must not
    # leave anything behind that fails someone else's later call.
    thread_id = await new_thread(client)
    run = await wait(runs, (await start(runs, thread_id, "a b c")).run_id)
    request = run_pb2.GetRunRequest(run_id=run.run_id)
    failures: list[str] = []
    for index in range(100):
        abandoned = [runs.GetRun(request) for _ in range(4)]
        await asyncio.sleep((index % 11) * 0.0003)
        for call in abandoned:
            call.cancel()
        for call in abandoned:
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
                await call
        for _ in range(4):
            try:
                assert await runs.GetRun(request) == run
            except grpc.aio.AioRpcError as error:
                failures.append(f"call {index}: {error.code().name} {error.details()}")
        if failures:
            break
    assert failures == []


async def test_stream_run_ends_when_its_thread_is_deleted(client, runs):
    thread_id = await new_thread(client)
    stream = runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user(words(30))],
            context=slow(100),
        ),
        timeout=5,
    )
    await read_until(stream, lambda e: e.type == "message.delta")
    started = time.monotonic()
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))
    with contextlib.suppress(grpc.aio.AioRpcError):
        await drain(stream)
    assert time.monotonic() - started < 2
