"""Answers that are not a stream: a reply's JSON, the API documents, an answer that closes.

response_json is the one place a reply (or a streamed message) becomes JSON,
response_body and all, as grpc-gateway writes it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2

from threadline_server.http import jsonpb
from threadline_server.http.errors import GatewayError, error_response
from threadline_server.http.routes import Binding
from threadline_server.package_data import openapi_document

# The API documents, by the path they are served at. /openapi.json is where
# client generators and API tools look first, and they want OpenAPI 3.x there;
# the Swagger 2.0 document keeps the name protoc-gen-openapiv2 gives it.
API_DOCUMENTS = {
    "/openapi.json": "threadline.openapi.json",
    "/swagger.json": "threadline.swagger.json",
}

_INT64_TYPES = frozenset({FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64})


def response_json(binding: Binding, reply: Message) -> Any:
    """Return a reply's JSON, only its response_body field when the binding names one."""
    if not binding.response_body:
        return jsonpb.to_json(reply)
    field = jsonpb.descriptor_of(reply).fields_by_name[binding.response_body]
    whole = jsonpb.to_json(reply)
    value = whole.get(field.json_name)
    if field.message_type is None and field.cpp_type in _INT64_TYPES:
        # grpc-gateway writes a non-message response_body with encoding/json.
        return [int(v) for v in value] if isinstance(value, list) else int(value)
    return value


def api_document(name: str) -> web.StreamResponse:
    """Answer an API document (OpenAPI or Swagger), or 404 when it is not packaged."""
    try:
        body = openapi_document(name)
    except OSError:
        return error_response(
            GatewayError(code_pb2.NOT_FOUND, "Not Found", reason="ROUTE_NOT_FOUND").status
        )
    return web.Response(body=body, content_type="application/json")


async def answer_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send an answer now and close the connection, unread body and all."""
    response.force_close()
    with contextlib.suppress(ConnectionError):
        await response.prepare(request)
        await response.write_eof()
    request.protocol.force_close()
