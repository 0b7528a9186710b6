"""Webhook rules as pure functions: signatures, secrets, URLs, addresses, the retry schedule."""

from __future__ import annotations

import base64
import ipaddress
import time

import pytest
import standardwebhooks
from threadline.v1 import webhook_pb2
from threadline_server.domain import webhook_signing
from threadline_server.domain.webhook_outbox import (
    KEPT_ATTEMPTS,
    WEBHOOK_EVENT_TYPES,
    Outcome,
    RetryPolicy,
    after_attempt,
)
from threadline_server.domain.webhook_urls import AddressPolicy, target, url_problem

pytestmark = pytest.mark.unit


def test_signatures_verify_with_the_reference_library(counts):
    checked = 0
    for size in (24, 32, 64):
        secret = "whsec_" + base64.b64encode(bytes(range(size))).decode()
        for body in (b"{}", '{"t":"caf\u00e9"}'.encode(), b'"' + b"x" * 100_000 + b'"'):
            now = int(time.time())
            headers = webhook_signing.headers(secret, "whd_1", now, body)
            standardwebhooks.Webhook(secret).verify(body, headers)
            checked += 1
            # Any change to the id, the time or the body breaks it.
            for changed in (
                {**headers, "webhook-id": "whd_2"},
                {**headers, "webhook-timestamp": str(now - 1)},
            ):
                with pytest.raises(standardwebhooks.WebhookVerificationError):
                    standardwebhooks.Webhook(secret).verify(body, changed)
            with pytest.raises(standardwebhooks.WebhookVerificationError):
                standardwebhooks.Webhook(secret).verify(body + b"!", headers)
    counts(f"webhooks: {checked} signatures verified by standardwebhooks")


def test_the_specification_s_own_example():
    # From the Standard Webhooks specification's signature example.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - the specification's
    body = b'{"test": 2432232314}'
    signature = webhook_signing.signature(
        webhook_signing.secret_key(secret) or b"", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_secrets():
    made = {webhook_signing.new_secret() for _ in range(100)}
    assert len(made) == 100
    assert all(len(webhook_signing.secret_key(s) or b"") == 32 for s in made)
    for bad in (
        "",
        "whsec_",
        "sec_" + "a" * 44,
        "whsec_" + "a" * 30,
        "whsec_" + "a" * 90,
        "whsec_@@",
    ):
        assert webhook_signing.secret_key(bad) is None, bad
    with pytest.raises(ValueError, match="not a webhook secret"):
        webhook_signing.headers("nope", "id", 0, b"")


def test_url_forms():
    assert url_problem("https://hooks.example.com/a?b=c") is None
    assert url_problem("http://[2001:db8::1]:8080/") is None
    for bad in (
        "",
        "example.com/hook",
        "ws://example.com/",
        "https://",
        "https://u@example.com/",
        "https://example.com:99999/",
        "https://exa\tmple.com/",
        "https://example.com/" + "a" * 3000,
    ):
        assert url_problem(bad) is not None, bad
    assert target("https://example.com/x") == target("https://example.com:443/y")
    assert target("http://[::1]/").port == 80


def test_addresses_refused_and_allowed():
    policy = AddressPolicy()
    refused = [
        "127.0.0.1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "192.0.2.1",
    ]
    for text in refused:
        assert policy.refusal(ipaddress.ip_address(text)) is not None, text
    for text in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"):
        assert policy.refusal(ipaddress.ip_address(text)) is None, text
    allowing = AddressPolicy(["10.0.0.0/8", "::1", "hooks.internal"])
    assert allowing.refusal(ipaddress.ip_address("10.2.3.4")) is None
    assert allowing.refusal(ipaddress.ip_address("::1")) is None
    assert allowing.refusal(ipaddress.ip_address("127.0.0.1")) is not None
    assert allowing.host_allowed("Hooks.Internal.")
    assert not allowing.host_allowed("other.internal")


def _delivery(created_at: int) -> webhook_pb2.WebhookDelivery:
    delivery = webhook_pb2.WebhookDelivery(
        delivery_id="whd_1", status=webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
    )
    delivery.created_at.FromMicroseconds(created_at)
    delivery.next_attempt_at.FromMicroseconds(created_at)
    return delivery


def test_backoff_doubles_with_jitter_up_to_the_cap():
    policy = RetryPolicy(first_delay=1.0, max_delay=60.0, window=3600.0)
    for attempts, (low, high) in {
        1: (0.5, 1),
        2: (1, 2),
        3: (2, 4),
        7: (30, 60),
        40: (30, 60),
    }.items():
        assert policy.delay_us(attempts, 0.0) == low * 1_000_000
        assert policy.delay_us(attempts, 0.999999) <= high * 1_000_000


def test_after_an_attempt():
    policy = RetryPolicy(first_delay=1.0, max_delay=60.0, window=100.0)
    start = 1_000_000_000
    delivery = _delivery(start)
    failed = after_attempt(delivery, Outcome(start, 5000, 500, "HTTP 500"), start, policy, 0.0)
    assert failed.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_PENDING
    assert failed.next_attempt_at.ToMicroseconds() == start + 500_000
    assert (failed.attempt_count, failed.attempts[0].status_code) == (1, 500)
    assert failed.attempts[0].duration_ms == 5
    ok = after_attempt(failed, Outcome(start, 1000, 204), start + 1, policy, 0.0)
    assert ok.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED
    assert not ok.HasField("next_attempt_at")
    # Past the window: failed for good.
    late = start + 99_500_000
    dead = after_attempt(failed, Outcome(late, 0, 0, "refused"), late, policy, 0.0)
    assert dead.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_FAILED
    assert not dead.HasField("next_attempt_at")
    # A redirect or a 2xx with an error is not success.
    assert not Outcome(0, 0, 301, "redirect").succeeded
    assert not Outcome(0, 0, 0).succeeded
    # Only the latest attempts are kept; the count goes on.
    many = delivery
    for index in range(KEPT_ATTEMPTS + 5):
        many = after_attempt(many, Outcome(start + index, 0, 503, "busy"), start, policy, 0.0)
    assert many.attempt_count == KEPT_ATTEMPTS + 5
    assert len(many.attempts) == KEPT_ATTEMPTS
    assert many.attempts[-1].attempted_at.ToMicroseconds() == start + KEPT_ATTEMPTS + 4


def test_webhooks_are_sent_run_ends():
    assert {"run.completed", "run.failed", "run.cancelled", "run.max_iterations_reached"} <= (
        WEBHOOK_EVENT_TYPES
    )
    assert "message.delta" not in WEBHOOK_EVENT_TYPES
