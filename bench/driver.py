"""The load for calls that chain: create a run, then wait for it, on a thread of each worker's own.

ghz and vegeta repeat one call; a run that is created and then waited for is
two, the second naming the first's result. Each of `--concurrency` workers
makes its thread first (not timed), then repeats create-and-wait until the
time is up; one repetition is one call in the results. It runs in a process
of its own, pinned to the load's cores, and prints one JSON object.

Flows:
- ``threadline-run``: RunService.CreateRun (echo agent, one user message), then
  RunService.WaitRun, over gRPC.
- ``langgraph-run``: POST /threads/{id}/runs (the echo graph), then
  GET /threads/{id}/runs/{run_id}/join, over HTTP.

Usage: python -m bench.driver FLOW TARGET --concurrency N --seconds S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict

import aiohttp
import grpc
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc

from bench.load import LoadResult

TEXT = "hello there"
Step = Callable[[], Awaitable[None]]


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of sorted values (0 when empty)."""
    if not values:
        return 0.0
    return values[max(0, min(len(values) - 1, round(fraction * len(values)) - 1))]


async def threadline_worker(channel: grpc.aio.Channel) -> Step:
    """Make the worker's thread; return one create-and-wait step on it."""
    threads = thread_pb2_grpc.ThreadServiceStub(channel)
    runs = run_pb2_grpc.RunServiceStub(channel)
    thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
    request = run_pb2.CreateRunRequest(
        thread_id=thread.thread_id,
        agent_id="echo",
        input_messages=[
            message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=TEXT)]
            )
        ],
    )

    async def step() -> None:
        run = await runs.CreateRun(request, timeout=30)
        ended = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=30)
        if ended.status != run_pb2.RUN_STATUS_COMPLETED:
            raise RuntimeError(f"run ended {run_pb2.RunStatus.Name(ended.status)}")

    return step


async def langgraph_worker(session: aiohttp.ClientSession, base: str) -> Step:
    """Make the worker's thread; return one create-and-join step on it."""
    async with session.post(f"{base}/threads", json={}) as response:
        response.raise_for_status()
        thread_id = (await response.json())["thread_id"]
    body = {"assistant_id": "echo", "input": {"messages": [{"role": "user", "content": TEXT}]}}

    async def step() -> None:
        async with session.post(f"{base}/threads/{thread_id}/runs", json=body) as response:
            response.raise_for_status()
            run_id = (await response.json())["run_id"]
        async with session.get(f"{base}/threads/{thread_id}/runs/{run_id}/join") as response:
            response.raise_for_status()
            await response.read()

    return step


async def repeat(steps: list[Step], seconds: float) -> LoadResult:
    """Run every worker's step over and over until the time is up; time each."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def work(step: Step) -> None:
        while (started := time.perf_counter()) < deadline:
            try:
                await step()
            except (grpc.aio.AioRpcError, aiohttp.ClientError, RuntimeError) as error:
                errors.append(str(error)[:300])
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(work(step) for step in steps))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return LoadResult(
        calls=len(latencies),
        errors=len(errors),
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        error_sample=errors[0] if errors else "",
    )


async def drive(flow: str, target: str, concurrency: int, seconds: float) -> LoadResult:
    """Set the workers up for the flow, then measure."""
    if flow == "threadline-run":
        async with grpc.aio.insecure_channel(target) as channel:
            steps = await asyncio.gather(*(threadline_worker(channel) for _ in range(concurrency)))
            return await repeat(list(steps), seconds)
    if flow == "langgraph-run":
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            steps = await asyncio.gather(
                *(langgraph_worker(session, target) for _ in range(concurrency))
            )
            return await repeat(list(steps), seconds)
    raise SystemExit(f"unknown flow {flow!r}")


def main() -> None:
    """Parse the arguments, drive the load, print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("flow", choices=("threadline-run", "langgraph-run"))
    parser.add_argument("target", help="host:port for gRPC, http://host:port for HTTP")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    result = asyncio.run(
        drive(arguments.flow, arguments.target, arguments.concurrency, arguments.seconds)
    )
    sys.stdout.write(json.dumps(asdict(result)) + "\n")


if __name__ == "__main__":
    main()
