"""Path and query parameters into request fields, as grpc-gateway v2 fills them.

This follows runtime/query.go (DefaultQueryParser), runtime/convert.go and
runtime/fieldmask.go of grpc-gateway:

- Query keys are dotted field paths; each segment may be the proto or the JSON
  name. A repeated field takes repeated keys (``?a=1&a=2``, never a comma
  split); a scalar given twice, or one field named two ways, is an error; a
  map takes ``?m[key]=value``; unknown keys are ignored. Keys that fall under
  the body field or a path parameter are skipped.
- Values are read with Go's rules: integers in base 10 (``strconv.ParseInt``),
  booleans by ``strconv.ParseBool``, enums by exact name or defined number,
  Timestamp in RFC 3339, Duration in Go syntax (``1h30m``), FieldMask as the
  raw comma-separated paths, Struct and Value as JSON; other message types are
  an error.
- The query string itself is split as Go's ``url.ParseQuery`` does: ``&``
  between pairs, ``+`` is a space, and a ``;`` is an error.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import math
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any
from urllib.parse import unquote_to_bytes

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from threadline_server.http.jsonpb import (
    SPECIAL_JSON_TYPES,
    descriptor_of,
    field_by_name,
    in_real_oneof,
    is_map,
    message_class,
    message_type_of,
)


class ParamError(ValueError):
    """A parameter that cannot be put into the request (HTTP 400, INVALID_ARGUMENT).

    ``field`` names the parameter at fault, when one is (for a BadRequest).
    """

    field = ""


def _q(text: str) -> str:
    """Quote as Go's %q does (near enough: JSON string syntax)."""
    return json.dumps(text, ensure_ascii=False)


class InvalidUtf8Error(ParamError):
    """Percent-encoded bytes that are not UTF-8 (grpc-gateway fails later, with INTERNAL).

    Threadline answers 400 with its own message, since the client sent it.
    """


Query = dict[str, list[str]]


# -- the query string --------------------------------------------------------------

_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _unescape(text: str, *, plus_is_space: bool, what: str = "a query parameter name") -> str:
    match = _ESCAPE.search(text)
    if match:
        raise ParamError(f"invalid URL escape {_q(text[match.start() : match.start() + 3])}")
    if plus_is_space:
        text = text.replace("+", " ")
    raw = unquote_to_bytes(text)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidUtf8Error(
            f"{what} is not UTF-8 once percent-decoded: {_q(text[:100])} "
            f"(byte {error.start} of {len(raw)})"
        ) from None


def unescape_path(text: str) -> str:
    """Percent-decode a URL path as Go's net/url does (``+`` stays ``+``)."""
    return _unescape(text, plus_is_space=False, what="the URL path")


def parse_query(query: str, into: Query | None = None) -> Query:
    """Split a query string as Go's url.ParseQuery does; the first error is raised at the end."""
    values: Query = into if into is not None else {}
    error: ParamError | None = None
    for pair in query.split("&"):
        if ";" in pair:
            error = error or ParamError("invalid semicolon separator in query")
            continue
        if not pair:
            continue
        key, _, value = pair.partition("=")
        try:
            key = _unescape(key, plus_is_space=True)
            try:
                value = _unescape(value, plus_is_space=True)
            except InvalidUtf8Error:
                raise InvalidUtf8Error(
                    f"query parameter {_q(key)} is not UTF-8 once percent-decoded"
                ) from None
        except ParamError as failure:
            error = error or failure
            continue
        values.setdefault(key, []).append(value)
    if error is not None:
        raise error
    return values


# -- filling the request from the query ----------------------------------------------

_MAP_KEY = re.compile(r"^(.*)\[(.*)\]$", re.DOTALL)


def populate_query(message: Message, query: Query, skip: Sequence[tuple[str, ...]]) -> None:
    """Fill a request from query parameters; keys under a path in ``skip`` are left alone."""
    seen: set[str] = set()
    for key, raw_values in query.items():
        field_key, map_key = key, ""
        values = list(raw_values)
        match = _MAP_KEY.match(key)
        if match:
            field_key, map_key = match.group(1), "[" + match.group(2) + "]"
            values = [match.group(2), *values]
        path = _normalise(descriptor_of(message), field_key.split("."))
        if is_skipped(skip, path):
            continue
        name = ".".join(path) + map_key
        if name in seen:
            raise ParamError(f"duplicate field {_q(name)}")
        seen.add(name)
        try:
            populate_field(message, path, values, has_map_key=bool(map_key))
        except ParamError as error:
            error.field = error.field or field_key
            raise


def _normalise(descriptor: Descriptor, path: list[str]) -> tuple[str, ...]:
    """Return the path in proto names, or as given when a segment is not a field."""
    result: list[str] = []
    for index, name in enumerate(path):
        field = field_by_name(descriptor, name)
        if field is None:
            return tuple(path)
        result.append(field.name)
        if index == len(path) - 1:
            break
        if field.message_type is None or field.is_repeated:
            return tuple(path)
        descriptor = field.message_type
    return tuple(result)


def is_skipped(skip: Sequence[tuple[str, ...]], path: tuple[str, ...]) -> bool:
    """Whether a query key's path is under a skipped path, or holds one (grpc-gateway's filter)."""
    return any(path[: len(prefix)] == prefix or prefix[: len(path)] == path for prefix in skip)


def populate_field(
    message: Message, path: Sequence[str], values: list[str], *, has_map_key: bool = False
) -> None:
    """Set the field at a dotted path from string values (runtime.populateFieldValueFromPath)."""
    if not path:
        raise ParamError("no field path")
    if not values:
        raise ParamError("no value provided")
    field: FieldDescriptor | None = None
    for index, name in enumerate(path):
        field = field_by_name(descriptor_of(message), name)
        if field is None:
            return  # not a field: an extra query parameter, ignored
        oneof = field.containing_oneof
        if oneof is not None and in_real_oneof(field):
            which = message.WhichOneof(oneof.name)
            if which is not None and (field.message_type is None or which != field.name):
                raise ParamError(f"field already set for oneof {_q(oneof.name)}")
        if index == len(path) - 1:
            break
        if field.message_type is None or field.is_repeated:
            raise ParamError(f"invalid path: {_q(name)} is not a message")
        child = getattr(message, field.name)
        child.SetInParent()
        message = child
    if field is None:  # pragma: no cover - path is never empty here
        raise ParamError("no field path")
    if has_map_key and not is_map(field):
        raise ParamError(f"field {_q(field.name)} is not a map")
    _set(message, field, values)


def _set(message: Message, field: FieldDescriptor, values: list[str]) -> None:
    """Set a map entry, append to a list, or set a single field."""
    if is_map(field):
        if len(values) != 2:
            raise ParamError(
                f"more than one value provided for key {_q(values[0])} in map {_q(field.full_name)}"
            )
        key_field = message_type_of(field).fields_by_name["key"]
        value_field = message_type_of(field).fields_by_name["value"]
        key = _plain(parse_value(key_field, values[0], f"parsing map key {_q(field.name)}"))
        entries = getattr(message, field.name)
        parsed = parse_value(value_field, values[1], f"parsing map value {_q(field.name)}")
        if isinstance(parsed, Message):
            entries[key].CopyFrom(parsed)
        else:
            entries[key] = parsed
        return
    if field.is_repeated:
        target = getattr(message, field.name)
        for value in values:
            parsed = parse_value(field, value, f"parsing list {_q(field.name)}")
            if isinstance(parsed, Message):
                target.add().CopyFrom(parsed)
            else:
                target.append(parsed)
        return
    if len(values) > 1:
        raise ParamError(f"too many values for field {_q(field.name)}: {', '.join(values)}")
    parsed = parse_value(field, values[0], f"parsing field {_q(field.name)}")
    if isinstance(parsed, Message):
        getattr(message, field.name).CopyFrom(parsed)
    else:
        setattr(message, field.name, parsed)


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        raise ParamError("a map key cannot be a message")
    return value


# -- one value --------------------------------------------------------------------

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_SIGNED = re.compile(r"[+-]?[0-9]+\Z")
_UNSIGNED = re.compile(r"[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_FLOAT32_MAX = 3.4028234663852886e38
# More digits than 2**64 has is out of range, without turning them into a number.
_MAX_INT_DIGITS = 20

_INT_BITS = {
    FieldDescriptor.TYPE_INT32: (32, True),
    FieldDescriptor.TYPE_SINT32: (32, True),
    FieldDescriptor.TYPE_SFIXED32: (32, True),
    FieldDescriptor.TYPE_INT64: (64, True),
    FieldDescriptor.TYPE_SINT64: (64, True),
    FieldDescriptor.TYPE_SFIXED64: (64, True),
    FieldDescriptor.TYPE_UINT32: (32, False),
    FieldDescriptor.TYPE_FIXED32: (32, False),
    FieldDescriptor.TYPE_UINT64: (64, False),
    FieldDescriptor.TYPE_FIXED64: (64, False),
}


def parse_value(field: FieldDescriptor, value: str, context: str) -> Any:
    """Parse one string as the field's type; errors read ``<context>: <why>``."""
    try:
        return _parse(field, value)
    except ParamError as error:
        raise ParamError(f"{context}: {error}") from None
    except ValueError:
        # Beyond Python's own limits (an integer of over 4300 digits, say),
        # so beyond the range of any field.
        raise ParamError(f"{context}: {_q(value[:100])} is out of range") from None


def _parse(field: FieldDescriptor, value: str) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        return parse_bool(value)
    if kind == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        enum = field.enum_type
        if value in enum.values_by_name:
            return enum.values_by_name[value].number
        try:
            number = parse_int(value, 32, signed=True)
        except ParamError:
            raise ParamError(f"{_q(value)} is not a valid value") from None
        if number not in enum.values_by_number:
            raise ParamError(f"{_q(value)} is not a valid value")
        return number
    if kind in _INT_BITS:
        bits, signed = _INT_BITS[kind]
        return parse_int(value, bits, signed=signed)
    if kind in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return parse_float(value, 32 if kind == FieldDescriptor.TYPE_FLOAT else 64)
    if kind == FieldDescriptor.TYPE_STRING:
        return value
    if kind == FieldDescriptor.TYPE_BYTES:
        return parse_bytes(value)
    return parse_message(message_type_of(field), value)


def parse_bool(value: str) -> bool:
    """strconv.ParseBool."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ParamError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def parse_int(value: str, bits: int, *, signed: bool) -> int:
    """strconv.ParseInt / ParseUint in base 10."""
    name = "ParseInt" if signed else "ParseUint"
    if not (_SIGNED if signed else _UNSIGNED).match(value):
        raise ParamError(f'strconv.{name}: parsing "{value}": invalid syntax')
    if len(value.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise ParamError(f'strconv.{name}: parsing "{value[:100]}": value out of range')
    number = int(value)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= number <= high:
        raise ParamError(f'strconv.{name}: parsing "{value}": value out of range')
    return number


def parse_float(value: str, bits: int) -> float:
    """Parse a float as the proto3 JSON mapping does (runtime.parseFloat)."""
    special = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}
    if value in special:
        return special[value]
    if not _DECIMAL.match(value):
        raise ParamError(f'strconv.ParseFloat: parsing "{value}": invalid syntax')
    number = float(value)
    if math.isinf(number) or (bits == 32 and abs(number) > _FLOAT32_MAX):
        raise ParamError(f'strconv.ParseFloat: parsing "{value}": value out of range')
    return number


def parse_bytes(value: str) -> bytes:
    """Decode standard base64, or URL-safe with ``-`` or ``_`` in it; padding optional."""
    url_safe = "-" in value or "_" in value
    if len(value) % 4:
        if "=" in value:
            raise ParamError("illegal base64 data")
        value += "=" * (-len(value) % 4)
    if url_safe and ("+" in value or "/" in value):
        raise ParamError("illegal base64 data")
    try:
        if url_safe:
            value = value.replace("-", "+").replace("_", "/")
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ParamError("illegal base64 data") from None


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|([+-])(\d{2}):(\d{2}))\Z"
)
_MIN_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def parse_timestamp(value: str) -> tuple[int, int]:
    """time.Parse(time.RFC3339Nano) then timestamppb.New: return (seconds, nanos)."""
    match = _RFC3339.match(value)
    if not match:
        raise ParamError(f'parsing time "{value}" as RFC 3339: cannot parse')
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    days_in_month = calendar.monthrange(year or 2000, month)[1] if 1 <= month <= 12 else 0
    if not (1 <= month <= 12 and 1 <= day <= days_in_month):
        raise ParamError(f'parsing time "{value}": day out of range')
    if hour > 23 or minute > 59 or second > 59:
        raise ParamError(f'parsing time "{value}": time out of range')
    nanos = int((match.group(7) or "0")[:9].ljust(9, "0"))
    offset = 0
    if match.group(8) != "Z":
        offset_hours, offset_minutes = int(match.group(10)), int(match.group(11))
        if offset_hours > 23 or offset_minutes > 59:
            raise ParamError(f'parsing time "{value}": time zone offset out of range')
        offset = (offset_hours * 60 + offset_minutes) * 60
        if match.group(9) == "-":
            offset = -offset
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    seconds -= offset
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        raise ParamError(f"{value} before 0001-01-01")
    return seconds, nanos


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year, even 0)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


_DURATION_PART = re.compile(r"([0-9]*)(\.[0-9]*)?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NANOS = (1 << 63) - 1


def parse_duration(value: str) -> tuple[int, int]:
    """time.ParseDuration then durationpb.New: return (seconds, nanos)."""
    invalid = ParamError(f'time: invalid duration "{value}"')
    text, negative = value, False
    if text[:1] in ("+", "-"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0, 0
    if not text:
        raise invalid
    total = Fraction(0)
    position = 0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if not match or (not match.group(1) and len(match.group(2) or "") <= 1):
            raise invalid
        whole = Fraction(int(match.group(1) or "0"))
        fraction = Fraction(match.group(2) or ".0") if len(match.group(2) or "") > 1 else 0
        total += (whole + fraction) * _UNITS[match.group(3)]
        position = match.end()
    nanos = int(total)  # truncated, as Go's arithmetic does
    if nanos > _MAX_NANOS + (1 if negative else 0):
        raise invalid
    if negative:
        nanos = -nanos
    seconds = abs(nanos) // 1_000_000_000 * (1 if nanos >= 0 else -1)
    return seconds, nanos - seconds * 1_000_000_000


def parse_message(descriptor: Descriptor, value: str) -> Message:
    """Parse a well-known type from one query value (runtime.parseMessage)."""
    name = descriptor.full_name
    message = message_class(descriptor)()
    wrapped = descriptor.fields_by_name.get("value")
    if name == "google.protobuf.Timestamp":
        seconds, nanos = parse_timestamp(value)
        setattr(message, "seconds", seconds)  # noqa: B010
        setattr(message, "nanos", nanos)  # noqa: B010
    elif name == "google.protobuf.Duration":
        seconds, nanos = parse_duration(value)
        setattr(message, "seconds", seconds)  # noqa: B010
        setattr(message, "nanos", nanos)  # noqa: B010
    elif name == "google.protobuf.FieldMask":
        if value:
            getattr(message, "paths").extend(value.split(","))  # noqa: B009
    elif name in ("google.protobuf.Struct", "google.protobuf.Value"):
        try:
            json_format.Parse(value, message)
        except (json_format.ParseError, ValueError) as error:
            raise ParamError(str(error)) from None
    elif name == "google.protobuf.Empty":
        if value not in ("", "{}"):
            raise ParamError(f'expected an empty value or "{{}}", got {value!r}')
    elif name in SPECIAL_JSON_TYPES and name.endswith("Value") and wrapped is not None:
        setattr(message, "value", _parse(wrapped, value))  # noqa: B010
    else:
        raise ParamError(f'unsupported message type: "{name}"')
    return message


# -- a field mask from a PATCH body ---------------------------------------------------


def field_mask_from_body(document: Any, descriptor: Descriptor) -> list[str]:
    """Every complete field path in a JSON body (runtime.FieldMaskFromRequestBody), sorted.

    Nested objects are followed; a repeated field, a map, or a Struct's leaves
    end a path; an empty object is a leaf. A key that is no field is an error.
    """
    if not isinstance(document, dict):
        return []
    paths: list[str] = []
    queue: list[tuple[str, Any, Descriptor | None]] = [("", document, descriptor)]
    while queue:
        path, node, kind = queue.pop(0)
        if isinstance(node, dict) and node:
            for key, item in node.items():
                if kind is None:
                    raise ParamError("JSON structure did not match request type")
                field = field_by_name(kind, key)
                if field is None:
                    raise ParamError(f"could not find field {_q(key)} in {_q(kind.full_name)}")
                child = f"{path}.{field.name}" if path else field.name
                message_type = field.message_type
                type_name = message_type.full_name if message_type is not None else ""
                if type_name in ("google.protobuf.Struct", "google.protobuf.Value"):
                    queue.extend((leaf, None, None) for leaf in _blind_paths(child, item))
                elif type_name == "google.protobuf.Any" and not field.is_repeated:
                    if not isinstance(item, dict) or "@type" not in item:
                        where = f"in {_q(key)} in message {_q(kind.full_name)}"
                        raise ParamError(f"could not find field @type {where}")
                    queue.append((child, None, None))
                elif field.is_repeated:
                    paths.append(child)
                else:
                    queue.append((child, item, message_type))
        elif path:
            paths.append(path)
    return sorted(paths)


def _blind_paths(name: str, value: Any) -> Iterable[str]:
    if not isinstance(value, dict) or not value:
        yield name
        return
    for key, item in value.items():
        yield from _blind_paths(f"{name}.{key}", item)
