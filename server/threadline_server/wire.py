"""Sizes on the wire: what a protobuf entry costs, and the most a gRPC client accepts.

Shared by the domain, which sets the budgets, and the stores, which fill
replies within them without building more than fits.
"""

from __future__ import annotations

# The most a gRPC client accepts in one message unless told otherwise
# (grpc.max_receive_message_length): no reply or streamed event is larger.
CLIENT_RECEIVE_LIMIT = 4 * 1024 * 1024


def varint_size(value: int) -> int:
    """Return the bytes a non-negative integer takes as a protobuf varint."""
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def varint(value: int) -> bytes:
    """Return a non-negative integer as a protobuf varint (base 128, low bits first)."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def entry_size(size: int) -> int:
    """Return the bytes an entry of size bytes takes in a message field (tag, length, body).

    Field numbers up to 15 take a one-byte tag, which covers every message
    and string field that sizes are counted for here.
    """
    return 1 + varint_size(size) + size
