r"""Benchmark: CPU per durable write in the domain and the SQLite store alone, without gRPC.

Made to measure the write path's own cost (issue 10): CreateMessage into one
thread and CreateThread, each through its domain handler (validation, the
transaction's statements, group commit, the event bus), on a fresh SQLite
file in a temporary folder, 64 callers in flight. It prints the process's CPU
milliseconds per call (time.process_time: every thread, the writer's
included), the median of three rounds, and calls/s. Server CPU per call
here does not depend on how much CPU the machine gave the process, so it is
the figure to compare on a shared machine.

The code measured is whatever ``threadline_server`` Python finds first: put
an older version first on PYTHONPATH to measure it
(``git archive <commit> server | tar -x -C /tmp/base``)::

    .venv/bin/python bench/write_cost.py
    PYTHONPATH=/tmp/base/server .venv/bin/python bench/write_cost.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadline.v1 import message_pb2, thread_pb2
from threadline_server.domain.events import EventBus
from threadline_server.domain.messages import MessageHandler
from threadline_server.domain.threads import ThreadHandler
from threadline_server.store.records import DEFAULT_TENANT
from threadline_server.store.sqlite import SqliteStore

CALLERS = 64


async def _round(
    kind: str, calls: int, threads: ThreadHandler, messages: MessageHandler, thread_id: str
) -> tuple[float, float]:
    """Make `calls` writes of one kind; return CPU ms per call and calls/s."""
    create_message = message_pb2.CreateMessageRequest(
        thread_id=thread_id,
        message=message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="a short message")]
        ),
    )
    create_thread = thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="a thread"))
    left = calls

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            if kind == "message":
                await messages.create_message(DEFAULT_TENANT, create_message)
            else:
                await threads.create_thread(DEFAULT_TENANT, create_thread)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*[caller() for _ in range(CALLERS)])
    return (time.process_time() - cpu) / calls * 1000, calls / (time.perf_counter() - wall)


async def _main(calls: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="threadline-write-cost-") as scratch:
        store = SqliteStore(Path(scratch) / "threadline.db")
        await store.open()
        try:
            EventBus(store, max_bytes=8 << 20)  # the server's listener of committed events
            threads, messages = ThreadHandler(store), MessageHandler(store)
            thread = await threads.create_thread(DEFAULT_TENANT, thread_pb2.CreateThreadRequest())
            results: dict[str, list[tuple[float, float]]] = {}
            for _ in range(rounds):
                for kind in ("message", "thread"):
                    outcome = await _round(kind, calls, threads, messages, thread.thread_id)
                    results.setdefault(kind, []).append(outcome)
        finally:
            await store.close()
    for kind, measured in results.items():
        name = "CreateMessage" if kind == "message" else "CreateThread"
        sys.stdout.write(
            f"{name}: CPU {statistics.median(m[0] for m in measured):.3f} ms per call "
            f"(rounds {', '.join(f'{m[0]:.3f}' for m in measured)}), "
            f"{statistics.median(m[1] for m in measured):,.0f} calls/s\n"
        )


def main() -> None:
    """Parse the options, pin to CPU 0 where there are two, run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=3000, help="writes per round and kind")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    asyncio.run(_main(arguments.calls, arguments.rounds))


if __name__ == "__main__":
    main()
