"""Benchmark: CPU time per call of the server interceptor alone, access log on and off.

The interceptor wraps every call, so its cost is paid per call; end-to-end
load tests on a shared two-core machine move by ±10% between rounds, which
hides a few microseconds. This measures the interceptor by itself: a unary
handler that returns at once, called through ``intercept_service`` and the
wrapped handler 30,000 times in this process, nine times, reporting the
process CPU time per call (so other load on the machine barely moves it).
The context is a stand-in with the two methods the interceptor reads
(``code()``, ``peer()``); log lines go to /dev/null through the server's own
logging set-up, each variant in a child process of its own.

``--old DIR`` also measures an older server's interceptor (DIR holds its
``threadline_server``, e.g. ``git archive <commit> server | tar -x -C /tmp/base``
then ``--old /tmp/base/server``); its logging is set up as that version's
command line did, with logging.basicConfig.

    .venv/bin/python bench/interceptor_cost.py --old /tmp/base/server
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import grpc

CALLS = 30_000
REPEATS = 9
METHOD = "/threadline.v1.ThreadService/GetThread"
OLD_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class Context:
    """Stands in for grpc.aio's servicer context: what the interceptor reads of it."""

    def code(self) -> None:
        """No code set: the handler returned normally."""

    def peer(self) -> str:
        """Return the client's address, as grpc.aio reports it."""
        return "ipv4:127.0.0.1:50000"


class Details:
    """Stands in for grpc.HandlerCallDetails."""

    method = METHOD
    invocation_metadata = ()


async def answer(request: Any, context: Any) -> Any:
    """Answer at once: a handler with nothing to do."""
    del context
    return request


HANDLER = grpc.unary_unary_rpc_method_handler(answer)


async def continuation(details: Any) -> Any:
    """Return the same handler for a method every time, as grpc's generic handler does."""
    del details
    return HANDLER


async def per_call(interceptor: Any) -> float:
    """CPU microseconds per call through the interceptor."""
    context, details = Context(), Details()
    began = time.process_time()
    for _ in range(CALLS):
        handler = await interceptor.intercept_service(continuation, details)
        await handler.unary_unary(None, context)
    return (time.process_time() - began) / CALLS * 1e6


def current(log: bool) -> Callable[[], Any]:
    """Return a maker of this checkout's interceptor, with its logging set up."""
    from threadline_server.observability import logs  # noqa: PLC0415
    from threadline_server.observability.metrics import Metrics  # noqa: PLC0415
    from threadline_server.transport.interceptors import ServerInterceptor  # noqa: PLC0415

    logs.configure("INFO" if log else "WARNING", "text")
    return lambda: ServerInterceptor(Metrics().grpc)


def older(folder: str, log: bool) -> Callable[[], Any]:
    """Return a maker of an older AccessLogAndLimitInterceptor, its logging as it was."""
    path = Path(folder) / "threadline_server" / "transport" / "interceptors.py"
    spec = importlib.util.spec_from_file_location("older_interceptors", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no interceptor at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    logging.basicConfig(
        level=logging.INFO if log else logging.WARNING,
        format=OLD_TEXT_FORMAT,
        stream=sys.stderr,
        force=True,
    )
    return lambda: module.AccessLogAndLimitInterceptor(1000)


def measure(make: Callable[[], Any]) -> list[float]:
    """REPEATS measurements, a fresh interceptor each."""

    async def run() -> list[float]:
        return [await per_call(make()) for _ in range(REPEATS)]

    return sorted(asyncio.run(run()))


def child(variant: str, folder: str, log: bool) -> None:
    """Measure one variant in this process (log lines to /dev/null) and print the result."""
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the process's whole life
    make = current(log) if variant == "current" else older(folder, log)
    times = measure(make)
    sys.stdout.write(f"{times[0]:.2f} {times[len(times) // 2]:.2f}\n")


def main(argv: Sequence[str] | None = None) -> None:
    """Run each variant in a child process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--old", default="", help="folder holding an older threadline_server")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child:
        variant, folder, log = arguments.child
        child(variant, folder, log == "on")
        return
    variants = [("current", "")] + ([("old", arguments.old)] if arguments.old else [])
    sys.stdout.write(
        f"CPU microseconds per call, interceptor alone ({CALLS} calls, min and median "
        f"of {REPEATS})\n\n| interceptor | access log | min | median |\n|---|---|---|---|\n"
    )
    for log in ("on", "off"):
        for name, folder in variants:
            output = subprocess.run(
                [sys.executable, __file__, "--child", name, folder or "-", log],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            sys.stdout.write(f"| {name} | {log} | {output[0]} | {output[1]} |\n")


if __name__ == "__main__":
    main()
