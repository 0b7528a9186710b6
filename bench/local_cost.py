r"""Benchmark: Threadline's own CPU per call, in process, without grpc's core.

An end-to-end run mixes our per-call work with grpc's (receiving, sending,
completing each call in its Cython code), and on a shared machine its rounds
move by more than the changes being measured. This measures only what
Threadline does per call: a server is started in this process on a fresh
SQLite file (the access log going to /dev/null through the server's own log
handler), and each RPC is called N times through the server's in-process
channel (transport/local_calls.py, what the HTTP side calls): the wrappers
(access log, metrics, keys, caps), parsing, validation, the store's read and
the conversions. The figure is process CPU time per call, best of three
runs, so other load on the machine barely moves it.

    .venv/bin/python bench/local_cost.py --rpc get --rpc list --calls 5000
    PYTHONPATH=/tmp/base/server .venv/bin/python bench/local_cost.py   # an older version

``--log-level WARNING`` turns the access log off; ``--profile`` prints a
cProfile of the last run (tottime order), whose per-function overhead
inflates small functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from threadline.v1 import message_pb2, thread_pb2
from threadline_server.config import Settings
from threadline_server.observability import logs
from threadline_server.transport.server import ThreadlineServer

THREADS = "/threadline.v1.ThreadService/"
MESSAGES = "/threadline.v1.MessageService/"
THREAD_ID = "cost-1"
LIST_THREAD_MESSAGES = 40  # as the benchmark's ListMessages scenario


async def _measure(args: argparse.Namespace) -> None:
    logs.configure(args.log_level, "text")
    devnull = await asyncio.to_thread(open, os.devnull, "w", encoding="utf-8")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    with tempfile.TemporaryDirectory() as folder:
        server = ThreadlineServer(
            Settings(
                listen="127.0.0.1:0",
                http_listen="",
                database=f"{folder}/cost.db",
                tenant_calls_per_second=0,
            )
        )
        await server.start()
        try:
            await _calls(server, args)
        finally:
            await server.stop(grace=0.1)


def _call(
    server: ThreadlineServer, method: str, request_type: Any
) -> Callable[[Any], Awaitable[Any]]:
    # The server's in-process channel (what the HTTP side calls) is what is measured.
    channel = server._local
    if channel is None:
        raise RuntimeError("the server has no in-process channel")
    call: Callable[[Any], Awaitable[Any]] = channel.unary_unary(
        method, request_serializer=request_type.SerializeToString, response_deserializer=None
    )
    return call


async def _calls(server: ThreadlineServer, args: argparse.Namespace) -> None:
    create_thread = _call(server, THREADS + "CreateThread", thread_pb2.CreateThreadRequest)
    create_message = _call(server, MESSAGES + "CreateMessage", message_pb2.CreateMessageRequest)
    await create_thread(
        thread_pb2.CreateThreadRequest(thread_id=THREAD_ID, thread=thread_pb2.Thread(title="cost"))
    )
    for index in range(LIST_THREAD_MESSAGES):
        await create_message(
            message_pb2.CreateMessageRequest(
                thread_id=THREAD_ID,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER,
                    parts=[message_pb2.Part(text=f"message number {index}")],
                ),
            )
        )
    calls: dict[str, tuple[Callable[[Any], Awaitable[Any]], Any]] = {
        "get": (
            _call(server, THREADS + "GetThread", thread_pb2.GetThreadRequest),
            thread_pb2.GetThreadRequest(thread_id=THREAD_ID),
        ),
        "list": (
            _call(server, MESSAGES + "ListMessages", message_pb2.ListMessagesRequest),
            message_pb2.ListMessagesRequest(thread_id=THREAD_ID, page_size=20),
        ),
        "create-thread": (
            create_thread,
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="cost")),
        ),
    }
    for name in args.rpc or ["get", "list"]:
        call, request = calls[name]
        for _ in range(min(500, args.calls)):  # warm up
            await call(request)
        profile = cProfile.Profile() if args.profile else None
        best = float("inf")
        for run in range(3):
            if profile is not None and run == 2:
                profile.enable()
            started = time.process_time()
            for _ in range(args.calls):
                await call(request)
            best = min(best, (time.process_time() - started) / args.calls * 1e6)
            if profile is not None and run == 2:
                profile.disable()
        sys.stdout.write(f"{name}: {best:.1f} us of CPU per call (best of 3 x {args.calls})\n")
        if profile is not None:
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(40)
            sys.stdout.write(text.getvalue())


def main() -> None:
    """Measure the RPCs asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", action="append", choices=("get", "list", "create-thread"))
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--profile", action="store_true")
    asyncio.run(_measure(parser.parse_args()))


if __name__ == "__main__":
    main()
