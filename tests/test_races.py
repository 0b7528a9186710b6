"""Races: many clients at once on one etag, and on one busy thread with each multitask strategy.

(The same request_id sent concurrently to CreateThread, CreateMessage,
CreateRun and Chat is tests/test_idempotency.py's
test_concurrent_retries_write_once.)

- Etags: CONCURRENT UpdateThread, UpdateThreadState and DeleteThread calls
  carrying the same etag, all at once, ROUNDS times: exactly one wins, every
  other is ABORTED with ETAG_MISMATCH (or, after the winning delete,
  NOT_FOUND), and what is stored is what the winner wrote.
- Multitask strategies: a thread busy with a slow run gets CONCURRENT
  CreateRun calls at once with one strategy. REJECT: every one refused
  THREAD_BUSY, nothing written. ENQUEUE: every one accepted, all complete, one
  at a time in the order they were accepted. INTERRUPT and ROLLBACK: every
  one accepted, every run but the last accepted ends CANCELLED, the last
  completes; with ROLLBACK nothing the cancelled runs wrote is left. For
  every strategy, no two runs of the thread were ever running at once, and
  every run has exactly one final event.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from threadline.v1 import run_pb2, run_pb2_grpc, thread_pb2

from tests.conftest import RpcFailure, RunningServer, failure
from tests.test_runs import (
    CANCELLED,
    COMPLETED,
    ENQUEUE,
    INTERRUPT,
    REJECT,
    ROLLBACK,
    messages_of,
    micros,
    new_thread,
    slow,
    start,
    user,
    wait,
    words,
)
from tests.test_threads import struct

pytestmark = [pytest.mark.api, pytest.mark.timeout(120)]
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

CONCURRENT = 12
ROUNDS = 5
FINAL = {"run.completed", "run.failed", "run.cancelled"}


@pytest.fixture
def runs(server: RunningServer) -> run_pb2_grpc.RunServiceStub:
    """A RunService stub on the in-process server's channel."""
    return run_pb2_grpc.RunServiceStub(server.client.channel)


async def _outcome(call: Any) -> Any:
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return failure(error)


def _split(outcomes: list[Any]) -> tuple[list[Any], list[RpcFailure]]:
    won = [o for o in outcomes if not isinstance(o, RpcFailure)]
    lost = [o for o in outcomes if isinstance(o, RpcFailure)]
    return won, lost


async def test_one_etag_many_writers_exactly_one_wins(client, counts):
    threads = client.threads
    tally = {"UpdateThread": 0, "UpdateThreadState": 0, "DeleteThread": 0}
    for round_number in range(ROUNDS):
        thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        thread_id = thread.thread_id

        won, lost = _split(
            await asyncio.gather(
                *(
                    _outcome(
                        threads.UpdateThread(
                            thread_pb2.UpdateThreadRequest(
                                thread=thread_pb2.Thread(
                                    thread_id=thread_id, title=f"writer {i}", etag=thread.etag
                                ),
                                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
                            )
                        )
                    )
                    for i in range(CONCURRENT)
                )
            )
        )
        assert len(won) == 1, round_number
        assert {(f.code, f.reason) for f in lost} == {(grpc.StatusCode.ABORTED, "ETAG_MISMATCH")}
        stored = await threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
        assert (stored.title, stored.etag) == (won[0].title, won[0].etag)
        tally["UpdateThread"] += len(won)

        state = await threads.GetThreadState(thread_pb2.GetThreadStateRequest(thread_id=thread_id))
        won, lost = _split(
            await asyncio.gather(
                *(
                    _outcome(
                        threads.UpdateThreadState(
                            thread_pb2.UpdateThreadStateRequest(
                                thread_state=thread_pb2.ThreadState(
                                    thread_id=thread_id,
                                    values=struct({"writer": i}),
                                    etag=state.etag,
                                )
                            )
                        )
                    )
                    for i in range(CONCURRENT)
                )
            )
        )
        assert len(won) == 1, round_number
        assert {(f.code, f.reason) for f in lost} == {(grpc.StatusCode.ABORTED, "ETAG_MISMATCH")}
        stored_state = await threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id=thread_id)
        )
        assert stored_state.values == won[0].values
        tally["UpdateThreadState"] += len(won)

        current = await threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id))
        won, lost = _split(
            await asyncio.gather(
                *(
                    _outcome(
                        threads.DeleteThread(
                            thread_pb2.DeleteThreadRequest(thread_id=thread_id, etag=current.etag)
                        )
                    )
                    for _ in range(CONCURRENT)
                )
            )
        )
        assert len(won) == 1, round_number
        assert {(f.code, f.reason) for f in lost} <= {
            (grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
            (grpc.StatusCode.NOT_FOUND, "THREAD_NOT_FOUND"),
        }
        gone = await _outcome(threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread_id)))
        assert isinstance(gone, RpcFailure)
        assert gone.code == grpc.StatusCode.NOT_FOUND
        tally["DeleteThread"] += len(won)
    counts(
        f"races, etags: {ROUNDS} rounds x {CONCURRENT} concurrent writers with one etag: "
        + ", ".join(f"{name} {wins} wins" for name, wins in tally.items())
        + f" (of {ROUNDS * CONCURRENT} attempts each)"
    )
    assert tally == dict.fromkeys(tally, ROUNDS)


async def _events(runs: Any, run_id: str) -> list[str]:
    return [
        event.type
        async for event in runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run_id), timeout=20
        )
    ]


def _no_overlap(done: list[run_pb2.Run]) -> None:
    """No two runs of the thread were running at the same time."""
    ran = sorted(
        (micros(run, "started_at"), micros(run, "ended_at"), run.run_id)
        for run in done
        if run.HasField("started_at")
    )
    for before, after in itertools.pairwise(ran):
        assert before[1] <= after[0], f"{before[2]} and {after[2]} ran at once"


@pytest.mark.parametrize(
    "strategy",
    [REJECT, ENQUEUE, INTERRUPT, ROLLBACK],
    ids=["reject", "enqueue", "interrupt", "rollback"],
)
async def test_concurrent_runs_on_a_busy_thread_follow_the_strategy(client, runs, strategy, counts):
    thread_id = await new_thread(client)
    # Busy for three seconds: long enough for every racer to arrive while it runs.
    first = await start(runs, thread_id, words(30), context=slow(100))
    before = await messages_of(client, thread_id)

    async def create(index: int) -> Any:
        request = run_pb2.CreateRunRequest(
            thread_id=thread_id,
            agent_id="echo",
            input_messages=[user(f"racer {index}")],
            multitask_strategy=strategy,
        )
        if strategy == ENQUEUE:
            request.context.CopyFrom(slow(5))
        return await _outcome(runs.CreateRun(request))

    outcomes = await asyncio.gather(*(create(i) for i in range(CONCURRENT)))
    made, refused = _split(outcomes)
    made_index = {o.run_id: i for i, o in enumerate(outcomes) if not isinstance(o, RpcFailure)}
    name = run_pb2.MultitaskStrategy.Name(strategy)
    if strategy == REJECT:
        assert made == []
        assert {(f.code, f.reason) for f in refused} == {
            (grpc.StatusCode.FAILED_PRECONDITION, "THREAD_BUSY")
        }
        assert await messages_of(client, thread_id) == before
    else:
        assert refused == [], refused
        assert len(made) == CONCURRENT
    everyone = [first, *made]
    done = [await wait(runs, run.run_id) for run in everyone]
    finals = []
    for run in done:
        types = await _events(runs, run.run_id)
        finals.append(sum(t in FINAL for t in types))
    assert finals == [1] * len(done)
    _no_overlap(done)
    statuses = [run.status for run in done]
    listed = await runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread_id, page_size=100))
    assert {r.run_id for r in listed.runs} == {r.run_id for r in everyone}
    if strategy == REJECT:
        assert statuses == [COMPLETED]
    elif strategy == ENQUEUE:
        assert statuses == [COMPLETED] * len(done)
        # One at a time, in the order they were accepted (created_at).
        by_start = sorted(done, key=lambda r: micros(r, "started_at"))
        for earlier, later in itertools.pairwise(by_start):
            assert micros(earlier, "created_at") <= micros(later, "created_at")
    else:
        # The last accepted survives; every other is cancelled.
        last = max(done, key=lambda r: micros(r, "created_at"))
        assert last.status == COMPLETED, last
        assert [r.status for r in done if r.run_id != last.run_id] == [CANCELLED] * CONCURRENT
        # It answered its own input, the newest user message when it started.
        assert last.response == f"racer {made_index[last.run_id]}"
    if strategy == ROLLBACK:
        survivors = {m.run_id for m in await messages_of(client, thread_id)}
        cancelled = {r.run_id for r in done if r.status == CANCELLED}
        assert not survivors & cancelled, "a rolled-back run's messages are still there"
    counts(
        f"races, {name}: {CONCURRENT} concurrent CreateRun on a busy thread: "
        f"{len(made)} accepted, {len(refused)} refused; runs ended "
        + ", ".join(
            f"{run_pb2.RunStatus.Name(s).removeprefix('RUN_STATUS_')} {statuses.count(s)}"
            for s in sorted(set(statuses))
        )
        + f"; {sum(finals)} final events for {len(done)} runs, none ran at once"
    )
