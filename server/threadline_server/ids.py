"""Server-made ids: a type prefix and a ULID in lowercase Crockford base32.

The time-first layout sorts ids roughly by creation, keeps them URL-safe, and
gives 80 random bits per millisecond, so collisions need no coordination.
"""

from __future__ import annotations

import os
import re
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ULID_LENGTH = 26

THREAD_PREFIX = "thr_"
MESSAGE_PREFIX = "msg_"
RUN_PREFIX = "run_"
LEASE_PREFIX = "lse_"
TOOL_CALL_PREFIX = "call_"
CHECKPOINT_PREFIX = "ckp_"
ACTION_PREFIX = "act_"
WEBHOOK_PREFIX = "wh_"
DELIVERY_PREFIX = "whd_"

# Client-chosen ids: URL-safe unreserved characters only, so an id can sit in
# an HTTP path segment without escaping.
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def _ulid() -> str:
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(_ULID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_thread_id() -> str:
    """Return a fresh thread id, ``thr_`` and a ULID."""
    return THREAD_PREFIX + _ulid()


def new_message_id() -> str:
    """Return a fresh message id, ``msg_`` and a ULID."""
    return MESSAGE_PREFIX + _ulid()


def new_run_id() -> str:
    """Return a fresh run id, ``run_`` and a ULID."""
    return RUN_PREFIX + _ulid()


def new_lease_id() -> str:
    """Return a fresh worker lease id, ``lse_`` and a ULID."""
    return LEASE_PREFIX + _ulid()


def new_tool_call_id() -> str:
    """Return a fresh id for a tool call the machinery runs, ``call_`` and a ULID."""
    return TOOL_CALL_PREFIX + _ulid()


def new_checkpoint_id() -> str:
    """Return a fresh id for a checkpoint of thread state, ``ckp_`` and a ULID."""
    return CHECKPOINT_PREFIX + _ulid()


def new_webhook_id() -> str:
    """Return a fresh webhook id, ``wh_`` and a ULID."""
    return WEBHOOK_PREFIX + _ulid()


def new_delivery_id() -> str:
    """Return a fresh webhook delivery id, ``whd_`` and a ULID."""
    return DELIVERY_PREFIX + _ulid()


def is_valid_client_id(value: str) -> bool:
    """Tell whether a client-chosen id is acceptable."""
    return CLIENT_ID_PATTERN.fullmatch(value) is not None


def new_action_id() -> str:
    """Return a fresh id for a paused run's RequiredAction, ``act_`` and a ULID."""
    return ACTION_PREFIX + _ulid()
