"""Webhooks against a real in-process server, a real store and a real HTTP receiver.

Every test asserts what protos/threadline/v1/webhook.proto says: deliveries
written with their event and sent at least once, signed as the Standard
Webhooks specification lays out (checked with the `standardwebhooks`
library and by hand), only of the event types asked for, retried with
backoff while the receiver is down and recorded in ListWebhookDeliveries,
given up after the retry window, the same webhook-id on every attempt;
addresses the operator did not allow refused when a URL is given and again
when it is called; bad requests answered with their code, reason and field,
writing nothing. Each test runs twice, over a SQLite file and over a
PostgreSQL database of its own (BOTH_STORES, tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest
import standardwebhooks
from google.protobuf import struct_pb2
from threadline.v1 import (
    message_pb2,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    webhook_pb2,
    webhook_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import connect, expect_failure
from tests.tenants import bearer, make_key
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
PENDING = webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
SUCCEEDED = webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED
FAILED = webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
# Quick retries, so a receiver that is down is tried again within the test.
FAST_RETRIES: dict[str, Any] = {
    "webhook_first_retry": 0.2,
    "webhook_max_retry_delay": 0.4,
    "webhook_timeout": 2.0,
}


@dataclass
class Api:
    """A running server and the stubs the tests call."""

    server: ThreadlineServer
    channel: grpc.aio.Channel
    threads: Any
    runs: Any
    webhooks: Any

    async def run_to_end(self, agent_id: str = "echo", **fields: Any) -> run_pb2.Run:
        """Make a thread, run an agent on it, and wait for the run to end."""
        thread = await self.threads.CreateThread(thread_pb2.CreateThreadRequest())
        run = await self.runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id=thread.thread_id,
                agent_id=agent_id,
                input_messages=[
                    message_pb2.Message(
                        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
                    )
                ],
                **fields,
            )
        )
        if agent_id == "echo":
            run = await self.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
        assert isinstance(run, run_pb2.Run)
        return run

    async def deliveries(self, **fields: Any) -> list[webhook_pb2.WebhookDelivery]:
        """Every delivery that matches (one page is enough here)."""
        page = await self.webhooks.ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(page_size=100, **fields)
        )
        return list(page.deliveries)

    async def wait_deliveries(
        self,
        done: Callable[[list[webhook_pb2.WebhookDelivery]], bool],
        **fields: Any,
    ) -> list[webhook_pb2.WebhookDelivery]:
        """Read the deliveries until done says they are as expected (or 10 s pass)."""
        deadline = time.monotonic() + 10.0
        while True:
            found = await self.deliveries(**fields)
            if done(found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.05)


async def start_api(database: Path | str, **settings: Any) -> Api:
    """Start a server over database with these settings; return it with stubs."""
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            database=str(database),
            grace_period=1.0,
            http_listen="",
            **settings,
        )
    )
    port = await server.start()
    client = connect(f"127.0.0.1:{port}")
    return Api(
        server,
        client.channel,
        client.threads,
        run_pb2_grpc.RunServiceStub(client.channel),
        webhook_pb2_grpc.WebhookServiceStub(client.channel),
    )


async def stop_api(api: Api) -> None:
    """Close the channel and stop the server."""
    await api.channel.close(None)
    await api.server.stop(grace=1.0)


@pytest.fixture
async def api(database_value: str) -> AsyncIterator[Api]:
    """A server that may call 127.0.0.1 (the receivers), with quick retries."""
    running = await start_api(
        database_value,
        webhook_allow=("127.0.0.1",),
        worker_agents=("remote",),
        **FAST_RETRIES,
    )
    try:
        yield running
    finally:
        await stop_api(running)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A receiver that answers 200."""
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()


def execute(database: str, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the server's database, SQLite file or PostgreSQL, and commit it."""
    if database.startswith("postgresql://"):
        with psycopg.connect(database) as connection:
            cursor = connection.execute(sql.replace("?", "%s"), parameters)
            return cursor.fetchall() if cursor.description else []
    with sqlite3.connect(database) as connection:
        return connection.execute(sql, parameters).fetchall()


def by_hand(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check a signature as the specification describes it, without the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(part.removeprefix("v1,"), expected)
        for part in headers["webhook-signature"].split()
        if part.startswith("v1,")
    )


async def test_a_run_end_is_delivered_signed_and_recorded(api: Api, receiver: Receiver) -> None:
    made = await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(
            webhook=webhook_pb2.Webhook(url=receiver.url, description="ends")
        )
    )
    assert made.webhook_id.startswith("wh_")
    # The server made a secret of 32 random bytes in the Standard Webhooks form.
    assert made.secret.startswith("whsec_")
    assert len(base64.b64decode(made.secret.removeprefix("whsec_"))) == 32
    shown = await api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=made.webhook_id))
    assert shown.secret == ""
    assert shown.url == receiver.url
    listed = await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest())
    assert [w.webhook_id for w in listed.webhooks] == [made.webhook_id]
    assert all(not w.secret for w in listed.webhooks)

    run = await api.run_to_end()
    assert run.status == run_pb2.RUN_STATUS_COMPLETED
    (got,) = await receiver.wait_for(1)
    # The reference library accepts it (id, timestamp within 5 minutes, signature).
    payload = standardwebhooks.Webhook(made.secret).verify(got.body, got.headers)
    assert by_hand(made.secret, got.headers, got.body)
    assert payload["type"] == "run.completed"
    assert payload["data"]["runId"] == run.run_id
    assert payload["data"]["run"]["status"] == "RUN_STATUS_COMPLETED"
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    # A wrong secret or a changed body fails verification.
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(got.body, got.headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(made.secret).verify(got.body + b" ", got.headers)

    (delivery,) = await api.wait_deliveries(
        lambda found: bool(found) and found[0].status == SUCCEEDED,
        webhook_id=made.webhook_id,
    )
    assert delivery.delivery_id == got.webhook_id
    assert delivery.run_id == run.run_id
    assert delivery.event_type == "run.completed"
    assert delivery.attempt_count == 1
    assert [a.status_code for a in delivery.attempts] == [200]
    assert not delivery.HasField("next_attempt_at")
    assert await api.deliveries(run_id=run.run_id) == [delivery]


async def test_only_the_event_types_asked_for_are_sent(api: Api, counts: Any) -> None:
    ends = await Receiver().start()
    cancels = await Receiver().start()
    try:
        for target, types in ((ends, ["run.completed"]), (cancels, ["run.cancelled"])):
            await api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(
                    webhook=webhook_pb2.Webhook(url=target.url, event_types=types)
                )
            )
        completed = await api.run_to_end()
        # A worker agent's run waits queued (no worker here) until it is cancelled.
        queued = await api.run_to_end("remote")
        await api.runs.CancelRun(run_pb2.CancelRunRequest(run_id=queued.run_id))
        (end,) = await ends.wait_for(1)
        (cancel,) = await cancels.wait_for(1)
        assert (end.payload["type"], end.payload["data"]["runId"]) == (
            "run.completed",
            completed.run_id,
        )
        assert (cancel.payload["type"], cancel.payload["data"]["runId"]) == (
            "run.cancelled",
            queued.run_id,
        )
        await asyncio.sleep(0.5)  # nothing else arrives
        assert (len(ends.received), len(cancels.received)) == (1, 1)
        counts(f"webhooks: 2 webhooks, 2 runs, {len(await api.deliveries())} deliveries")
    finally:
        await ends.stop()
        await cancels.stop()


async def test_a_run_names_its_own_webhook(api: Api, receiver: Receiver) -> None:
    run = await api.run_to_end(webhook_url=receiver.url, webhook_secret=SECRET)
    assert run.webhook_url == receiver.url
    assert run.webhook_id.startswith("wh_")
    (got,) = await receiver.wait_for(1)
    standardwebhooks.Webhook(SECRET).verify(got.body, got.headers)
    assert got.payload["data"]["runId"] == run.run_id
    # Its webhook is readable, covers that run alone, and is not among the subscriptions.
    webhook = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(webhook_id=run.webhook_id)
    )
    assert (webhook.run_id, webhook.url, webhook.secret) == (run.run_id, receiver.url, "")
    assert not (await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest())).webhooks
    await api.run_to_end()  # another run: not sent there
    chat = await api.runs.Chat(
        run_pb2.ChatRequest(
            message="hello", agent_id="echo", webhook_url=receiver.url, webhook_secret=SECRET
        )
    )
    second = (await receiver.wait_for(2))[1]
    standardwebhooks.Webhook(SECRET).verify(second.body, second.headers)
    assert second.payload["data"]["runId"] == chat.run_id
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 2
    delivered = await api.wait_deliveries(
        lambda found: [d.status for d in found] == [SUCCEEDED], run_id=run.run_id
    )
    assert [d.webhook_id for d in delivered] == [run.webhook_id]


async def test_a_receiver_down_then_up_gets_it_with_the_same_id(api: Api, counts: Any) -> None:
    receiver = await Receiver().start()
    await receiver.stop()  # the port is known, and nothing listens on it
    webhook = await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
    )
    run = await api.run_to_end()
    failing = await api.wait_deliveries(
        lambda found: bool(found) and found[0].attempt_count >= 2, run_id=run.run_id
    )
    (delivery,) = failing
    assert delivery.status == PENDING
    assert delivery.HasField("next_attempt_at")
    assert all(a.status_code == 0 and "cannot connect" in a.error for a in delivery.attempts)
    # Backoff: each wait at least half the one before it doubled (jitter is 0.5 to 1).
    times = [a.attempted_at.ToMicroseconds() for a in delivery.attempts]
    assert all(later > earlier for earlier, later in itertools.pairwise(times))

    # Back up, answering 500 once: one more retry, the same webhook-id each time.
    receiver.status = 500
    await receiver.start()
    first = (await receiver.wait_for(1))[0]
    receiver.status = 200
    both = await receiver.wait_for(2)
    assert {r.webhook_id for r in both} == {delivery.delivery_id}
    # Every attempt is signed afresh, and each one verifies.
    secret_less = await api.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(webhook_id=webhook.webhook_id)
    )
    assert secret_less.secret == ""
    for got in both:
        standardwebhooks.Webhook(webhook.secret).verify(got.body, got.headers)
    assert first.body == both[1].body
    # A receiver that keeps the ids it has handled does the work once.
    handled = {r.webhook_id for r in both}
    assert len(handled) == 1
    (done,) = await api.wait_deliveries(
        lambda found: found[0].status == SUCCEEDED, run_id=run.run_id
    )
    codes = [a.status_code for a in done.attempts]
    assert codes[-2:] == [500, 200]
    assert set(codes[:-2]) == {0}
    assert "HTTP 500" in done.attempts[-2].error
    counts(f"webhooks: receiver down then up: {done.attempt_count} attempts, 1 delivery id")
    # Every attempt is counted in the metrics, by outcome.
    registry = api.server.metrics.registry
    outcomes = {
        outcome: registry.get_sample_value(
            "threadline_webhook_attempts_total", {"outcome": outcome}
        )
        for outcome in ("delivered", "failed", "gave_up")
    }
    assert outcomes == {"delivered": 1.0, "failed": done.attempt_count - 1.0, "gave_up": 0.0}
    assert registry.get_sample_value("threadline_webhook_attempt_seconds_count") == (
        done.attempt_count
    )
    await receiver.stop()


async def test_a_delivery_fails_for_good_after_the_window(database_value: str) -> None:
    api = await start_api(
        database_value,
        webhook_allow=("127.0.0.1",),
        webhook_retry_window=1.0,
        **FAST_RETRIES,
    )
    receiver = await Receiver(status=503).start()
    try:
        await api.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
        )
        run = await api.run_to_end()
        (delivery,) = await api.wait_deliveries(
            lambda found: bool(found) and found[0].status == FAILED, run_id=run.run_id
        )
        assert delivery.status == FAILED
        assert not delivery.HasField("next_attempt_at")
        assert delivery.attempt_count >= 2
        assert {a.status_code for a in delivery.attempts} == {503}
        sent = len(receiver.received)
        await asyncio.sleep(0.6)
        assert len(receiver.received) == sent  # never tried again
        registry = api.server.metrics.registry
        assert (
            registry.get_sample_value("threadline_webhook_attempts_total", {"outcome": "gave_up"})
            == 1.0
        )
    finally:
        await receiver.stop()
        await stop_api(api)


REFUSED_URLS = [
    "http://127.0.0.1:9/hooks",
    "http://localhost/hooks",
    "http://10.1.2.3/",
    "http://192.168.0.1/",
    "http://172.16.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://100.64.0.1/",
]
MALFORMED_URLS = [
    "",
    "ftp://example.com/",
    "file:///etc/passwd",
    "http:///nohost",
    "http://user:pass@example.com/",
    "http://example.com:0/",
    "http://exa mple.com/",
    "https://example.com/" + "a" * 2048,
]


async def test_addresses_not_allowed_are_refused(database_value: str, counts: Any) -> None:
    api = await start_api(database_value)  # no --webhook-allow
    try:
        for url in REFUSED_URLS:
            failed = await expect_failure(
                api.webhooks.CreateWebhook(
                    webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=url))
                )
            )
            assert (failed.code, failed.reason, failed.fields) == (
                INVALID,
                "WEBHOOK_URL_NOT_ALLOWED",
                ["webhook.url"],
            ), url
            assert "--webhook-allow" in failed.message
        # A name that resolves to nothing (.invalid never does, RFC 2606).
        failed = await expect_failure(
            api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(
                    webhook=webhook_pb2.Webhook(url="https://no-such-host.invalid/hooks")
                )
            )
        )
        assert (failed.reason, failed.fields) == ("WEBHOOK_URL_NOT_ALLOWED", ["webhook.url"])
        assert "cannot resolve 'no-such-host.invalid'" in failed.message
        for url in MALFORMED_URLS:
            failed = await expect_failure(
                api.webhooks.CreateWebhook(
                    webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=url))
                )
            )
            assert (failed.code, failed.reason, failed.fields) == (
                INVALID,
                "VALIDATION_ERROR",
                ["webhook.url"],
            ), url
        thread = await api.threads.CreateThread(thread_pb2.CreateThreadRequest())
        failed = await expect_failure(
            api.runs.CreateRun(
                run_pb2.CreateRunRequest(
                    thread_id=thread.thread_id,
                    agent_id="echo",
                    webhook_url="http://127.0.0.1:9/",
                    webhook_secret=SECRET,
                )
            )
        )
        assert (failed.reason, failed.fields) == ("WEBHOOK_URL_NOT_ALLOWED", ["webhook_url"])
        failed = await expect_failure(
            api.runs.Chat(
                run_pb2.ChatRequest(
                    message="hi",
                    agent_id="echo",
                    webhook_url="http://10.0.0.1/",
                    webhook_secret=SECRET,
                )
            )
        )
        assert (failed.reason, failed.fields) == ("WEBHOOK_URL_NOT_ALLOWED", ["webhook_url"])
        # Nothing was written.
        assert not (await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest())).webhooks
        assert not await api.deliveries()
        runs = await api.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread.thread_id))
        assert not runs.runs
        threads = await api.threads.ListThreads(thread_pb2.ListThreadsRequest())
        assert [t.thread_id for t in threads.threads] == [thread.thread_id]
        counts(f"webhooks: {len(REFUSED_URLS)} refused addresses, {len(MALFORMED_URLS)} bad URLs")
    finally:
        await stop_api(api)


async def test_the_address_is_checked_again_at_each_attempt(database_value: str) -> None:
    database = database_value
    receiver = await Receiver().start()
    allowed = await start_api(database, webhook_allow=("127.0.0.0/8",), **FAST_RETRIES)
    try:
        webhook = await allowed.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
        )
    finally:
        await stop_api(allowed)
    # The operator no longer allows loopback: the webhook stays, its calls are refused.
    api = await start_api(database, **FAST_RETRIES)
    try:
        run = await api.run_to_end()
        (delivery,) = await api.wait_deliveries(
            lambda found: bool(found) and found[0].attempt_count >= 2,
            webhook_id=webhook.webhook_id,
        )
        assert delivery.run_id == run.run_id
        assert delivery.status == PENDING
        assert all("loopback" in a.error and a.status_code == 0 for a in delivery.attempts)
        assert receiver.received == []
    finally:
        await stop_api(api)
        await receiver.stop()


# Not the Standard Webhooks form; base64 of 5 bytes (too short); not base64.
BAD_SECRETS = ("hunter2", "whsec_c2hvcnQ=", "whsec_!!!")


async def test_bad_requests_name_the_field_and_write_nothing(api: Api, receiver: Receiver) -> None:
    cases: list[tuple[webhook_pb2.Webhook | None, str]] = [
        (None, "webhook"),
        *(
            (webhook_pb2.Webhook(url=receiver.url, secret=bad), "webhook.secret")
            for bad in BAD_SECRETS
        ),
        (
            webhook_pb2.Webhook(url=receiver.url, event_types=["message.delta"]),
            "webhook.event_types[0]",
        ),
        (
            webhook_pb2.Webhook(url=receiver.url, event_types=["run.failed", "run.failed"]),
            "webhook.event_types[1]",
        ),
        (
            webhook_pb2.Webhook(url=receiver.url, event_types=["run.failed"] * 17),
            "webhook.event_types",
        ),
        (webhook_pb2.Webhook(url=receiver.url, description="d" * 257), "webhook.description"),
    ]
    for webhook, field in cases:
        request = webhook_pb2.CreateWebhookRequest()
        if webhook is not None:
            request.webhook.CopyFrom(webhook)
        failed = await expect_failure(api.webhooks.CreateWebhook(request))
        assert (failed.code, failed.reason, failed.fields) == (INVALID, "VALIDATION_ERROR", [field])
    assert not (await api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest())).webhooks
    # A secret given is kept (and returned once).
    given = await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(
            webhook=webhook_pb2.Webhook(url=receiver.url, secret=SECRET)
        )
    )
    assert given.secret == SECRET

    for bad_id in ("", "a b"):
        failed = await expect_failure(
            api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=bad_id))
        )
        assert (failed.code, failed.fields) == (INVALID, ["webhook_id"])
    for call in (
        api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id="wh_nope")),
        api.webhooks.DeleteWebhook(webhook_pb2.DeleteWebhookRequest(webhook_id="wh_nope")),
        api.webhooks.ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(webhook_id="wh_nope")
        ),
    ):
        failed = await expect_failure(call)
        assert (failed.code, failed.reason, failed.error_metadata.get("field")) == (
            NOT_FOUND,
            "WEBHOOK_NOT_FOUND",
            "webhook_id",
        )
    for call, field in (
        (api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(page_size=1000)), "page_size"),
        (
            api.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(page_token="x")),  # noqa: S106
            "page_token",
        ),
        (
            api.webhooks.ListWebhookDeliveries(
                webhook_pb2.ListWebhookDeliveriesRequest(run_id="bad id")
            ),
            "run_id",
        ),
    ):
        failed = await expect_failure(call)
        assert (failed.code, failed.fields) == (INVALID, [field])

    thread = await api.threads.CreateThread(thread_pb2.CreateThreadRequest())
    run_cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"webhook_url": receiver.url}, "webhook_secret"),
        ({"webhook_url": receiver.url, "webhook_secret": "nope"}, "webhook_secret"),
        ({"webhook_secret": SECRET}, "webhook_secret"),
        ({"webhook_url": "gopher://x/", "webhook_secret": SECRET}, "webhook_url"),
    )
    for fields, field in run_cases:
        failed = await expect_failure(
            api.runs.CreateRun(
                run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="echo", **fields)
            )
        )
        assert (failed.code, failed.reason, failed.fields) == (INVALID, "VALIDATION_ERROR", [field])
        failed = await expect_failure(
            api.runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", **fields))
        )
        assert (failed.code, failed.fields) == (INVALID, [field])
    assert not (await api.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=thread.thread_id))).runs

    # Deleted: gone, with its deliveries, and nothing more is sent to it.
    await api.webhooks.DeleteWebhook(webhook_pb2.DeleteWebhookRequest(webhook_id=given.webhook_id))
    failed = await expect_failure(
        api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=given.webhook_id))
    )
    assert failed.reason == "WEBHOOK_NOT_FOUND"
    await api.run_to_end()
    await asyncio.sleep(0.3)
    assert receiver.received == []


async def test_webhooks_page_newest_first(api: Api, receiver: Receiver) -> None:
    made = [
        (
            await api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
            )
        ).webhook_id
        for _ in range(5)
    ]
    seen: list[str] = []
    token = ""
    while True:
        page = await api.webhooks.ListWebhooks(
            webhook_pb2.ListWebhooksRequest(page_size=2, page_token=token)
        )
        seen.extend(w.webhook_id for w in page.webhooks)
        token = page.next_page_token
        if not token:
            break
    assert seen == made[::-1]
    await api.run_to_end()
    await receiver.wait_for(5)
    first = await api.webhooks.ListWebhookDeliveries(
        webhook_pb2.ListWebhookDeliveriesRequest(page_size=3)
    )
    rest = await api.webhooks.ListWebhookDeliveries(
        webhook_pb2.ListWebhookDeliveriesRequest(page_size=3, page_token=first.next_page_token)
    )
    assert len(first.deliveries) + len(rest.deliveries) == 5
    assert not rest.next_page_token
    failed = await expect_failure(
        api.webhooks.ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(
                page_size=3, page_token=first.next_page_token, run_id="run_other"
            )
        )
    )
    assert failed.fields == ["page_token"]


async def test_a_deleted_thread_takes_its_deliveries_and_done_ones_keep_no_body(
    api: Api, receiver: Receiver
) -> None:
    subscription = await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
    )
    run = await api.run_to_end(webhook_url=receiver.url, webhook_secret=SECRET)
    await receiver.wait_for(2)
    await api.wait_deliveries(
        lambda found: [d.status for d in found] == [SUCCEEDED, SUCCEEDED], run_id=run.run_id
    )
    bodies = execute(api.server.settings.database, "SELECT length(body) FROM webhook_deliveries")
    assert bodies == [(0,), (0,)]
    await api.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=run.thread_id))
    # The thread's rows are purged in the background, its deliveries with them.
    assert await api.wait_deliveries(lambda found: not found) == []
    failed = await expect_failure(
        api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=run.webhook_id))
    )
    assert failed.reason == "WEBHOOK_NOT_FOUND"
    # The webhook for every run stays.
    await api.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=subscription.webhook_id))


async def test_redirects_slow_and_huge_answers(api: Api, counts: Any) -> None:
    target = await Receiver().start()
    redirecting = await Receiver(status=302, reply_headers={"Location": target.url}).start()
    slow = await Receiver(hold=asyncio.Event()).start()  # never answers
    huge = await Receiver(reply_body=b"x" * (16 * 1024 * 1024)).start()
    try:
        hooks = {}
        for name, receiver in (("redirect", redirecting), ("slow", slow), ("huge", huge)):
            made = await api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
            )
            hooks[made.webhook_id] = name
        run = await api.run_to_end()
        await redirecting.wait_for(2)
        await slow.wait_for(2)
        (delivered,) = await huge.wait_for(1)
        found = await api.wait_deliveries(
            lambda found: all(d.attempt_count >= 2 or d.status == SUCCEEDED for d in found),
            run_id=run.run_id,
        )
        by_name = {hooks[d.webhook_id]: d for d in found}
        # A redirect is a failure, and its target is never called.
        assert by_name["redirect"].attempts[0].status_code == 302
        assert "redirects are not followed" in by_name["redirect"].attempts[0].error
        assert target.received == []
        # No answer within --webhook-timeout (2 s here).
        assert by_name["slow"].attempts[0].status_code == 0
        assert "no answer within 2 s" in by_name["slow"].attempts[0].error
        assert 1900 <= by_name["slow"].attempts[0].duration_ms < 4000
        # A 16 MiB answer: 64 KiB of it read, and the delivery done.
        assert by_name["huge"].status == SUCCEEDED
        assert by_name["huge"].attempt_count == 1
        assert delivered.payload["type"] == "run.completed"
        counts(
            f"webhooks: redirect {by_name['redirect'].attempt_count} attempts, slow "
            f"{by_name['slow'].attempts[0].duration_ms} ms, 16 MiB answer in "
            f"{by_name['huge'].attempts[0].duration_ms} ms"
        )
    finally:
        for receiver in (target, redirecting, slow, huge):
            if receiver.hold is not None:
                receiver.hold.set()
            await receiver.stop()


async def test_stopping_cuts_an_attempt_short_and_the_next_server_sends_it(
    database_value: str,
) -> None:
    database = database_value
    settings = {**FAST_RETRIES, "webhook_timeout": 1.0, "webhook_allow": ("127.0.0.1",)}
    hold = asyncio.Event()
    receiver = await Receiver(hold=hold).start()
    first = await start_api(database, **settings)
    try:
        await first.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
        )
        run = await first.run_to_end()
        (held,) = await receiver.wait_for(1)
    finally:
        began = time.monotonic()
        await stop_api(first)
        stopped_in = time.monotonic() - began
    # The grace (1 s) gave the attempt half a second, at most half its timeout.
    assert stopped_in < 1.5
    hold.set()
    second = await start_api(database, **settings)
    try:
        (delivery,) = await second.wait_deliveries(
            lambda found: bool(found) and found[0].status == SUCCEEDED, run_id=run.run_id
        )
        again = receiver.received[-1]
        assert again.webhook_id == held.webhook_id == delivery.delivery_id
    finally:
        await stop_api(second)
        await receiver.stop()


async def test_deliveries_done_a_week_ago_are_swept(
    database_value: str, receiver: Receiver
) -> None:
    api = await start_api(
        database_value,
        webhook_allow=("127.0.0.1",),
        expiry_sweep_interval=0.1,
        **FAST_RETRIES,
    )
    try:
        await api.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
        )
        old, recent = await api.run_to_end(), await api.run_to_end()
        await receiver.wait_for(2)
        for run in (old, recent):
            await api.wait_deliveries(
                lambda found: [d.status for d in found] == [SUCCEEDED], run_id=run.run_id
            )
        # Eight days ago: one done, and one still pending (never swept).
        eight_days = 8 * 24 * 3600 * 1_000_000
        database = api.server.settings.database
        execute(
            database,
            "UPDATE webhook_deliveries SET created_at = created_at - ? WHERE run_id = ?",
            (eight_days, old.run_id),
        )
        execute(
            database,
            "UPDATE webhook_deliveries SET created_at = created_at - ?, "
            "next_attempt_at = created_at + 3600000000 WHERE run_id = ?",
            (eight_days, recent.run_id),
        )
        assert await api.wait_deliveries(lambda found: not found, run_id=old.run_id) == []
        (pending,) = await api.deliveries(run_id=recent.run_id)
        assert pending.delivery_id
    finally:
        await stop_api(api)


async def test_a_tenant_has_at_most_100_webhooks(api: Api, receiver: Receiver) -> None:
    request = webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
    made = [await api.webhooks.CreateWebhook(request) for _ in range(100)]
    failed = await expect_failure(api.webhooks.CreateWebhook(request))
    assert (failed.code, failed.reason, failed.error_metadata.get("limit")) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "TOO_MANY_WEBHOOKS",
        "100",
    )
    # A run's own webhook does not count; deleting one makes room.
    await api.run_to_end(webhook_url=receiver.url, webhook_secret=SECRET)
    await api.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(webhook_id=made[0].webhook_id)
    )
    await api.webhooks.CreateWebhook(request)


async def test_a_tenant_s_runs_go_to_its_own_webhooks_only(
    tmp_path: Path, database_value: str
) -> None:
    secret = tmp_path / "threadline.key-secret"
    keys = {
        "a admin": await make_key(database_value, "a", "admin", secret=secret),
        "a write": await make_key(database_value, "a", "write", secret=secret),
        "b admin": await make_key(database_value, "b", "admin", secret=secret),
    }
    api = await start_api(
        database_value,
        webhook_allow=("127.0.0.1",),
        key_secret_file=str(secret),
        **FAST_RETRIES,
    )
    receivers = {"a": await Receiver().start(), "b": await Receiver().start()}
    try:
        made = {}
        for tenant in ("a", "b"):
            made[tenant] = await api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(
                    webhook=webhook_pb2.Webhook(url=receivers[tenant].url)
                ),
                metadata=bearer(keys[f"{tenant} admin"]),
            )
        # A write key may not make one (it would outlive the key), nor delete one.
        failed = await expect_failure(
            api.webhooks.CreateWebhook(
                webhook_pb2.CreateWebhookRequest(
                    webhook=webhook_pb2.Webhook(url=receivers["a"].url)
                ),
                metadata=bearer(keys["a write"]),
            )
        )
        assert (failed.code, failed.reason) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "INSUFFICIENT_SCOPE",
        )
        a = bearer(keys["a write"])
        thread = await api.threads.CreateThread(thread_pb2.CreateThreadRequest(), metadata=a)
        run = await api.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="echo"), metadata=a
        )
        await api.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), metadata=a)
        (got,) = await receivers["a"].wait_for(1)
        standardwebhooks.Webhook(made["a"].secret).verify(got.body, got.headers)
        await asyncio.sleep(0.3)
        assert receivers["b"].received == []
        # b sees neither a's webhook nor a's deliveries, as if they did not exist.
        b = bearer(keys["b admin"])
        listed = await api.webhooks.ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(run_id=run.run_id), metadata=b
        )
        assert list(listed.deliveries) == []
        failed = await expect_failure(
            api.webhooks.GetWebhook(
                webhook_pb2.GetWebhookRequest(webhook_id=made["a"].webhook_id), metadata=b
            )
        )
        assert failed.reason == "WEBHOOK_NOT_FOUND"
    finally:
        for receiver in receivers.values():
            await receiver.stop()
        await stop_api(api)


async def test_a_run_that_waits_for_a_person_is_announced(api: Api, receiver: Receiver) -> None:
    made = await api.webhooks.CreateWebhook(
        webhook_pb2.CreateWebhookRequest(
            webhook=webhook_pb2.Webhook(
                url=receiver.url, event_types=["run.requires_action", "run.completed"]
            )
        )
    )
    context = struct_pb2.Struct()
    context.update({"approval": True})
    chat = await api.runs.Chat(
        run_pb2.ChatRequest(message="what is 6*7", agent_id="tools-demo", context=context)
    )
    assert chat.status == run_pb2.RUN_STATUS_REQUIRES_ACTION
    (asked,) = await receiver.wait_for(1)
    standardwebhooks.Webhook(made.secret).verify(asked.body, asked.headers)
    assert asked.payload["type"] == "run.requires_action"
    question = asked.payload["data"]["run"]["requiredAction"]["question"]
    assert "6*7" in question["text"]
    answer = struct_pb2.Value()
    answer.struct_value.update({"approved": True})
    await api.runs.ResumeRun(run_pb2.ResumeRunRequest(run_id=chat.run_id, answer=answer))
    ended = (await receiver.wait_for(2))[1]
    assert (ended.payload["type"], ended.payload["data"]["runId"]) == (
        "run.completed",
        chat.run_id,
    )
