"""Runs across a server crash: kill -9 mid-run, restart on the same database.

Each test runs ``python -m threadline_server serve`` as a child process (the
``spawn_server`` fixture), kills it with SIGKILL while an echo run streams,
starts a new one on the same SQLite file, and checks what clients see: the
event log resumes with nothing missed or repeated and ends the interrupted
run FAILED with SERVER_RESTARTED; queued runs still run; the file is intact.
Every wait is bounded.
"""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, json_format, struct_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)

from tests.conftest import ServerProcess

pytestmark = pytest.mark.process

RPC_TIMEOUT = 10.0
FINAL_TYPES = {"run.completed", "run.max_iterations_reached", "run.failed", "run.cancelled"}
THIRTY_WORDS = " ".join(f"word{i}" for i in range(30))


@dataclass
class Stubs:
    """The client stubs these tests use."""

    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub


@asynccontextmanager
async def connected(server: ServerProcess) -> AsyncIterator[Stubs]:
    """Stubs for a server process, the channel closed on the way out."""
    channel = grpc.aio.insecure_channel(server.address)
    try:
        yield Stubs(
            thread_pb2_grpc.ThreadServiceStub(channel),
            message_pb2_grpc.MessageServiceStub(channel),
            run_pb2_grpc.RunServiceStub(channel),
        )
    finally:
        await channel.close(None)


def echo_request(
    thread_id: str,
    text: str,
    *,
    delay_ms: int = 0,
    strategy: Any = run_pb2.MULTITASK_STRATEGY_UNSPECIFIED,
) -> run_pb2.CreateRunRequest:
    """A run of the built-in echo agent with one user message."""
    context = struct_pb2.Struct()
    if delay_ms:
        context.update({"delay_ms": delay_ms})
    return run_pb2.CreateRunRequest(
        thread_id=thread_id,
        agent_id="echo",
        input_messages=[
            message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
            )
        ],
        context=context,
        multitask_strategy=strategy,
    )


async def new_thread(stubs: Stubs) -> str:
    """Create a thread; return its id."""
    thread = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="crash test")),
        timeout=RPC_TIMEOUT,
    )
    return thread.thread_id


async def run_events(stubs: Stubs, run_id: str, after: int = 0) -> list[Any]:
    """Every event of a run after an id, to its final one (the stream ends there)."""
    call = stubs.runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after), timeout=20
    )
    return [event async for event in call]


async def get_run(stubs: Stubs, run_id: str) -> run_pb2.Run:
    """GetRun."""
    return await stubs.runs.GetRun(run_pb2.GetRunRequest(run_id=run_id), timeout=RPC_TIMEOUT)


async def thread_status(stubs: Stubs, thread_id: str) -> Any:
    """The thread's status."""
    thread = await stubs.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
    )
    return thread.status


async def stream_until_deltas(call: Any, count: int) -> list[Any]:
    """Read a run's stream until `count` deltas have arrived, then leave it."""
    seen: list[Any] = []
    async for event in call:
        seen.append(event)
        if sum(e.type == "message.delta" for e in seen) >= count:
            break
    call.cancel()
    assert sum(e.type == "message.delta" for e in seen) >= count, [e.type for e in seen]
    return seen


def kill_9(server: ServerProcess) -> None:
    """SIGKILL the server and reap it."""
    server.process.send_signal(signal.SIGKILL)
    assert server.process.wait(10) == -signal.SIGKILL


def integrity_check(database: Path) -> list[str]:
    """PRAGMA integrity_check and foreign_key_check on a closed database file."""
    connection = sqlite3.connect(database)
    try:
        rows = [str(r[0]) for r in connection.execute("PRAGMA integrity_check")]
        dangling = connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()
    assert not dangling, f"rows pointing at missing parents: {dangling}"
    return rows


@dataclass
class Crash:
    """What a client saw of a run before and after the server was killed under it."""

    thread_id: str
    run_id: str
    before: list[Any]
    last: int
    resumed: list[Any]
    everything: list[Any]
    run: run_pb2.Run
    thread_status: Any
    messages: list[message_pb2.Message]


async def crash_mid_run(spawn_server: Any, database: Path) -> Crash:
    """Stream a slow echo run, kill -9 the server after 3 deltas, restart, resume.

    The restarted server is stopped with SIGTERM (exit 0) and the database
    checked with PRAGMA integrity_check before this returns.
    """
    first = spawn_server(database)
    async with connected(first) as stubs:
        thread_id = await new_thread(stubs)
        call = stubs.runs.StreamRun(echo_request(thread_id, THIRTY_WORDS, delay_ms=200), timeout=20)
        before = await stream_until_deltas(call, 3)
    assert before[0].type == "run.created"
    run_id = before[0].run.run_id
    last = before[-1].event_id
    kill_9(first)

    second = spawn_server(database)
    async with connected(second) as stubs:
        resumed = await run_events(stubs, run_id, after=last)
        everything = await run_events(stubs, run_id)
        run = await get_run(stubs, run_id)
        status = await thread_status(stubs, thread_id)
        listed = await stubs.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100),
            timeout=RPC_TIMEOUT,
        )
    assert second.stop() == 0, second.log
    assert integrity_check(database) == ["ok"]
    return Crash(
        thread_id, run_id, before, last, resumed, everything, run, status, list(listed.messages)
    )


async def test_kill_9_mid_run_then_the_stream_resumes_and_ends_server_restarted(
    spawn_server, tmp_path
):
    crash = await crash_mid_run(spawn_server, tmp_path / "threadline.db")

    # The rest of the log, with no gap and nothing repeated.
    resumed_ids = [e.event_id for e in crash.resumed]
    assert resumed_ids, "nothing after the last event received"
    assert all(i > crash.last for i in resumed_ids), (crash.last, resumed_ids)
    assert resumed_ids == sorted(set(resumed_ids)), resumed_ids
    assert [e.event_id for e in crash.before] + resumed_ids == [
        e.event_id for e in crash.everything
    ]
    assert all(e.run_id == crash.run_id for e in crash.everything)

    # It ends with the run failed by the restart, once.
    assert crash.resumed[-1].type == "run.failed", [e.type for e in crash.resumed]
    assert crash.resumed[-1].run.error.code == "SERVER_RESTARTED"
    assert [e.type for e in crash.everything if e.type in FINAL_TYPES] == ["run.failed"]
    assert crash.run.status == run_pb2.RUN_STATUS_FAILED
    assert crash.run.error.code == "SERVER_RESTARTED"
    assert crash.run.HasField("ended_at")
    assert crash.thread_status != thread_pb2.THREAD_STATUS_BUSY
    assert crash.thread_status in (thread_pb2.THREAD_STATUS_IDLE, thread_pb2.THREAD_STATUS_ERROR)
    # No delta was lost with the crash: what was streamed is a prefix of the echo.
    streamed = "".join(e.delta.text for e in crash.everything if e.type == "message.delta")
    assert len(streamed) > 0
    assert THIRTY_WORDS.startswith(streamed)
    assert crash.messages[0].parts[0].text == THIRTY_WORDS


async def test_kill_9_mid_run_the_partial_answer_is_completed_after_restart(spawn_server, tmp_path):
    # As a cancel, an expired lease or a drain does: the message the agent was
    # streaming is completed and stored before the run's final event, so a
    # client never holds a message.created without its message.completed.
    crash = await crash_mid_run(spawn_server, tmp_path / "threadline.db")
    streamed = [e for e in crash.everything if e.type == "message.delta"]
    answer_id = streamed[0].delta.message_id
    text = "".join(e.delta.text for e in streamed)
    types = [(e.type, e.message.message_id) for e in crash.everything]
    assert ("message.completed", answer_id) in types, types
    assert types.index(("message.completed", answer_id)) < len(types) - 1
    stored = [m for m in crash.messages if m.message_id == answer_id]
    assert [(m.run_id, m.parts[0].text) for m in stored] == [(crash.run_id, text)], crash.messages


async def test_kill_9_leaves_a_queued_run_that_still_runs_after_restart(spawn_server, tmp_path):
    database = tmp_path / "threadline.db"
    first = spawn_server(database)
    async with connected(first) as stubs:
        thread_id = await new_thread(stubs)
        call = stubs.runs.StreamRun(echo_request(thread_id, THIRTY_WORDS, delay_ms=200), timeout=20)
        before = await stream_until_deltas(call, 2)
        running_id = before[0].run.run_id
        queued = await stubs.runs.CreateRun(
            echo_request(thread_id, "the queued one", strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE),
            timeout=RPC_TIMEOUT,
        )
        assert queued.status == run_pb2.RUN_STATUS_QUEUED
        assert (await get_run(stubs, running_id)).status == run_pb2.RUN_STATUS_RUNNING
    kill_9(first)

    second = spawn_server(database)
    async with connected(second) as stubs:
        timeout = duration_pb2.Duration(seconds=15)
        done = await stubs.runs.WaitRun(
            run_pb2.WaitRunRequest(run_id=queued.run_id, timeout=timeout), timeout=20
        )
        assert done.status == run_pb2.RUN_STATUS_COMPLETED, done
        assert done.response == "the queued one"
        events = await run_events(stubs, queued.run_id)
        assert [e.type for e in events if e.type.startswith("run.")] == [
            "run.created",
            "run.started",
            "run.completed",
        ]
        interrupted = await get_run(stubs, running_id)
        assert interrupted.status == run_pb2.RUN_STATUS_FAILED
        assert interrupted.error.code == "SERVER_RESTARTED"
        listed = await stubs.runs.ListRuns(
            run_pb2.ListRunsRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert {r.run_id: r.status for r in listed.runs} == {
            running_id: run_pb2.RUN_STATUS_FAILED,
            queued.run_id: run_pb2.RUN_STATUS_COMPLETED,
        }
        assert await thread_status(stubs, thread_id) == thread_pb2.THREAD_STATUS_IDLE

    assert second.stop() == 0, second.log
    assert integrity_check(database) == ["ok"]


async def test_kill_9_after_a_run_changed_the_state_puts_it_back_after_restart(
    spawn_server, tmp_path
):
    # The notes agent changes the state before it streams its answer; the
    # server dies mid-answer; the restarted one fails the run (SERVER_RESTARTED)
    # and the state is what it was before the run, from the log alone.
    database = tmp_path / "threadline.db"
    first = spawn_server(database)
    async with connected(first) as stubs:
        thread_id = await new_thread(stubs)
        before = await stubs.threads.UpdateThreadState(
            thread_pb2.UpdateThreadStateRequest(
                thread_state=thread_pb2.ThreadState(
                    thread_id=thread_id, values=struct({"notes": ["kept"]})
                )
            ),
            timeout=RPC_TIMEOUT,
        )
        request = echo_request(thread_id, "remember that " + THIRTY_WORDS, delay_ms=200)
        request.agent_id = "notes"
        call = stubs.runs.StreamRun(request, timeout=20)
        seen = await stream_until_deltas(call, 2)
        assert "state.updated" in [e.type for e in seen]
        changed = await stubs.threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert len(json_format.MessageToDict(changed.values)["notes"]) == 2
    kill_9(first)

    second = spawn_server(database)
    async with connected(second) as stubs:
        events = await run_events(stubs, seen[0].run_id)
        state = await stubs.threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
    assert second.stop() == 0, second.log
    assert [e.type for e in events][-2:] == ["state.updated", "run.failed"]
    assert events[-1].run.error.code == "SERVER_RESTARTED"
    assert events[-2].checkpoint.source == thread_pb2.CHECKPOINT_SOURCE_RESTORE
    assert json_format.MessageToDict(state.values) == {"notes": ["kept"]}
    assert state.checkpoint_id == events[-2].checkpoint.checkpoint_id != before.checkpoint_id
    assert integrity_check(database) == ["ok"]


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """A Struct holding a plain JSON object."""
    result = struct_pb2.Struct()
    result.update(values)
    return result
