"""HTTP headers to gRPC metadata and deadline, and response metadata back to headers.

As grpc-gateway's default header matcher and Grpc-Timeout parsing do, so a
client sees the same through this gateway as through grpc-gateway.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web
from google.rpc import code_pb2

from threadline_server.http.errors import INVALID_TIMEOUT, GatewayError

# The longest deadline passed on (grpc-gateway caps Grpc-Timeout at ~292 years).
MAX_TIMEOUT_SECONDS = 100 * 365 * 24 * 3600.0

# IANA permanent request headers that grpc-gateway forwards as grpcgateway-<name>.
PERMANENT_HEADERS = frozenset(
    {
        "Accept",
        "Accept-Charset",
        "Accept-Language",
        "Accept-Ranges",
        "Authorization",
        "Cache-Control",
        "Content-Type",
        "Cookie",
        "Date",
        "Expect",
        "From",
        "Host",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Schedule-Tag-Match",
        "If-Unmodified-Since",
        "Max-Forwards",
        "Origin",
        "Pragma",
        "Referer",
        "User-Agent",
        "Via",
        "Warning",
    }
)
METADATA_HEADER_PREFIX = "Grpc-Metadata-"
# 2**64 has 20 digits: a longer amount is out of range without being read as a number.
_MAX_TIMEOUT_DIGITS = 20
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
# What a grpc-go client (so grpc-gateway) reports as header metadata of every
# answer of this server that has headers: transport headers that grpc.aio's
# client keeps to itself.
TRANSPORT_HEADERS = (
    ("Grpc-Metadata-Content-Type", "application/grpc"),
    ("Grpc-Metadata-Grpc-Accept-Encoding", "identity, deflate, gzip"),
)
_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: ``x-foo-bar`` → ``X-Foo-Bar``."""
    if not name or any(char not in _TOKEN_CHARS for char in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def printable(value: str) -> bool:
    """Tell whether a header value is printable ASCII (what grpc metadata takes)."""
    return all(" " <= char <= "~" for char in value)


def grpc_timeout(request: web.Request) -> float | None:
    """Return the deadline of ``Grpc-Timeout: <digits><H|M|S|m|u|n>``; 0 means none."""
    raw = request.headers.get("Grpc-Timeout")
    if raw is None or raw == "":
        return None
    invalid = GatewayError(
        code_pb2.INVALID_ARGUMENT, f"invalid grpc-timeout: {raw}", reason=INVALID_TIMEOUT
    )
    if len(raw) < 2 or raw[-1] not in _TIMEOUT_UNITS or not raw[:-1].isdigit():
        raise invalid
    if not raw[:-1].isascii() or len(raw[:-1].lstrip("0")) > _MAX_TIMEOUT_DIGITS:
        raise invalid
    amount = int(raw[:-1])
    if amount >= 1 << 64:
        raise invalid
    seconds = amount * _TIMEOUT_UNITS[raw[-1]]
    if seconds == 0:
        return None
    return min(seconds, MAX_TIMEOUT_SECONDS)


def call_metadata(request: web.Request) -> list[tuple[str, str]]:
    """Return the gRPC metadata of a request, as grpc-gateway's annotateContext builds it.

    With grpc-gateway's default header matcher (v2.33): the IANA permanent
    request headers as ``grpcgateway-<name>``, ``Authorization`` also as
    ``authorization``, then ``x-forwarded-host`` and ``x-forwarded-for``.
    ``Grpc-Metadata-*`` headers are not forwarded: since v2.33 grpc-gateway
    only does that with WithLegacyHeaderMatching, since it let any HTTP client
    set any metadata key a backend might trust.
    """
    pairs = [
        ("authorization", value)
        for value in request.headers.getall("Authorization", [])
        if printable(value)
    ]
    for name, value in request.headers.items():
        header = canonical_header(name)
        # Go keeps Host out of the header map; X-Forwarded-* are handled below.
        if header in PERMANENT_HEADERS and header != "Host" and printable(value):
            pairs.append(("grpcgateway-" + header.lower(), value))
    forwarded_host = request.headers.get("X-Forwarded-Host", "")
    host = forwarded_host if forwarded_host and printable(forwarded_host) else request.host
    if host and printable(host):
        pairs.append(("x-forwarded-host", host))
    forwarded = [v for v in request.headers.getall("X-Forwarded-For", []) if printable(v)]
    if request.remote:
        forwarded.append(request.remote)
    if forwarded:
        pairs.append(("x-forwarded-for", ", ".join(forwarded)))
    return pairs


def response_headers(metadata: Any) -> dict[str, str]:
    """Return the headers of an answer: its header metadata as ``Grpc-Metadata-<key>``."""
    headers = dict(TRANSPORT_HEADERS)
    for key, value in metadata or ():
        text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
        headers[canonical_header(METADATA_HEADER_PREFIX + key)] = text
    return headers
