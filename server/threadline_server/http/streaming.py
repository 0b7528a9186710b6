"""Server-streaming answers: NDJSON lines as grpc-gateway writes them, or Server-Sent Events.

- NDJSON: ``{"result": …}`` lines, an error as an ``{"error": …}`` line,
  labelled application/json as grpc-gateway does, or application/x-ndjson
  when the client asks for that.
- ``Accept: text/event-stream``: Server-Sent Events (a ``retry:`` hint first;
  ``event:`` is the message's type, ``id:`` its event id, and
  ``Last-Event-ID`` resumes), with keepalive comments.
The gRPC call is cancelled as soon as the HTTP client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message

from threadline_server.http import jsonpb
from threadline_server.http.decode import Call, resume_after
from threadline_server.http.errors import (
    HTTP_STATUS,
    GatewayError,
    error_body,
    error_response,
    status_from_error,
)
from threadline_server.http.headers import response_headers
from threadline_server.http.responses import response_json
from threadline_server.http.routes import Binding

# Server-Sent Events: a comment line every this many seconds of silence keeps
# proxies and browsers from timing the stream out.
SSE_KEEPALIVE_SECONDS = 15.0
# Sent as ``retry:`` when an event stream opens: how long an EventSource waits
# before it reconnects (and resumes with Last-Event-ID), the same in every
# browser and client library whatever its own default.
SSE_RETRY_MILLISECONDS = 3000
# How long an event stream waits for its first event (or its error) before it
# answers 200 anyway, so that a bad request still gets its own HTTP status.
SSE_FIRST_EVENT_WAIT_SECONDS = 1.0
NDJSON = "application/x-ndjson"

# The end of a stream (grpc-stubs lacks grpc.aio.EOF).
_EOF: Any = grpc.aio.EOF  # type: ignore[attr-defined]

# Starts a request's gRPC call (the gateway's channel), or raises GatewayError.
Start = Callable[[Call], Any]


async def serve_stream(
    request: web.Request, call: Call, content_type: str, start: Start
) -> web.StreamResponse:
    """grpc-gateway's ForwardResponseStream: NDJSON lines of {"result": …}."""
    try:
        grpc_call = start(call)
    except GatewayError as error:
        return error_response(error.status, error.http_status)
    response: web.StreamResponse | None = None
    try:
        async for item in _read_all(grpc_call):
            if response is None:
                headers = response_headers(await grpc_call.initial_metadata())
                headers["Content-Type"] = content_type
                response = web.StreamResponse(status=200, headers=headers)
                response.enable_chunked_encoding()
                await response.prepare(request)
            line = jsonpb.dumps({"result": response_json(call.binding, item)}) + b"\n"
            await response.write(line)
    except grpc.aio.AioRpcError as error:
        chunk = jsonpb.dumps({"error": error_body(status_from_error(error))}) + b"\n"
        if response is None:
            status = status_from_error(error)
            response = web.StreamResponse(
                status=HTTP_STATUS.get(status.code, 500),
                headers={"Content-Type": "application/json"},
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
        await _write_quietly(response, chunk)
    except ConnectionError:
        return response or web.Response(status=499)
    finally:
        if not grpc_call.done():
            grpc_call.cancel()
    if response is None:
        # No message at all: 200 with an empty body and no content type.
        return web.Response(status=200)
    await _write_eof_quietly(response)
    return response


async def serve_events(  # noqa: PLR0912 - one loop: wait, open, keepalive, event, end
    request: web.Request, call: Call, start: Start
) -> web.StreamResponse:
    """Server-Sent Events: one event per message (``event:`` its type, ``id:`` its event id).

    The answer waits briefly for the first message, so a request the server
    refuses gets its own HTTP status and JSON error; after that, an error
    is an ``event: error``. A stream that ends with nothing to send is 204,
    which tells EventSource not to reconnect.
    """
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id is not None:
        try:
            resume_after(call.message, last_event_id)
        except GatewayError as error:
            return error_response(error.status, error.http_status)
    try:
        grpc_call = start(call)
    except GatewayError as error:
        return error_response(error.status, error.http_status)
    response: web.StreamResponse | None = None
    pending: asyncio.Future[Any] | None = None
    try:
        wait = SSE_FIRST_EVENT_WAIT_SECONDS
        while True:
            if pending is None:
                pending = asyncio.ensure_future(grpc_call.read())
            done, _ = await asyncio.wait({pending}, timeout=wait)
            wait = SSE_KEEPALIVE_SECONDS
            item = pending.result() if done else None
            if item is _EOF:
                break
            if response is None:
                response = await _open_event_stream(request)
            if item is None:
                await response.write(b": keepalive\n\n")
                continue
            pending = None
            await response.write(_event(call.binding, item))
    except grpc.aio.AioRpcError as error:
        status = status_from_error(error)
        if response is None:
            return error_response(status)
        chunk = b"event: error\ndata: " + jsonpb.dumps(error_body(status)) + b"\n\n"
        await _write_quietly(response, chunk)
    except ConnectionError:
        return response or web.Response(status=499)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
        if not grpc_call.done():
            grpc_call.cancel()
    if response is None:
        return web.Response(status=204)
    await _write_eof_quietly(response)
    return response


async def _open_event_stream(request: web.Request) -> web.StreamResponse:
    """Answer 200 with the event stream's headers and its ``retry:`` hint."""
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"retry: %d\n\n" % SSE_RETRY_MILLISECONDS)
    return response


def _event(binding: Binding, item: Message) -> bytes:
    """One Server-Sent Event, named by the message's type and numbered by its event_id.

    A batch of events (RunEventBatch) is one Server-Sent Event numbered by
    its last event's event_id.

    An EventSource dispatches an event to the listeners of its name
    (``addEventListener("message.delta", …)``); one without a name goes to
    ``onmessage``. A type that is empty, or that would break the line, is left out.
    """
    fields = jsonpb.descriptor_of(item).fields_by_name
    lines = []
    kind = getattr(item, "type", "") if "type" in fields else ""
    if isinstance(kind, str) and kind and kind.isprintable():
        lines.append(b"event: " + kind.encode())
    if "event_id" in fields:
        lines.append(b"id: %d" % getattr(item, "event_id"))  # noqa: B009
    elif "events" in fields and getattr(item, "events"):  # noqa: B009
        # A batch (RunEventBatch): its last event is where Last-Event-ID resumes.
        lines.append(b"id: %d" % getattr(item, "events")[-1].event_id)  # noqa: B009
    lines.append(b"data: " + jsonpb.dumps(response_json(binding, item)))
    return b"\n".join(lines) + b"\n\n"


async def _read_all(call: Any) -> AsyncIterator[Message]:
    while True:
        item = await call.read()
        if item is _EOF:
            return
        yield item


async def _write_quietly(response: web.StreamResponse, data: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        await response.write(data)


async def _write_eof_quietly(response: web.StreamResponse) -> None:
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
