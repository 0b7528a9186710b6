"""Human in the loop over gRPC: runs that pause in REQUIRES_ACTION and are resumed.

The built-in tools-demo agent asks for what these tests answer: "where am I"
calls the client tool get_location when the run declares it, and
``{"approval": true}`` in the context asks a person first. Each test drives
a real server over a real SQLite file and channel; the paused run's rows are
read back through the API (GetRun, ListMessages, WatchThread).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2
from threadline_server.config import Settings
from threadline_server.domain.agents import (
    AgentEvent,
    AgentInput,
    ClientToolCall,
    IterationStarted,
    RequiresAction,
    ToolOutcome,
)
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import connect, expect_failure

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

WAITING = run_pb2.RUN_STATUS_REQUIRES_ACTION
QUEUED = run_pb2.RUN_STATUS_QUEUED
COMPLETED = run_pb2.RUN_STATUS_COMPLETED
CANCELLED = run_pb2.RUN_STATUS_CANCELLED
INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
LOCATION_TOOL = run_pb2.ClientTool(
    name="get_location",
    description="Where the user is: a city name.",
    parameters=json_format.ParseDict({"type": "object"}, struct_pb2.Struct()),
)
WAIT = 10.0


@dataclass
class Hitl:
    """A server, its client, and the RunService stub."""

    server: ThreadlineServer
    client: Any  # the sync stub types of Client; called as async ones here
    runs: Any


async def _start(
    tmp_path: Path, database: str = "", **settings: Any
) -> tuple[ThreadlineServer, Any]:
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            database=database or str(tmp_path / "threadline.db"),
            grace_period=1.0,
            http_listen="",
            **settings,
        )
    )
    port = await instance.start()
    return instance, connect(f"127.0.0.1:{port}")


@pytest.fixture
async def hitl(tmp_path: Path, database_value: str) -> AsyncIterator[Hitl]:
    """A server with the default --action-timeout, and a RunService stub."""
    instance, client = await _start(tmp_path, database_value)
    try:
        yield Hitl(instance, client, run_pb2_grpc.RunServiceStub(client.channel))
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


async def _thread(client: Any) -> str:
    thread: thread_pb2.Thread = await client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    return thread.thread_id


def _ask(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def _paused(runs: Any, thread_id: str, text: str, **fields: Any) -> run_pb2.Run:
    """Create a tools-demo run and wait until it pauses."""
    run = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id, agent_id="tools-demo", input_messages=[_ask(text)], **fields
        )
    )
    waited: run_pb2.Run = await runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT
    )
    assert waited.status == WAITING, waited
    return waited


def _approval_context(approval: bool = True) -> struct_pb2.Struct:
    return json_format.ParseDict({"approval": approval}, struct_pb2.Struct())


async def test_client_tool_pauses_and_resumes(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "where am I?", client_tools=[LOCATION_TOOL])
    action = run.required_action
    assert action.action_id.startswith("act_")
    assert [c.name for c in action.tool_calls.calls] == ["get_location"]
    assert action.expire_time.seconds > run.created_at.seconds + 23 * 3600
    assert run.tool_calls[0].status == run_pb2.TOOL_CALL_STATUS_RUNNING
    assert [t.name for t in run.client_tools] == ["get_location"]
    thread = await hitl.client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_INTERRUPTED

    call_id = action.tool_calls.calls[0].id
    output = message_pb2.ToolResult(tool_call_id=call_id, text="Lisbon")
    resumed = await hitl.runs.ResumeRun(
        run_pb2.ResumeRunRequest(run_id=run.run_id, tool_outputs=[output])
    )
    assert resumed.status in (QUEUED, run_pb2.RUN_STATUS_RUNNING, COMPLETED)
    done = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
    assert done.status == COMPLETED, done
    assert done.response == "You are in Lisbon."
    assert done.tool_calls[0].status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED
    assert done.action_response.tool_outputs[0].text == "Lisbon"
    # One iteration to ask, one to answer.
    assert done.iterations == 2
    thread = await hitl.client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_IDLE

    events = [
        event.type
        async for event in hitl.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=WAIT
        )
    ]
    assert events.count("run.started") == 2
    assert events.index("run.requires_action") < events.index("run.resumed")
    assert events[events.index("tool_call.started") + 1 :].index("run.requires_action") >= 0
    assert events[-1] == "run.completed"
    messages = await hitl.client.messages.ListMessages(
        message_pb2.ListMessagesRequest(thread_id=thread_id, order_by="created_at")
    )
    kinds = [m.parts[0].WhichOneof("kind") for m in messages.messages]
    assert kinds == ["text", "tool_call", "tool_result", "text"]


async def test_question_with_schema(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "what is 2+3", context=_approval_context())
    question = run.required_action.question
    assert question.text.startswith("May I answer")
    assert json_format.MessageToDict(question.answer_schema)["required"] == ["approved"]
    answer = json_format.ParseDict({"approved": True}, struct_pb2.Value())
    await hitl.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=run.run_id, answer=answer))
    done = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
    assert done.status == COMPLETED
    assert done.response == "2+3 = 5."


async def test_question_refused(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "what is 2+3", context=_approval_context())
    answer = json_format.ParseDict({"approved": False}, struct_pb2.Value())
    await hitl.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=run.run_id, answer=answer))
    done = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
    assert done.response == "You did not approve, so I did nothing."
    assert not done.tool_calls


async def test_wrong_answers_name_the_field_and_write_nothing(hitl: Hitl, counts: Any) -> None:
    thread_id = await _thread(hitl.client)
    asked = await _paused(hitl.runs, thread_id, "hi", context=_approval_context())
    value = struct_pb2.Value
    cases: list[tuple[run_pb2.ResumeRunRequest, str]] = [
        (run_pb2.ResumeRunRequest(run_id=asked.run_id), "answer"),
        (
            run_pb2.ResumeRunRequest(
                run_id=asked.run_id, answer=json_format.ParseDict({}, value())
            ),
            "answer.approved",
        ),
        (
            run_pb2.ResumeRunRequest(
                run_id=asked.run_id, answer=json_format.ParseDict({"approved": "yes"}, value())
            ),
            "answer.approved",
        ),
        (
            run_pb2.ResumeRunRequest(
                run_id=asked.run_id,
                answer=json_format.ParseDict({"approved": True}, value()),
                tool_outputs=[message_pb2.ToolResult(tool_call_id="x", text="y")],
            ),
            "tool_outputs",
        ),
        (run_pb2.ResumeRunRequest(run_id="bad id"), "run_id"),
        (run_pb2.ResumeRunRequest(run_id=asked.run_id, request_id="no spaces"), "request_id"),
    ]
    other = await _thread(hitl.client)
    called = await _paused(hitl.runs, other, "where am I", client_tools=[LOCATION_TOOL])
    call_id = called.required_action.tool_calls.calls[0].id
    result = message_pb2.ToolResult
    cases += [
        (run_pb2.ResumeRunRequest(run_id=called.run_id), "tool_outputs"),
        (
            run_pb2.ResumeRunRequest(
                run_id=called.run_id, tool_outputs=[result(tool_call_id="call_nope", text="x")]
            ),
            "tool_outputs[0].tool_call_id",
        ),
        (
            run_pb2.ResumeRunRequest(
                run_id=called.run_id,
                tool_outputs=[
                    result(tool_call_id=call_id, text="x"),
                    result(tool_call_id=call_id, text="y"),
                ],
            ),
            "tool_outputs[1].tool_call_id",
        ),
        (
            run_pb2.ResumeRunRequest(
                run_id=called.run_id, tool_outputs=[result(tool_call_id=call_id)]
            ),
            "tool_outputs[0]",
        ),
        (
            run_pb2.ResumeRunRequest(
                run_id=called.run_id,
                tool_outputs=[result(tool_call_id=call_id, text="x")],
                answer=value(bool_value=True),
            ),
            "answer",
        ),
    ]
    for request, field in cases:
        refused = await expect_failure(hitl.runs.ResumeRun(request))
        assert refused.code == INVALID, (request, refused)
        assert refused.reason == "VALIDATION_ERROR"
        assert field in refused.fields, (field, refused)
        assert refused.error_metadata["field"] == refused.fields[0]
    for run in (asked, called):
        again = await hitl.runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
        assert again.status == WAITING
        assert not again.HasField("action_response")
    counts(f"ResumeRun: {len(cases)} wrong requests refused, each naming its field")


async def test_resuming_a_run_that_does_not_wait(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await hitl.runs.CreateRun(
        run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="echo", input_messages=[_ask("x")])
    )
    await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
    refused = await expect_failure(
        hitl.runs.ResumeRun(
            run_pb2.ResumeRunRequest(run_id=run.run_id, answer=struct_pb2.Value(bool_value=True))
        )
    )
    assert refused.code == PRECONDITION
    assert refused.reason == "RUN_NOT_WAITING"
    assert refused.error_metadata["status"] == "RUN_STATUS_COMPLETED"
    unknown = await expect_failure(
        hitl.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id="run_0000000000000000000000zzzz"))
    )
    assert unknown.code == grpc.StatusCode.NOT_FOUND
    assert unknown.reason == "RUN_NOT_FOUND"


async def test_resume_is_idempotent(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "what is 1+1", context=_approval_context())
    request = run_pb2.ResumeRunRequest(
        run_id=run.run_id,
        answer=json_format.ParseDict({"approved": True}, struct_pb2.Value()),
        request_id="resume-1",
    )
    first = await hitl.runs.ResumeRun(request)
    done = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
    assert done.status == COMPLETED
    again = await hitl.runs.ResumeRun(request)
    assert again.run_id == first.run_id
    assert again.status == COMPLETED
    events = [
        e.type
        async for e in hitl.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=WAIT
        )
    ]
    assert events.count("run.resumed") == 1
    changed = run_pb2.ResumeRunRequest(
        run_id=run.run_id, answer=struct_pb2.Value(bool_value=False), request_id="resume-1"
    )
    reused = await expect_failure(hitl.runs.ResumeRun(changed))
    assert reused.code == INVALID
    assert reused.reason == "REQUEST_ID_REUSED"


async def test_cancel_while_waiting(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "where am I", client_tools=[LOCATION_TOOL])
    cancelled = await hitl.runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id))
    assert cancelled.status == CANCELLED
    assert cancelled.error.code == "CANCELLED_BY_CLIENT"
    assert cancelled.tool_calls[0].error_code == "RUN_ENDED"
    thread = await hitl.client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_IDLE
    refused = await expect_failure(
        hitl.runs.ResumeRun(
            run_pb2.ResumeRunRequest(
                run_id=run.run_id,
                tool_outputs=[
                    message_pb2.ToolResult(
                        tool_call_id=run.required_action.tool_calls.calls[0].id, text="x"
                    )
                ],
            )
        )
    )
    assert refused.reason == "RUN_NOT_WAITING"


async def test_waiting_run_holds_its_thread(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "where am I", client_tools=[LOCATION_TOOL])
    busy = await expect_failure(
        hitl.runs.CreateRun(run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="echo"))
    )
    assert busy.reason == "THREAD_BUSY"
    queued = await hitl.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[_ask("next")],
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
        )
    )
    await asyncio.sleep(0.3)  # the point: nothing starts while the first run waits
    assert (await hitl.runs.GetRun(run_pb2.GetRunRequest(run_id=queued.run_id))).status == QUEUED
    thread = await hitl.client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_INTERRUPTED
    # Cancelling the queued run leaves the thread as the waiting run makes it.
    other = await hitl.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
        )
    )
    await hitl.runs.CancelRun(run_pb2.CancelRunRequest(run_id=other.run_id))
    thread = await hitl.client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
    assert thread.status == thread_pb2.THREAD_STATUS_INTERRUPTED
    call_id = run.required_action.tool_calls.calls[0].id
    await hitl.runs.ResumeRun(
        run_pb2.ResumeRunRequest(
            run_id=run.run_id,
            tool_outputs=[message_pb2.ToolResult(tool_call_id=call_id, text="Oslo")],
        )
    )
    later = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=queued.run_id), timeout=WAIT)
    first = await hitl.runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
    assert first.status == COMPLETED
    assert later.status == COMPLETED
    assert first.ended_at.ToMicroseconds() <= later.started_at.ToMicroseconds()


async def test_interrupt_cancels_a_waiting_run(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    run = await _paused(hitl.runs, thread_id, "hi", context=_approval_context())
    await hitl.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_INTERRUPT,
        )
    )
    ended = await hitl.runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
    assert ended.status == CANCELLED
    assert ended.error.code == "INTERRUPTED"


async def test_a_waiting_run_expires(tmp_path: Path) -> None:
    instance, client = await _start(tmp_path, action_timeout=0.5, lease_check_interval=0.1)
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    try:
        thread_id = await _thread(client)
        run = await _paused(runs, thread_id, "hi", context=_approval_context())
        stream = runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=WAIT
        )
        types = [event.type async for event in stream]
        assert types[-1] == "run.cancelled"
        ended = await runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
        assert ended.status == CANCELLED
        assert ended.error.code == "ACTION_EXPIRED"
        thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
        assert thread.status == thread_pb2.THREAD_STATUS_IDLE
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


async def test_client_tools_are_checked_on_create(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    bad_schema = json_format.ParseDict({"type": "no-such-type"}, struct_pb2.Struct())
    cases = [
        ([run_pb2.ClientTool(name="")], "client_tools[0].name"),
        ([run_pb2.ClientTool(name="has space")], "client_tools[0].name"),
        ([LOCATION_TOOL, LOCATION_TOOL], "client_tools[1].name"),
        ([run_pb2.ClientTool(name="calculator")], "client_tools[0].name"),
        ([run_pb2.ClientTool(name="x", parameters=bad_schema)], "client_tools[0].parameters"),
        ([run_pb2.ClientTool(name=f"t{i}") for i in range(33)], "client_tools"),
    ]
    for tools, field in cases:
        refused = await expect_failure(
            hitl.runs.CreateRun(
                run_pb2.CreateRunRequest(
                    thread_id=thread_id, agent_id="tools-demo", client_tools=tools
                )
            )
        )
        assert refused.code == INVALID
        assert field in refused.fields, (field, refused)
    listed = await hitl.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id))
    assert not listed.runs


async def test_watch_thread_and_stream_run_see_the_pause(hitl: Hitl) -> None:
    thread_id = await _thread(hitl.client)
    seen: list[run_pb2.RunEvent] = []
    stream = hitl.runs.StreamRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="tools-demo",
            input_messages=[_ask("where am I")],
            client_tools=[LOCATION_TOOL],
        ),
        timeout=WAIT,
    )
    async for event in stream:
        seen.append(event)
        if event.type == "run.requires_action":
            call = event.run.required_action.tool_calls.calls[0]
            answer = json_format.ParseDict({"city": "Porto"}, struct_pb2.Value())
            await hitl.runs.ResumeRun(
                run_pb2.ResumeRunRequest(
                    run_id=event.run_id,
                    tool_outputs=[message_pb2.ToolResult(tool_call_id=call.id, json=answer)],
                )
            )
    assert seen[-1].type == "run.completed"
    assert seen[-1].run.response == "You are in Porto."
    assert [e.type for e in seen].count("run.resumed") == 1

    # WatchThread, asked for the pause and the resumption only, sees just those.
    watch = hitl.runs.WatchThread(
        run_pb2.WatchThreadRequest(
            thread_id=thread_id, event_types=["run.requires_action", "run.resumed"]
        ),
        timeout=WAIT,
    )
    watched: list[run_pb2.RunEvent] = []
    async for event in watch:
        watched.append(event)
        if len(watched) == 2:
            watch.cancel()
            break
    assert [e.type for e in watched] == ["run.requires_action", "run.resumed"]
    assert watched[1].run.action_response.tool_outputs[0].json.struct_value["city"] == "Porto"


# -- over HTTP/JSON and Server-Sent Events ----------------------------------------


async def test_over_http_and_sse(tmp_path: Path) -> None:
    from tests.test_http import parse_sse  # noqa: PLC0415 - the SSE parser of the HTTP tests

    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
        )
    )
    await instance.start()
    base = f"http://127.0.0.1:{instance.http_port}"
    session = aiohttp.ClientSession(headers={"Content-Type": "application/json"})
    try:
        async with session.post(f"{base}/v1/threads", json={"thread": {}}) as reply:
            thread_id = (await reply.json())["threadId"]
        async with session.post(
            f"{base}/v1/threads/{thread_id}/runs",
            json={
                "agentId": "tools-demo",
                "inputMessages": [{"role": "MESSAGE_ROLE_USER", "parts": [{"text": "hi"}]}],
                "context": {"approval": True},
            },
        ) as reply:
            run_id = (await reply.json())["runId"]
        async with session.post(f"{base}/v1/runs/{run_id}:wait", json={}) as reply:
            paused = await reply.json()
        assert paused["status"] == "RUN_STATUS_REQUIRES_ACTION"
        assert paused["requiredAction"]["question"]["answerSchema"]["required"] == ["approved"]

        # A paused run is in flight, not ended, in the metrics.
        async with session.get(f"{base}/metrics") as reply:
            metrics = await reply.text()
        waiting = 'threadline_runs_in_flight{agent_id="tools-demo",status="requires_action"} 1.0'
        assert waiting in metrics
        assert 'status="requires_action"} ' not in metrics.split("threadline_runs_ended_total")[1]

        # A wrong answer: 400, the gRPC code and the field at fault.
        async with session.post(
            f"{base}/v1/runs/{run_id}:resume", json={"answer": {"approved": 1}}
        ) as reply:
            assert reply.status == 400
            body = await reply.json()
        assert body["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
        assert (info["reason"], info["metadata"]["field"]) == (
            "VALIDATION_ERROR",
            "answer.approved",
        )

        sse = {"Accept": "text/event-stream"}

        async def follow() -> list[dict[str, str]]:
            async with session.get(f"{base}/v1/runs/{run_id}/events", headers=sse) as stream:
                assert stream.content_type == "text/event-stream"
                return parse_sse((await stream.read()).decode())

        # The stream stays open through the pause, and ends after the resumed run ends.
        following = asyncio.create_task(follow())
        await asyncio.sleep(0.2)
        assert not following.done()
        async with session.post(
            f"{base}/v1/runs/{run_id}:resume", json={"answer": {"approved": True}}
        ) as reply:
            assert reply.status == 200, await reply.text()
        events = await asyncio.wait_for(following, WAIT)
        names = [event["event"] for event in events]
        assert names.index("run.requires_action") < names.index("run.resumed")
        assert names[-1] == "run.completed"

        async with session.post(
            f"{base}/v1/runs/{run_id}:resume", json={"answer": {"approved": True}}
        ) as reply:
            assert reply.status == 400
            body = await reply.json()
        info = next(d for d in body["details"] if d["@type"].endswith("ErrorInfo"))
        assert body["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
        assert info["reason"] == "RUN_NOT_WAITING"
    finally:
        await session.close()
        await instance.stop(grace=1.0)


async def test_chat_with_a_client_tool(hitl: Hitl) -> None:
    chat = await hitl.runs.Chat(
        run_pb2.ChatRequest(
            message="where am I", agent_id="tools-demo", client_tools=[LOCATION_TOOL]
        ),
        timeout=WAIT,
    )
    assert chat.status == WAITING
    run = await hitl.runs.GetRun(run_pb2.GetRunRequest(run_id=chat.run_id))
    call_id = run.required_action.tool_calls.calls[0].id
    await hitl.runs.ResumeRun(
        run_pb2.ResumeRunRequest(
            run_id=chat.run_id,
            tool_outputs=[message_pb2.ToolResult(tool_call_id=call_id, text="Rome")],
        )
    )
    done = await hitl.runs.WaitRun(run_pb2.WaitRunRequest(run_id=chat.run_id), timeout=WAIT)
    assert done.response == "You are in Rome."
    refused = await expect_failure(
        hitl.runs.Chat(
            run_pb2.ChatRequest(
                message="x", agent_id="tools-demo", client_tools=[run_pb2.ClientTool(name="clock")]
            )
        )
    )
    assert refused.fields == ["client_tools[0].name"]


class WrongAsker:
    """Asks for a client tool the run does not have: the run fails AGENT_ERROR."""

    name = "wrong-asker"
    default_max_iterations = 2
    tools: tuple[str, ...] = ()

    async def run(self, request: AgentInput) -> AsyncGenerator[AgentEvent, ToolOutcome | None]:
        """Ask wrongly."""
        yield IterationStarted()
        yield RequiresAction(tool_calls=[ClientToolCall("not_declared")])


async def test_an_agent_that_asks_wrongly_fails_its_run(tmp_path: Path) -> None:
    instance, client = await _start(
        tmp_path, agents=("wrong-asker=tests.test_human_in_the_loop:WrongAsker",)
    )
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    try:
        thread_id = await _thread(client)
        run = await runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread_id, agent_id="wrong-asker")
        )
        ended = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=WAIT)
        assert ended.status == run_pb2.RUN_STATUS_FAILED
        assert ended.error.code == "AGENT_ERROR"
        assert "requires_action.tool_calls.calls[0].name" in ended.error.message
        assert not ended.HasField("required_action")
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)
