"""Opaque page tokens for keyset paging.

A token holds the last row's sort value and key, and a fingerprint of the
query that made it, so a token replayed with another filter or order is
refused instead of silently returning the wrong rows.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import TypeVar

from threadline_server.errors import Violations
from threadline_server.store.records import Cursor

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def fingerprint(*parts: object) -> str:
    """Return a short digest of the query a token belongs to."""
    text = json.dumps(parts, sort_keys=True, default=_plain, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def encode(cursor: Cursor | None, query_fingerprint: str) -> str:
    """Return the next_page_token for a cursor, or '' when there is no next page."""
    if cursor is None:
        return ""
    payload = json.dumps(
        {"v": cursor.sort_value, "k": cursor.row_key, "q": query_fingerprint},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


_INT64 = range(-(2**63), 2**63)


def _int64(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
        raise TypeError("not a 64-bit integer")
    return value


def decode(
    found: Violations, token: str, query_fingerprint: str, *, field: str = "page_token"
) -> Cursor | None:
    """Return the cursor in a page token (None for an empty one); record a bad token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        cursor = Cursor(_int64(payload["v"]), _int64(payload["k"]))
        matches = payload["q"] == query_fingerprint
    except (ValueError, KeyError, TypeError, binascii.Error):
        found.add(field, "is not a page token this server issued")
        return None
    if not matches:
        found.add(field, "was issued for a different filter or order_by")
        return None
    return cursor


def page_size(found: Violations, value: int, *, field: str = "page_size") -> int:
    """Return the effective page size; record one out of range."""
    if value == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= value <= MAX_PAGE_SIZE:
        found.add(field, f"must be between 1 and {MAX_PAGE_SIZE} (got {value})")
    return value


def start(
    found: Violations, size: int, token: str, query: tuple[object, ...] | None
) -> tuple[int, Cursor | None, str]:
    """Check a page request; return its size, its cursor, and the query's fingerprint.

    query is None when the request's own order or filter is invalid: the token
    is then not judged, since nothing valid could match it.
    """
    effective = page_size(found, size)
    if query is None:
        return effective, None, ""
    key = fingerprint(*query)
    return effective, decode(found, token, key), key


def order(found: Violations, text: str, choices: Mapping[str, T], hint: str) -> T | None:
    """Return the ordering an order_by names (case and spacing ignored); record an unknown one."""
    chosen = choices.get(" ".join(text.lower().split()))
    if chosen is None:
        found.add("order_by", hint)
    return chosen
