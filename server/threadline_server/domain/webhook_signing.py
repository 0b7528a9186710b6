"""Webhook secrets and signatures, as the Standard Webhooks specification lays them out.

A secret is ``whsec_`` and the base64 of its key bytes. A delivery is signed
with ``webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``,
where id is the webhook-id header (the same for every attempt of a
delivery) and timestamp the webhook-timestamp header (seconds since the
epoch, of the attempt).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of secrets, not one
# Key bytes a secret may hold: the specification asks for 24 to 64.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
# What the server makes: 32 bytes (256 bits) from the operating system.
NEW_KEY_BYTES = 32


def new_secret() -> str:
    """Return a fresh secret of 256 random bits."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(NEW_KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes | None:
    """Return the key bytes of a secret, or None when it is not a valid one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES else None


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the webhook-signature header value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the Standard Webhooks headers of one attempt (the secret must be valid)."""
    key = secret_key(secret)
    if key is None:
        raise ValueError("not a webhook secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }
