"""Human in the loop across processes: kill -9 while a run waits, and a worker that pauses.

The server is a real ``threadline serve`` process; a run that waits in
REQUIRES_ACTION must outlive it (SIGKILL, then a new process over the same
SQLite file) and still be resumed. A worker written against the generated
Python stubs (as one in any language would be) pauses a run with a
requires_action event and gets it back through ClaimRun once resumed.
"""

from __future__ import annotations

import signal
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from threadline.v1 import message_pb2, run_pb2, thread_pb2, worker_pb2

from tests.conftest import expect_failure
from tests.test_worker import (
    AGENT,
    RPC_TIMEOUT,
    SERVER_FLAGS,
    claim,
    connected,
    new_thread,
    report,
    wait_run,
)

pytestmark = pytest.mark.process

WAITING = run_pb2.RUN_STATUS_REQUIRES_ACTION
COMPLETED = run_pb2.RUN_STATUS_COMPLETED


def _ask(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def test_a_paused_run_survives_kill_9_and_is_resumed(spawn_server: Any, tmp_path) -> None:
    database = tmp_path / "threadline.db"
    first = spawn_server(database)
    async with connected(first.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await stubs.runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread_id,
                agent_id="tools-demo",
                input_messages=[_ask("where am I?")],
                client_tools=[run_pb2.ClientTool(name="get_location")],
            ),
            timeout=RPC_TIMEOUT,
        )
        paused = await wait_run(stubs, run.run_id)
        assert paused.status == WAITING
    first.stop(signal.SIGKILL)

    second = spawn_server(database)
    async with connected(second.address) as stubs:
        again = await stubs.runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
        # Recovery fails runs that were RUNNING; a waiting run is left waiting.
        assert again.status == WAITING, again
        assert again.required_action == paused.required_action
        thread = await stubs.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert thread.status == thread_pb2.THREAD_STATUS_INTERRUPTED
        call_id = again.required_action.tool_calls.calls[0].id
        await stubs.runs.ResumeRun(
            run_pb2.ResumeRunRequest(
                run_id=run.run_id,
                tool_outputs=[message_pb2.ToolResult(tool_call_id=call_id, text="Kyoto")],
            ),
            timeout=RPC_TIMEOUT,
        )
        done = await wait_run(stubs, run.run_id)
        assert (done.status, done.response) == (COMPLETED, "You are in Kyoto.")
    second.stop()


async def test_a_python_worker_pauses_a_run_and_claims_it_back(spawn_server: Any, tmp_path) -> None:
    database = tmp_path / "threadline.db"
    server = spawn_server(database, *SERVER_FLAGS)
    lookup = run_pb2.ClientTool(
        name="lookup",
        parameters=json_format.ParseDict(
            {"type": "object", "required": ["q"]}, struct_pb2.Struct()
        ),
    )
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await stubs.runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread_id,
                agent_id=AGENT,
                input_messages=[_ask("look it up")],
                client_tools=[lookup],
            ),
            timeout=RPC_TIMEOUT,
        )
        claimed = await claim(stubs)
        assert claimed.run.run_id == run.run_id
        assert [t.name for t in claimed.run.client_tools] == ["lookup"]
        call = message_pb2.ToolCall(id="call_1", name="lookup")
        call.arguments.update({"q": "threadline"})
        ask = worker_pb2.WorkerEvent(
            requires_action=run_pb2.RequiredAction(tool_calls=run_pb2.ClientToolCalls(calls=[call]))
        )

        # Wrong requests write nothing: an unknown tool, an event after the pause.
        unknown = worker_pb2.WorkerEvent()
        unknown.requires_action.tool_calls.calls.add(id="call_2", name="nope")
        refused = await expect_failure(report(stubs, run.run_id, claimed.lease_id, unknown))
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
        assert refused.fields == ["events[0].requires_action"]
        after = await expect_failure(
            report(
                stubs,
                run.run_id,
                claimed.lease_id,
                ask,
                worker_pb2.WorkerEvent(text_delta="x"),
            )
        )
        assert after.fields == ["events[1]"]

        answer = await report(
            stubs,
            run.run_id,
            claimed.lease_id,
            worker_pb2.WorkerEvent(iteration_started=worker_pb2.IterationStarted()),
            worker_pb2.WorkerEvent(text_delta="Let me look. "),
            ask,
        )
        assert (answer.paused, answer.ended, answer.cancelled) == (True, False, False)
        lost = await expect_failure(
            stubs.workers.RenewLease(
                worker_pb2.RenewLeaseRequest(run_id=run.run_id, lease_id=claimed.lease_id)
            )
        )
        assert lost.reason == "LEASE_LOST"
        paused = await wait_run(stubs, run.run_id)
        assert paused.status == WAITING
        assert paused.response == "Let me look. "
        assert paused.required_action.action_id.startswith("act_")
    server.stop(signal.SIGKILL)

    server = spawn_server(database, *SERVER_FLAGS)
    async with connected(server.address) as stubs:
        nothing = await stubs.workers.ClaimRun(
            worker_pb2.ClaimRunRequest(agent_id=AGENT), timeout=RPC_TIMEOUT
        )
        assert not nothing.HasField("run"), "a waiting run must not be claimable"
        output = message_pb2.ToolResult(
            tool_call_id="call_1", json=json_format.ParseDict({"hits": 3}, struct_pb2.Value())
        )
        await stubs.runs.ResumeRun(
            run_pb2.ResumeRunRequest(run_id=run.run_id, tool_outputs=[output]),
            timeout=RPC_TIMEOUT,
        )
        back = await claim(stubs)
        assert back.run.run_id == run.run_id
        assert back.run.action_response.tool_outputs == [output]
        assert back.run.required_action.tool_calls.calls[0].id == "call_1"
        parts = [m.parts[0].WhichOneof("kind") for m in back.messages]
        assert parts == ["text", "text", "tool_call", "tool_result"]
        await report(
            stubs,
            back.run.run_id,
            back.lease_id,
            worker_pb2.WorkerEvent(iteration_started=worker_pb2.IterationStarted()),
            worker_pb2.WorkerEvent(text_delta="3 hits."),
            worker_pb2.WorkerEvent(
                finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
            ),
        )
        done = await wait_run(stubs, run.run_id)
        assert (done.status, done.response, done.iterations) == (COMPLETED, "3 hits.", 2)
        assert done.tool_calls[0].status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED
    server.stop()
