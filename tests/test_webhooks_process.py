"""Webhook deliveries across a crash: kill -9 between the commit and the delivery.

The server runs as a child process (``spawn_server``); the receiver is a
real HTTP server in the test. A run ends, its delivery is committed with
its event, and the receiver holds the first attempt unanswered; the server
is then killed with SIGKILL, so the delivery was never acknowledged. A new
server on the same SQLite file sends it again once the dead attempt's lease
runs out, with the same webhook-id and a valid signature: at least once,
and a receiver that keeps the ids it handled does the work once.

A second test kills the server while the receiver is down (the delivery
waiting for its retry) and brings both back: the delivery arrives.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import standardwebhooks
from threadline.v1 import (
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
)

from tests.conftest import ServerProcess
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.process

# A dead attempt's lease is the attempt's time limit plus 5 seconds.
FLAGS = (
    "--webhook-allow",
    "127.0.0.1",
    "--webhook-timeout",
    "1",
    "--webhook-first-retry",
    "0.2",
    "--webhook-max-retry-delay",
    "0.5",
)


async def _start(spawn: Callable[..., ServerProcess], database: Path) -> ServerProcess:
    # The fixture waits with time.sleep: off the loop, so the receiver keeps answering.
    return await asyncio.to_thread(spawn, database, *FLAGS)


async def _make_webhook_and_run(server: ServerProcess, url: str) -> tuple[str, str, str]:
    """Make a webhook, run echo to its end; return the webhook's id and secret, and the run id."""
    async with grpc.aio.insecure_channel(server.address) as channel:
        webhooks = webhook_pb2_grpc.WebhookServiceStub(channel)
        made = await webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=url)), timeout=10
        )
        thread = await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
            thread_pb2.CreateThreadRequest(), timeout=10
        )
        runs = run_pb2_grpc.RunServiceStub(channel)
        run = await runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="echo"), timeout=10
        )
        ended = await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), timeout=10)
        assert ended.status == run_pb2.RUN_STATUS_COMPLETED
        return made.webhook_id, made.secret, run.run_id


async def _deliveries(server: ServerProcess, run_id: str) -> list[Any]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        page = await webhook_pb2_grpc.WebhookServiceStub(channel).ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(run_id=run_id), timeout=10
        )
        return list(page.deliveries)


async def _until_succeeded(server: ServerProcess, run_id: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = await _deliveries(server, run_id)
        if found and found[0].status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"not delivered: {found}")


async def test_kill_9_mid_attempt_then_the_delivery_arrives_after_restart(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess], counts: Any
) -> None:
    database = tmp_path / "threadline.db"
    hold = asyncio.Event()
    receiver = await Receiver(hold=hold).start()
    try:
        first = await _start(spawn_server, database)
        webhook_id, secret, run_id = await _make_webhook_and_run(first, receiver.url)
        (held,) = await receiver.wait_for(1)  # the attempt is under way, unanswered
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        hold.set()
        killed_at = time.monotonic()
        second = await _start(spawn_server, database)
        received = await receiver.wait_for(2)
        waited = time.monotonic() - killed_at
        again = received[1]
        assert again.webhook_id == held.webhook_id
        assert again.body == held.body
        standardwebhooks.Webhook(secret).verify(again.body, again.headers)
        assert again.payload["data"]["runId"] == run_id
        delivery = await _until_succeeded(second, run_id)
        assert delivery.delivery_id == held.webhook_id
        assert delivery.webhook_id == webhook_id
        # The killed attempt was never recorded (its process died); the one that
        # succeeded was.
        assert [a.status_code for a in delivery.attempts][-1] == 200
        handled = {r.webhook_id for r in receiver.received}
        assert len(handled) == 1
        counts(
            f"webhooks kill -9: delivery sent again {waited:.1f} s after the kill "
            f"(lease 6 s), {len(receiver.received)} requests, 1 webhook-id"
        )
        assert second.stop() == 0
    finally:
        await receiver.stop()


async def test_kill_9_while_the_receiver_is_down_then_both_come_back(
    tmp_path: Path, spawn_server: Callable[..., ServerProcess]
) -> None:
    database = tmp_path / "threadline.db"
    receiver = await Receiver().start()
    await receiver.stop()
    try:
        first = await _start(spawn_server, database)
        _, secret, run_id = await _make_webhook_and_run(first, receiver.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = await _deliveries(first, run_id)
            if found and found[0].attempt_count >= 1:
                break
            await asyncio.sleep(0.05)
        assert found[0].status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        await receiver.start()
        second = await _start(spawn_server, database)
        (got,) = await receiver.wait_for(1)
        standardwebhooks.Webhook(secret).verify(got.body, got.headers)
        delivery = await _until_succeeded(second, run_id)
        assert delivery.attempt_count >= 2
        assert delivery.attempts[0].status_code == 0
        assert second.stop() == 0
    finally:
        await receiver.stop()
