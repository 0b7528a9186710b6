"""Worker agents end to end: a server process, the example worker as another process.

The server runs with ``--worker-agent shouter --lease-check-interval 0.2``;
``examples/python/worker.py`` serves agent ``shouter`` over AgentWorkerService,
and the tests drive runs with RunService as any client would. The last tests
call AgentWorkerService directly, as a worker in another language would.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, json_format, struct_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)

from tests.conftest import ROOT, ServerProcess, expect_failure

pytestmark = pytest.mark.process
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

WORKER = ROOT / "examples" / "python" / "worker.py"
AGENT = "shouter"
LEASE_CHECK_INTERVAL = 0.2
SERVER_FLAGS = ("--worker-agent", AGENT, "--lease-check-interval", str(LEASE_CHECK_INTERVAL))
RPC_TIMEOUT = 10.0
FINAL_TYPES = {"run.completed", "run.max_iterations_reached", "run.failed", "run.cancelled"}


# -- helpers -----------------------------------------------------------------


@dataclass
class Stubs:
    """Every client stub for one server process."""

    channel: grpc.aio.Channel
    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    workers: worker_pb2_grpc.AgentWorkerServiceAsyncStub


@asynccontextmanager
async def connected(address: str) -> AsyncIterator[Stubs]:
    """Stubs for a server process, the channel closed on the way out."""
    channel = grpc.aio.insecure_channel(address)
    try:
        yield Stubs(
            channel,
            thread_pb2_grpc.ThreadServiceStub(channel),
            message_pb2_grpc.MessageServiceStub(channel),
            run_pb2_grpc.RunServiceStub(channel),
            worker_pb2_grpc.AgentWorkerServiceStub(channel),
        )
    finally:
        await channel.close(None)


@dataclass
class WorkerProcess:
    """The example worker as a child process, logging to a file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def log(self) -> str:
        """Everything the worker has logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[Any]:
    """Start example workers for a test; any still running at the end are killed."""
    started: list[WorkerProcess] = []

    def spawn(address: str, *extra: str) -> WorkerProcess:
        log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(WORKER),
                    "--target",
                    address,
                    "--agent",
                    AGENT,
                    "--wait-seconds",
                    "5",
                    *extra,
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        child = WorkerProcess(process, log_path)
        started.append(child)
        return child

    yield spawn
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
            child.process.wait()


def start_server(spawn_server: Any) -> ServerProcess:
    """A server process whose agent `shouter` is served by workers."""
    server: ServerProcess = spawn_server(None, *SERVER_FLAGS)
    return server


def user_message(text: str) -> message_pb2.Message:
    """A user message with one text part."""
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


async def new_thread(stubs: Stubs) -> str:
    """Create a thread; return its id."""
    thread = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="worker test")),
        timeout=RPC_TIMEOUT,
    )
    return thread.thread_id


async def create_run(stubs: Stubs, thread_id: str, text: str) -> run_pb2.Run:
    """Start a run of the worker agent on a thread, with one user message."""
    return await stubs.runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread_id, agent_id=AGENT, input_messages=[user_message(text)]
        ),
        timeout=RPC_TIMEOUT,
    )


async def run_events(stubs: Stubs, run_id: str, after: int = 0, within: float = 20) -> list[Any]:
    """Every event of a run after an id, to its final one (the stream ends there)."""
    call = stubs.runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after), timeout=within
    )
    return [event async for event in call]


async def wait_run(stubs: Stubs, run_id: str, within: float = 20) -> run_pb2.Run:
    """WaitRun, bounded."""
    timeout = duration_pb2.Duration()
    timeout.FromMilliseconds(int(within * 1000))
    return await stubs.runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=run_id, timeout=timeout), timeout=within + 5
    )


async def wait_for_log(worker: WorkerProcess, text: str, within: float) -> None:
    """Wait until the worker has logged a line containing text."""
    deadline = time.monotonic() + within
    while text not in worker.log:
        assert time.monotonic() < deadline, f"worker never logged {text!r}:\n{worker.log}"
        await asyncio.sleep(0.05)


async def claim(stubs: Stubs, *, lease_seconds: int = 30, wait: int = 5) -> Any:
    """ClaimRun for the worker agent, as a hand-written worker would."""
    response = await stubs.workers.ClaimRun(
        worker_pb2.ClaimRunRequest(
            agent_id=AGENT,
            worker_id="test-hand",
            lease_duration=duration_pb2.Duration(seconds=lease_seconds),
            wait=duration_pb2.Duration(seconds=wait),
        ),
        timeout=wait + RPC_TIMEOUT,
    )
    assert response.HasField("run"), "no run to claim"
    return response


def delta(text: str) -> worker_pb2.WorkerEvent:
    """A text_delta worker event."""
    return worker_pb2.WorkerEvent(text_delta=text)


def finish_completed() -> worker_pb2.WorkerEvent:
    """A finish COMPLETED worker event."""
    return worker_pb2.WorkerEvent(
        finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
    )


# -- the example worker ------------------------------------------------------


async def test_worker_serves_a_run_with_its_shouted_answer(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    worker = spawn_worker(server.address, "--once", "--batch", "2")
    text = "hello there, shouting worker of threadline"
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        created = await create_run(stubs, thread_id, text)
        assert created.status == run_pb2.RUN_STATUS_QUEUED
        events = await run_events(stubs, created.run_id)
        run = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=created.run_id), timeout=RPC_TIMEOUT
        )
        listed = await stubs.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread_id, page_size=100),
            timeout=RPC_TIMEOUT,
        )
        thread = await stubs.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )

    # The run, as it ended.
    assert run.status == run_pb2.RUN_STATUS_COMPLETED, run
    assert run.response == text.upper()
    assert run.iterations == 2
    assert not run.HasField("error")
    assert run.usage.completion_tokens == 6
    assert run.usage.prompt_tokens == 6
    assert run.usage.total_tokens == 12
    assert [(c.tool, c.status) for c in run.tool_calls] == [
        ("word_count", run_pb2.TOOL_CALL_STATUS_SUCCEEDED)
    ]
    assert thread.status == thread_pb2.THREAD_STATUS_IDLE

    # Its events, in order, with nothing repeated.
    types = [e.type for e in events]
    ids = [e.event_id for e in events]
    assert ids == sorted(set(ids)), ids
    assert all(e.run_id == created.run_id for e in events)
    # The input message is the run's too: it is written with the run, before it starts.
    assert types[:4] == [
        "run.created",
        "message.created",
        "message.completed",
        "run.started",
    ], types
    assert events[1].message.parts[0].text == text
    assert types[-1] == "run.completed", types
    assert [t for t in types if t in FINAL_TYPES] == ["run.completed"]
    assert events[-1].run.response == text.upper()
    for kind in ("tool_call.started", "tool_call.completed", "message.created", "message.delta"):
        assert kind in types, (kind, types)
    assert types.index("tool_call.started") < types.index("tool_call.completed")
    started = next(e for e in events if e.type == "tool_call.started")
    completed = next(e for e in events if e.type == "tool_call.completed")
    assert started.tool_call.call.name == "word_count"
    assert completed.tool_call.call.id == started.tool_call.call.id
    assert completed.tool_call.record.status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED
    assert json_format.MessageToDict(completed.tool_call.result.json) == {"words": 6}

    # The answer was streamed as deltas of one message, then completed.
    deltas = [e for e in events if e.type == "message.delta"]
    answer_id = deltas[0].delta.message_id
    assert {d.delta.message_id for d in deltas} == {answer_id}
    assert "".join(d.delta.text for d in deltas) == text.upper()
    assert len(deltas) == 6
    created_at = next(
        i
        for i, e in enumerate(events)
        if e.type == "message.created" and e.message.message_id == answer_id
    )
    completed_at = next(
        i
        for i, e in enumerate(events)
        if e.type == "message.completed" and e.message.message_id == answer_id
    )
    delta_positions = [events.index(d) for d in deltas]
    assert created_at < min(delta_positions)
    assert max(delta_positions) < completed_at < len(events) - 1
    assert events[completed_at].message.parts[0].text == text.upper()

    # Everything the run wrote to the thread carries its run_id, the input too.
    messages = list(listed.messages)
    assert [m.role for m in messages] == [
        message_pb2.MESSAGE_ROLE_USER,
        message_pb2.MESSAGE_ROLE_AGENT,  # the tool call
        message_pb2.MESSAGE_ROLE_TOOL,  # its result
        message_pb2.MESSAGE_ROLE_AGENT,  # the answer
    ]
    assert {m.run_id for m in messages} == {created.run_id}
    assert messages[1].parts[0].tool_call.name == "word_count"
    assert messages[2].parts[0].tool_result.tool_call_id == started.tool_call.call.id
    assert messages[3].message_id == answer_id
    assert messages[3].parts[0].text == text.upper()

    # --once: the worker exits cleanly after its run.
    assert await asyncio.to_thread(worker.process.wait, 10) == 0, worker.log
    assert f"run {created.run_id} completed" in worker.log


async def test_cancel_stops_the_worker_which_then_serves_the_next_run(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    worker = spawn_worker(
        server.address, "--delay-ms", "250", "--batch", "1", "--lease-seconds", "3"
    )
    text = " ".join(f"word{i}" for i in range(30))
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, text)
        call = stubs.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=20
        )
        seen = []
        async for event in call:
            seen.append(event)
            if sum(e.type == "message.delta" for e in seen) >= 2:
                break
        call.cancel()

        cancelled = await stubs.runs.CancelRun(
            run_pb2.CancelRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert cancelled.status == run_pb2.RUN_STATUS_CANCELLED
        assert cancelled.error.code == "CANCELLED_BY_CLIENT"

        # The worker learns it at its next report (or renewal) and drops the run.
        await wait_for_log(worker, f"run {run.run_id} was cancelled; dropped it", within=5)
        assert worker.process.poll() is None, worker.log

        # Nothing the worker sent after the cancel was recorded.
        events = await run_events(stubs, run.run_id)
        assert events[-1].type == "run.cancelled"
        assert [e.type for e in events if e.type in FINAL_TYPES] == ["run.cancelled"]
        final = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert final.status == run_pb2.RUN_STATUS_CANCELLED
        assert final == events[-1].run
        thread = await stubs.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert thread.status != thread_pb2.THREAD_STATUS_BUSY

        # The same worker serves the next run on the thread.
        following = await create_run(stubs, thread_id, "and now this")
        done = await wait_run(stubs, following.run_id)
        assert done.status == run_pb2.RUN_STATUS_COMPLETED, done
        assert done.response == "AND NOW THIS"
    await wait_for_log(worker, f"run {following.run_id} completed", within=5)
    assert worker.process.poll() is None


async def test_killed_worker_loses_its_lease_and_the_run_fails(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    lease_seconds = 1.0
    worker = spawn_worker(
        server.address,
        "--delay-ms",
        "200",
        "--batch",
        "1",
        "--lease-seconds",
        str(lease_seconds),
    )
    text = " ".join(f"word{i}" for i in range(40))
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, text)
        call = stubs.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=20
        )
        seen = []
        killed_at = 0.0
        async for event in call:
            seen.append(event)
            if not killed_at and event.type == "message.delta":
                # It holds the lease and is mid-answer: kill it where it stands.
                worker.process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
        failed_after = time.monotonic() - killed_at

        assert killed_at, [e.type for e in seen]
        assert seen[-1].type == "run.failed", [e.type for e in seen]
        assert seen[-1].run.error.code == "LEASE_EXPIRED"
        # The lease was last renewed before the kill; allow for a slow machine.
        assert failed_after < lease_seconds + LEASE_CHECK_INTERVAL + 1.5, failed_after
        assert worker.process.wait(5) == -signal.SIGKILL

        final = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert final.status == run_pb2.RUN_STATUS_FAILED
        assert final.error.code == "LEASE_EXPIRED"
        listed = await stubs.runs.ListRuns(
            run_pb2.ListRunsRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert [r.status for r in listed.runs] == [run_pb2.RUN_STATUS_FAILED]
        thread = await stubs.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert thread.status != thread_pb2.THREAD_STATUS_BUSY

        # A new worker serves the next run.
        replacement = spawn_worker(server.address, "--once")
        following = await create_run(stubs, thread_id, "second try")
        done = await wait_run(stubs, following.run_id)
        assert done.status == run_pb2.RUN_STATUS_COMPLETED, done
        assert done.response == "SECOND TRY"
        assert await asyncio.to_thread(replacement.process.wait, 10) == 0, replacement.log
        listed = await stubs.runs.ListRuns(
            run_pb2.ListRunsRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert run_pb2.RUN_STATUS_RUNNING not in [r.status for r in listed.runs]


async def test_worker_stopped_by_sigterm_reports_its_run_failed(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    worker = spawn_worker(server.address, "--delay-ms", "200", "--batch", "1")
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, " ".join(["slowly"] * 30))
        call = stubs.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=20
        )
        seen = []
        async for event in call:
            seen.append(event)
            if event.type == "message.delta" and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.process.wait, 10) == 0, worker.log
        assert seen[-1].type == "run.failed", [e.type for e in seen]
        assert seen[-1].run.error.code == "WORKER_STOPPED"
        # What it had streamed is kept as the (partial) answer.
        streamed = "".join(e.delta.text for e in seen if e.type == "message.delta")
        assert streamed
        assert seen[-1].run.response == streamed


async def test_worker_exits_non_zero_on_an_unexpected_error(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    # The server serves "echo" itself, so claiming its runs is NOT_FOUND.
    worker = spawn_worker(server.address, "--agent", "echo")
    assert await asyncio.to_thread(worker.process.wait, 10) == 1, worker.log
    assert "unexpected error from the server: NOT_FOUND" in worker.log
    assert "AGENT_NOT_FOUND" in worker.log


# -- AgentWorkerService by hand ----------------------------------------------


async def test_calls_with_a_wrong_lease_are_lease_lost(spawn_server):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, "by hand")
        claimed = await claim(stubs)
        assert claimed.run.run_id == run.run_id
        assert claimed.run.status == run_pb2.RUN_STATUS_RUNNING
        assert claimed.lease_id
        assert [m.parts[0].text for m in claimed.messages] == ["by hand"]

        bad = "lease_not_the_right_one"
        lost = await expect_failure(
            stubs.workers.ReportRunEvents(
                worker_pb2.ReportRunEventsRequest(
                    run_id=run.run_id, lease_id=bad, events=[delta("nope")]
                ),
                timeout=RPC_TIMEOUT,
            )
        )
        assert (lost.code, lost.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LEASE_LOST")
        lost = await expect_failure(
            stubs.workers.RenewLease(
                worker_pb2.RenewLeaseRequest(run_id=run.run_id, lease_id=bad),
                timeout=RPC_TIMEOUT,
            )
        )
        assert (lost.code, lost.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LEASE_LOST")

        # The right lease still works, and nothing of the bad report was kept.
        renewed = await stubs.workers.RenewLease(
            worker_pb2.RenewLeaseRequest(run_id=run.run_id, lease_id=claimed.lease_id),
            timeout=RPC_TIMEOUT,
        )
        assert not renewed.cancelled
        assert renewed.lease_expire_time.ToMicroseconds() > 0
        answer = await stubs.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run.run_id,
                lease_id=claimed.lease_id,
                events=[delta("BY "), delta("HAND"), finish_completed()],
            ),
            timeout=RPC_TIMEOUT,
        )
        assert (answer.cancelled, answer.ended) == (False, True)
        done = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert done.status == run_pb2.RUN_STATUS_COMPLETED
        assert done.response == "BY HAND"

        # Once the run has ended, its lease is gone too.
        lost = await expect_failure(
            stubs.workers.ReportRunEvents(
                worker_pb2.ReportRunEventsRequest(
                    run_id=run.run_id, lease_id=claimed.lease_id, events=[delta("late")]
                ),
                timeout=RPC_TIMEOUT,
            )
        )
        assert (lost.code, lost.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "LEASE_LOST")


async def test_claiming_for_an_agent_not_served_by_workers_is_not_found(spawn_server):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        for agent_id in ("echo", "nobody"):
            missing = await expect_failure(
                stubs.workers.ClaimRun(
                    worker_pb2.ClaimRunRequest(agent_id=agent_id), timeout=RPC_TIMEOUT
                )
            )
            assert (missing.code, missing.reason) == (
                grpc.StatusCode.NOT_FOUND,
                "AGENT_NOT_FOUND",
            ), agent_id
        # With nothing queued, a claim for the worker agent answers "no run" after its wait.
        started = time.monotonic()
        empty = await stubs.workers.ClaimRun(
            worker_pb2.ClaimRunRequest(
                agent_id=AGENT, wait=duration_pb2.Duration(nanos=300_000_000)
            ),
            timeout=RPC_TIMEOUT,
        )
        assert not empty.HasField("run")
        assert not empty.lease_id
        assert 0.25 <= time.monotonic() - started < 5


async def test_report_after_cancel_says_cancelled(spawn_server):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, "cancel me")
        claimed = await claim(stubs)
        lease = claimed.lease_id
        first = await stubs.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run.run_id,
                lease_id=lease,
                events=[
                    worker_pb2.WorkerEvent(iteration_started=worker_pb2.IterationStarted()),
                    delta("CANCEL "),
                ],
            ),
            timeout=RPC_TIMEOUT,
        )
        assert (first.cancelled, first.ended) == (False, False)

        await stubs.runs.CancelRun(run_pb2.CancelRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT)
        answer = await stubs.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run.run_id, lease_id=lease, events=[delta("ME"), finish_completed()]
            ),
            timeout=RPC_TIMEOUT,
        )
        assert answer.cancelled
        assert answer.ended
        renewed = await stubs.workers.RenewLease(
            worker_pb2.RenewLeaseRequest(run_id=run.run_id, lease_id=lease),
            timeout=RPC_TIMEOUT,
        )
        assert renewed.cancelled

        # The late report changed nothing: the run ended CANCELLED with what it had.
        events = await run_events(stubs, run.run_id)
        assert events[-1].type == "run.cancelled"
        assert [e.delta.text for e in events if e.type == "message.delta"] == ["CANCEL "]
        final = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert final.status == run_pb2.RUN_STATUS_CANCELLED
        assert final.error.code == "CANCELLED_BY_CLIENT"


async def test_a_malformed_tool_result_is_invalid_and_the_run_goes_on(spawn_server):
    # A NaN has no JSON form: the report is refused with the field named, nothing
    # of it is written, and the worker can still report the rest of the run.
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, "half done")
        claimed = await claim(stubs)
        streamed = worker_pb2.ReportRunEventsRequest(
            run_id=run.run_id, lease_id=claimed.lease_id, events=[delta("HALF ")]
        )
        await stubs.workers.ReportRunEvents(streamed, timeout=RPC_TIMEOUT)
        bad = message_pb2.ToolResult(tool_call_id="c1")
        bad.json.number_value = float("nan")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stubs.workers.ReportRunEvents(
                worker_pb2.ReportRunEventsRequest(
                    run_id=run.run_id,
                    lease_id=claimed.lease_id,
                    events=[
                        worker_pb2.WorkerEvent(
                            tool_call_finished=worker_pb2.ToolCallFinished(result=bad)
                        )
                    ],
                ),
                timeout=RPC_TIMEOUT,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "events[0].tool_call_finished.result.json" in (caught.value.details() or "")
        await stubs.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run.run_id,
                lease_id=claimed.lease_id,
                events=[delta("DONE"), finish_completed()],
            ),
            timeout=RPC_TIMEOUT,
        )
        final = await stubs.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        assert final.status == run_pb2.RUN_STATUS_COMPLETED
        assert final.response == "HALF DONE"


# -- thread state, as a worker in any language reads and changes it ---------------------


def state_update(values: dict[str, Any], *paths: str) -> worker_pb2.WorkerEvent:
    """A state_update worker event."""
    update = worker_pb2.StateUpdate(update_mask=field_mask_pb2.FieldMask(paths=list(paths)))
    update.values.update(values)
    return worker_pb2.WorkerEvent(state_update=update)


async def set_state(stubs: Stubs, thread_id: str, values: dict[str, Any]) -> Any:
    """UpdateThreadState as a client."""
    state = thread_pb2.ThreadState(thread_id=thread_id)
    state.values.update(values)
    return await stubs.threads.UpdateThreadState(
        thread_pb2.UpdateThreadStateRequest(thread_state=state), timeout=RPC_TIMEOUT
    )


async def get_state(stubs: Stubs, thread_id: str) -> dict[str, Any]:
    """The thread's state values, as plain JSON."""
    state = await stubs.threads.GetThreadState(
        thread_pb2.GetThreadStateRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
    )
    return json_format.MessageToDict(state.values)


async def report(stubs: Stubs, run_id: str, lease_id: str, *events: Any) -> Any:
    """ReportRunEvents."""
    return await stubs.workers.ReportRunEvents(
        worker_pb2.ReportRunEventsRequest(run_id=run_id, lease_id=lease_id, events=list(events)),
        timeout=RPC_TIMEOUT,
    )


async def test_a_worker_reads_the_state_as_it_claims_and_changes_it(spawn_server):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        before = await set_state(stubs, thread_id, {"count": 1, "name": "ada"})
        run = await create_run(stubs, thread_id, "count me")
        claimed = await claim(stubs)
        assert claimed.state.thread_id == thread_id
        assert json_format.MessageToDict(claimed.state.values) == {"count": 1, "name": "ada"}
        assert claimed.state.etag == before.etag
        await report(
            stubs,
            run.run_id,
            claimed.lease_id,
            delta("COUNTED"),
            state_update({"count": 2}),
            state_update({}, "values.name"),
            finish_completed(),
        )
        assert await get_state(stubs, thread_id) == {"count": 2}
        checkpoints = await stubs.threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert [(c.source, c.run_id) for c in checkpoints.checkpoints] == [
            (thread_pb2.CHECKPOINT_SOURCE_RUN, run.run_id),
            (thread_pb2.CHECKPOINT_SOURCE_RUN, run.run_id),
            (thread_pb2.CHECKPOINT_SOURCE_UPDATE, ""),
        ]
        events = await run_events(stubs, run.run_id)
        types = [e.type for e in events]
        # In the order reported: the answer streams, the state changes twice,
        # then the end stores the answer and ends the run.
        assert types[-6:] == [
            "message.created",
            "message.delta",
            "state.updated",
            "state.updated",
            "message.completed",
            "run.completed",
        ]
        # The next run's claim reads the changed state.
        await create_run(stubs, thread_id, "again")
        again = await claim(stubs)
        assert json_format.MessageToDict(again.state.values) == {"count": 2}


async def test_a_worker_s_bad_state_update_is_invalid_and_writes_nothing(spawn_server):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        await set_state(stubs, thread_id, {"keep": True})
        run = await create_run(stubs, thread_id, "bad state")
        claimed = await claim(stubs)
        nan = worker_pb2.StateUpdate()
        nan.values.fields["x"].number_value = float("nan")
        for events, field in (
            ([worker_pb2.WorkerEvent(state_update=nan)], "events[0].state_update.values"),
            ([state_update({"a": 1}, "title")], "events[0].state_update.update_mask"),
            ([worker_pb2.WorkerEvent(state_update=worker_pb2.StateUpdate())], "events[0]"),
            ([delta("x"), state_update({"big": "x" * (256 * 1024)})], "events[1].state_update"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await report(stubs, run.run_id, claimed.lease_id, *events)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in (caught.value.details() or ""), caught.value.details()
        assert await get_state(stubs, thread_id) == {"keep": True}
        stored = [e.type for e in await events_so_far(stubs, thread_id)]
        assert "run.started" in stored
        assert "message.delta" not in stored
        await report(stubs, run.run_id, claimed.lease_id, delta("fine"), finish_completed())


async def events_so_far(stubs: Stubs, thread_id: str) -> list[Any]:
    """The thread's events stored so far (a bounded watch)."""
    call = stubs.runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id), timeout=1)
    seen: list[Any] = []
    events = aiter(call)
    while True:
        try:
            seen.append(await anext(events))
        except (StopAsyncIteration, grpc.aio.AioRpcError):
            return seen


@pytest.mark.parametrize("ending", ["finish FAILED", "lease runs out", "cancel"])
async def test_a_worker_s_run_that_fails_puts_the_state_back(spawn_server, ending):
    server = start_server(spawn_server)
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        await set_state(stubs, thread_id, {"stage": "draft"})
        run = await create_run(stubs, thread_id, "publish")
        claimed = await claim(stubs, lease_seconds=1)
        await report(stubs, run.run_id, claimed.lease_id, state_update({"stage": "published"}))
        assert await get_state(stubs, thread_id) == {"stage": "published"}
        if ending == "finish FAILED":
            failed = worker_pb2.RunFinished(
                status=run_pb2.RUN_STATUS_FAILED, error=run_pb2.RunError(code="PUBLISH_FAILED")
            )
            await report(stubs, run.run_id, claimed.lease_id, worker_pb2.WorkerEvent(finish=failed))
            expected = (run_pb2.RUN_STATUS_FAILED, "PUBLISH_FAILED")
        elif ending == "cancel":
            await stubs.runs.CancelRun(
                run_pb2.CancelRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
            )
            expected = (run_pb2.RUN_STATUS_CANCELLED, "CANCELLED_BY_CLIENT")
        else:
            expected = (run_pb2.RUN_STATUS_FAILED, "LEASE_EXPIRED")
        ended = await wait_run(stubs, run.run_id)
        assert (ended.status, ended.error.code) == expected
        assert await get_state(stubs, thread_id) == {"stage": "draft"}


async def test_worker_with_confirm_asks_for_approval(spawn_server, spawn_worker):
    server = start_server(spawn_server)
    worker = spawn_worker(server.address, "--confirm")
    async with connected(server.address) as stubs:
        thread_id = await new_thread(stubs)
        run = await create_run(stubs, thread_id, "go on")
        paused = await wait_run(stubs, run.run_id)
        assert paused.status == run_pb2.RUN_STATUS_REQUIRES_ACTION, worker.log
        assert paused.required_action.question.text == "May I shout 'go on'?"
        thread = await stubs.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
        assert thread.status == thread_pb2.THREAD_STATUS_INTERRUPTED
        await wait_for_log(worker, f"run {run.run_id} paused for approval; dropped it", 10)
        answer = json_format.ParseDict({"approved": True}, struct_pb2.Value())
        await stubs.runs.ResumeRun(
            run_pb2.ResumeRunRequest(run_id=run.run_id, answer=answer), timeout=RPC_TIMEOUT
        )
        done = await wait_run(stubs, run.run_id)
        assert (done.status, done.response) == (run_pb2.RUN_STATUS_COMPLETED, "GO ON"), worker.log

        refused = await create_run(stubs, thread_id, "stop")
        assert (await wait_run(stubs, refused.run_id)).status == run_pb2.RUN_STATUS_REQUIRES_ACTION
        answer = json_format.ParseDict({"approved": False}, struct_pb2.Value())
        await stubs.runs.ResumeRun(
            run_pb2.ResumeRunRequest(run_id=refused.run_id, answer=answer), timeout=RPC_TIMEOUT
        )
        ended = await wait_run(stubs, refused.run_id)
        assert (ended.status, ended.response) == (run_pb2.RUN_STATUS_COMPLETED, "NOT APPROVED")
