r"""Benchmark: what makes grpc's own per-call work dearer in Threadline than in the empty server.

Builds up from the empty grpc.aio server (bench/limit_server.py: canned
answers, generic handlers, health) one Threadline server feature at a time,
and measures each variant's calls/s and server CPU per call under the same
load, as ratios to the empty server measured in the same round (rounds
interleave the variants, since a shared machine's speed drifts):

- ``limit``: the empty server as bench/limit_server.py serves it.
- ``registered``: the same handlers registered the way the generated
  ``add_*_to_server`` functions register them (a generic handler and
  registered method handlers, every method of Threadline's services, health
  and reflection), as Threadline's ParsingRegistrar did.
- ``options``: the limit with Threadline's server options (keepalive,
  max_concurrent_streams, message size, connection idle/age limits).
- ``interceptors``: the limit with two interceptors that pass every call on.
- ``log``: the limit writing Threadline's access-log line per call (the
  server's own log set-up, stderr to a file).
- ``work``: the limit doing about 50 µs of pure Python per call (``--busy``
  measures it in process): does Python work on the loop cost more than
  itself end to end?
- ``threadline``: the whole server (``python -m threadline_server serve``
  on a fresh SQLite file, ``--no-http``); ``threadline:DIR`` runs the
  server code in DIR (``git archive main server | tar -x -C /tmp/base``
  makes one), named ``threadline:DIR`` in the table; ``threadline=FLAGS``
  or ``threadline:DIR=FLAGS`` also passes FLAGS to ``serve``.

The load is ghz (the benchmark's own tool, .tools/bin/ghz) on one
connection, pinned to CPU 1 with the server on CPU 0 when there are two.

    .venv/bin/python bench/grpc_cost.py --rpc get --rpc list \
        --variant limit --variant registered --variant threadline
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import rpc_load  # noqa: E402 - after the path is set
from bench.canned import (  # noqa: E402 - after the path is set
    SERVICES,
    generic_handler,
    serve_until_stopped,
)
from bench.protoset import collect  # noqa: E402 - after the path is set
from bench.rpc_load import free_port  # noqa: E402 - after the path is set

GHZ = ROOT / ".tools" / "bin" / "ghz"
TWO_CORES = (os.cpu_count() or 1) >= 2
LIST_MESSAGES = 40
CALLS = {
    "get": "threadline.v1.ThreadService.GetThread",
    "list": "threadline.v1.MessageService.ListMessages",
}


def note(text: str) -> None:
    """Write a progress line to stderr."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _PassOn(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        return await continuation(details)


WORK_LOOPS = 2_000  # about 50 µs of pure Python on this machine's CPU


def _busy() -> int:
    total = 0
    for number in range(WORK_LOOPS):
        total += number & 7
    return total


def _extra(variant: str, *, list_page: bool = False) -> Any:
    """Return a canned handler with extra work: an access-log line, or busy Python."""
    from bench.canned import PAGE_SIZE, message, thread  # noqa: PLC0415 - only these variants

    answer: Any = (
        message_pb2.ListMessagesResponse(messages=[message() for _ in range(PAGE_SIZE)])
        if list_page
        else thread()
    )
    if variant.startswith("log"):
        from threadline_server.observability import logs  # noqa: PLC0415
        from threadline_server.transport.interceptors import (  # noqa: PLC0415
            ACCESS_LINE,
            access_log,
        )

        logs.configure("INFO", "text")
        if variant == "log-nothread":
            # Every line written at once, as any other record: no writer thread.
            for handler in logging.getLogger().handlers:
                handler.emit = functools.partial(logging.StreamHandler.emit, handler)  # type: ignore[method-assign]
        if variant == "log-direct":
            lines: list[str] = []

            async def direct(_request: Any, context: Any) -> Any:
                started = time.perf_counter()
                lines.append(
                    f"rpc=GetThread code=OK duration_ms="
                    f"{(time.perf_counter() - started) * 1000:.2f} peer={context.peer()}\n"
                )
                if len(lines) >= 256:
                    sys.stderr.write("".join(lines))
                    lines.clear()
                return answer

            return direct

        async def logged(_request: Any, context: Any) -> Any:
            started = time.perf_counter()
            access_log.info(
                ACCESS_LINE,
                {
                    "rpc": "GetThread",
                    "code": "OK",
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "peer": context.peer(),
                },
            )
            return answer

        return logged

    async def busy(_request: Any, _context: Any) -> Any:
        _busy()
        return answer

    return busy


async def _serve_canned(variant: str) -> None:
    """Serve the canned answers as the variant says; print the port; stop on SIGTERM."""
    interceptors = [_PassOn(), _PassOn()] if variant == "interceptors" else None
    options: Sequence[tuple[str, Any]] = ()
    if variant == "options":
        from threadline_server.config import Settings  # noqa: PLC0415 - only this variant
        from threadline_server.transport.server import server_options  # noqa: PLC0415

        options = server_options(Settings())
    server = grpc.aio.server(interceptors=interceptors, options=options)
    overrides = None
    if variant in {"log", "log-direct", "log-nothread", "work"}:
        overrides = {"GetThread": _extra(variant), "ListMessages": _extra(variant, list_page=True)}
    handlers = [generic_handler(service, overrides) for service in SERVICES]
    status = HealthServicer()
    if variant == "registered":
        # As generated code registers: a generic handler and the methods.
        for service, handler in zip(SERVICES, handlers, strict=True):
            methods = handler._method_handlers  # type: ignore[attr-defined]
            server.add_generic_rpc_handlers((handler,))
            server.add_registered_method_handlers(service.full_name, methods)  # type: ignore[attr-defined]
        health_pb2_grpc.add_HealthServicer_to_server(status, server)
        reflection.enable_server_reflection(
            (*(s.full_name for s in SERVICES), health.SERVICE_NAME), server
        )
    else:
        server.add_generic_rpc_handlers(tuple(handlers))
        health_pb2_grpc.add_HealthServicer_to_server(status, server)
    await serve_until_stopped(server, status)


@dataclass
class Server(rpc_load.Server):
    """A server child process and its port, named by its variant."""

    name: str


def _file_name(variant: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in variant)


def start(variant: str, folder: Path) -> Server:
    """Start a variant's server; return once it answers health."""
    env = dict(os.environ)
    log = (folder / f"{_file_name(variant)}.log").open("wb")
    if variant.startswith("threadline"):
        port = free_port()
        spec, _, flags = variant.partition("=")
        _, _, path = spec.partition(":")
        if path:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "threadline_server",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--database",
            str(folder / f"{_file_name(variant)}.db"),
            "--no-http",
            "--tenant-calls-per-second",
            "0",
            *shlex.split(flags),
        ]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    else:
        command = [sys.executable, __file__, "--serve", variant]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env)
        assert process.stdout is not None  # noqa: S101 - Popen with PIPE
        line = process.stdout.readline().decode()
        port = int(line.rsplit(":", 1)[1])
    if TWO_CORES:
        os.sched_setaffinity(process.pid, {0})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{variant} stopped: see {folder}")
        with (
            contextlib.suppress(grpc.RpcError),
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
            return Server(process=process, port=port, name=variant)
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{variant} did not start")


def seed(port: int) -> str:
    """Make a thread of LIST_MESSAGES messages; return its id."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        thread = thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
            thread_pb2.CreateThreadRequest()
        )
        messages = message_pb2_grpc.MessageServiceStub(channel)
        for number in range(LIST_MESSAGES):
            messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread.thread_id,
                    message=message_pb2.Message(
                        role=message_pb2.MESSAGE_ROLE_USER,
                        parts=[message_pb2.Part(text=f"message {number} of the thread")],
                    ),
                )
            )
        return str(thread.thread_id)


def ghz(
    protoset: Path, rpc: str, thread_id: str, port: int, *, seconds: float, folder: Path
) -> int:
    """Run ghz for `seconds`; return the OK calls."""
    data = {"thread_id": thread_id}
    if rpc == "list":
        data["page_size"] = 20  # type: ignore[assignment]
    output = folder / "ghz.json"
    command = [
        str(GHZ),
        "--insecure",
        "--protoset",
        str(protoset),
        "--call",
        CALLS[rpc],
        "--data",
        json.dumps(data),
        "--concurrency",
        "64",
        "--connections",
        "1",
        "--duration",
        f"{seconds:g}s",
        "--format",
        "json",
        "--output",
        str(output),
        f"127.0.0.1:{port}",
    ]
    if TWO_CORES:
        command = ["taskset", "-c", "1", *command]
    subprocess.run(command, check=True, env={**os.environ, "GOMAXPROCS": "1"}, capture_output=True)
    report = json.loads(output.read_text())
    return int(report.get("statusCodeDistribution", {}).get("OK", 0))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the rounds; print calls/s and server CPU per call as ratios to the first variant."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--busy", action="store_true", help="time the work variant's loop")
    parser.add_argument("--rpc", action="append", choices=tuple(CALLS))
    parser.add_argument("--variant", action="append")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    if arguments.busy:
        began = time.process_time()
        for _ in range(10_000):
            _busy()
        sys.stdout.write(f"busy: {(time.process_time() - began) / 10_000 * 1e6:.1f} µs per call\n")
        return
    if arguments.serve:
        asyncio.run(_serve_canned(arguments.serve))
        return
    rpcs = arguments.rpc or ["get"]
    variants = arguments.variant or ["limit", "threadline"]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="threadline-grpc-cost-") as scratch:
        folder = Path(scratch)
        protoset = folder / "threadline.protoset"
        seen: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        for module in (thread_pb2, message_pb2):
            collect(module.DESCRIPTOR, seen)
        protoset.write_bytes(
            descriptor_pb2.FileDescriptorSet(file=seen.values()).SerializeToString()
        )
        servers: list[Server] = []
        try:
            for variant in variants:  # those started are stopped if a later one fails
                servers.append(start(variant, folder))  # noqa: PERF401 - kept one by one
            threads = {server.name: seed(server.port) for server in servers}
            for round_number in range(arguments.rounds):
                for rpc in rpcs:
                    for server in servers:
                        thread_id = threads[server.name]
                        ghz(
                            protoset,
                            rpc,
                            thread_id,
                            server.port,
                            seconds=arguments.warmup,
                            folder=folder,
                        )
                        before = server.cpu_seconds()
                        began = time.perf_counter()
                        calls = ghz(
                            protoset,
                            rpc,
                            thread_id,
                            server.port,
                            seconds=arguments.seconds,
                            folder=folder,
                        )
                        elapsed = time.perf_counter() - began
                        cpu = server.cpu_seconds() - before
                        rate = calls / arguments.seconds
                        per_call = cpu / calls * 1000 if calls else 0.0
                        results.setdefault((rpc, server.name), []).append((rate, per_call))
                        note(
                            f"round {round_number + 1} {rpc:4} {server.name:24} "
                            f"{rate:7.0f} calls/s "
                            f"server CPU {per_call:.3f} ms/call ({elapsed:.1f} s)"
                        )
        finally:
            for server in servers:
                server.stop()
    sys.stdout.write(
        f"medians of {arguments.rounds} rounds, ghz 64 in flight, {arguments.seconds:g} s each; "
        f"ratios to {variants[0]} in the same round\n\n"
        "| rpc | variant | calls/s | server CPU ms/call | calls/s ÷ first | CPU ÷ first |\n"
        "|---|---|---|---|---|---|\n"
    )
    for rpc in rpcs:
        first = results[(rpc, variants[0])]
        for variant in variants:
            rounds = results[(rpc, variant)]
            rate_ratio = statistics.median(r[0] / f[0] for r, f in zip(rounds, first, strict=True))
            cpu_ratio = statistics.median(r[1] / f[1] for r, f in zip(rounds, first, strict=True))
            sys.stdout.write(
                f"| {rpc} | {variant} | {statistics.median(r[0] for r in rounds):.0f} | "
                f"{statistics.median(r[1] for r in rounds):.3f} | {rate_ratio:.0%} | "
                f"{cpu_ratio:.2f} |\n"
            )


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
