"""Large messages at their limits over HTTP and gRPC side by side (tests/test_limits.py: gRPC).

A message of exactly 1 MiB (as the limit counts it) is taken over HTTP; one
byte more is 400 with an ErrorInfo and a BadRequest naming the field; a body
over 8 MiB is 413; a gRPC request over 4 MiB is RESOURCE_EXHAUSTED; none of
the refused ones writes a row. A thread of MESSAGES such messages read back
FULL, over gRPC and over HTTP, fits a default client's 4 MiB and says how
many messages it left out. The test prints its counts.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc
from threadline_server.config import Settings
from threadline_server.domain import sizes
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure
from tests.test_idempotency import rows
from tests.test_limits import text_of_size

pytestmark = [pytest.mark.api, pytest.mark.timeout(120)]

MIB = 2**20
MESSAGES = 6
GRPC_DEFAULT_RECEIVE = 4 * MIB


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[ThreadlineServer, Path]]:
    database = tmp_path / "threadline.db"
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(database),
            grace_period=1.0,
        )
    )
    await instance.start()
    try:
        yield instance, database
    finally:
        await instance.stop(grace=1.0)


def _json(message: message_pb2.Message) -> bytes:
    return json.dumps(json_format.MessageToDict(message)).encode()


def _reasons(body: Any) -> list[str]:
    return [d.get("reason", "") for d in body.get("details", []) if "ErrorInfo" in d["@type"]]


def _fields(body: Any) -> list[str]:
    return [
        violation["field"]
        for d in body.get("details", [])
        if "BadRequest" in d["@type"]
        for violation in d["fieldViolations"]
    ]


async def test_messages_at_and_past_their_limits(server, counts):
    instance, database = server
    base = f"http://127.0.0.1:{instance.http_port}"
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{instance.port}")
    threads = thread_pb2_grpc.ThreadServiceStub(channel)
    messages = message_pb2_grpc.MessageServiceStub(channel)
    json_type = {"Content-Type": "application/json"}
    try:
        await threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id="big"))
        url = f"{base}/v1/threads/big/messages"
        async with aiohttp.ClientSession() as session:
            exact = _json(text_of_size(sizes.MAX_MESSAGE_BYTES))
            async with session.post(url, data=io.BytesIO(exact), headers=json_type) as response:
                assert response.status == 200, await response.text()
            before = rows(database)
            over = _json(text_of_size(sizes.MAX_MESSAGE_BYTES + 1))
            async with session.post(url, data=io.BytesIO(over), headers=json_type) as response:
                refused = (response.status, await response.json())
            assert refused[0] == 400
            assert _reasons(refused[1]) == ["VALIDATION_ERROR"]
            assert _fields(refused[1]) == ["message.parts"]
            huge = (
                b'{"role": "MESSAGE_ROLE_USER", "parts": [{"text": "' + b"x" * (8 * MIB) + b'"}]}'
            )
            async with session.post(url, data=io.BytesIO(huge), headers=json_type) as response:
                too_large = response.status
            assert too_large == 413
            failed = await expect_failure(
                messages.CreateMessage(
                    message_pb2.CreateMessageRequest(
                        thread_id="big", message=text_of_size(GRPC_DEFAULT_RECEIVE + 1)
                    )
                )
            )
            assert failed.code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert rows(database) == before

            for _ in range(MESSAGES - 1):
                await messages.CreateMessage(
                    message_pb2.CreateMessageRequest(
                        thread_id="big", message=text_of_size(sizes.MAX_MESSAGE_BYTES)
                    )
                )
            full = await threads.GetThread(
                thread_pb2.GetThreadRequest(thread_id="big", view=thread_pb2.THREAD_VIEW_FULL)
            )
            async with session.get(f"{base}/v1/threads/big?view=THREAD_VIEW_FULL") as response:
                assert response.status == 200
                http_full = await response.read()
        http_thread = json.loads(http_full)
        counts(
            f"large messages: exactly {sizes.MAX_MESSAGE_BYTES} bytes taken over HTTP, one byte "
            f"more 400 VALIDATION_ERROR, an 8 MiB body {too_large}, a 4 MiB gRPC request "
            f"{failed.code.name}, 0 rows written by them; GetThread FULL of {MESSAGES} such "
            f"messages: {full.ByteSize()} bytes over gRPC with {len(full.messages)} messages "
            f"and {full.omitted_message_count} left out, {len(http_full)} bytes over HTTP"
        )
        assert full.ByteSize() < GRPC_DEFAULT_RECEIVE
        assert len(full.messages) + full.omitted_message_count == MESSAGES
        assert full.omitted_message_count > 0
        assert len(http_thread["messages"]) == len(full.messages)
        assert http_thread["omittedMessageCount"] == full.omitted_message_count
    finally:
        await channel.close(None)
