"""Several Threadline processes on one PostgreSQL database serve as one.

Two and three ``threadline serve`` processes on a database of a throwaway
cluster (tests/pgcluster.py): a thread made through one is read through
another; eight racing CreateRun calls with REJECT, spread over the
processes, never make two runs in flight; a run executed by one process and
streamed from the others, with random disconnects and resumes, reaches every
reader whole and in order; kill -9 of the executing process ends its run
exactly once (after its lease); and writers on every process while readers
resume prove that no reader misses an event committed "behind" it. Each
test prints its counts.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    worker_pb2,
)

from tests import test_worker as worker_tests
from tests.conftest import ServerProcess, start_server_process

pytestmark = pytest.mark.process

RPC_TIMEOUT = 15.0
FINAL_TYPES = {"run.completed", "run.max_iterations_reached", "run.failed", "run.cancelled"}


@dataclass
class Stubs:
    """The client stubs of one server process."""

    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub


@asynccontextmanager
async def connected(servers: list[ServerProcess]) -> AsyncIterator[list[Stubs]]:
    """Stubs for each server process, the channels closed on the way out."""
    channels = [grpc.aio.insecure_channel(server.address) for server in servers]
    try:
        yield [
            Stubs(
                thread_pb2_grpc.ThreadServiceStub(channel),
                message_pb2_grpc.MessageServiceStub(channel),
                run_pb2_grpc.RunServiceStub(channel),
            )
            for channel in channels
        ]
    finally:
        for channel in channels:
            await channel.close(None)


@pytest.fixture
def servers(tmp_path: Path, postgres_url: str) -> Any:
    """Start n server processes on this test's PostgreSQL database; all stopped at the end."""
    started: list[ServerProcess] = []

    def start(n: int, *extra: str) -> list[ServerProcess]:
        started.extend(
            start_server_process(
                tmp_path / "unused.db", "--database", postgres_url, *extra, timeout=60
            )
            for _ in range(n)
        )
        return started[-n:]

    yield start
    for child in started:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    for child in started:
        try:
            child.process.wait(20)
        except Exception:  # noqa: BLE001 - whatever happened, do not leave it running
            child.process.kill()
            child.process.wait()


def echo_request(
    thread_id: str,
    text: str,
    *,
    delay_ms: int = 0,
    strategy: Any = run_pb2.MULTITASK_STRATEGY_REJECT,
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


async def new_thread(stubs: Stubs, title: str = "processes") -> str:
    """Create a thread; return its id."""
    thread = await stubs.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title=title)),
        timeout=RPC_TIMEOUT,
    )
    return str(thread.thread_id)


async def run_events(stubs: Stubs, run_id: str, after: int = 0) -> list[Any]:
    """Every event of a run after a cursor, to its final one."""
    call = stubs.runs.StreamRunEvents(
        run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after), timeout=60
    )
    return [event async for event in call]


async def test_a_thread_made_through_one_process_is_read_through_another(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    a, b = servers(2)
    async with connected([a, b]) as (on_a, on_b):
        thread_id = await new_thread(on_a, "made on A")
        await on_a.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hello")]
                ),
            ),
            timeout=RPC_TIMEOUT,
        )
        read = await on_b.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert read.title == "made on A"
        assert read.message_count == 1
        listed = await on_b.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
        assert [m.parts[0].text for m in listed.messages] == ["hello"]
        # A run created through B streams, whole, from A.
        run = await on_b.runs.CreateRun(
            echo_request(thread_id, "one two three", delay_ms=50), timeout=RPC_TIMEOUT
        )
        events = await run_events(on_a, run.run_id)
    assert events[0].type == "run.created"
    assert events[-1].type == "run.completed"
    ids = [e.event_id for e in events]
    assert ids == sorted(set(ids))
    counts(
        "postgres, 2 processes: thread made on A read on B; "
        f"run made on B, {len(events)} events streamed from A"
    )


async def test_racing_creates_with_reject_over_three_processes_never_make_two_runs(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    rounds = 12
    racers = 8
    processes = servers(3)
    accepted_total = refused_total = 0
    async with connected(processes) as stubs:
        thread_id = await new_thread(stubs[0], "race")
        for _ in range(rounds):

            async def create(n: int) -> run_pb2.Run | grpc.StatusCode:
                try:
                    return await stubs[n % len(stubs)].runs.CreateRun(
                        echo_request(thread_id, "a b c d e f g h", delay_ms=500),
                        timeout=RPC_TIMEOUT,
                    )
                except grpc.aio.AioRpcError as error:
                    return error.code()

            outcomes = await asyncio.gather(*(create(n) for n in range(racers)))
            accepted = [o for o in outcomes if isinstance(o, run_pb2.Run)]
            refused = [o for o in outcomes if not isinstance(o, run_pb2.Run)]
            assert len(accepted) == 1, outcomes
            assert set(refused) == {grpc.StatusCode.FAILED_PRECONDITION}, refused
            listed = await stubs[1].runs.ListRuns(
                run_pb2.ListRunsRequest(thread_id=thread_id, page_size=100), timeout=RPC_TIMEOUT
            )
            in_flight = [
                r
                for r in listed.runs
                if r.status in (run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING)
            ]
            assert len(in_flight) == 1, in_flight
            # End it through another process, so the next round races again.
            await stubs[2].runs.CancelRun(
                run_pb2.CancelRunRequest(run_id=accepted[0].run_id), timeout=RPC_TIMEOUT
            )
            events = await run_events(stubs[0], accepted[0].run_id)
            assert sum(e.type in FINAL_TYPES for e in events) == 1
            accepted_total += len(accepted)
            refused_total += len(refused)
    counts(
        f"postgres, 3 processes, REJECT: {rounds} rounds of {racers} racing CreateRun, "
        f"{accepted_total} accepted (1 per round), {refused_total} refused THREAD_BUSY, "
        "never two in flight"
    )


async def _resuming_reader(stubs: Stubs, run_id: str, rng: random.Random) -> tuple[list[Any], int]:
    """Read a run's events, dropping the stream at random and resuming after the last seen."""
    seen: list[Any] = []
    reconnects = 0
    while not seen or seen[-1].type not in FINAL_TYPES:
        after = seen[-1].event_id if seen else 0
        call = stubs.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run_id, after_event_id=after), timeout=60
        )
        take = rng.randint(1, 6)
        async for event in call:
            seen.append(event)
            take -= 1
            if take == 0 or event.type in FINAL_TYPES:
                break
        call.cancel()
        reconnects += 1
    return seen, reconnects


async def test_a_run_on_one_process_streams_whole_to_readers_on_two_others_that_resume(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    a, b, c = servers(3)
    rng = random.Random(11)  # noqa: S311 - a test's cut points, not secrets
    words = " ".join(f"w{i}" for i in range(60))
    async with connected([a, b, c]) as (on_a, on_b, on_c):
        thread_id = await new_thread(on_a)
        run = await on_a.runs.CreateRun(
            echo_request(thread_id, words, delay_ms=30), timeout=RPC_TIMEOUT
        )
        readers = [
            _resuming_reader(stubs, run.run_id, random.Random(rng.random()))  # noqa: S311
            for stubs in (on_b, on_c, on_b, on_c)
        ]
        results = await asyncio.gather(*readers)
        truth = await run_events(on_a, run.run_id)
    truth_ids = [e.event_id for e in truth]
    assert truth[-1].type == "run.completed"
    missing = duplicated = out_of_order = 0
    for seen, _ in results:
        ids = [e.event_id for e in seen]
        missing += len(set(truth_ids) - set(ids))
        duplicated += len(ids) - len(set(ids))
        out_of_order += sum(1 for x, y in itertools.pairwise(ids) if y <= x)
        assert [e.SerializeToString() for e in seen] == [e.SerializeToString() for e in truth]
    reconnects = sum(r for _, r in results)
    counts(
        f"postgres, run on A streamed from B and C by 4 readers: {len(truth)} events each, "
        f"{reconnects} disconnects and resumes, {missing} missing, {duplicated} duplicated, "
        f"{out_of_order} out of order"
    )
    assert (missing, duplicated, out_of_order) == (0, 0, 0)


async def test_kill_9_of_the_executing_process_ends_its_run_exactly_once(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    a, b = servers(2, "--server-lease", "2", "--lease-check-interval", "0.2")
    async with connected([a, b]) as (on_a, on_b):
        thread_id = await new_thread(on_a)
        run = await on_a.runs.CreateRun(
            echo_request(thread_id, " ".join(f"w{i}" for i in range(200)), delay_ms=100),
            timeout=RPC_TIMEOUT,
        )
        # Stream from A, the process that runs it, until the run is under way.
        seen: list[Any] = []
        call = on_a.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=run.run_id), timeout=60
        )
        async for event in call:
            seen.append(event)
            if event.type == "message.delta":
                break
        call.cancel()
        a.process.send_signal(signal.SIGKILL)
        assert a.process.wait(10) == -signal.SIGKILL
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        rest = await run_events(on_b, run.run_id, after=seen[-1].event_id)
        ended_after = loop.time() - killed_at
        everything = await run_events(on_b, run.run_id)
        final = await on_b.runs.GetRun(
            run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT
        )
        # The thread is free again: B runs the next one to its end.
        following = await on_b.runs.CreateRun(echo_request(thread_id, "after"), timeout=RPC_TIMEOUT)
        after_events = await run_events(on_b, following.run_id)
    finals = [e for e in everything if e.type in FINAL_TYPES]
    assert len(finals) == 1, [e.type for e in finals]
    assert finals[0].type == "run.failed"
    assert final.status == run_pb2.RUN_STATUS_FAILED
    assert final.error.code == "LEASE_EXPIRED"
    assert rest[-1].event_id == finals[0].event_id
    # The client of the dead process resumed on B without loss or repeat.
    assert [e.SerializeToString() for e in seen + rest] == [
        e.SerializeToString() for e in everything
    ]
    ids = [e.event_id for e in everything]
    assert ids == sorted(set(ids))
    assert after_events[-1].type == "run.completed"
    counts(
        f"postgres, kill -9 of the executing process: run ended once ({final.error.code}) "
        f"{ended_after:.1f}s later; its client resumed on B after event {seen[-1].event_id}: "
        f"{len(everything)} events, 0 missing, 0 repeated, 1 final"
    )


async def test_writers_on_every_process_and_resuming_readers_miss_no_event(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    processes = servers(3)
    per_writer = 40
    async with connected(processes) as stubs:
        thread_id = await new_thread(stubs[0], "writers")
        writers_done = asyncio.Event()

        async def write(stub: Stubs, n: int) -> None:
            for i in range(per_writer):
                await stub.messages.CreateMessage(
                    message_pb2.CreateMessageRequest(
                        thread_id=thread_id,
                        message=message_pb2.Message(
                            role=message_pb2.MESSAGE_ROLE_USER,
                            parts=[message_pb2.Part(text=f"writer {n} message {i}")],
                        ),
                    ),
                    timeout=RPC_TIMEOUT,
                )

        async def read(stub: Stubs, rng: random.Random) -> tuple[list[int], int]:
            ids: list[int] = []
            resumes = 0
            while True:
                call = stub.runs.WatchThread(
                    run_pb2.WatchThreadRequest(
                        thread_id=thread_id, after_event_id=ids[-1] if ids else 0
                    ),
                    timeout=60,
                )
                take = rng.randint(1, 15)
                try:
                    async with asyncio.timeout(2.0):
                        async for event in call:
                            ids.append(event.event_id)
                            take -= 1
                            if take == 0:
                                break
                except TimeoutError:
                    if writers_done.is_set():
                        call.cancel()
                        return ids, resumes
                call.cancel()
                resumes += 1

        writers = [asyncio.create_task(write(stubs[n % 3], n)) for n in range(6)]
        readers = [
            asyncio.create_task(read(stubs[n % 3], random.Random(n)))  # noqa: S311
            for n in range(6)
        ]
        await asyncio.gather(*writers)
        writers_done.set()
        results = await asyncio.gather(*readers)
    total = 6 * per_writer
    gaps = duplicated = 0
    for ids, _ in results:
        # A thread's event ids are its own counter, one by one in commit
        # order: a reader that saw them all saw exactly 1..n, nothing skipped.
        assert ids, "a reader got nothing"
        expected = list(range(1, ids[-1] + 1))
        gaps += len(set(expected) - set(ids))
        duplicated += len(ids) - len(set(ids))
        assert len(ids) >= total, (len(ids), total)
    resumes = sum(r for _, r in results)
    counts(
        f"postgres, 3 processes: 6 writers made {total} messages while 6 readers resumed "
        f"{resumes} times; {gaps} events missed, {duplicated} duplicated"
    )
    assert (gaps, duplicated) == (0, 0)


async def test_a_worker_s_reports_may_reach_any_process(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    a, b = servers(2, *worker_tests.SERVER_FLAGS)
    words = [f"w{i} " for i in range(12)]
    async with worker_tests.connected(a.address) as on_a, worker_tests.connected(b.address) as on_b:
        thread_id = await worker_tests.new_thread(on_a)
        run = await worker_tests.create_run(on_a, thread_id, "hand over hand")
        # Claimed through B (runs queued through A wake no one there: B looks again).
        claimed = await worker_tests.claim(on_b)
        assert claimed.run.run_id == run.run_id
        for n, word in enumerate(words):
            stubs = (on_a, on_b)[n % 2]
            await stubs.workers.ReportRunEvents(
                worker_pb2.ReportRunEventsRequest(
                    run_id=run.run_id, lease_id=claimed.lease_id, events=[worker_tests.delta(word)]
                ),
                timeout=RPC_TIMEOUT,
            )
        await on_a.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=run.run_id,
                lease_id=claimed.lease_id,
                events=[worker_tests.finish_completed()],
            ),
            timeout=RPC_TIMEOUT,
        )
        done = await on_b.runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id), timeout=RPC_TIMEOUT)
        events = await run_events(Stubs(on_b.threads, on_b.messages, on_b.runs), run.run_id)
        listed = await on_a.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=thread_id), timeout=RPC_TIMEOUT
        )
    assert done.status == run_pb2.RUN_STATUS_COMPLETED
    assert done.response == "".join(words)
    # The input message and the one answer, however the deltas were spread.
    assert [e.type for e in events].count("message.completed") == 2
    assert [m.parts[0].text for m in listed.messages] == ["hand over hand", "".join(words)]
    counts(
        f"postgres, a worker claimed through B, reported {len(words)} deltas alternately to A "
        f"and B: one answer of {len(done.response)} characters, {len(events)} events"
    )


async def test_interrupt_from_another_process_ends_the_run_once_and_starts_the_next(
    servers: Callable[..., list[ServerProcess]], counts: Callable[[str], None]
) -> None:
    a, b = servers(2)
    async with connected([a, b]) as (on_a, on_b):
        thread_id = await new_thread(on_a)
        first = await on_a.runs.CreateRun(
            echo_request(thread_id, " ".join(f"w{i}" for i in range(100)), delay_ms=100),
            timeout=RPC_TIMEOUT,
        )
        call = on_b.runs.StreamRunEvents(
            run_pb2.StreamRunEventsRequest(run_id=first.run_id), timeout=60
        )
        async for event in call:
            if event.type == "message.delta":
                break
        call.cancel()
        second = await on_b.runs.CreateRun(
            echo_request(thread_id, "the second", strategy=run_pb2.MULTITASK_STRATEGY_INTERRUPT),
            timeout=RPC_TIMEOUT,
        )
        first_events = await run_events(on_b, first.run_id)
        second_events = await run_events(on_a, second.run_id)
        ended = await on_a.runs.GetRun(
            run_pb2.GetRunRequest(run_id=first.run_id), timeout=RPC_TIMEOUT
        )
        # A stops executing the interrupted run: nothing of it is written after its end.
        await asyncio.sleep(0.5)
        after = await run_events(on_a, first.run_id)
    finals = [e.type for e in first_events if e.type in FINAL_TYPES]
    assert finals == ["run.cancelled"]
    assert ended.status == run_pb2.RUN_STATUS_CANCELLED
    assert [e.event_id for e in after] == [e.event_id for e in first_events]
    assert second_events[-1].type == "run.completed"
    counts(
        "postgres, INTERRUPT through B of a run executing on A: "
        f"1 final event ({finals[0]}), next run completed, {len(first_events)} events"
    )
