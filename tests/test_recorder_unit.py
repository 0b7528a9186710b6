"""The recorder, driven directly: a run and its steps in, the rows and events to write out.

The recorder is pure (domain.recorder), so it is tested without a store: what
is asserted here is exactly what run_log writes in one transaction, and what
a stream then replays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from threadline.v1 import message_pb2, run_pb2
from threadline_server.domain import event_types, recorder
from threadline_server.domain.agents import IterationStarted, TextDelta, UsageReport
from threadline_server.domain.recorder import (
    Finish,
    RunProgress,
    Step,
    ToolCallEnd,
    ToolCallStart,
    advance,
    apply_steps,
)
from threadline_server.store.records import RunRecord, ThreadRef

pytestmark = pytest.mark.unit

NOW = 1_700_000_000_000_000
THREAD = ThreadRef(key=7, tenant="default", thread_id="t1", ttl_us=None)


def running_run(**fields) -> RunRecord:
    run = run_pb2.Run(
        run_id="run_1",
        thread_id="t1",
        agent_id="echo",
        status=run_pb2.RUN_STATUS_RUNNING,
        max_iterations=2,
        **fields,
    )
    return RunRecord(run=run, thread=THREAD)


def numbered_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"msg_{next(counter)}"


def types(changes: recorder.RunChanges) -> list[str]:
    return [event.type for event in changes.events]


def test_streamed_text_becomes_one_message_when_the_run_completes():
    record = running_run()
    progress = RunProgress("t1")
    steps: list[Step] = [
        IterationStarted(),
        TextDelta("hel"),
        TextDelta("lo"),
        Finish(run_pb2.RUN_STATUS_COMPLETED),
    ]

    changes = apply_steps(record, progress, steps, NOW, new_message_id=numbered_ids())

    assert types(changes) == [
        event_types.MESSAGE_CREATED,
        event_types.MESSAGE_DELTA,
        event_types.MESSAGE_DELTA,
        event_types.MESSAGE_COMPLETED,
        event_types.RUN_COMPLETED,
    ]
    (message,) = changes.messages
    assert message.message_id == "msg_1" == changes.events[0].message.message_id
    assert [part.text for part in message.parts] == ["hello"]
    assert message.thread_id == "t1"
    assert message.run_id == "run_1"
    assert message.created_at.ToMicroseconds() == NOW
    assert all(event.created_at.ToMicroseconds() == NOW for event in changes.events)
    assert changes.ended
    assert changes.save_run
    run = changes.record.run
    assert (run.status, run.response, run.iterations) == (run_pb2.RUN_STATUS_COMPLETED, "hello", 1)
    assert run.ended_at.ToMicroseconds() == NOW
    # The inputs are left as they were.
    assert record.run.status == run_pb2.RUN_STATUS_RUNNING
    assert not record.run.response
    assert progress.open_message is None


def test_progress_replayed_from_the_log_stores_a_half_streamed_answer_at_the_end():
    record = running_run()
    first = apply_steps(
        record,
        RunProgress("t1"),
        [TextDelta("half "), TextDelta("way")],
        NOW,
        new_message_id=numbered_ids(),
    )
    assert types(first) == [event_types.MESSAGE_CREATED] + [event_types.MESSAGE_DELTA] * 2
    # Deltas alone do not touch the run's row.
    assert not first.save_run
    assert not first.messages

    replayed = RunProgress("t1")
    for event in first.events:
        advance(replayed, event)
    ended = recorder.end(
        first.record, replayed, Finish(run_pb2.RUN_STATUS_FAILED, "SERVER_RESTARTED"), NOW + 1
    )

    assert types(ended) == [event_types.MESSAGE_COMPLETED, event_types.RUN_FAILED]
    (message,) = ended.messages
    assert message.message_id == "msg_1"
    assert [part.text for part in message.parts] == ["half way"]
    run = ended.record.run
    assert (run.status, run.error.code, run.error.message, run.response) == (
        run_pb2.RUN_STATUS_FAILED,
        "SERVER_RESTARTED",
        "SERVER_RESTARTED",
        "half way",
    )


def test_an_iteration_past_the_limit_ends_the_run_and_drops_later_steps():
    record = running_run(iterations=2)

    changes = apply_steps(record, RunProgress("t1"), [IterationStarted(), TextDelta("never")], NOW)

    assert types(changes) == [event_types.RUN_MAX_ITERATIONS_REACHED]
    assert changes.record.run.status == run_pb2.RUN_STATUS_MAX_ITERATIONS_REACHED
    assert changes.record.run.iterations == 2
    assert not changes.messages


def test_a_leased_run_renews_its_lease_with_every_report():
    record = running_run()
    record.lease_id = "lse_1"
    record.lease_duration_us = 30_000_000
    record.lease_expires_at = NOW - 1

    changes = apply_steps(record, RunProgress("t1"), [], NOW)

    assert changes.save_run
    assert changes.record.lease_expires_at == NOW + 30_000_000
    assert not changes.events


def test_tool_calls_close_the_streamed_message_and_write_their_own():
    record = running_run()
    call = message_pb2.ToolCall(id="call_1", name="calculator")
    result = message_pb2.ToolResult(tool_call_id="call_1", text="5")
    steps: list[Step] = [
        TextDelta("let me see"),
        ToolCallStart(call),
        ToolCallEnd(result, duration_ms=3, error_code=""),
        UsageReport(prompt_tokens=2, completion_tokens=3),
    ]

    changes = apply_steps(record, RunProgress("t1"), steps, NOW, new_message_id=numbered_ids())

    assert types(changes) == [
        event_types.MESSAGE_CREATED,
        event_types.MESSAGE_DELTA,
        event_types.MESSAGE_COMPLETED,
        event_types.MESSAGE_CREATED,
        event_types.MESSAGE_COMPLETED,
        event_types.TOOL_CALL_STARTED,
        event_types.TOOL_CALL_COMPLETED,
        event_types.MESSAGE_CREATED,
        event_types.MESSAGE_COMPLETED,
    ]
    assert [m.message_id for m in changes.messages] == ["msg_1", "msg_2", "msg_3"]
    assert [m.role for m in changes.messages] == [
        message_pb2.MESSAGE_ROLE_AGENT,
        message_pb2.MESSAGE_ROLE_AGENT,
        message_pb2.MESSAGE_ROLE_TOOL,
    ]
    completed = changes.events[6].tool_call
    assert completed.call == call
    assert completed.record.status == run_pb2.TOOL_CALL_STATUS_SUCCEEDED
    assert completed.record.duration_ms == 3
    run = changes.record.run
    assert run.response == "let me see"
    assert run.usage.total_tokens == 5
    assert not changes.ended
