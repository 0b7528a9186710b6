"""Conversions between protobuf Struct/Value and canonical JSON text.

Metadata is stored as canonical JSON (sorted keys, no spaces, integral numbers
without a fraction) so that equal values are equal strings, which is what the
metadata-containment filter compares in SQL.
"""

from __future__ import annotations

import json
import math
from typing import Any

from google.protobuf import json_format, struct_pb2

JsonValue = Any


def _normalise(value: JsonValue) -> JsonValue:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def struct_to_python(message: struct_pb2.Struct) -> dict[str, JsonValue]:
    """Return a Struct as plain Python values, integral numbers as ints."""
    result: dict[str, JsonValue] = _normalise(json_format.MessageToDict(message))
    return result


def value_to_python(message: struct_pb2.Value) -> JsonValue:
    """Return a Value as plain Python values, integral numbers as ints."""
    return _normalise(json_format.MessageToDict(message))


def dumps(value: JsonValue) -> str:
    """Return canonical JSON text for a plain value."""
    return json.dumps(
        _normalise(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def loads_struct(text: str) -> struct_pb2.Struct:
    """Return a Struct from JSON object text written by :func:`dumps`."""
    message = struct_pb2.Struct()
    message.update(json.loads(text))
    return message


def loads_value(text: str) -> struct_pb2.Value:
    """Return a Value from JSON text written by :func:`dumps`."""
    message = struct_pb2.Value()
    json_format.ParseDict(json.loads(text), message)
    return message


# How deep JSON values may nest (an object or array in another is one level
# more). Well below protobuf's parse limit of 100 messages, each level being
# two (Struct and Value), so that a value nested within a reply or an event
# (a run's context inside RunEvent.run) still parses for every client.
MAX_DEPTH = 32


def problem(value: struct_pb2.Value | struct_pb2.Struct, depth: int = 0) -> str | None:
    """Say why a Struct or Value is not valid JSON for Threadline, or return None when it is.

    A Value with no kind set, or a number that is NaN or infinite, has no JSON
    form; protobuf lets a client send both. Objects and arrays may nest at most
    MAX_DEPTH deep (depth counts the objects and arrays around value).
    """
    if isinstance(value, struct_pb2.Struct):
        if depth >= MAX_DEPTH:
            return f"objects and arrays may nest at most {MAX_DEPTH} deep"
        for key, item in value.fields.items():
            found = problem(item, depth + 1)
            if found:
                return f"at {key!r}: {found}"
        return None
    kind = value.WhichOneof("kind")
    if kind is None:
        return "a value with no kind set is not JSON"
    if kind == "number_value" and not math.isfinite(value.number_value):
        return "NaN and infinite numbers are not JSON"
    if kind == "struct_value":
        return problem(value.struct_value, depth)
    if kind == "list_value":
        if depth >= MAX_DEPTH:
            return f"objects and arrays may nest at most {MAX_DEPTH} deep"
        for index, item in enumerate(value.list_value.values):
            found = problem(item, depth + 1)
            if found:
                return f"at [{index}]: {found}"
    return None
