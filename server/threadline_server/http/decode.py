"""Request decoding: the body (read in time and within its size, as JSON), path and query.

Builds the gRPC request of a routed HTTP request as grpc-gateway does: body
first, then path parameters, then query parameters (params.py), JSON read as
protojson with DiscardUnknown (jsonpb.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import hdrs, web
from google.protobuf.message import Message
from google.rpc import code_pb2

from threadline_server.http import jsonpb, params
from threadline_server.http.errors import (
    BODY_TIMEOUT,
    REQUEST_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    GatewayError,
)
from threadline_server.http.routes import Binding

# A larger request body is refused with 413 before it is read whole. It is
# twice the gRPC server's 4 MiB message limit, since a message's JSON is
# longer than its binary form: a body under this whose message is over 4 MiB
# gets the server's RESOURCE_EXHAUSTED (429), as through grpc-gateway.
MAX_BODY_BYTES = 8 * 1024 * 1024
# The media type of every request body (RFC 8259 JSON is UTF-8; parameters are ignored).
JSON_MEDIA_TYPE = "application/json"


@dataclass
class Call:
    """A request turned into a gRPC call."""

    binding: Binding
    message: Message
    metadata: list[tuple[str, str]]
    timeout: float | None


async def read_form(request: web.Request, query: str, body_timeout: float) -> params.Query:
    """Read a form body and the query string (a form POST) as one set of parameters."""
    body = await read_body(request, body_timeout)
    try:
        form = params.parse_query(body.decode("latin-1"))
        return params.parse_query(query, into=form)
    except params.ParamError as error:
        raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error), field=error.field) from None


async def read_json(request: web.Request, body_timeout: float) -> bytes:
    """Read a body that must be JSON: one with another Content-Type (or none) is 415.

    An empty body needs no Content-Type: it reads as ``{}`` (as through
    grpc-gateway), and nothing in it can be mistaken for JSON; ``curl -X
    POST .../runs/ID:cancel`` sends just that. A page on another site that
    sends an empty POST is refused by origin before this (browser.py).
    """
    body = await read_body(request, body_timeout)
    if body:
        check_json_media_type(request.headers.get(hdrs.CONTENT_TYPE))
    return body


async def read_body(request: web.Request, body_timeout: float) -> bytes:
    """Read the whole body, in time and within the size limit, as sent (not inflated)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large()
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding != "identity" and request.body_exists:
        raise GatewayError(
            code_pb2.INVALID_ARGUMENT,
            f"Content-Encoding {encoding!r} is not supported: send the body uncompressed",
            http_status=415,
            reason=UNSUPPORTED_MEDIA_TYPE,
        )
    try:
        async with asyncio.timeout(body_timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large() from None
    except TimeoutError:
        error = GatewayError(
            code_pb2.DEADLINE_EXCEEDED,
            f"the request body did not arrive within {body_timeout:g}s",
            http_status=408,
            reason=BODY_TIMEOUT,
        )
        error.ends_connection = True
        raise error from None


def check_json_media_type(content_type: str | None) -> None:
    """Refuse a body whose Content-Type is not JSON (415)."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise GatewayError(
            code_pb2.INVALID_ARGUMENT,
            f"a request body must be JSON sent as Content-Type: {JSON_MEDIA_TYPE} "
            f"({given} was sent)",
            http_status=415,
            reason=UNSUPPORTED_MEDIA_TYPE,
        )


def too_large() -> GatewayError:
    """Return the 413 of a body over MAX_BODY_BYTES."""
    return GatewayError(
        code_pb2.RESOURCE_EXHAUSTED,
        f"request body is larger than the limit of {MAX_BODY_BYTES} bytes",
        http_status=413,
        reason=REQUEST_TOO_LARGE,
    )


def fill_body(binding: Binding, message: Message, body: bytes) -> None:
    """Read the body into the whole request (``*``) or into its body field."""
    if binding.body == "*":
        document = jsonpb.read_document(body)
        if document is not jsonpb.EMPTY:
            jsonpb.merge_json(document, message)
        return
    *parents, last = binding.body.split(".")
    target = message
    for name in parents:
        target = getattr(target, name)
        target.SetInParent()
    field = jsonpb.descriptor_of(target).fields_by_name[last]
    document = jsonpb.read_document(body)
    if field.message_type is not None and not field.is_repeated:
        child = getattr(target, last)
        # Set even for an empty body: grpc-gateway allocates the field first.
        child.SetInParent()
        if document is not jsonpb.EMPTY:
            jsonpb.merge_json(document, child)
    elif document is not jsonpb.EMPTY:
        jsonpb.merge_json({last: document}, target)
    mask = binding.inferred_mask
    if mask is not None and not getattr(message, mask.name).paths:
        paths: list[str] = []
        if field.message_type is not None:
            loose = jsonpb.read_document(body, loose=True)
            if loose is not jsonpb.EMPTY:
                paths = params.field_mask_from_body(loose, field.message_type)
        inferred = getattr(message, mask.name)
        inferred.SetInParent()
        inferred.paths.extend(paths)


def fill_path(binding: Binding, message: Message, values: dict[str, str]) -> None:
    """Set the fields captured from the path (they overwrite the body's)."""
    for field_path in binding.template.fields:
        value = values[field_path]
        try:
            params.populate_field(message, field_path.split("."), [value])
        except params.ParamError as error:
            mismatch = params.ParamError(f"type mismatch, parameter: {field_path}, error: {error}")
            mismatch.field = field_path
            raise mismatch from None


def resume_after(message: Message, last_event_id: str) -> None:
    """Point a stream request's after_event_id at the SSE Last-Event-ID header."""
    field = jsonpb.descriptor_of(message).fields_by_name.get("after_event_id")
    if field is None:
        return
    try:
        value = params.parse_value(field, last_event_id.strip(), "Last-Event-ID")
    except params.ParamError as error:
        raise GatewayError(code_pb2.INVALID_ARGUMENT, str(error)) from None
    setattr(message, "after_event_id", value)  # noqa: B010
