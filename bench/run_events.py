"""Benchmark: run events per second written, and delivered to 1, 10 and 100 concurrent readers.

Starts a real server (``python -m threadline_server serve``) as a child process
over a fresh SQLite file, and for each reader count N (0 is the writer alone):

1. creates a thread and a *blocker* run of the built-in ``echo`` agent that
   holds the thread busy (``delay_ms``), then queues the measured ``echo`` run
   behind it (``MULTITASK_STRATEGY_ENQUEUE``) with one long user message;
2. starts N readers (``StreamRunEvents`` of that run, or ``WatchThread`` of the
   thread) spread over a few channels, and waits until every reader has
   received the run's ``run.created`` event, so every reader is live;
3. cancels the blocker: the measured run starts at once and streams one
   ``message.delta`` event per word, each in its own transaction;
4. waits until every reader has the run's final event; a run still going
   after ``--budget`` seconds is cancelled, and its final event is then
   ``run.cancelled`` (that keeps the whole benchmark within 3 minutes).

Write rate is the run's events (from ``run.started`` to its final event,
inclusive; ids and ``created_at`` as stored, read back after the run) over
the span of their ``created_at``. Delivery rate is every event in that range
that any reader received, summed over readers, over the time from
``run.started``'s ``created_at`` to the moment the last reader got its last
event. Latency is receive time minus the event's ``created_at`` (same
machine, same clock; ``created_at`` is taken when the write transaction
starts, so latency includes the commit and its fsync).

The reference, measured in this same process and on the same disk, is a
plain ``sqlite3`` loop: one ``BEGIN IMMEDIATE``/``INSERT``/``COMMIT`` per
event into a table shaped like ``events`` (WAL, ``synchronous=FULL``, as the
server). It runs before the first reader count, between every two and after
the last, and each row is compared with the mean of the two around it. A
second reference runs the same loop through ``aiosqlite``, the server's
SQLite driver (one thread hop per statement).

Run ``.venv/bin/python bench/run_events.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import grpc
from google.protobuf import struct_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, thread_pb2_grpc

LISTENING = re.compile(r"listening on (\S+):(\d+)")
FINAL_TYPES = frozenset(
    {"run.completed", "run.max_iterations_reached", "run.failed", "run.cancelled"}
)
# Words the long message is made of, cycled; any text works, one event per word.
VOCABULARY = (
    "every",
    "client",
    "sees",
    "each",
    "word",
    "of",
    "the",
    "answer",
    "arrive",
    "in",
    "order",
)
# The blocker run's message: long enough, at one word a second, to outlast any setup.
BLOCKER_WORDS = 300
# Each channel is its own TCP connection (a local subchannel pool), so readers
# do not all share one HTTP/2 connection.
CHANNEL_OPTIONS = (
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
)
SERVER_START_TIMEOUT = 60.0
READY_TIMEOUT = 30.0
# What --rpc names.
RPC_NAMES = {
    "stream": "StreamRunEvents",
    "batches": "StreamRunEventBatches",
    "watch": "WatchThread",
}
# What a reader count needs besides its streaming budget (setup, readers
# connecting, reading the run back, the reference after it), and the least
# budget worth measuring; together they keep the run within --max-seconds.
OVERHEAD_SECONDS = 25.0
MIN_BUDGET_SECONDS = 5.0


def out(text: str = "") -> None:
    """Write a line to stdout."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """Write a progress line to stderr (kept out of --json output)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def long_text(words: int) -> str:
    """Return a message of exactly `words` whitespace-separated words."""
    return " ".join(VOCABULARY[i % len(VOCABULARY)] for i in range(words))


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


# -- the reference: plain SQLite inserts with the server's durability -------------------------

EVENTS_DDL = (
    (
        "CREATE TABLE events (event_id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "tenant_id TEXT NOT NULL DEFAULT '', thread_pk INTEGER NOT NULL, "
        "run_id TEXT NOT NULL DEFAULT '', type TEXT NOT NULL, payload BLOB NOT NULL, "
        "created_at INTEGER NOT NULL) STRICT"
    ),
    "CREATE INDEX events_by_thread ON events (thread_pk, event_id)",
    "CREATE INDEX events_by_run ON events (run_id, event_id) WHERE run_id != ''",
)
INSERT_EVENT = (
    "INSERT INTO events (tenant_id, thread_pk, run_id, type, payload, created_at) "
    "VALUES ('', 1, ?, 'message.delta', ?, ?)"
)
REFERENCE_RUN_ID = "run_" + "0" * 26
# A reference loop stops early after this long (a slow disk must not stretch the run).
REFERENCE_SECONDS = 3.0


def delta_payload() -> bytes:
    """Return a stored message.delta payload of the size the server writes."""
    event = run_pb2.RunEvent(
        run_id=REFERENCE_RUN_ID,
        type="message.delta",
        delta=run_pb2.MessageDelta(message_id="msg_" + "0" * 26, text="iterations "),
    )
    return event.SerializeToString(deterministic=True)


def sqlite_reference(path: Path, count: int) -> float:
    """Insert `count` events (or what fits in a few seconds), one transaction each; return ev/s."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        for statement in EVENTS_DDL:
            connection.execute(statement)
        payload = delta_payload()
        started = time.perf_counter()
        done = 0
        while done < count and time.perf_counter() - started < REFERENCE_SECONDS:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(INSERT_EVENT, (REFERENCE_RUN_ID, payload, time.time_ns() // 1000))
            connection.execute("COMMIT")
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        connection.close()


async def aiosqlite_reference(path: Path, count: int) -> float:
    """Run the same loop through aiosqlite, the server's driver; return events/s."""
    async with aiosqlite.connect(path, isolation_level=None) as connection:
        await connection.execute("PRAGMA journal_mode = WAL")
        await connection.execute("PRAGMA synchronous = FULL")
        for statement in EVENTS_DDL:
            await connection.execute(statement)
        payload = delta_payload()
        started = time.perf_counter()
        done = 0
        while done < count and time.perf_counter() - started < REFERENCE_SECONDS:
            await connection.execute("BEGIN IMMEDIATE")
            await connection.execute(
                INSERT_EVENT, (REFERENCE_RUN_ID, payload, time.time_ns() // 1000)
            )
            await connection.execute("COMMIT")
            done += 1
        return done / (time.perf_counter() - started)


async def measure_references(folder: Path, count: int, label: str) -> dict[str, float]:
    """Run both reference loops on fresh files in `folder`; return their rates."""
    rates = {
        "sqlite3": sqlite_reference(folder / f"reference-sqlite3-{label}.db", count),
        "aiosqlite": await aiosqlite_reference(folder / f"reference-aiosqlite-{label}.db", count),
    }
    note(
        f"reference #{label}: sqlite3 {rates['sqlite3']:.0f} ev/s, "
        f"aiosqlite {rates['aiosqlite']:.0f} ev/s"
    )
    return rates


# -- the server ---------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A ``threadline serve`` child process whose log goes to a file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def memory_mib(self) -> dict[str, float]:
        """Return the server's resident memory now (VmRSS) and its peak so far (VmHWM), in MiB."""
        sizes = {"VmRSS:": 0.0, "VmHWM:": 0.0}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key = line.split(" ", 1)[0].split("\t", 1)[0]
            if key in sizes:
                sizes[key] = int(line.split()[1]) / 1024
        return {"rss": round(sizes["VmRSS:"], 1), "peak": round(sizes["VmHWM:"], 1)}

    def cpu_seconds(self) -> float:
        """Return the user+system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After the command name: state is field 3, utime 14 and stime 15 (1-based).
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> int:
        """SIGTERM, wait for the drain, kill if it hangs; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def grpc_port(log: str) -> int | None:
    """Return the gRPC port from the server's 'listening on host:PORT' line, once logged."""
    for line in log.splitlines():
        match = LISTENING.search(line)
        if match and "http" not in line.lower():
            return int(match.group(2))
    return None


def serve_flags() -> list[str]:
    """Return the flags that turn off what is not measured, on servers that have them.

    A server with an HTTP/JSON gateway would otherwise also bind its default
    HTTP port, which another server on the machine may hold. The caps on
    calls and on one tenant's streams (1,000 and 500 by default) are lifted,
    so that 1,000 readers of one tenant can all follow the run.
    """
    shown = subprocess.run(
        [sys.executable, "-m", "threadline_server", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    flags = ["--no-http"] if "--no-http" in shown else []
    if "--tenant-max-streams" in shown:
        flags += ["--tenant-max-streams", "0", "--max-concurrent-rpcs", "100000"]
    return flags


def start_server(folder: Path, cpus: str = "") -> ServerProcess:
    """Start the server on a free port (on `cpus` when given); its output goes to a file."""
    log_path = folder / "server.log"
    pin = ["taskset", "-c", cpus] if cpus else []
    command = [
        *pin,
        sys.executable,
        "-m",
        "threadline_server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        str(folder / "threadline.db"),
        *serve_flags(),
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        port = grpc_port(log_path.read_text(encoding="utf-8", errors="replace"))
        if port is not None:
            return ServerProcess(process, port, log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    exited = process.poll()
    process.kill()
    process.wait()
    why = (
        f"exited {exited}"
        if exited is not None
        else f"not serving after {SERVER_START_TIMEOUT:g} s"
    )
    raise SystemExit(f"server did not start ({why}):\n" + log_path.read_text(encoding="utf-8"))


# -- one measurement ----------------------------------------------------------------------


@dataclass
class Reader:
    """One stream: what it received, and when (time.time_ns at receipt)."""

    index: int
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[run_pb2.RunEvent] = field(default_factory=list)
    received_ns: list[int] = field(default_factory=list)
    # Messages received (a batch is one message, however many events it holds).
    messages: int = 0
    # How the stream ended when it did not end with the run's final event.
    failure: str = ""


async def read(
    reader: Reader, stub: run_pb2_grpc.RunServiceAsyncStub, rpc: str, run_id: str, thread_id: str
) -> None:
    """Receive the run's events until its final one; keep each with its receive time."""
    call: Any = (
        stub.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run_id))
        if rpc == "stream"
        else stub.StreamRunEventBatches(run_pb2.StreamRunEventsRequest(run_id=run_id))
        if rpc == "batches"
        else stub.WatchThread(run_pb2.WatchThreadRequest(thread_id=thread_id))
    )
    events = reader.events
    received = reader.received_ns
    try:
        async for message in call:
            now = time.time_ns()
            reader.messages += 1
            for event in message.events if rpc == "batches" else (message,):
                if event.run_id != run_id:
                    continue  # WatchThread also shows the blocker's events
                events.append(event)
                received.append(now)
                if event.type == "run.created":
                    reader.ready.set()
                elif event.type in FINAL_TYPES:
                    break
            if events and events[-1].type in FINAL_TYPES:
                break
        else:
            code = await call.code()
            reader.failure = f"the stream ended ({code.name}) without the run's final event"
    except grpc.aio.AioRpcError as error:
        reader.failure = f"the stream failed: {error.code().name} {error.details()}"
    finally:
        call.cancel()
        if not reader.ready.is_set() and reader.failure:
            raise SystemExit(f"reader {reader.index}: {reader.failure}")


def _micros(event: run_pb2.RunEvent) -> int:
    return event.created_at.seconds * 1_000_000 + event.created_at.nanos // 1000


def summarize(
    run_events: Sequence[run_pb2.RunEvent],
    readers: Sequence[Reader],
    words: int,
    wall: float,
    cpu: dict[str, float],
) -> dict[str, Any]:
    """Turn the run's stored events, and what the readers received, into rates and latencies."""
    started = next(e for e in run_events if e.type == "run.started")
    final = run_events[-1]
    written = final.event_id - started.event_id + 1
    write_span = (_micros(final) - _micros(started)) / 1e6
    write_rate = written / write_span
    row: dict[str, Any] = {
        "readers": len(readers),
        "final_event": final.type,
        "events_written": written,
        "events_expected": words + 4,
        "write_seconds": round(write_span, 3),
        "write_events_per_s": round(write_rate, 1),
        "wall_seconds": round(wall, 3),
        "server_cpu_percent": round(100 * cpu["server"] / wall, 1),
        "client_cpu_percent": round(100 * cpu["client"] / wall, 1),
    }
    if not readers:
        return row
    delivered = 0
    last_receipt_us = 0
    latencies: list[float] = []
    reader_p99: list[float] = []
    for reader in readers:
        own = [
            (received_ns / 1000 - _micros(event)) / 1000
            for event, received_ns in zip(reader.events, reader.received_ns, strict=True)
            if started.event_id <= event.event_id <= final.event_id
        ]
        delivered += len(own)
        if reader.received_ns:
            last_receipt_us = max(last_receipt_us, reader.received_ns[-1] // 1000)
        own.sort()
        reader_p99.append(percentile(own, 0.99))
        latencies.extend(own)
    latencies.sort()
    delivery_rate = delivered / ((last_receipt_us - _micros(started)) / 1e6)
    failed = [r.failure for r in readers if r.failure]
    row.update(
        {
            "all_readers_got_every_event": delivered == written * len(readers),
            "readers_failed": len(failed),
            "first_failure": failed[0] if failed else "",
            "events_delivered": delivered,
            "delivery_seconds": round((last_receipt_us - _micros(started)) / 1e6, 3),
            "delivery_events_per_s": round(delivery_rate, 1),
            "per_reader_events_per_s": round(delivery_rate / len(readers), 1),
            "per_reader_over_write": round(delivery_rate / len(readers) / write_rate, 3),
            "latency_ms_p50": round(percentile(latencies, 0.50), 2),
            "latency_ms_p99": round(percentile(latencies, 0.99), 2),
            "latency_ms_p99_worst_reader": round(max(reader_p99), 2),
            "latency_ms_max": round(latencies[-1], 2),
            "messages_per_reader": round(sum(r.messages for r in readers) / len(readers), 1),
        }
    )
    return row


async def replay(stub: run_pb2_grpc.RunServiceAsyncStub, run_id: str) -> list[run_pb2.RunEvent]:
    """Read a finished run's stored events, from run.created to its final event."""
    call = stub.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=run_id))
    events = [event async for event in call]
    if not events or events[-1].type not in FINAL_TYPES:
        raise SystemExit(f"replaying run {run_id} did not end with its final event")
    return events


@dataclass(frozen=True)
class Phase:
    """One reader count to measure, and how."""

    readers: int
    text: str
    words: int
    rpc: str
    max_channels: int
    budget: float
    profile_dir: Path | None
    # The measured run's pause before each word (0: as fast as it can write).
    delay_ms: float = 0.0


class Profiler:
    """py-spy attached to the server while one reader count streams."""

    def __init__(self, pid: int, folder: Path, label: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"py-spy-{label}.txt"
        executable = Path(sys.executable).with_name("py-spy")
        command = [
            str(executable) if executable.exists() else "py-spy",
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--nonblocking",
            "--output",
            str(self.path),
        ]
        with (folder / f"py-spy-{label}.log").open("wb") as log_file:
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)

    def stop(self) -> dict[str, Any]:
        """Stop sampling (SIGINT makes py-spy write its file); return the top frames."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self.path.exists():
            return {"error": f"py-spy wrote nothing; see {self.path.with_suffix('.log')}"}
        return top_frames(self.path)


FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "threadline_server/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def top_frames(path: Path, count: int = 15) -> dict[str, Any]:
    """Summarize py-spy's collapsed stacks.

    Samples are split by thread: the event loop (the main thread), aiosqlite's
    connection thread (SQLite calls, fsync included), and the rest. The top
    frames are those of the event loop, as shares of its samples: self (the
    function itself, including C or Cython code it calls, which py-spy does not
    see) and total (the function and everything under it).
    """
    threads = {"event_loop": 0, "aiosqlite": 0, "other": 0}
    own: dict[str, int] = {}
    total: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        weight = int(number)
        if "_connection_worker_thread" in stack:
            threads["aiosqlite"] += weight
            continue
        if "_run_module_as_main" not in stack:
            threads["other"] += weight
            continue
        threads["event_loop"] += weight
        frames = [_frame_name(f) for f in stack.split(";")]
        own[frames[-1]] = own.get(frames[-1], 0) + weight
        for name in set(frames):
            total[name] = total.get(name, 0) + weight
    loop_samples = max(threads["event_loop"], 1)

    def share(n: int) -> float:
        return round(100 * n / loop_samples, 1)

    by_self = sorted(own.items(), key=lambda item: -item[1])[:count]
    return {
        "file": str(path),
        "samples_by_thread": threads,
        "event_loop_self": [[name, share(n), share(total[name])] for name, n in by_self],
    }


async def prepare(
    control: grpc.aio.Channel, n: int, text: str, delay_ms: float = 0.0
) -> tuple[str, run_pb2.Run, run_pb2.Run]:
    """Create a thread, a blocker run holding it busy, and the measured run queued behind.

    With delay_ms the measured run pauses that long before each word (a slow
    writer, as a model streaming tokens): latency is then a commit's way to
    its readers, not a queue behind a burst.
    """
    threads = thread_pb2_grpc.ThreadServiceStub(control)
    runs = run_pb2_grpc.RunServiceStub(control)
    thread = await threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title=f"bench {n} readers"))
    )
    delay = struct_pb2.Struct()
    delay.update({"delay_ms": 1000})
    blocker = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread.thread_id,
            agent_id="echo",
            input_messages=[user_message(long_text(BLOCKER_WORDS))],
            context=delay,
        )
    )
    pace = struct_pb2.Struct()
    if delay_ms:
        pace.update({"delay_ms": delay_ms})
    run = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id=thread.thread_id,
            agent_id="echo",
            input_messages=[user_message(text)],
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
            context=pace,
        )
    )
    if run.status != run_pb2.RUN_STATUS_QUEUED:
        raise SystemExit(f"the measured run should be QUEUED behind the blocker: {run}")
    return thread.thread_id, blocker, run


async def finished(
    runs: run_pb2_grpc.RunServiceAsyncStub,
    run_id: str,
    tasks: Sequence[asyncio.Task[None]],
    seconds: float,
) -> bool:
    """Wait until every reader is done (or, without readers, the run has ended)."""
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=seconds)
        return not pending
    # Poll rather than WaitRun: WaitRun reads the run again after every commit
    # on the thread, which would add a store read per event to "the writer alone".
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = await runs.GetRun(run_pb2.GetRunRequest(run_id=run_id))
        if run.status not in (run_pb2.RUN_STATUS_QUEUED, run_pb2.RUN_STATUS_RUNNING):
            return True
        await asyncio.sleep(0.1)
    return False


async def stream(
    server: ServerProcess,
    runs: run_pb2_grpc.RunServiceAsyncStub,
    tasks: Sequence[asyncio.Task[None]],
    ids: tuple[str, str],
    phase: Phase,
) -> dict[str, Any]:
    """Let the measured run go, wait for every reader (cancel the run past the budget)."""
    blocker_id, run_id = ids
    profiler = None
    if phase.profile_dir is not None:
        profiler = Profiler(server.process.pid, phase.profile_dir, f"{phase.readers}-readers")
        await asyncio.sleep(1.0)  # let py-spy attach
    cpu_server = server.cpu_seconds()
    cpu_client = time.process_time()
    wall_start = time.perf_counter()
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=blocker_id))
    cut = not await finished(runs, run_id, tasks, phase.budget)
    if cut:
        note(f"  over the {phase.budget:g}s budget: cancelling the run")
        await runs.CancelRun(run_pb2.CancelRunRequest(run_id=run_id))
        if not await finished(runs, run_id, tasks, 60):
            raise SystemExit("the readers had not read to the run's end 60s after it was cancelled")
    wall = time.perf_counter() - wall_start
    cpu = {
        "server": server.cpu_seconds() - cpu_server,
        "client": time.process_time() - cpu_client,
    }
    return {
        "wall": wall,
        "cpu": cpu,
        "cut_by_budget": cut,
        "profile": profiler.stop() if profiler is not None else None,
    }


async def measure(server: ServerProcess, phase: Phase) -> dict[str, Any]:
    """Measure one reader count on a fresh thread; return its row."""
    address = f"127.0.0.1:{server.port}"
    channels = [
        grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        for _ in range(max(1, min(phase.readers, phase.max_channels)))
    ]
    try:
        thread_id, blocker, run = await prepare(
            channels[0], phase.readers, phase.text, phase.delay_ms
        )
        stubs = [run_pb2_grpc.RunServiceStub(channel) for channel in channels]
        readers = [Reader(i) for i in range(phase.readers)]
        tasks = [
            asyncio.create_task(
                read(r, stubs[r.index % len(stubs)], phase.rpc, run.run_id, thread_id)
            )
            for r in readers
        ]
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                await asyncio.gather(*(r.ready.wait() for r in readers))
            outcome = await stream(server, stubs[0], tasks, (blocker.run_id, run.run_id), phase)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        run_events = await replay(stubs[0], run.run_id)
        row = summarize(run_events, readers, phase.words, outcome["wall"], outcome["cpu"])
        row["channels"] = len(channels)
        row["cut_by_budget"] = outcome["cut_by_budget"]
        row["budget_seconds"] = round(phase.budget, 1)
        if outcome["profile"] is not None:
            row["profile"] = outcome["profile"]
        return row
    finally:
        for channel in channels:
            await channel.close(None)


def user_message(text: str) -> message_pb2.Message:
    """Return a user message with one text part."""
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


# -- the whole run ------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Run events per second written by Threadline and delivered to "
        "concurrent readers, against a plain-SQLite reference measured in the same run."
    )
    parser.add_argument(
        "--readers",
        default="0,1,10,100",
        help="comma-separated reader counts; 0 is the writer alone, with no reader "
        "(default 0,1,10,100)",
    )
    parser.add_argument(
        "--words",
        type=int,
        default=3000,
        help="words in the echoed message: one message.delta event each (default 3000)",
    )
    parser.add_argument(
        "--rpc",
        choices=("stream", "batches", "watch"),
        default="stream",
        help="readers use StreamRunEvents of the run (stream, default), "
        "StreamRunEventBatches (batches: several events per message) or WatchThread",
    )
    parser.add_argument(
        "--channels",
        type=int,
        default=4,
        help="spread readers over at most this many channels/connections (default 4)",
    )
    parser.add_argument(
        "--reference-events",
        type=int,
        default=1000,
        help="inserts per reference loop, run before, between and after the reader counts "
        "(default 1000)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the databases and server.log go (default: a new temporary directory, "
        "deleted at the end unless --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds a reader count may stream before the run is cancelled; the rates "
        "then cover the events up to run.cancelled (default 30)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=170.0,
        help="shorten budgets, or skip the last reader counts, to finish within about "
        "this many seconds (default 170)",
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        default=None,
        metavar="DIR",
        help="attach py-spy to the server while each reader count streams; write the "
        "collapsed stacks to DIR and add the top frames to the results",
    )
    parser.add_argument(
        "--server-cpus",
        default="",
        help="run the server under `taskset -c CPUS` (the benchmark harness pins the server "
        "to one core and this process, the readers, to the others)",
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="the measured run pauses this long before each word (a slow writer: latency "
        "is then from a commit to its readers; default 0, as fast as it can write)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document only")
    arguments = parser.parse_args(argv)
    try:
        arguments.reader_counts = [int(x) for x in arguments.readers.split(",") if x.strip()]
    except ValueError:
        parser.error("--readers takes comma-separated integers")
    if not arguments.reader_counts or min(arguments.reader_counts) < 0:
        parser.error("--readers takes integers from 0 (0: the writer alone, no readers)")
    if not 1 <= arguments.words <= 100_000:
        parser.error("--words must be between 1 and 100000")
    return arguments


async def bench(arguments: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Measure each reader count between two reference measurements; return it all.

    The reference runs before the first reader count, between every two, and
    after the last (while the server is idle), so that each row's ratio is
    against the reference measured right around it, whatever else the machine
    was doing at the time.
    """
    started = time.perf_counter()
    load_before = os.getloadavg()
    references = [await measure_references(folder, arguments.reference_events, "0")]
    server = start_server(folder, arguments.server_cpus)
    note(f"server pid {server.process.pid} on port {server.port}")
    text = long_text(arguments.words)
    rows: list[dict[str, Any]] = []
    skipped: list[int] = []
    try:
        for n in arguments.reader_counts:
            # Leave time for this count's setup, the reference after it and the stop.
            left = arguments.max_seconds - (time.perf_counter() - started) - OVERHEAD_SECONDS
            if left < MIN_BUDGET_SECONDS:
                note(f"skipping {n} reader(s): --max-seconds {arguments.max_seconds:g} is near")
                skipped.append(n)
                continue
            note(f"measuring {n} reader(s)...")
            phase = Phase(
                readers=n,
                text=text,
                words=arguments.words,
                rpc=arguments.rpc,
                max_channels=arguments.channels,
                budget=min(arguments.budget, left),
                profile_dir=arguments.py_spy,
                delay_ms=arguments.delay_ms,
            )
            row = await measure(server, phase)
            memory = server.memory_mib()
            row["server_rss_mib"] = memory["rss"]
            row["server_peak_rss_mib"] = memory["peak"]
            note(
                f"  write {row['write_events_per_s']:.0f} ev/s, "
                f"delivered {row.get('delivery_events_per_s', 0):.0f} ev/s "
                f"in {row['wall_seconds']}s"
            )
            rows.append(row)
            label = str(len(references))
            references.append(await measure_references(folder, arguments.reference_events, label))
    finally:
        exit_code = server.stop()
    for index, row in enumerate(rows):
        around = references[index : index + 2]
        for name in ("sqlite3", "aiosqlite"):
            rate = sum(r[name] for r in around) / len(around)
            row[f"reference_{name}_events_per_s"] = round(rate, 1)
            row[f"write_over_{name}"] = round(row["write_events_per_s"] / rate, 3)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command_line(),
        "server_code": server_revision(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "grpcio": grpc.__version__,
            "platform": platform.platform(),
            "load_average_1min_before": round(load_before[0], 2),
            "load_average_1min_after": round(os.getloadavg()[0], 2),
        },
        "settings": {
            "words": arguments.words,
            "rpc": RPC_NAMES[arguments.rpc],
            "max_channels": arguments.channels,
            "reference_events": arguments.reference_events,
            "budget_seconds": arguments.budget,
            "delay_ms": arguments.delay_ms,
            "max_seconds": arguments.max_seconds,
        },
        "reference_events_per_s": {
            name: {
                "mean": round(sum(r[name] for r in references) / len(references), 1),
                "min": round(min(r[name] for r in references), 1),
                "max": round(max(r[name] for r in references), 1),
                "each": [round(r[name], 1) for r in references],
            }
            for name in ("sqlite3", "aiosqlite")
        },
        "rows": rows,
        "skipped_reader_counts": skipped,
        "server_exit_code": exit_code,
        "total_seconds": round(time.perf_counter() - started, 1),
    }


def table_row(row: dict[str, Any]) -> str:
    """Format one reader count as a Markdown table row."""
    events = f"{row['events_written']}{' (cut)' if row['cut_by_budget'] else ''}"
    cells = [str(row["readers"]), events, f"{row['write_events_per_s']:.0f}"]
    cells.append(f"{row['reference_sqlite3_events_per_s']:.0f}")
    cells.append(f"{row['write_over_sqlite3']:.3f}")
    if row["readers"]:
        if row["all_readers_got_every_event"]:
            complete = "yes"
        else:
            complete = f"NO: {row['readers_failed']} of {row['readers']} streams ended early"
        cells += [
            f"{row['delivery_events_per_s']:.0f}",
            f"{row['per_reader_events_per_s']:.0f}",
            f"{row['per_reader_over_write']:.2f}",
            f"{row['latency_ms_p50']:.1f}",
            f"{row['latency_ms_p99']:.1f}",
            f"{row['latency_ms_p99_worst_reader']:.1f}",
        ]
    else:
        complete = "(no readers)"
        cells += ["-"] * 6
    cells += [f"{row['server_cpu_percent']:.0f}%", f"{row['client_cpu_percent']:.0f}%", complete]
    return "| " + " | ".join(cells) + " |"


def command_line() -> str:
    """Return the command this run was started with, as typed from the repository root."""
    return " ".join([os.path.relpath(sys.executable), *sys.argv])


def server_revision() -> str:
    """Return the commit the server ran from, noting uncommitted changes under server/."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "--no-optional-locks", "-C", str(root)]
    try:
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "diff", "--quiet", "HEAD", "--", "server"], check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" + uncommitted changes under server/" if changed else "")


def print_table(result: dict[str, Any]) -> None:
    """Print the results for people."""
    reference = result["reference_events_per_s"]
    settings = result["settings"]
    out(
        f"Threadline run events, {result['date']}, {result['machine']['cpus']} CPUs, "
        f"Python {result['machine']['python']}, SQLite {result['machine']['sqlite']}"
    )
    out(f"command: {result['command']}  (server code {result['server_code']})")
    out(
        f"echo run of {settings['words']} words; readers on {settings['rpc']}, "
        f"over at most {settings['max_channels']} channels"
    )
    sqlite, aio = reference["sqlite3"], reference["aiosqlite"]
    out(
        "reference (same process and disk, 1 transaction per insert, WAL + synchronous=FULL), "
        f"measured {len(sqlite['each'])} times around the rows: "
        f"sqlite3 {sqlite['mean']:.0f} ev/s (min {sqlite['min']:.0f}, max {sqlite['max']:.0f}), "
        f"aiosqlite {aio['mean']:.0f} ev/s (min {aio['min']:.0f}, max {aio['max']:.0f})"
    )
    machine = result["machine"]
    out(
        f"1-minute load average {machine['load_average_1min_before']} before, "
        f"{machine['load_average_1min_after']} after, on {machine['cpus']} CPUs"
    )
    out()
    header = (
        "| readers | events | write ev/s | sqlite3 ref ev/s | write / ref "
        "| delivered ev/s (all readers) "
        "| per reader ev/s | per reader / write | latency p50 ms | latency p99 ms "
        "| worst reader p99 ms | server CPU | client CPU | every reader got every event |"
    )
    out(header)
    out("|" + "---|" * (header.count("|") - 1))
    for row in result["rows"]:
        out(table_row(row))
    out()
    if any(row["cut_by_budget"] for row in result["rows"]):
        budgets = ", ".join(
            f"{row['budget_seconds']:g}s" for row in result["rows"] if row["cut_by_budget"]
        )
        out(
            f"(cut): the run was still streaming at the end of its budget ({budgets}) and was "
            "cancelled; rates cover its events up to run.cancelled."
        )
    for row in result["rows"]:
        if row.get("first_failure"):
            out(
                f"WARNING: with {row['readers']} readers, {row['readers_failed']} streams ended "
                f"early; the first: {row['first_failure']}"
            )
    if result["skipped_reader_counts"]:
        out(f"skipped, for lack of time: {result['skipped_reader_counts']} readers")
    out(f"total {result['total_seconds']}s; server exit code {result['server_exit_code']}")
    for row in result["rows"]:
        profile = row.get("profile")
        if not profile:
            continue
        out()
        if "error" in profile:
            out(f"py-spy, {row['readers']} reader(s): {profile['error']}")
            continue
        threads = profile["samples_by_thread"]
        out(
            f"py-spy on the server, {row['readers']} reader(s), {profile['file']}: samples "
            f"event loop {threads['event_loop']}, aiosqlite thread {threads['aiosqlite']}, "
            f"other {threads['other']}"
        )
        out("  event loop: self % | total % | function")
        for name, own, total in profile["event_loop_self"]:
            out(f"  {own:17.1f} | {total:7.1f} | {name}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a table, or JSON with --json."""
    arguments = parse_arguments(argv)
    if arguments.dir is not None:
        arguments.dir.mkdir(parents=True, exist_ok=True)
        folder_context: Any = contextlib.nullcontext(str(arguments.dir))
    elif arguments.keep:
        folder_context = contextlib.nullcontext(tempfile.mkdtemp(prefix="threadline-bench-"))
    else:
        folder_context = tempfile.TemporaryDirectory(prefix="threadline-bench-")
    with folder_context as folder:
        note(f"working in {folder}")
        result = asyncio.run(bench(arguments, Path(folder)))
    if arguments.json:
        out(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
