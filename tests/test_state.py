"""Thread state and checkpoints, against the real in-process server over a real SQLite file.

Every test asserts what protos/threadline/v1/thread.proto says of
GetThreadState, UpdateThreadState, ListThreadCheckpoints and CopyThread at a
checkpoint, and what run.proto says of a run's changes to the state: made by
in-process agents (the built-in `notes`, and a scripted agent of this module
the server loads by name), and undone when a run ends FAILED or CANCELLED,
however it ends (its own failure, a cancel, a timeout, INTERRUPT, ROLLBACK).
Workers' changes are tested in test_worker.py and test_clients.py (Go).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server import jsonvalue
from threadline_server.config import Settings
from threadline_server.domain.agents import (
    AgentEvent,
    AgentFailure,
    AgentInput,
    IterationStarted,
    StateUpdate,
    TextDelta,
    ToolOutcome,
)
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RunningServer, connect, expect_failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

if TYPE_CHECKING:
    from threadline.v1.run_pb2_grpc import RunServiceAsyncStub as Runs

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
ABORTED = grpc.StatusCode.ABORTED
USER = message_pb2.MESSAGE_ROLE_USER
UPDATE = thread_pb2.CHECKPOINT_SOURCE_UPDATE
RUN = thread_pb2.CHECKPOINT_SOURCE_RUN
RESTORE = thread_pb2.CHECKPOINT_SOURCE_RESTORE
COPY = thread_pb2.CHECKPOINT_SOURCE_COPY
# The run timeout of this module's server: the scripted agent sleeps past it
# on purpose in one test, and well within it everywhere else.
RUN_TIMEOUT = 3.0


# -- an agent the server loads from this module ------------------------------------


class ScriptedAgent:
    """Does what its run's context lists in ``steps``, in order, in one iteration.

    Steps: {"state": {...}, "mask": [...]} changes the state; {"text": "..."}
    streams text; {"say_state": true} streams the state it was given as
    JSON; {"sleep_ms": N} waits; {"fail": "CODE"} fails the run;
    {"big_state": N} sets a blob of N bytes; {"raw": "set"} yields a state
    that is not JSON.
    """

    name: str = "scripted"
    default_max_iterations: int = 3
    tools: Sequence[str] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Follow the script."""
        yield IterationStarted()
        steps: Any = request.context.get("steps", [])
        for step in steps:
            if "state" in step or "mask" in step:
                yield StateUpdate(step.get("state", {}), tuple(step.get("mask", ())))
            elif "big_state" in step:
                yield StateUpdate({"blob": "x" * step["big_state"]})
            elif "raw" in step:
                yield StateUpdate({"value": step["raw"] if step["raw"] != "set" else {1, 2}})
            elif "text" in step:
                yield TextDelta(step["text"])
            elif "say_state" in step:
                yield TextDelta(jsonvalue.dumps(dict(request.state)))
            elif "sleep_ms" in step:
                await asyncio.sleep(step["sleep_ms"] / 1000)
            elif "fail" in step:
                raise AgentFailure(step["fail"], "the script says so")


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
async def server(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """A server with the scripted agent of this module (and the built-in ones)."""
    database = tmp_path / "state.db"
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            database=database_value if "://" in database_value else str(database),
            grace_period=1.0,
            http_listen="",
            run_timeout=RUN_TIMEOUT,
            agents=("scripted=tests.test_state:ScriptedAgent",),
        )
    )
    port = await instance.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        yield RunningServer(instance, client, database)
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


@pytest.fixture
def runs(server: RunningServer) -> Runs:
    """A RunService stub on the server's channel."""
    return run_pb2_grpc.RunServiceStub(server.client.channel)


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    """Return a Struct holding a plain JSON object."""
    result = struct_pb2.Struct()
    result.update(values)
    return result


def plain(value: struct_pb2.Struct) -> dict[str, Any]:
    """Return a Struct as plain values, integral numbers as ints."""
    return jsonvalue.struct_to_python(value)


def user(text: str) -> message_pb2.Message:
    """Return a user message with one text part."""
    return message_pb2.Message(role=USER, parts=[message_pb2.Part(text=text)])


async def new_thread(client: Any, thread_id: str = "") -> str:
    """Create a thread and return its id."""
    thread: thread_pb2.Thread = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread_id=thread_id)
    )
    return thread.thread_id


async def get_state(client: Any, thread_id: str) -> thread_pb2.ThreadState:
    """GetThreadState."""
    state: thread_pb2.ThreadState = await client.threads.GetThreadState(
        thread_pb2.GetThreadStateRequest(thread_id=thread_id)
    )
    return state


async def update(
    client: Any, thread_id: str, values: dict[str, Any], *paths: str, etag: str = ""
) -> thread_pb2.ThreadState:
    """UpdateThreadState with values, a mask (none when no paths), and an etag."""
    state: thread_pb2.ThreadState = await client.threads.UpdateThreadState(
        thread_pb2.UpdateThreadStateRequest(
            thread_state=thread_pb2.ThreadState(
                thread_id=thread_id, values=struct(values), etag=etag
            ),
            update_mask=field_mask_pb2.FieldMask(paths=list(paths)) if paths else None,
        )
    )
    return state


async def checkpoints(client: Any, thread_id: str) -> list[thread_pb2.ThreadCheckpoint]:
    """Every checkpoint of a thread, newest first, walking the pages."""
    found: list[thread_pb2.ThreadCheckpoint] = []
    token = ""
    while True:
        page = await client.threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(
                thread_id=thread_id, page_size=100, page_token=token
            )
        )
        found.extend(page.checkpoints)
        token = page.next_page_token
        if not token:
            return found


async def run_script(
    runs: Runs, thread_id: str, steps: list[dict[str, Any]], text: str = "go", **fields: Any
) -> run_pb2.Run:
    """Start the scripted agent on a thread with one user message."""
    context = struct({"steps": steps})
    return await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="scripted",
            input_messages=[user(text)],
            context=context,
            **fields,
        )
    )


async def wait(runs: Runs, run_id: str) -> run_pb2.Run:
    """Wait for a run to end (bounded), and return it."""
    run = await runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=run_id, timeout=duration_pb2.Duration(seconds=15)),
        timeout=20,
    )
    assert run.status not in (run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING), run
    return run


async def events_of(runs: Runs, run_id: str) -> list[run_pb2.RunEvent]:
    """Every event of a run that has ended."""
    call = runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run_id), timeout=20)
    return [event async for event in call]


async def wait_for_state(client: Any, thread_id: str, wanted: dict[str, Any]) -> None:
    """Wait until a thread's state is wanted (an agent is changing it)."""
    for _ in range(500):
        if plain((await get_state(client, thread_id)).values) == wanted:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"the state never became {wanted}")


# -- reading and changing the state -------------------------------------------------------


async def test_a_new_thread_has_an_empty_state(client):
    thread_id = await new_thread(client)
    state = await get_state(client, thread_id)
    assert state.thread_id == thread_id
    assert plain(state.values) == {}
    assert state.checkpoint_id == ""
    assert not state.HasField("updated_at")
    assert state.etag == "initial"
    assert await checkpoints(client, thread_id) == []


async def test_updates_merge_like_langgraph_s_update_state(client):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"topic": "billing", "profile": {"name": "Ada", "tier": 1}})
    # Keys not given stay; objects merge key by key; other values replace.
    state = await update(
        client,
        thread_id,
        {"profile": {"tier": 2}, "tags": ["a", "b"], "gone": None, "empty": {}},
    )
    assert plain(state.values) == {
        "topic": "billing",
        "profile": {"name": "Ada", "tier": 2},
        "tags": ["a", "b"],
        "gone": None,
        "empty": {},
    }
    state = await update(client, thread_id, {"tags": ["c"], "empty": {"now": True}})
    assert plain(state.values)["tags"] == ["c"]
    assert plain(state.values)["empty"] == {"now": True}
    assert plain((await get_state(client, thread_id)).values) == plain(state.values)


async def test_a_mask_replaces_and_removes(client):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"a": 1, "b": {"c": 2, "d": 3}, "e": 4})
    # values.b replaces b whole; values.e with no e in values removes it.
    state = await update(client, thread_id, {"b": {"c": 9}}, "values.b", "values.e")
    assert plain(state.values) == {"a": 1, "b": {"c": 9}}
    # A deeper path makes the objects on the way.
    state = await update(client, thread_id, {"x": {"y": {"z": 1}}}, "values.x.y.z")
    assert plain(state.values) == {"a": 1, "b": {"c": 9}, "x": {"y": {"z": 1}}}
    # `values` replaces the whole state; with no values it empties it.
    state = await update(client, thread_id, {"only": True}, "values", "etag")
    assert plain(state.values) == {"only": True}
    state = await update(client, thread_id, {}, "values")
    assert plain(state.values) == {}
    assert len(await checkpoints(client, thread_id)) == 5


async def test_the_etag_guards_a_change(client):
    thread_id = await new_thread(client)
    first = await update(client, thread_id, {"n": 1}, etag="initial")
    assert first.etag not in ("", "initial")
    assert first.etag == (await get_state(client, thread_id)).etag
    second = await update(client, thread_id, {"n": 2}, etag=first.etag)
    stale = await expect_failure(update(client, thread_id, {"n": 3}, etag=first.etag))
    assert (stale.code, stale.reason) == (ABORTED, "ETAG_MISMATCH")
    assert stale.error_metadata["field"] == "thread_state.etag"
    again = await get_state(client, thread_id)
    assert (plain(again.values), again.etag) == ({"n": 2}, second.etag)


async def test_of_concurrent_updates_with_one_etag_exactly_one_wins(client):
    thread_id = await new_thread(client)
    base = await update(client, thread_id, {"n": 0})
    outcomes = await asyncio.gather(
        *(update(client, thread_id, {"n": n}, etag=base.etag) for n in range(1, 21)),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, thread_pb2.ThreadState)]
    lost = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(won) == 1
    assert len(lost) == 19
    assert {e.code() for e in lost} == {ABORTED}
    state = await get_state(client, thread_id)
    assert plain(state.values) == plain(won[0].values)
    assert len(await checkpoints(client, thread_id)) == 2


@pytest.mark.parametrize(
    ("values", "paths", "field"),
    [
        ({}, (), "thread_state.values"),
        ({"a": 1}, ("title",), "update_mask"),
        ({"a": 1}, ("values.",), "update_mask"),
        ({"a": 1}, ("values." + ".".join(["k"] * 33),), "update_mask"),
        ({"blob": "x" * (256 * 1024)}, (), "thread_state.values"),
    ],
    ids=["nothing", "not-state", "empty-key", "too-deep-path", "too-big"],
)
async def test_a_bad_change_writes_nothing(client, values, paths, field):
    thread_id = await new_thread(client)
    before = await update(client, thread_id, {"keep": 1})
    failure = await expect_failure(update(client, thread_id, values, *paths))
    assert (failure.code, failure.reason) == (INVALID, "VALIDATION_ERROR")
    assert failure.fields == [field]
    after = await get_state(client, thread_id)
    assert (plain(after.values), after.etag) == ({"keep": 1}, before.etag)
    assert len(await checkpoints(client, thread_id)) == 1


async def test_a_state_at_the_limit_is_taken_and_one_byte_more_is_not(client):
    thread_id = await new_thread(client)
    # {"blob":"..."} is 11 bytes of JSON around the string.
    at_limit = "x" * (256 * 1024 - 11)
    state = await update(client, thread_id, {"blob": at_limit})
    assert len(plain(state.values)["blob"]) == len(at_limit)
    failure = await expect_failure(update(client, thread_id, {"b": 1}))
    assert failure.code == INVALID
    assert "at most 262144 bytes" in failure.message


async def test_an_unknown_thread_is_not_found(client):
    failure = await expect_failure(get_state(client, "nope"))
    assert (failure.code, failure.reason) == (NOT_FOUND, "THREAD_NOT_FOUND")
    failure = await expect_failure(update(client, "nope", {"a": 1}))
    assert (failure.code, failure.error_metadata["field"]) == (NOT_FOUND, "thread_state.thread_id")
    failure = await expect_failure(
        client.threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(thread_id="nope")
        )
    )
    assert failure.code == NOT_FOUND


async def test_every_change_makes_a_checkpoint_listed_newest_first(client):
    thread_id = await new_thread(client)
    first = await update(client, thread_id, {"n": 1})
    message = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("hello"))
    )
    second = await update(client, thread_id, {"n": 2})
    newest, oldest = await checkpoints(client, thread_id)
    assert (newest.checkpoint_id, oldest.checkpoint_id) == (
        second.checkpoint_id,
        first.checkpoint_id,
    )
    assert newest.checkpoint_id.startswith("ckp_")
    assert (oldest.parent_checkpoint_id, newest.parent_checkpoint_id) == ("", first.checkpoint_id)
    assert (oldest.last_message_id, newest.last_message_id) == ("", message.message_id)
    assert (oldest.source, newest.source) == (UPDATE, UPDATE)
    assert (oldest.run_id, newest.run_id) == ("", "")
    assert plain(newest.values) == {"n": 2}
    assert newest.thread_id == thread_id
    assert newest.created_at == second.updated_at
    assert newest.created_at.ToMicroseconds() >= oldest.created_at.ToMicroseconds()


async def test_checkpoint_pages_hold_what_fits_in_4_mib(client):
    thread_id = await new_thread(client)
    for n in range(24):
        await update(client, thread_id, {"n": n, "blob": str(n % 10) * (200 * 1024)}, "values")
    first = await client.threads.ListThreadCheckpoints(
        thread_pb2.ListThreadCheckpointsRequest(thread_id=thread_id, page_size=100)
    )
    assert 10 < len(first.checkpoints) < 24
    assert first.ByteSize() <= 4 * 1024 * 1024
    assert first.next_page_token
    walked = await checkpoints(client, thread_id)
    assert [plain(c.values)["n"] for c in walked] == list(range(23, -1, -1))
    small = await client.threads.ListThreadCheckpoints(
        thread_pb2.ListThreadCheckpointsRequest(thread_id=thread_id, page_size=5)
    )
    assert len(small.checkpoints) == 5
    other = await new_thread(client)
    failure = await expect_failure(
        client.threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(
                thread_id=other, page_token=small.next_page_token
            )
        )
    )
    assert (failure.code, failure.fields) == (INVALID, ["page_token"])


async def test_a_deleted_thread_takes_its_state_with_it(client):
    thread_id = await new_thread(client, "short-lived")
    await update(client, thread_id, {"n": 1})
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=thread_id))
    await new_thread(client, "short-lived")
    assert plain((await get_state(client, thread_id)).values) == {}
    assert await checkpoints(client, thread_id) == []


async def test_a_caller_s_change_is_an_event_of_the_thread(client, runs):
    thread_id = await new_thread(client)
    state = await update(client, thread_id, {"n": 1})
    call = runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=10)
    event = await asyncio.wait_for(call.read(), 10)
    call.cancel()
    assert isinstance(event, run_pb2.RunEvent)
    assert (event.type, event.run_id) == ("state.updated", "")
    assert event.checkpoint.checkpoint_id == state.checkpoint_id
    assert plain(event.checkpoint.values) == {"n": 1}


# -- agents read and change it ---------------------------------------------------------------


async def test_an_agent_reads_the_state_and_changes_it(client, runs):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"seen": 0})
    run = await run_script(
        runs, thread_id, [{"say_state": True}, {"state": {"seen": 1, "by": "agent"}}]
    )
    ended = await wait(runs, run.run_id)
    assert ended.status == run_pb2.RUN_STATUS_COMPLETED
    assert json.loads(ended.response) == {"seen": 0}
    state = await get_state(client, thread_id)
    assert plain(state.values) == {"seen": 1, "by": "agent"}
    newest = (await checkpoints(client, thread_id))[0]
    assert (newest.source, newest.run_id) == (RUN, run.run_id)
    # The run's input message was stored; its answer, still streaming, was not.
    page = await client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id=thread_id))
    assert newest.last_message_id == page.messages[0].message_id
    # The next run reads the changed state.
    again = await wait(runs, (await run_script(runs, thread_id, [{"say_state": True}])).run_id)
    assert json.loads(again.response) == {"seen": 1, "by": "agent"}
    events = await events_of(runs, run.run_id)
    updated = [e for e in events if e.type == "state.updated"]
    assert [e.checkpoint.checkpoint_id for e in updated] == [newest.checkpoint_id]
    types = [e.type for e in events]
    assert types.index("state.updated") < types.index("message.completed", 3)


async def test_the_notes_agent_remembers_in_the_state(client, runs):
    async def chat(text: str, thread_id: str = "") -> run_pb2.ChatResponse:
        answer: run_pb2.ChatResponse = await runs.Chat(
            run_pb2.ChatRequest(message=text, agent_id="notes", thread_id=thread_id)
        )
        return answer

    first = await chat("remember that the printer is on floor 2")
    thread_id = first.thread_id
    assert first.response == "I will remember that the printer is on floor 2."
    await chat("remember the code is 1234.", thread_id)
    recalled = await chat("what do you remember?", thread_id)
    assert recalled.response == "I remember: the printer is on floor 2; the code is 1234."
    state = await get_state(client, thread_id)
    assert plain(state.values) == {"notes": ["the printer is on floor 2", "the code is 1234"]}
    forgot = await chat("forget everything", thread_id)
    assert forgot.response == "I have forgotten everything."
    assert plain((await get_state(client, thread_id)).values) == {}
    empty = await chat("anything?", thread_id)
    assert empty.response.startswith("I remember nothing yet.")
    assert [c.source for c in await checkpoints(client, thread_id)] == [RUN, RUN, RUN]


async def test_an_agent_s_change_over_the_limit_fails_the_run_and_writes_nothing(client, runs):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"keep": 1})
    run = await run_script(runs, thread_id, [{"big_state": 256 * 1024}])
    ended = await wait(runs, run.run_id)
    assert (ended.status, ended.error.code) == (run_pb2.RUN_STATUS_FAILED, "AGENT_ERROR")
    assert "262144" in ended.error.message
    assert plain((await get_state(client, thread_id)).values) == {"keep": 1}
    assert len(await checkpoints(client, thread_id)) == 1


async def test_an_agent_s_state_must_be_json(client, runs):
    thread_id = await new_thread(client)
    ended = await wait(runs, (await run_script(runs, thread_id, [{"raw": "set"}])).run_id)
    assert (ended.status, ended.error.code) == (run_pb2.RUN_STATUS_FAILED, "AGENT_ERROR")
    assert "not JSON" in ended.error.message
    assert await checkpoints(client, thread_id) == []


# -- runs that fail or are cancelled leave the state as it was --------------------------------


async def test_a_failed_run_puts_the_state_back(client, runs):
    thread_id = await new_thread(client)
    before = await update(client, thread_id, {"plan": "A", "step": 0})
    run = await run_script(
        runs,
        thread_id,
        [
            {"state": {"plan": "B"}},
            {"text": "working"},
            {"state": {"step": 1}},
            {"fail": "MODEL_DOWN"},
        ],
    )
    ended = await wait(runs, run.run_id)
    assert (ended.status, ended.error.code) == (run_pb2.RUN_STATUS_FAILED, "MODEL_DOWN")
    state = await get_state(client, thread_id)
    assert plain(state.values) == {"plan": "A", "step": 0}
    assert state.checkpoint_id != before.checkpoint_id
    history = await checkpoints(client, thread_id)
    assert [(c.source, c.run_id) for c in history] == [
        (RESTORE, run.run_id),
        (RUN, run.run_id),
        (RUN, run.run_id),
        (UPDATE, ""),
    ]
    assert [plain(c.values) for c in history[:3]] == [
        {"plan": "A", "step": 0},
        {"plan": "B", "step": 1},
        {"plan": "B", "step": 0},
    ]
    assert history[0].parent_checkpoint_id == history[1].checkpoint_id
    # The half-written answer is stored before the state goes back, and the
    # restore's event comes just before the run's final event.
    assert history[0].last_message_id
    events = await events_of(runs, run.run_id)
    assert [e.type for e in events][-2:] == ["state.updated", "run.failed"]
    assert events[-2].checkpoint.source == RESTORE
    thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_ERROR


async def test_a_failed_run_s_first_change_of_an_empty_state_goes_back_to_empty(client, runs):
    thread_id = await new_thread(client)
    run = await run_script(runs, thread_id, [{"state": {"x": 1}}, {"fail": "NOPE"}])
    await wait(runs, run.run_id)
    assert plain((await get_state(client, thread_id)).values) == {}
    assert [c.source for c in await checkpoints(client, thread_id)] == [RESTORE, RUN]


async def test_a_cancelled_run_puts_the_state_back(client, runs):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"mood": "calm"})
    run = await run_script(runs, thread_id, [{"state": {"mood": "busy"}}, {"sleep_ms": 2000}])
    await wait_for_state(client, thread_id, {"mood": "busy"})
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id))
    ended = await wait(runs, run.run_id)
    assert ended.status == run_pb2.RUN_STATUS_CANCELLED
    assert plain((await get_state(client, thread_id)).values) == {"mood": "calm"}
    assert (await checkpoints(client, thread_id))[0].source == RESTORE


async def test_a_run_that_timed_out_puts_the_state_back(client, runs):
    thread_id = await new_thread(client)
    sleep = int(RUN_TIMEOUT * 1000) + 2000
    run = await run_script(runs, thread_id, [{"state": {"half": True}}, {"sleep_ms": sleep}])
    ended = await wait(runs, run.run_id)
    assert (ended.status, ended.error.code) == (run_pb2.RUN_STATUS_FAILED, "TIMEOUT")
    assert plain((await get_state(client, thread_id)).values) == {}


@pytest.mark.parametrize(
    ("strategy", "code"),
    [
        (run_pb2.MULTITASK_STRATEGY_INTERRUPT, "INTERRUPTED"),
        (run_pb2.MULTITASK_STRATEGY_ROLLBACK, "ROLLED_BACK"),
    ],
)
async def test_interrupt_and_rollback_put_the_state_back(client, runs, strategy, code):
    thread_id = await new_thread(client)
    await update(client, thread_id, {"turn": 1})
    first = await run_script(
        runs, thread_id, [{"state": {"turn": 2}}, {"text": "half"}, {"sleep_ms": 2000}]
    )
    await wait_for_state(client, thread_id, {"turn": 2})
    second = await run_script(
        runs, thread_id, [{"say_state": True}], text="instead", multitask_strategy=strategy
    )
    ended = await wait(runs, first.run_id)
    assert (ended.status, ended.error.code) == (run_pb2.RUN_STATUS_CANCELLED, code)
    # The next run reads the state as it was before the run it replaced.
    after = await wait(runs, second.run_id)
    assert json.loads(after.response) == {"turn": 1}
    assert plain((await get_state(client, thread_id)).values) == {"turn": 1}
    page = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100)
    )
    first_run_messages = [m for m in page.messages if m.run_id == first.run_id]
    if strategy == run_pb2.MULTITASK_STRATEGY_ROLLBACK:
        assert first_run_messages == []
    else:
        assert first_run_messages


async def test_a_failed_run_that_changed_nothing_leaves_a_caller_s_change(client, runs):
    thread_id = await new_thread(client)
    run = await run_script(runs, thread_id, [{"sleep_ms": 300}, {"fail": "LATER"}])
    await update(client, thread_id, {"by": "caller"})
    ended = await wait(runs, run.run_id)
    assert ended.status == run_pb2.RUN_STATUS_FAILED
    assert plain((await get_state(client, thread_id)).values) == {"by": "caller"}
    assert [c.source for c in await checkpoints(client, thread_id)] == [UPDATE]


async def test_a_caller_s_change_after_the_run_s_first_change_goes_with_it(client, runs):
    """As documented: the state returns to what it was before the run's first change."""
    thread_id = await new_thread(client)
    await update(client, thread_id, {"v": 0})
    run = await run_script(runs, thread_id, [{"state": {"v": 1}}, {"sleep_ms": 800}, {"fail": "X"}])
    await wait_for_state(client, thread_id, {"v": 1})
    await update(client, thread_id, {"note": "by a person"})
    await wait(runs, run.run_id)
    assert plain((await get_state(client, thread_id)).values) == {"v": 0}
    history = await checkpoints(client, thread_id)
    # Nothing is lost from the history: the person's change is still there.
    assert [c.source for c in history] == [RESTORE, UPDATE, RUN, UPDATE]
    assert plain(history[1].values) == {"v": 1, "note": "by a person"}


async def test_runs_that_end_otherwise_keep_their_changes(client, runs):
    thread_id = await new_thread(client)
    done = await run_script(runs, thread_id, [{"state": {"a": 1}}, {"text": "ok"}])
    assert (await wait(runs, done.run_id)).status == run_pb2.RUN_STATUS_COMPLETED
    # One iteration too many: MAX_ITERATIONS_REACHED keeps the state too.
    capped = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="notes",
            max_iterations=1,
            input_messages=[user("remember that b is 2")],
        )
    )
    assert (await wait(runs, capped.run_id)).status == run_pb2.RUN_STATUS_COMPLETED
    assert plain((await get_state(client, thread_id)).values) == {"a": 1, "notes": ["b is 2"]}


# -- forks -------------------------------------------------------------------------------------


async def test_a_copy_at_a_checkpoint_forks_the_thread(client, runs):
    thread_id = await new_thread(client)
    texts = ["one", "two", "three"]
    ids = []
    for text in texts[:2]:
        created = await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=user(text))
        )
        ids.append(created.message_id)
    at = await update(client, thread_id, {"branch": "here"})
    await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=user(texts[2]))
    )
    await update(client, thread_id, {"branch": "later"})
    # A message before the checkpoint, deleted since, is not brought back.
    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(thread_id=thread_id, message_id=ids[0])
    )
    fork = await client.threads.CopyThread(
        thread_pb2.CopyThreadRequest(
            thread_id=thread_id, new_thread_id="fork", checkpoint_id=at.checkpoint_id
        )
    )
    assert fork.message_count == 1
    page = await client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id="fork"))
    assert [m.parts[0].text for m in page.messages] == ["two"]
    assert page.messages[0].message_id != ids[1]
    state = await get_state(client, "fork")
    assert plain(state.values) == {"branch": "here"}
    (first,) = await checkpoints(client, "fork")
    assert (first.source, first.parent_checkpoint_id) == (COPY, "")
    assert first.last_message_id == page.messages[0].message_id
    # The source is untouched.
    assert plain((await get_state(client, thread_id)).values) == {"branch": "later"}
    assert len(await checkpoints(client, thread_id)) == 2
    # The fork goes its own way: a run on it reads and changes its own state.
    run = await run_script(runs, "fork", [{"say_state": True}, {"state": {"branch": "fork"}}])
    assert json.loads((await wait(runs, run.run_id)).response) == {"branch": "here"}
    assert plain((await get_state(client, thread_id)).values) == {"branch": "later"}


async def test_a_fork_at_a_checkpoint_with_the_deleted_last_message_still_stops_there(client):
    thread_id = await new_thread(client)
    for text in ("a", "b"):
        await client.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread_id, message=user(text))
        )
    at = await update(client, thread_id, {"k": 1})
    later = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("c"))
    )
    del later
    page = await client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id=thread_id))
    second = page.messages[1].message_id
    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(thread_id=thread_id, message_id=second)
    )
    fork = await client.threads.CopyThread(
        thread_pb2.CopyThreadRequest(thread_id=thread_id, checkpoint_id=at.checkpoint_id)
    )
    forked = await client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=fork.thread_id)
    )
    assert [m.parts[0].text for m in forked.messages] == ["a"]


async def test_a_plain_copy_takes_the_current_state(client):
    thread_id = await new_thread(client)
    plain_copy = await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id=thread_id))
    assert await checkpoints(client, plain_copy.thread_id) == []
    await update(client, thread_id, {"v": 1})
    await update(client, thread_id, {"v": 2})
    await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(thread_id=thread_id, message=user("hi"))
    )
    copy = await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id=thread_id))
    assert copy.message_count == 1
    assert plain((await get_state(client, copy.thread_id)).values) == {"v": 2}
    assert [c.source for c in await checkpoints(client, copy.thread_id)] == [COPY]


async def test_a_fork_at_an_unknown_checkpoint_is_not_found_and_makes_nothing(client):
    thread_id = await new_thread(client)
    other = await new_thread(client)
    theirs = await update(client, other, {"x": 1})
    for checkpoint_id in ("ckp_0000000000000000000000zzzz", theirs.checkpoint_id):
        failure = await expect_failure(
            client.threads.CopyThread(
                thread_pb2.CopyThreadRequest(
                    thread_id=thread_id, new_thread_id="nope", checkpoint_id=checkpoint_id
                )
            )
        )
        assert (failure.code, failure.reason) == (NOT_FOUND, "CHECKPOINT_NOT_FOUND")
        assert failure.error_metadata["field"] == "checkpoint_id"
    count = await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
    assert count.count == 2


async def test_checkpoints_are_json_in_the_http_mapping_s_shape():
    """The proto JSON of a checkpoint (what grpcurl and HTTP print) names every field."""
    checkpoint = thread_pb2.ThreadCheckpoint(
        checkpoint_id="ckp_x", source=RUN, run_id="run_x", values=struct({"a": 1})
    )
    assert json_format.MessageToDict(checkpoint) == {
        "checkpointId": "ckp_x",
        "values": {"a": 1.0},
        "runId": "run_x",
        "source": "CHECKPOINT_SOURCE_RUN",
    }
