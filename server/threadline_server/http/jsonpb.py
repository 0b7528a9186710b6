"""JSON as grpc-gateway's default marshaler writes and reads it.

grpc-gateway v2 uses protojson with ``EmitUnpopulated: true`` to write and
``DiscardUnknown: true`` to read. Python's json_format does almost the same;
this module closes the gaps:

- Out: every field without presence is written with its zero value (int64 as a
  string, the first enum name, ``[]``, ``{}``), and an unset singular message
  field is written as ``null``. Members of a oneof and proto3 ``optional``
  fields are left out when unset.
- In: unknown fields are ignored, and so are unknown enum names (a digit string
  is a name, not a number, as in protojson); naming a field twice (``page_size``
  and ``pageSize``) is an error; a body must be one JSON value of the right
  kind (``null`` and ``[]`` are errors), read up to its end (what follows is
  ignored, as Go's json.Decoder does), and an empty body is ``{}``.
"""

from __future__ import annotations

import json
from typing import Any, cast

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

# Well-known types that have their own JSON form; their insides are not walked.
SPECIAL_JSON_TYPES = frozenset(
    {
        "google.protobuf.Any",
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Empty",
    }
)

JSON_WHITESPACE = " \t\r\n"


class JsonError(ValueError):
    """A request body that is not the JSON of the message it should be."""


def descriptor_of(message: Message) -> Descriptor:
    """Return a message's descriptor (typed as the pure-Python one for mypy)."""
    return cast("Descriptor", message.DESCRIPTOR)


def message_type_of(field: FieldDescriptor) -> Descriptor:
    """Return a message field's type; a ValueError for any other field."""
    if field.message_type is None:
        raise ValueError(f"{field.full_name} is not a message field")
    return field.message_type


def is_map(field: FieldDescriptor) -> bool:
    """Whether a field is a map (a repeated field of a map-entry message)."""
    kind = field.message_type
    return bool(field.is_repeated and kind is not None and kind.GetOptions().map_entry)


def in_real_oneof(field: FieldDescriptor) -> bool:
    """Whether a field is a member of a oneof written in the proto (not a proto3 optional)."""
    oneof = field.containing_oneof
    if oneof is None:
        return False
    synthetic = len(oneof.fields) == 1 and oneof.name == "_" + field.name
    return not synthetic


def field_by_name(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    """Look a field up by its proto name, then by its JSON name, as grpc-gateway does."""
    field = descriptor.fields_by_name.get(name)
    if field is not None:
        return field
    for candidate in descriptor.fields:
        if candidate.json_name == name:
            return candidate
    return None


def message_class(descriptor: Descriptor) -> type[Message]:
    """Return the generated (or dynamic) class of a message type."""
    return message_factory.GetMessageClass(descriptor)


# -- writing ---------------------------------------------------------------------


def to_json(message: Message) -> Any:
    """Return a message as protojson with EmitUnpopulated writes it (a JSON-ready value)."""
    value = json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=False,
    )
    _add_nulls(message, value)
    return value


def dumps(value: Any) -> bytes:
    """Compact JSON, UTF-8 as is (protojson escapes no non-ASCII characters)."""
    return json.dumps(_go_numbers(value), ensure_ascii=False, separators=(",", ":")).encode()


def _go_numbers(value: Any) -> Any:
    """Write whole floats as Go does (``1``, not ``1.0``), below 1e21 where Go switches to e."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


def _add_nulls(message: Message, value: Any) -> None:
    """Write null for each unset singular message field, everywhere in the tree.

    Map entries and the keys of Struct objects are put in key order on the
    way, as protojson writes them.
    """
    descriptor = descriptor_of(message)
    if descriptor.full_name == "google.protobuf.Any":
        _add_nulls_in_any(message, value)
        return
    if descriptor.full_name in SPECIAL_JSON_TYPES or not isinstance(value, dict):
        return
    for field in descriptor.fields:
        kind = field.message_type
        if kind is None:
            continue
        name = field.json_name
        if is_map(field):
            _finish_map(message, field, value, name)
        elif kind.full_name in _STRUCT_TYPES:
            if name in value:
                value[name] = _sorted_keys(value[name])
            elif not field.is_repeated and field.containing_oneof is None:
                value[name] = None
        elif field.is_repeated:
            items = value.get(name, [])
            for item_message, item in zip(getattr(message, field.name), items, strict=False):
                _add_nulls(item_message, item)
        elif message.HasField(field.name):
            _add_nulls(getattr(message, field.name), value.get(name))
        elif field.containing_oneof is None:
            value[name] = None


_STRUCT_TYPES = frozenset(
    {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
)


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def _finish_map(message: Message, field: FieldDescriptor, value: dict[str, Any], name: str) -> None:
    items = value.get(name)
    if not isinstance(items, dict):
        return
    entries = getattr(message, field.name)
    keys = sorted(entries)
    json_keys = [str(key).lower() if isinstance(key, bool) else str(key) for key in keys]
    value[name] = {json_key: items[json_key] for json_key in json_keys if json_key in items}
    value_type = message_type_of(field).fields_by_name["value"].message_type
    if value_type is None:
        return
    for key, json_key in zip(keys, json_keys, strict=True):
        if value_type.full_name in _STRUCT_TYPES:
            value[name][json_key] = _sorted_keys(value[name].get(json_key))
        else:
            _add_nulls(entries[key], value[name].get(json_key))


def _add_nulls_in_any(message: Message, value: Any) -> None:
    if not isinstance(value, dict):
        return
    type_name = str(getattr(message, "type_url", "")).rpartition("/")[2]
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
    except KeyError:
        return
    if descriptor.full_name in SPECIAL_JSON_TYPES:
        return
    inner = message_class(descriptor)()
    inner.ParseFromString(getattr(message, "value", b""))
    _add_nulls(inner, value)


# -- reading ---------------------------------------------------------------------


class _Empty:
    """The value of a body with nothing in it but whitespace."""


EMPTY = _Empty()


def _reject_constant(name: str) -> Any:
    raise JsonError(f"invalid character {name[0]!r} looking for beginning of value")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise JsonError(f"duplicate field {key!r}")
        result[key] = item
    return result


_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant, strict=True
)
_LOOSE_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def read_document(data: bytes, *, loose: bool = False) -> Any:
    """Return the first JSON value of a body, or EMPTY when there is none.

    Only the first value is read, as Go's json.Decoder does; whatever follows
    it is ignored. ``loose`` keeps the last of repeated keys (encoding/json into
    an interface{}), as grpc-gateway's field-mask inference reads the body.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonError(f"invalid UTF-8 in request body: {error}") from None
    text = text.lstrip(JSON_WHITESPACE)
    if not text:
        return EMPTY
    try:
        value, _ = (_LOOSE_DECODER if loose else _DECODER).raw_decode(text)
    except (json.JSONDecodeError, JsonError) as error:
        raise JsonError(str(error)) from None
    except ValueError:
        # Python's limit on integer literals (4300 digits): beyond any field's range.
        raise JsonError("a number in the body has too many digits") from None
    except RecursionError:
        # Go's decoder refuses nesting deeper than 10000 with a syntax error.
        raise JsonError("exceeded max depth") from None
    return value


def merge_json(value: Any, message: Message) -> None:
    """Read a JSON value into a message (DiscardUnknown), as protojson.Unmarshal does."""
    descriptor = descriptor_of(message)
    if descriptor.full_name not in SPECIAL_JSON_TYPES:
        if not isinstance(value, dict):
            raise JsonError(f"unexpected token {json.dumps(value)[:20]}")
        value = _prepare(value, descriptor)
    try:
        json_format.ParseDict(value, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as error:
        raise JsonError(str(error)) from None


def _prepare(value: dict[str, Any], descriptor: Descriptor) -> dict[str, Any]:
    """Apply protojson's reading rules that json_format lacks, on a copy of an object."""
    result: dict[str, Any] = {}
    seen: dict[int, str] = {}
    for key, item in value.items():
        field = field_by_name(descriptor, key)
        if field is None:
            continue  # DiscardUnknown
        if field.number in seen:
            raise JsonError(f"duplicate field {key!r} (also given as {seen[field.number]!r})")
        seen[field.number] = key
        prepared = _prepare_field(field, item)
        if prepared is not _DROP:
            result[field.name] = prepared
    return result


_DROP = object()


def _prepare_field(field: FieldDescriptor, item: Any) -> Any:
    if item is None:
        return item
    if is_map(field):
        if not isinstance(item, dict):
            return item
        value_field = message_type_of(field).fields_by_name["value"]
        return {
            key: prepared
            for key, entry in item.items()
            if (prepared := _prepare_single(value_field, entry)) is not _DROP
        }
    if field.is_repeated and isinstance(item, list):
        return [
            prepared for entry in item if (prepared := _prepare_single(field, entry)) is not _DROP
        ]
    return _prepare_single(field, item)


def _prepare_single(field: FieldDescriptor, item: Any) -> Any:
    enum = field.enum_type
    if enum is not None and enum.full_name != "google.protobuf.NullValue":
        if isinstance(item, str):
            # protojson looks strings up by name only; DiscardUnknown drops the rest.
            return item if item in enum.values_by_name else _DROP
        # Otherwise only a whole number (an int32) is an enum value.
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise JsonError(f"invalid value for enum field {field.json_name}: {json.dumps(item)}")
        if isinstance(item, float) and not item.is_integer():
            raise JsonError(f"invalid value for enum field {field.json_name}: {item}")
        return item
    kind = field.message_type
    if kind is not None and kind.full_name not in SPECIAL_JSON_TYPES and isinstance(item, dict):
        return _prepare(item, kind)
    return item
