r"""Benchmark: unary calls per second and server CPU per call (GetThread, ListMessages, writes).

Made to measure the cost of per-call work (interceptors, access log, metrics)
and to compare two versions of the server code side by side.

Starts each variant's server as a child process (``python -m threadline_server
serve`` over a fresh SQLite file, ``--no-http`` unless a variant's flags say
otherwise), then for each round and each variant in turn (rounds interleave
variants, since a shared machine's speed drifts from minute to minute):

1. ``--concurrency`` grpc.aio callers on one channel make ``--rpc`` calls
   back to back for ``--seconds`` (after ``--warmup`` seconds not counted);
   GetThread reads one thread with ``message_limit`` 0, CreateMessage appends
   a short text message to one thread (a durable write: one fsync each),
   ``thread`` is CreateThread with a title, ``list`` is ListMessages of a
   page of 20 of a thread of 40 messages.
2. It counts completed calls and their latencies on the client, and the
   server process's CPU seconds (/proc) over the same window.

On a machine with two or more CPUs the server is pinned to CPU 0 and this
process to CPU 1, so the load does not take the server's core; server CPU
per 1,000 calls is then the number least moved by the load generator.

A variant is ``NAME=DIR``: DIR is put first on the server's PYTHONPATH, so
``DIR/threadline_server`` is the server code that runs (``git archive <commit>
server | tar -x -C /tmp/base`` makes one from an older commit); an empty DIR is
this checkout. ``NAME=DIR=FLAGS`` also passes FLAGS (split on spaces) to
``serve``. Without ``--variant``, the one variant is this checkout.

    .venv/bin/python bench/rpc_load.py --rpc get --rpc create \
        --variant before=/tmp/base/server --variant after=
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

SERVER_START_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LIST_THREAD_MESSAGES = 40  # as the benchmark's ListMessages scenario


def note(text: str) -> None:
    """Write a progress line to stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


@dataclass
class Variant:
    """One version of the server: where its code is, and its extra flags."""

    name: str
    path: str
    flags: list[str]


@dataclass
class Server:
    """A server child process."""

    process: subprocess.Popen[bytes]
    port: int

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / CLOCK_TICKS

    def stop(self) -> None:
        """SIGTERM, then wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    """Return a port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts(port: int) -> bool:
    """Tell whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_server(variant: Variant, folder: Path) -> Server:
    """Start a variant's server on a free port; wait until it accepts connections.

    (Its log may not say it listens: a variant may run with --log-level WARNING.)
    """
    log_path = folder / f"server-{variant.name}.log"
    port = free_port()
    env = dict(os.environ)
    if variant.path:
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (variant.path, env.get("PYTHONPATH", "")) if part
        )
    command = [
        sys.executable,
        "-m",
        "threadline_server",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--database",
        str(folder / f"{variant.name}.db"),
        "--no-http",
        # One tenant's load: its fairness cap would measure the cap, not the server.
        "--tenant-calls-per-second",
        "0",
        *variant.flags,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder
        )
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(process.pid, {0})
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if accepts(port):
            return Server(process, port)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"server {variant.name} did not start:\n{log_path.read_text()}")


@dataclass
class Result:
    """One measured window of one variant and RPC."""

    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Calls per second."""
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        """Latency in milliseconds at this fraction (nearest rank)."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))] * 1000

    @property
    def cpu_per_1000(self) -> float:
        """Server CPU seconds per 1,000 calls."""
        return self.server_cpu / self.calls * 1000 if self.calls else 0.0


async def load(server: Server, rpc: str, concurrency: int, warmup: float, seconds: float) -> Result:
    """Drive one RPC with `concurrency` callers; measure after the warm-up."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        messages = message_pb2_grpc.MessageServiceStub(channel)
        thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        get = thread_pb2.GetThreadRequest(thread_id=thread.thread_id)
        new_thread = thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="a thread"))
        create = message_pb2.CreateMessageRequest(
            thread_id=thread.thread_id,
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER,
                parts=[message_pb2.Part(text="a short message")],
            ),
        )
        if rpc == "list":
            for _ in range(LIST_THREAD_MESSAGES):
                await messages.CreateMessage(create)
        page = message_pb2.ListMessagesRequest(thread_id=thread.thread_id, page_size=20)
        result = Result()
        measuring = False
        stop = False

        async def caller() -> None:
            while not stop:
                began = time.perf_counter()
                try:
                    if rpc == "get":
                        await threads.GetThread(get)
                    elif rpc == "thread":
                        await threads.CreateThread(new_thread)
                    elif rpc == "list":
                        await messages.ListMessages(page)
                    else:
                        await messages.CreateMessage(create)
                except grpc.aio.AioRpcError as error:
                    if not result.errors:
                        note(f"{rpc} failed: {error.code().name} {error.details()}")
                    if measuring:
                        result.errors += 1
                    continue
                if measuring:
                    result.calls += 1
                    result.latencies.append(time.perf_counter() - began)

        tasks = [asyncio.create_task(caller()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        measuring = True
        await asyncio.sleep(seconds)
        measuring = False
        result.seconds = time.perf_counter() - started
        result.server_cpu = server.cpu_seconds() - cpu_before
        stop = True
        await asyncio.gather(*tasks, return_exceptions=True)
        return result


def parse_variant(text: str) -> Variant:
    """NAME=DIR or NAME=DIR=FLAGS."""
    name, _, rest = text.partition("=")
    path, _, flags = rest.partition("=")
    return Variant(name, path, shlex.split(flags))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the rounds and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rpc", action="append", choices=("get", "create", "thread", "list"))
    parser.add_argument("--variant", action="append", type=parse_variant)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    arguments = parser.parse_args(argv)
    rpcs = arguments.rpc or ["get", "create"]
    variants = arguments.variant or [Variant("this", "", [])]
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    results: dict[tuple[str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="threadline-rpc-load-") as scratch:
        folder = Path(scratch)
        servers = {variant.name: start_server(variant, folder) for variant in variants}
        try:
            for round_number in range(arguments.rounds):
                for rpc in rpcs:
                    for variant in variants:
                        result = asyncio.run(
                            load(
                                servers[variant.name],
                                rpc,
                                arguments.concurrency,
                                arguments.warmup,
                                arguments.seconds,
                            )
                        )
                        results.setdefault((rpc, variant.name), []).append(result)
                        note(
                            f"round {round_number + 1} {rpc:6} {variant.name:10} "
                            f"{result.rate:8.0f} calls/s  p50 {result.percentile(0.5):6.2f} ms  "
                            f"p99 {result.percentile(0.99):6.2f} ms  "
                            f"server CPU {result.cpu_per_1000:.3f} s/1000 calls"
                        )
        finally:
            for server in servers.values():
                server.stop()
    summary: list[dict[str, Any]] = []
    for (rpc, name), rounds in results.items():
        summary.append(
            {
                "rpc": rpc,
                "variant": name,
                "calls_per_second": statistics.median(r.rate for r in rounds),
                "p50_ms": statistics.median(r.percentile(0.5) for r in rounds),
                "p99_ms": statistics.median(r.percentile(0.99) for r in rounds),
                "server_cpu_s_per_1000": statistics.median(r.cpu_per_1000 for r in rounds),
                "errors": sum(r.errors for r in rounds),
                "rounds": len(rounds),
            }
        )
    if arguments.json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    sys.stdout.write(
        f"medians of {arguments.rounds} rounds, {arguments.concurrency} callers, "
        f"{arguments.seconds:g} s each\n\n"
        "| rpc | variant | calls/s | p50 ms | p99 ms | server CPU s / 1000 calls | errors |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    for row in summary:
        sys.stdout.write(
            f"| {row['rpc']} | {row['variant']} | {row['calls_per_second']:.0f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['server_cpu_s_per_1000']:.3f} | "
            f"{row['errors']} |\n"
        )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
