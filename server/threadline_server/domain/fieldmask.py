"""Applying an update mask: which fields of a stored resource take the request's values.

Paths name top-level fields (``title``, ``locale``) or, inside a JSON object
field, a key (``metadata.channel``, ``metadata.a.b``): the HTTP mapping infers
such paths from a PATCH body's keys, as grpc-gateway does, so updating one
metadata key over HTTP changes just that key. A named field or key that the
request leaves unset is cleared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import message as protobuf_message
from google.protobuf import struct_pb2

from threadline_server import jsonvalue
from threadline_server.errors import Violations

# Paths a client may send that are not fields to change: the HTTP mapping puts
# every body key in the inferred mask, including the etag precondition.
IGNORED_PATHS = frozenset({"etag"})

# JSON object fields whose keys a path may name: a thread's or message's
# metadata, a thread state's values.
JSON_OBJECT_FIELDS = frozenset({"metadata", "values"})


def check(found: Violations, path: str, paths: Sequence[str], allowed: frozenset[str]) -> list[str]:
    """Check an update mask; return its paths to apply, in order, without repeats."""
    wanted = [p for p in paths if p not in IGNORED_PATHS]
    if not wanted:
        found.add(path, f"must name at least one field: {', '.join(sorted(allowed))}")
        return []
    result: list[str] = []
    for item in wanted:
        head, _, rest = item.partition(".")
        keys = rest.split(".")
        valid = item in allowed or (
            head in allowed and head in JSON_OBJECT_FIELDS and rest and "" not in keys
        )
        if not valid:
            found.add(path, f"{item!r} cannot be updated; updatable: {', '.join(sorted(allowed))}")
        elif len(keys) > jsonvalue.MAX_DEPTH:
            found.add(path, f"a key path may name at most {jsonvalue.MAX_DEPTH} keys")
        elif item not in result:
            result.append(item)
    return result


def touches_json(paths: Iterable[str], field: str) -> bool:
    """Tell whether an update mask changes a JSON object field (whole, or one of its keys)."""
    return any(p == field or p.startswith(f"{field}.") for p in paths)


def apply(
    target: protobuf_message.Message, source: protobuf_message.Message, paths: Iterable[str]
) -> None:
    """Copy the fields and JSON keys named by paths from source onto target."""
    for path in paths:
        head, _, rest = path.partition(".")
        if rest:
            _apply_key(getattr(target, head), getattr(source, head), rest.split("."))
            continue
        descriptor = target.DESCRIPTOR.fields_by_name[head]
        target.ClearField(head)
        if descriptor.is_repeated:
            getattr(target, head).extend(getattr(source, head))
        elif descriptor.message_type is not None:
            if source.HasField(head):
                getattr(target, head).CopyFrom(getattr(source, head))
        else:
            setattr(target, head, getattr(source, head))


def _apply_key(target: struct_pb2.Struct, source: struct_pb2.Struct, keys: list[str]) -> None:
    """Set (or, when the source lacks it, remove) one key path inside a JSON object."""
    stored: dict[str, Any] = jsonvalue.struct_to_python(target)
    given: Any = jsonvalue.struct_to_python(source)
    for key in keys[:-1]:
        given = given.get(key) if isinstance(given, dict) else None
    node = stored
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if isinstance(given, dict) and keys[-1] in given:
        node[keys[-1]] = given[keys[-1]]
    else:
        node.pop(keys[-1], None)
    target.Clear()
    target.update(stored)
