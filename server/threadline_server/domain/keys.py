"""API keys: what one looks like, what it may do, and checking the one a call carries.

A key is ``tl_<key id>_<secret>``. The key id (16 base32 characters) names
the key in lists, logs and `threadline keys revoke`, and is its row's primary
key; the secret is 256 random bits from `secrets` (43 base64url characters).
A key is shown once, when it is made; only HMAC-SHA256(server secret, key)
is stored (see key_secret), and a presented key is checked against it with
hmac.compare_digest. Random keys of this length need no slow hash: nobody can
guess one, and a per-call bcrypt would cost tens of milliseconds.

Every call reads its key's row (a primary-key lookup, microseconds): a key
revoked by the command is refused from the very next call.

Each key belongs to one tenant and has one scope:
- read: every Get, List, Count, Wait, and the event streams;
- write: read, plus everything that creates, changes or deletes, runs included;
- admin: write, plus the AgentWorkerService, so that only the deployment's
  own workers (not an application holding a write key) can claim runs and
  write answers as an agent.
Keys are made and revoked only by the `threadline keys` command, with
access to the database and the secret file: no key can make another.
"""

from __future__ import annotations

import base64
import enum
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from threadline_server.errors import UnauthenticatedError
from threadline_server.store.base import KeyAdmin, KeyStore
from threadline_server.store.records import DEFAULT_TENANT, KeyRecord

KEY_PREFIX = "tl_"
KEY_ID_LENGTH = 16
SECRET_LENGTH = 43  # secrets.token_urlsafe(32): 256 bits
TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
BEARER = "bearer "

MISSING_KEY_MESSAGE = (
    "this call needs an API key: send the metadata (over HTTP, the header) "
    "'authorization: Bearer <key>'; `threadline keys create` makes one"
)
INVALID_KEY_MESSAGE = "the API key is not valid (unknown, revoked or mistyped)"


class Scope(enum.IntEnum):
    """What a key may do; each scope may do everything the ones below it may."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The scope's name as the command line and errors write it."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Return the scope named text (read, write or admin)."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"scope {text!r} is not read, write or admin") from None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant, what it may do, and with which key ('' for none)."""

    tenant: str
    scope: Scope
    key_id: str = ""


ANONYMOUS = Principal(DEFAULT_TENANT, Scope.ADMIN)
"""A caller without a key, where the server takes such callers (loopback, no keys)."""


def check_tenant(tenant: str) -> str:
    """Return tenant if it is a valid tenant name, else raise ValueError."""
    if not TENANT_PATTERN.fullmatch(tenant):
        raise ValueError(
            f"tenant {tenant!r} must be 1 to 63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return tenant


def new_key() -> tuple[str, str]:
    """Return a new key id and the key that carries it."""
    key_id = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """Return the key id of something shaped like a key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    key_id, separator, secret = key[len(KEY_PREFIX) :].partition("_")
    if len(key_id) != KEY_ID_LENGTH or not separator or len(secret) != SECRET_LENGTH:
        return None
    return key_id


def digest(server_secret: bytes, key: str) -> bytes:
    """Return what is stored for a key: HMAC-SHA256 under the server's secret."""
    return hmac.digest(server_secret, key.encode("ascii", "replace"), "sha256")


def now_us() -> int:
    """Return the current time in microseconds since the epoch."""
    return time.time_ns() // 1000


class KeyVerifier:
    """Turns the authorization a call carries into the Principal it acts as."""

    def __init__(
        self,
        keys: KeyStore,
        server_secret: Callable[[], bytes | None],
        *,
        anonymous_allowed: bool,
    ) -> None:
        """anonymous_allowed: the server listens on loopback addresses only.

        Callers without a key are then the default tenant, for as long as no
        key exists: the first key made (even while the server runs) closes
        that door until the server restarts without keys.
        """
        self._keys = keys
        self._server_secret = server_secret
        self._anonymous = anonymous_allowed and not keys.any_active()

    @property
    def anonymous(self) -> bool:
        """Tell whether callers without a key are still taken (as the default tenant)."""
        return self._anonymous

    def resolve(self, authorization: str | None) -> Principal:
        """Return the caller's Principal, or raise UnauthenticatedError."""
        if authorization is None:
            if self._anonymous and self._keys.any_active():
                self._anonymous = False
            if self._anonymous:
                return ANONYMOUS
            raise UnauthenticatedError("API_KEY_MISSING", MISSING_KEY_MESSAGE)
        if authorization[: len(BEARER)].lower() != BEARER:
            raise UnauthenticatedError("API_KEY_INVALID", "authorization must be 'Bearer <key>'")
        key = authorization[len(BEARER) :].strip()
        key_id = key_id_of(key)
        record = None if key_id is None else self._keys.find(key_id)
        server_secret = self._server_secret()
        if (
            record is None
            or record.revoked_at is not None
            or server_secret is None
            or not hmac.compare_digest(digest(server_secret, key), record.digest)
        ):
            raise UnauthenticatedError("API_KEY_INVALID", INVALID_KEY_MESSAGE)
        return Principal(record.tenant, Scope.parse(record.scope), record.key_id)


async def create_key(
    admin: KeyAdmin, server_secret: bytes, *, tenant: str, scope: Scope, note: str = ""
) -> tuple[str, KeyRecord]:
    """Make and store a key; return the key (shown once, never stored) and its record."""
    key_id, key = new_key()
    record = KeyRecord(
        key_id=key_id,
        tenant=check_tenant(tenant),
        scope=scope.label,
        digest=digest(server_secret, key),
        created_at=now_us(),
        note=note,
    )
    await admin.insert(record)
    return key, record


def key_id_named(text: str) -> str:
    """Return the key id in what a person typed: the id, ``tl_<id>``, or the whole key."""
    text = text.strip()
    if text.startswith(KEY_PREFIX):
        text = text[len(KEY_PREFIX) :].partition("_")[0]
    return text
