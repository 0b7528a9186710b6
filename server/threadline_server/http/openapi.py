"""The OpenAPI 3.1 document of the HTTP side, built from the bindings it routes by.

protoc-gen-openapiv2 writes the Swagger 2.0 document that grpc-gateway users
know; client generators of today (openapi-typescript, openapi-python-client)
want OpenAPI 3.x, and need it to say exactly what the server sends. So this
module builds a second document from the same truth the HTTP side serves:
``routes.bindings_for`` gives the paths, methods, bodies and query fields, and
the schemas follow what ``jsonpb.to_json`` writes (grpc-gateway's
EmitUnpopulated JSON):

- JSON (lowerCamel) names; 64-bit integers as strings, enums as their names,
  well-known types in their JSON form (Timestamp an RFC 3339 string, Duration
  ``"1.5s"``, FieldMask one string, Struct/Value/ListValue plain JSON,
  wrappers their bare value, Empty ``{}``).
- What the server sends: every field is there (required), except members of
  a oneof and proto3 ``optional`` fields, which are left out when unset; an
  unset singular message field is ``null``, so those fields, and only those,
  are nullable.
- What a client sends: nothing is required (the server answers
  INVALID_ARGUMENT with the fields at fault), and OUTPUT_ONLY fields are left
  out. A message that travels both ways has a second schema, ``<Name>Input``.
- A path parameter is named by the last part of its field path
  (``{thread.thread_id}`` is ``{thread_id}``): the server matches the path
  against its template, so the name is the client's business only.
- A stream answers ``application/x-ndjson`` (one ``{"result": …}`` or
  ``{"error": …}`` per line) or ``text/event-stream`` (Server-Sent Events).

Descriptions are the proto comments, read from a FileDescriptorSet made with
``protoc --include_source_info`` (compiled-in descriptors carry no comments).
scripts/generate.sh runs ``python -m threadline_server.http.openapi
DESCRIPTOR_SET VERSION_FILE OUTPUT``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2, wrappers_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from threadline_server.http import streaming
from threadline_server.http.jsonpb import SPECIAL_JSON_TYPES, is_map
from threadline_server.http.params import is_skipped
from threadline_server.http.routes import Binding, bindings_for

OPENAPI_VERSION = "3.1.0"
TITLE = "Threadline API"
DESCRIPTION = (
    "Threadline keeps agent conversations: threads, their messages, and the runs of AI "
    "agents on them. This is its HTTP/JSON API: the google.api.http mapping of its gRPC "
    "services, served as grpc-gateway v2 serves it, with JSON as protojson writes it "
    "(lowerCamel names, every field present, an unset message field as null)."
)
NDJSON = "application/x-ndjson"
EVENT_STREAM = "text/event-stream"
REF = "#/components/schemas/"

_OUT, _IN = "out", "in"
_METHOD_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
    }
)
_UNSIGNED = frozenset(
    {
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE})
_DURATION_PATTERN = r"^-?[0-9]+(\.[0-9]{1,9})?s$"

# The errors of every call, as errors.error_body writes a google.rpc.Status.
STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "An error: a google.rpc.Status, with the HTTP status of its gRPC code "
        "(NOT_FOUND 404, INVALID_ARGUMENT 400, ALREADY_EXISTS and ABORTED 409, ...)."
    ),
    "properties": {
        "code": {
            "type": "integer",
            "format": "int32",
            "description": "The gRPC status code (google.rpc.Code), such as 5 for NOT_FOUND.",
        },
        "message": {"type": "string", "description": "What went wrong, for people."},
        "details": {
            "type": "array",
            "items": {"$ref": REF + "ProtobufAny"},
            "description": (
                "google.rpc.ErrorInfo (with a stable `reason`), google.rpc.BadRequest "
                "(the fields at fault) and other error details."
            ),
        },
    },
    "required": ["code", "message"],
}
ANY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A google.protobuf.Any: its type URL in `@type`, then the message's fields.",
    "properties": {"@type": {"type": "string"}},
    "required": ["@type"],
    "additionalProperties": True,
}


class Comments:
    """The comments of a FileDescriptorSet's elements, by full name."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self._text: dict[str, str] = {}
        for file in files.file:
            located = {
                tuple(location.path): location.leading_comments or location.trailing_comments
                for location in file.source_code_info.location
            }
            prefix = file.package + "." if file.package else ""
            for index, message in enumerate(file.message_type):
                self._message(located, (4, index), prefix + message.name, message)
            for index, enum in enumerate(file.enum_type):
                self._enum(located, (5, index), prefix + enum.name, enum)
            for index, service in enumerate(file.service):
                name = prefix + service.name
                self._put(name, located.get((6, index)))
                for number, method in enumerate(service.method):
                    self._put(f"{name}.{method.name}", located.get((6, index, 2, number)))

    def _message(
        self,
        located: dict[tuple[int, ...], str],
        path: tuple[int, ...],
        name: str,
        message: descriptor_pb2.DescriptorProto,
    ) -> None:
        self._put(name, located.get(path))
        for index, field in enumerate(message.field):
            self._put(f"{name}.{field.name}", located.get((*path, 2, index)))
        for index, nested in enumerate(message.nested_type):
            self._message(located, (*path, 3, index), f"{name}.{nested.name}", nested)
        for index, enum in enumerate(message.enum_type):
            self._enum(located, (*path, 4, index), f"{name}.{enum.name}", enum)

    def _enum(
        self,
        located: dict[tuple[int, ...], str],
        path: tuple[int, ...],
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
    ) -> None:
        self._put(name, located.get(path))
        for index, value in enumerate(enum.value):
            self._put(f"{name}.{value.name}", located.get((*path, 2, index)))

    def _put(self, name: str, comment: str | None) -> None:
        lines = [line.removeprefix(" ").rstrip() for line in (comment or "").splitlines()]
        text = "\n".join(lines).strip()
        if text:
            self._text[name] = text

    def __getitem__(self, full_name: str) -> str:
        """Return the comment of an element, or "" when it has none."""
        return self._text.get(full_name, "")


def build(bindings: Sequence[Binding], comments: Comments, version: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of these bindings."""
    schemas = _Schemas(comments, _sent_messages(bindings))
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: set[str] = set()
    services: list[str] = []
    for binding in bindings:
        service, method = binding.rpc.strip("/").split("/")
        if service not in services:
            services.append(service)
        path, operation = _operation(binding, schemas, comments)
        operation_id = f"{_short(service)}_{method}"
        number = 1
        while operation_id in operation_ids:
            number += 1
            operation_id = f"{_short(service)}_{method}{number}"
        operation_ids.add(operation_id)
        operation = {"tags": [_short(service)], "operationId": operation_id, **operation}
        verb = binding.http_method.lower()
        if verb not in _METHOD_ORDER:
            raise ValueError(f"{binding.rpc}: OpenAPI has no HTTP method {binding.http_method}")
        item = paths.setdefault(path, {})
        if verb in item:
            raise ValueError(f"{binding.rpc}: {binding.http_method} {path} is bound twice")
        item[verb] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": version,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": [{"name": _short(name), "description": comments[name]} for name in services],
        "paths": {
            path: {verb: paths[path][verb] for verb in _METHOD_ORDER if verb in paths[path]}
            for path in sorted(paths)
        },
        "components": {"schemas": dict(sorted(schemas.components.items()))},
    }


# -- operations ---------------------------------------------------------------------


def _operation(
    binding: Binding, schemas: _Schemas, comments: Comments
) -> tuple[str, dict[str, Any]]:
    """Return the OpenAPI path of a binding, and its operation (without tags and id)."""
    request = _type_of(binding.request_type)
    response = _type_of(binding.response_type)
    service, method = binding.rpc.strip("/").split("/")
    description = comments[f"{service}.{method}"]
    operation: dict[str, Any] = {}
    if description:
        operation["summary"] = _first_sentence(description)
        if operation["summary"] != " ".join(description.split()):
            operation["description"] = description
    parameters: list[dict[str, Any]] = []
    path = "/"
    names: set[str] = set()
    parts = []
    for segment in binding.template.segments():
        if not segment.field:
            parts.append(segment.literal)
            continue
        name = segment.field.rpartition(".")[2]
        if name in names:
            name = segment.field.replace(".", "_")
        names.add(name)
        parts.append("{" + name + "}")
        field = _field_at(request, segment.field.split("."))
        parameters.append(
            _parameter(name, "path", _query_schema(field, schemas), comments, field, required=True)
        )
    path += "/".join(parts) + (":" + binding.template.verb if binding.template.verb else "")
    if binding.reads_query:
        parameters += _query_parameters(request, binding.query_skip, schemas, comments)
    if binding.server_streaming and "after_event_id" in request.fields_by_name:
        parameters.append(
            {
                "name": "Last-Event-ID",
                "in": "header",
                "required": False,
                "description": (
                    "With `Accept: text/event-stream`: resume after this event id, as an "
                    "EventSource sends it when it reconnects; it wins over afterEventId."
                ),
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if binding.body:
        operation["requestBody"] = _request_body(binding, schemas, comments)
    if binding.server_streaming:
        operation["responses"] = _stream_responses(response, schemas)
    else:
        operation["responses"] = {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": _response_schema(binding, schemas)}},
            },
            "default": _error_response(),
        }
    return path, operation


def _response_schema(binding: Binding, schemas: _Schemas) -> dict[str, Any]:
    response = _type_of(binding.response_type)
    if not binding.response_body:
        return schemas.message(response, _OUT)
    field = response.fields_by_name[binding.response_body]
    schema = schemas.field(field, _OUT)
    if field.type in _INT64:
        # A response_body that is not a message goes through encoding/json: a number.
        integer = {"type": "integer", "format": "int64"}
        return {"type": "array", "items": integer} if field.is_repeated else integer
    return schema


def _request_body(binding: Binding, schemas: _Schemas, comments: Comments) -> dict[str, Any]:
    request = _type_of(binding.request_type)
    if binding.body == "*":
        in_path = {variable.split(".")[0] for variable in binding.template.fields}
        service, method = binding.rpc.strip("/").split("/")
        schema = schemas.message(
            request, _IN, without=in_path, name=f"{_short(service)}{method}Body"
        )
        description = comments[request.full_name]
    else:
        field = _field_at(request, binding.body.split("."))
        schema = schemas.field(field, _IN)
        description = comments[field.full_name]
    body: dict[str, Any] = {
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }
    if description:
        body = {"description": description, **body}
    return body


def _stream_responses(response: Descriptor, schemas: _Schemas) -> dict[str, Any]:
    line = schemas.stream_line(response)
    has_type = "type" in response.fields_by_name
    has_id = "event_id" in response.fields_by_name
    event = (
        "Server-Sent Events, with `Accept: text/event-stream`. The stream starts with "
        f"`retry: {streaming.SSE_RETRY_MILLISECONDS}`; each message is one event"
        + (": `event:` is its type (listen per type)" if has_type else "")
        + (", `id:` its eventId (a `Last-Event-ID` header resumes after it)" if has_id else "")
        + f", `data:` the {response.name} as JSON. A comment line (`: keepalive`) is sent "
        f"after every {streaming.SSE_KEEPALIVE_SECONDS:g} s of silence. An error after the "
        "start is an event named `error` whose data is a Status; a resumed stream with "
        "nothing left to send is 204 No Content."
    )
    return {
        "200": {
            "description": (
                f"A stream of {response.name}. With `Accept: {NDJSON}`: one JSON object per "
                'line, `{"result": …}` for each message and `{"error": …}` when the stream '
                "fails after it started. Without an Accept naming one of the types below, "
                "the same lines come as application/json, as grpc-gateway sends them."
            ),
            "content": {
                NDJSON: {"schema": {"$ref": REF + line}},
                EVENT_STREAM: {"schema": {"type": "string", "description": event}},
            },
        },
        "default": {
            "description": (
                'An error before the stream started: a Status, or an {"error": Status} line.'
            ),
            "content": {
                "application/json": {
                    "schema": {"anyOf": [{"$ref": REF + "Status"}, {"$ref": REF + line}]}
                }
            },
        },
    }


def _error_response() -> dict[str, Any]:
    return {
        "description": "An error.",
        "content": {"application/json": {"schema": {"$ref": REF + "Status"}}},
    }


def _parameter(
    name: str,
    where: str,
    schema: dict[str, Any],
    comments: Comments,
    field: FieldDescriptor,
    *,
    required: bool = False,
) -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": where, "required": required}
    if comments[field.full_name]:
        parameter["description"] = comments[field.full_name]
    if is_map(field):
        parameter |= {"style": "deepObject", "explode": True}
    parameter["schema"] = schema
    return parameter


def _query_parameters(
    request: Descriptor, skip: Sequence[tuple[str, ...]], schemas: _Schemas, comments: Comments
) -> list[dict[str, Any]]:
    """Return the fields a query may set (params.populate_query), named by dotted JSON names."""
    parameters: list[dict[str, Any]] = []

    def walk(message: Descriptor, path: tuple[str, ...], json_path: str, seen: set[str]) -> None:
        for field in message.fields:
            field_path = (*path, field.name)
            name = f"{json_path}.{field.json_name}" if json_path else field.json_name
            kind = field.message_type
            if (
                kind is not None
                and not is_map(field)
                and kind.full_name not in SPECIAL_JSON_TYPES
                and not field.is_repeated
            ):
                if kind.full_name not in seen:
                    walk(kind, field_path, name, seen | {kind.full_name})
                continue
            if is_skipped(skip, field_path):
                continue
            try:
                schema = _query_schema(field, schemas)
            except _NotInQueryError:
                continue
            parameters.append(_parameter(name, "query", schema, comments, field))

    walk(request, (), "", {request.full_name})
    return parameters


class _NotInQueryError(Exception):
    """A field that a query string cannot set (params.parse_message refuses its type)."""


_QUERY_MESSAGES: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {
        "type": "string",
        "description": "A duration such as `1.5s` or, in Go's syntax, `1m30s`.",
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Field paths, separated by commas.",
    },
    "google.protobuf.Struct": {"type": "string", "contentMediaType": "application/json"},
    "google.protobuf.Value": {"type": "string", "contentMediaType": "application/json"},
}


def _query_schema(field: FieldDescriptor, schemas: _Schemas) -> dict[str, Any]:
    """Return a field's schema as a path or query value: text, so 64-bit integers are integers."""
    if is_map(field):
        entry = field.message_type
        assert entry is not None  # noqa: S101 - a map field's type is its entry message
        value = _query_schema(entry.fields_by_name["value"], schemas)
        return {"type": "object", "additionalProperties": value}
    kind = field.message_type
    if kind is not None and field.is_repeated:
        raise _NotInQueryError
    if kind is not None:
        name = kind.full_name
        if name in _QUERY_MESSAGES:
            return dict(_QUERY_MESSAGES[name])
        wrapped = kind.fields_by_name.get("value")
        if name in SPECIAL_JSON_TYPES and name.endswith("Value") and wrapped is not None:
            return _query_schema(wrapped, schemas)
        raise _NotInQueryError
    single: dict[str, Any]
    if field.type in _INT64:
        single = {"type": "integer", "format": "int64"}
        if field.type in _UNSIGNED:
            single["minimum"] = 0
    else:
        single = schemas.scalar(field)
    return {"type": "array", "items": single} if field.is_repeated else single


# -- schemas --------------------------------------------------------------------------


class _Schemas:
    """The components/schemas of the document, made as operations refer to them."""

    def __init__(self, comments: Comments, sent: set[str]) -> None:
        # Not "Any": a generated Python client would name a class after it, over typing.Any.
        self.components: dict[str, Any] = {"Status": STATUS_SCHEMA, "ProtobufAny": ANY_SCHEMA}
        self._comments = comments
        self._sent = sent
        self._names: dict[tuple[str, str], str] = {}
        self._owners: dict[str, tuple[str, str]] = {
            "Status": ("google.rpc.Status", _OUT),
            "ProtobufAny": ("google.protobuf.Any", _OUT),
        }

    def message(
        self,
        descriptor: Descriptor,
        direction: str,
        *,
        without: Iterable[str] = (),
        name: str = "",
    ) -> dict[str, Any]:
        """Return a reference to a message's schema (the schema itself for a well-known type)."""
        if descriptor.full_name in SPECIAL_JSON_TYPES:
            return _well_known(descriptor.full_name, self)
        left_out = frozenset(without) & {f.name for f in descriptor.fields}
        if left_out:
            key = (f"{descriptor.full_name}-{'-'.join(sorted(left_out))}", direction)
        else:
            key = (descriptor.full_name, direction)
            suffix = "Input" if direction == _IN and descriptor.full_name in self._sent else ""
            name = _short(descriptor.full_name) + suffix
        if key not in self._names:
            self._names[key] = name = self._claim(name, key, descriptor)
            self.components[name] = {}  # taken, for recursive messages
            self.components[name] = self._object(descriptor, direction, left_out)
        return {"$ref": REF + self._names[key]}

    def stream_line(self, descriptor: Descriptor) -> str:
        """Return the name of the schema of one NDJSON line of a stream of this message."""
        name = self._claim(f"{descriptor.name}StreamLine", (descriptor.full_name, "line"), None)
        self.components[name] = {
            "type": "object",
            "description": (
                f'One line of a stream of {descriptor.name}: {{"result": …}} for each '
                'message, or {"error": …} when the stream fails.'
            ),
            "properties": {
                "result": self.message(descriptor, _OUT),
                "error": {"$ref": REF + "Status"},
            },
        }
        return name

    def enum(self, descriptor: EnumDescriptor) -> dict[str, Any]:
        """Return a reference to an enum's schema: its value names."""
        key = (descriptor.full_name, "enum")
        if key not in self._names:
            name = self._claim(_short(descriptor.full_name), key, None)
            self._names[key] = name
            values = [
                f"- `{value.name}`: {text}"
                for value in descriptor.values
                if (text := self._comments[f"{descriptor.full_name}.{value.name}"])
            ]
            schema: dict[str, Any] = {"type": "string"}
            description = "\n\n".join(
                part for part in (self._comments[descriptor.full_name], "\n".join(values)) if part
            )
            if description:
                schema["description"] = description
            schema["enum"] = [value.name for value in descriptor.values]
            self.components[name] = schema
        return {"$ref": REF + self._names[key]}

    def field(self, field: FieldDescriptor, direction: str) -> dict[str, Any]:
        """Return a field's schema in a JSON body: sent (``out``) or received (``in``)."""
        if is_map(field):
            entry = field.message_type
            assert entry is not None  # noqa: S101 - a map field's type is its entry message
            return {
                "type": "object",
                "additionalProperties": self._single(entry.fields_by_name["value"], direction),
            }
        single = self._single(field, direction)
        if field.is_repeated:
            return {"type": "array", "items": single}
        if direction == _OUT and field.message_type is not None and field.containing_oneof is None:
            return _nullable(single)
        return single

    def scalar(self, field: FieldDescriptor) -> dict[str, Any]:
        """Return the schema of a field of a scalar or enum type, as protojson writes it."""
        kind = field.type
        if field.enum_type is not None:
            if field.enum_type.full_name == "google.protobuf.NullValue":
                return {"type": "null"}
            return self.enum(field.enum_type)
        if kind in _INT64:
            pattern = "^[0-9]+$" if kind in _UNSIGNED else "^-?[0-9]+$"
            return {
                "type": "string",
                "format": "uint64" if kind in _UNSIGNED else "int64",
                "pattern": pattern,
            }
        if kind in _FLOATS:
            return {
                "oneOf": [
                    {"type": "number", "format": "float" if kind == field.TYPE_FLOAT else "double"},
                    {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
                ]
            }
        if kind == field.TYPE_BOOL:
            return {"type": "boolean"}
        if kind == field.TYPE_STRING:
            return {"type": "string"}
        if kind == field.TYPE_BYTES:
            return {"type": "string", "format": "byte", "contentEncoding": "base64"}
        if kind in _UNSIGNED:
            return {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295}
        return {"type": "integer", "format": "int32"}

    def _single(self, field: FieldDescriptor, direction: str) -> dict[str, Any]:
        if field.message_type is not None:
            return self.message(field.message_type, direction)
        return self.scalar(field)

    def _object(
        self, descriptor: Descriptor, direction: str, left_out: frozenset[str]
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in descriptor.fields:
            if field.name in left_out or (direction == _IN and _output_only(field)):
                continue
            property_schema = self.field(field, direction)
            text = self._comments[field.full_name]
            if text:
                property_schema = {**property_schema, "description": text}
            properties[field.json_name] = property_schema
            if direction == _OUT and field.containing_oneof is None:
                required.append(field.json_name)
        schema: dict[str, Any] = {"type": "object"}
        text = self._comments[descriptor.full_name]
        if text:
            schema["description"] = text
        schema["properties"] = properties
        if required:
            schema["required"] = required
        return schema

    def _claim(self, name: str, key: tuple[str, str], descriptor: Descriptor | None) -> str:
        """Take a component name, or a package-qualified one when a different type has it."""
        owner = self._owners.get(name)
        if owner is not None and owner != key and descriptor is not None:
            name = "".join(part[:1].upper() + part[1:] for part in descriptor.full_name.split("."))
            owner = self._owners.get(name)
        if owner is not None and owner != key:
            raise ValueError(f"two schemas would be named {name}: {owner} and {key}")
        self._owners[name] = key
        return name


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow null besides the schema."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if "$ref" in schema or "oneOf" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema  # no type: any JSON value, null included


def _well_known(name: str, schemas: _Schemas) -> dict[str, Any]:
    """Return the schema of a well-known type's JSON form (the same both ways)."""
    if name == "google.protobuf.Timestamp":
        return {"type": "string", "format": "date-time"}
    if name == "google.protobuf.Duration":
        return {"type": "string", "pattern": _DURATION_PATTERN}
    if name == "google.protobuf.FieldMask":
        return {"type": "string", "description": "lowerCamel field paths, separated by commas."}
    if name == "google.protobuf.Struct":
        return {"type": "object", "additionalProperties": True}
    if name == "google.protobuf.ListValue":
        return {"type": "array", "items": {}}
    if name == "google.protobuf.Value":
        return {}
    if name == "google.protobuf.Empty":
        return {"type": "object", "additionalProperties": False}
    if name == "google.protobuf.Any":
        return {"$ref": REF + "ProtobufAny"}
    descriptor = _wrapper_value(name)
    return schemas.scalar(descriptor)


def _wrapper_value(name: str) -> FieldDescriptor:
    return wrappers_pb2.DESCRIPTOR.message_types_by_name[name.rpartition(".")[2]].fields_by_name[
        "value"
    ]


def _sent_messages(bindings: Iterable[Binding]) -> set[str]:
    """Return the full names of every message type the server sends, nested ones included."""
    sent: set[str] = set()
    pending: list[Descriptor] = []
    for binding in bindings:
        response = _type_of(binding.response_type)
        if binding.response_body:
            kind = response.fields_by_name[binding.response_body].message_type
            if kind is not None:
                pending.append(kind)
        else:
            pending.append(response)
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in sent or descriptor.full_name in SPECIAL_JSON_TYPES:
            continue
        sent.add(descriptor.full_name)
        for field in descriptor.fields:
            if field.message_type is not None:
                entry = field.message_type
                if is_map(field):
                    value = entry.fields_by_name["value"].message_type
                    if value is not None:
                        pending.append(value)
                else:
                    pending.append(entry)
    return sent


# -- small helpers ----------------------------------------------------------------------


def _type_of(message_type: type[Message]) -> Descriptor:
    """Return a message class's descriptor (typed as the pure-Python one for mypy)."""
    return cast("Descriptor", message_type.DESCRIPTOR)


def _output_only(field: FieldDescriptor) -> bool:
    behaviors = field.GetOptions().Extensions[field_behavior_pb2.field_behavior]
    return field_behavior_pb2.OUTPUT_ONLY in behaviors


def _field_at(descriptor: Descriptor, path: Sequence[str]) -> FieldDescriptor:
    """Return the field at a dotted path of proto names (as routes.py binds them)."""
    field = descriptor.fields_by_name[path[0]]
    for name in path[1:]:
        kind = field.message_type
        if kind is None:
            raise ValueError(f"{field.full_name} is not a message: no field {name} in it")
        field = kind.fields_by_name[name]
    return field


def _short(full_name: str) -> str:
    """Drop the package from a name: ``threadline.v1.Thread`` is ``Thread``."""
    return full_name.rpartition(".")[2]


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


# -- the command ------------------------------------------------------------------------


def render(document: dict[str, Any]) -> str:
    """Write the document as the file holds it: 2-space indented JSON and a newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write the document of the served services: DESCRIPTOR_SET VERSION_FILE OUTPUT."""
    from threadline_server.transport.server import SERVICE_NAMES  # noqa: PLC0415

    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 3:
        sys.stderr.write(
            "usage: python -m threadline_server.http.openapi DESCRIPTOR_SET VERSION_FILE OUTPUT\n"
        )
        return 2
    descriptor_set, version_file, output = (Path(argument) for argument in arguments)
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    version = version_file.read_text(encoding="utf-8").strip()
    document = build(bindings_for(SERVICE_NAMES), Comments(files), version)
    output.write_text(render(document), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
