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

from threadline_server.errors import FieldViolation, ValidationError
from threadline_server.store.base import Cursor

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


def decode(token: str, query_fingerprint: str, *, field: str = "page_token") -> Cursor | None:
    """Return the cursor in a page token, or None for an empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        cursor = Cursor(int(payload["v"]), int(payload["k"]))
        matches = payload["q"] == query_fingerprint
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError(
            [FieldViolation(field, "is not a page token this server issued")]
        ) from None
    if not matches:
        raise ValidationError(
            [FieldViolation(field, "was issued for a different filter or order_by")]
        )
    return cursor


def page_size(value: int, *, field: str = "page_size") -> int:
    """Return the effective page size, or raise for one out of range."""
    if value == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(
            [FieldViolation(field, f"must be between 1 and {MAX_PAGE_SIZE} (got {value})")]
        )
    return value
