"""Idempotent creation (AIP-155): a retry with the same request_id returns what the first call made.

A creating call that carries a request_id is remembered in the same
transaction that creates, under (tenant, method, request_id), with a
fingerprint of the request and the ids of what it made. A later call with
that id within RETENTION_US finds it in its own transaction and returns the
same resource, writing nothing; with a different request it is refused
(REQUEST_ID_REUSED). Write transactions run one at a time, so of many
concurrent calls with one id exactly one creates and the others find it.

Only ids are kept, never content: a retry reads the resource as it is now,
and deleting a thread or a message leaves nothing of it behind. A call that
failed is not remembered (its transaction rolled back), so its retry runs
afresh. Remembered calls older than RETENTION_US are swept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from threadline_server import ids
from threadline_server.errors import RequestIdReusedError, Violations
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import ACROSS_TENANTS, RememberedRequest

RETENTION_US = 24 * 3600 * 1_000_000
# Rows a sweep forgets per transaction, so it never holds the writer long.
SWEEP_BATCH = 500


class _Request(Protocol):
    """A creating request: a protobuf message with a request_id field."""

    @property
    def request_id(self) -> str:
        """The client's id for this attempt; empty for none."""

    def SerializeToString(self, *, deterministic: bool = ...) -> bytes:  # noqa: N802
        """Return the request's bytes (protobuf's name)."""


@dataclass(frozen=True)
class Attempt:
    """One creating call that may repeat an earlier one: its method, id and fingerprint."""

    method: str
    request_id: str
    fingerprint: bytes


def attempt(found: Violations, method: str, request: _Request) -> Attempt | None:
    """Check a request's request_id; return the attempt it names, or None without one.

    The fingerprint hashes the whole request, request_id included: it is only
    compared with requests that carry the same id.
    """
    request_id = request.request_id
    if not request_id:
        return None
    if not ids.is_valid_client_id(request_id):
        found.add("request_id", "must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -")
        return None
    fingerprint = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
    return Attempt(method, request_id, fingerprint)


async def earlier(tx: StoreTransaction, once: Attempt | None) -> RememberedRequest | None:
    """Return the earlier call this attempt repeats, if any; refuse a different request."""
    if once is None:
        return None
    found = await tx.remembered_request(once.method, once.request_id, since=tx.now - RETENTION_US)
    if found is not None and found.fingerprint != once.fingerprint:
        raise RequestIdReusedError(once.method)
    return found


async def remember(
    tx: StoreTransaction, once: Attempt | None, *, thread_id: str, resource_id: str
) -> None:
    """Remember what this attempt made, in the transaction that made it."""
    if once is None:
        return
    await tx.remember_request(
        RememberedRequest(
            method=once.method,
            request_id=once.request_id,
            fingerprint=once.fingerprint,
            thread_id=thread_id,
            resource_id=resource_id,
            created_at=tx.now,
        )
    )


async def forget_old(store: Store) -> int:
    """Forget calls older than RETENTION_US, a batch per transaction; return how many."""
    forgotten = 0
    while True:

        async def work(tx: StoreTransaction) -> int:
            return await tx.forget_requests(before=tx.now - RETENTION_US, limit=SWEEP_BATCH)

        batch = await store.transaction(ACROSS_TENANTS, work)
        forgotten += batch
        if batch < SWEEP_BATCH:
            return forgotten
