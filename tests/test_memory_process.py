"""A server process keeps its memory while large messages arrive with no reader.

The audit wrote 80 messages of 3.8 MB (15 tool results each) to a server
with no reader connected: its memory rose by 685 MB and never came back.
Now a message is at most 1 MiB and the event tail is bounded in bytes; this
writes 80 messages just under the limit, shaped as the audit's were, to a
real server process and reads its resident memory (VmRSS) before and after.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc
from threadline_server.wire import CLIENT_RECEIVE_LIMIT

from tests.conftest import ServerProcess
from tests.test_limits import MIB, big_message

pytestmark = pytest.mark.process


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(240)
async def test_a_server_process_keeps_its_memory_while_large_messages_arrive(
    tmp_path, spawn_server, counts
):
    child: ServerProcess = spawn_server(tmp_path / "threadline.db")
    async with grpc.aio.insecure_channel(child.address) as channel:
        threads = thread_pb2_grpc.ThreadServiceStub(channel)
        messages = message_pb2_grpc.MessageServiceStub(channel)
        thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        # Warm up: the first calls load code and fill caches.
        for index in range(5):
            await messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread.thread_id, message=big_message(index)
                )
            )
        start = rss_bytes(child.process.pid)
        for index in range(80):
            await messages.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread.thread_id, message=big_message(index)
                )
            )
        written = rss_bytes(child.process.pid)
        full = await threads.GetThread(
            thread_pb2.GetThreadRequest(
                thread_id=thread.thread_id, view=thread_pb2.THREAD_VIEW_FULL
            )
        )
        await asyncio.sleep(0.5)
        after_read = rss_bytes(child.process.pid)
    growth = max(written, after_read) - start
    counts(
        f"memory: 80 messages of {big_message(0).ByteSize()} bytes (15 tool results each) "
        f"with no reader: RSS {start // MIB} MiB -> {written // MIB} MiB, "
        f"{after_read // MIB} MiB after GetThread FULL ({full.ByteSize()} bytes, "
        f"{len(full.messages)} messages, {full.omitted_message_count} omitted)"
    )
    assert full.ByteSize() <= CLIENT_RECEIVE_LIMIT
    assert growth < 120 * MIB, growth
