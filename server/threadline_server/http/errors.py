"""Errors answered over HTTP: a google.rpc.Status as grpc-gateway writes it, with its HTTP status.

One home for the table of gRPC code to HTTP status (grpc-gateway's), the
errors the gateway answers itself (GatewayError, with an ErrorInfo and the
field at fault), and the JSON of a failed call.
"""

from __future__ import annotations

from typing import Any

import grpc
from aiohttp import web
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from threadline_server.http import jsonpb
from threadline_server.transport.errors import (
    ERROR_DOMAIN,
    MAX_DESCRIPTION_BYTES,
    MAX_VALUE_BYTES,
    clip,
    pack,
)

# grpc-gateway's HTTPStatusFromCode.
HTTP_STATUS = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
}


# Routing errors: code, message (grpc-gateway's) and ErrorInfo reason. A path
# that only other methods serve is HTTP 405 with an Allow header, where
# grpc-gateway answers 501: bad input is a 4xx (a deliberate difference).
ROUTING_ERRORS = {
    400: (code_pb2.INVALID_ARGUMENT, "Bad Request", "MALFORMED_REQUEST"),
    404: (code_pb2.NOT_FOUND, "Not Found", "ROUTE_NOT_FOUND"),
    405: (code_pb2.UNIMPLEMENTED, "Method Not Allowed", "METHOD_NOT_ALLOWED"),
}
# The ErrorInfo reasons of the errors the gateway answers itself.
MALFORMED_REQUEST = "MALFORMED_REQUEST"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
INVALID_TIMEOUT = "INVALID_TIMEOUT"
BODY_TIMEOUT = "BODY_TIMEOUT"
REQUEST_REFUSED = "REQUEST_REFUSED"


def utf8(text: str) -> str:
    r"""Return text that encodes as UTF-8, so that an error can quote any input.

    Bytes of a header that are not UTF-8 (aiohttp keeps them as lone
    surrogates) are written as ``\xff``.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")
    return text


class GatewayError(Exception):
    """An error answered without calling the server: a google.rpc.Status and its HTTP status.

    Unlike grpc-gateway's (``"details": []``), the status carries an ErrorInfo
    (domain threadline.dev, ``reason``), and a BadRequest naming ``field``
    when one parameter is at fault, as every other error of the server does.
    """

    def __init__(
        self,
        code: int,
        message: str,
        http_status: int | None = None,
        *,
        reason: str = MALFORMED_REQUEST,
        field: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        message = utf8(message)
        super().__init__(message)
        self.status = status_pb2.Status(code=code, message=message)
        self.status.details.append(
            pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))
        )
        if field:
            bad = error_details_pb2.BadRequest()
            bad.field_violations.add(
                field=clip(utf8(field), MAX_VALUE_BYTES),
                description=clip(message, MAX_DESCRIPTION_BYTES),
                reason=reason,
            )
            self.status.details.append(pack(bad))
        self.http_status = http_status if http_status is not None else HTTP_STATUS[code]
        self.headers = headers or {}
        # Answer, then close the connection at once (not after aiohttp's lingering read).
        self.ends_connection = False


_CLIENT_DEADLINE_MESSAGES = frozenset({"Deadline Exceeded", "Stream removed (Deadline Exceeded)"})


def status_from_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """Return the google.rpc.Status of a failed call, with details when the server sent them."""
    try:
        status: status_pb2.Status | None = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        status = None
    if status is None:
        code = error.code().value[0]
        message = error.details() or ""
        if code == code_pb2.DEADLINE_EXCEEDED and message in _CLIENT_DEADLINE_MESSAGES:
            # The deadline ran out here, in the gateway: say so as grpc-gateway does.
            message = "context deadline exceeded"
        status = status_pb2.Status(code=code, message=message)
    return status


def error_body(status: status_pb2.Status) -> Any:
    """Return the JSON of a status as grpc-gateway writes it: code, message, details."""
    try:
        return jsonpb.to_json(status)
    except (TypeError, ValueError, KeyError):
        # protojson cannot write a detail whose type it does not know; nor can we.
        return {"code": code_pb2.INTERNAL, "message": "failed to marshal error message"}


def error_response(
    status: status_pb2.Status,
    http_status: int | None = None,
    extra_headers: dict[str, str] | None = None,
) -> web.Response:
    """Answer a status as grpc-gateway does: its JSON, with the HTTP status of its code."""
    body = jsonpb.dumps(error_body(status))
    headers = dict(extra_headers or {})
    if status.code == code_pb2.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = status.message
    return web.Response(
        status=http_status or HTTP_STATUS.get(status.code, 500),
        body=body,
        content_type="application/json",
        headers=headers,
    )


def refused(reason: web.StreamResponse | str) -> web.StreamResponse:
    """Answer a browser-safety refusal: 403 PERMISSION_DENIED, or a preflight's answer."""
    if isinstance(reason, str):
        refusal = GatewayError(code_pb2.PERMISSION_DENIED, reason, reason=REQUEST_REFUSED)
        return error_response(refusal.status)
    return reason
