"""Checks on client input. Each adds every problem it finds to a Violations.

Field paths are the request's snake_case paths (``thread.locale.time_zone``),
as google.rpc.BadRequest expects, so a client can point at the field.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from urllib.parse import urlsplit

from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from threadline.v1 import message_pb2, thread_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import sizes
from threadline_server.errors import Violations

MAX_TITLE = 256
MAX_REF = 128
MAX_EXTERNAL_REF = 256
MAX_NAME = 256
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_KEYS = 100
MAX_FILTER_METADATA_KEYS = 20
MAX_PARTICIPANTS = 100
MAX_PARTS = 100
MAX_TOOL_ARGUMENTS_BYTES = 64 * 1024
MAX_TOOL_OUTPUT_BYTES = 256 * 1024
MAX_URI = 4096
MAX_TTL_SECONDS = 3650 * 24 * 3600
MAX_FILTER_IDS = 100
MAX_TIME_ZONE = 64
# google.protobuf.Timestamp's range, 0001-01-01T00:00:00Z to
# 9999-12-31T23:59:59.999999999Z, and Duration's, about +-10,000 years.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_DURATION_SECONDS = 315_576_000_000
NANOS_PER_SECOND = 1_000_000_000

_LANGUAGE = re.compile(r"[a-z]{2,3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*(\s*;.*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The enums' numbers, once (EnumTypeWrapper.values() builds a list per call).
_ROLES = frozenset(message_pb2.MessageRole.values())
_PARTICIPANT_TYPES = frozenset(thread_pb2.ParticipantType.values())


def text(found: Violations, path: str, value: str, *, limit: int, required: bool = False) -> None:
    """Check a free-text field's length (in characters) and presence."""
    if required and not value:
        found.add(path, "is required")
    elif len(value) > limit:
        found.add(path, f"must be at most {limit} characters (got {len(value)})")


def reference(
    found: Violations, path: str, value: str, *, limit: int = MAX_REF, required: bool = False
) -> None:
    """Check an id-like field: bounded, and free of control characters."""
    text(found, path, value, limit=limit, required=required)
    if _CONTROL.search(value):
        found.add(path, "must not contain control characters")


def resource_id(found: Violations, path: str, value: str) -> None:
    """Check an id that names an existing resource."""
    if not value:
        found.add(path, "is required")
    elif not ids.is_valid_client_id(value):
        found.add(path, "is not a valid id (1 to 128 of A-Z a-z 0-9 . _ ~ -)")


def client_chosen_id(found: Violations, path: str, value: str) -> None:
    """Check an optional id the client picks for a new resource."""
    if value and not ids.is_valid_client_id(value):
        found.add(path, "must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -")


def timestamp(found: Violations, path: str, value: timestamp_pb2.Timestamp) -> bool:
    """Check a Timestamp is one protobuf defines (years 1 to 9999); say whether it is."""
    if not MIN_TIMESTAMP_SECONDS <= value.seconds <= MAX_TIMESTAMP_SECONDS:
        found.add(path, "seconds must be within years 1 to 9999 (-62135596800 to 253402300799)")
        return False
    if not 0 <= value.nanos < NANOS_PER_SECOND:
        found.add(path, "nanos must be from 0 to 999999999")
        return False
    return True


def duration(found: Violations, path: str, value: duration_pb2.Duration) -> bool:
    """Check a Duration is one protobuf defines (nanos within a second, signs agreeing)."""
    if not -MAX_DURATION_SECONDS <= value.seconds <= MAX_DURATION_SECONDS:
        found.add(path, f"seconds must be within +-{MAX_DURATION_SECONDS}")
        return False
    if not -NANOS_PER_SECOND < value.nanos < NANOS_PER_SECOND or (value.seconds * value.nanos < 0):
        found.add(path, "nanos must be within a second and have the sign of seconds")
        return False
    return True


def json_size(value: struct_pb2.Struct | struct_pb2.Value) -> int:
    """Return the size in bytes of a JSON value as stored."""
    if isinstance(value, struct_pb2.Struct):
        return len(jsonvalue.dumps(jsonvalue.struct_to_python(value)).encode())
    return len(jsonvalue.dumps(jsonvalue.value_to_python(value)).encode())


def struct(
    found: Violations,
    path: str,
    value: struct_pb2.Struct,
    *,
    limit: int = MAX_METADATA_BYTES,
    max_keys: int = MAX_METADATA_KEYS,
) -> None:
    """Check a JSON object field: real JSON, bounded in size and keys."""
    if not value.fields:
        # The usual case: {} is valid JSON of 2 bytes, under every limit.
        return
    problem = jsonvalue.problem(value)
    if problem:
        found.add(path, f"is not valid JSON: {problem}")
        return
    if len(value.fields) > max_keys:
        found.add(path, f"must have at most {max_keys} keys (got {len(value.fields)})")
    size = json_size(value)
    if size > limit:
        found.add(path, f"must be at most {limit} bytes as JSON (got {size})")


def locale(found: Violations, path: str, value: thread_pb2.Locale) -> None:
    """Check language, country and time zone codes."""
    if value.language and not _LANGUAGE.fullmatch(value.language):
        found.add(f"{path}.language", "must be an ISO 639 code of 2 or 3 lowercase letters")
    if value.country and not _COUNTRY.fullmatch(value.country):
        found.add(f"{path}.country", "must be an ISO 3166-1 alpha-2 code in uppercase")
    if value.time_zone and not _is_time_zone(value.time_zone):
        found.add(
            f"{path}.time_zone",
            f"{value.time_zone!r} is not an IANA time zone (such as Europe/London)",
        )


def _is_time_zone(name: str) -> bool:
    # zoneinfo accepts relative paths like "../x" as keys and raises ValueError;
    # a name longer than a file name may be raises OSError. IANA names are
    # at most 14 characters a component, and a few components long.
    if name.startswith(("/", ".")) or ".." in name or len(name) > MAX_TIME_ZONE:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def participants(found: Violations, path: str, values: Iterable[thread_pb2.Participant]) -> None:
    """Check participants: bounded count, distinct ids, known types."""
    items = list(values)
    if len(items) > MAX_PARTICIPANTS:
        found.add(path, f"must have at most {MAX_PARTICIPANTS} entries (got {len(items)})")
        return
    seen: set[str] = set()
    for index, participant in enumerate(items):
        item_path = f"{path}[{index}]"
        reference(found, f"{item_path}.id", participant.id, required=True)
        if participant.id in seen:
            found.add(f"{item_path}.id", f"repeats participant id {participant.id!r}")
        seen.add(participant.id)
        text(found, f"{item_path}.name", participant.name, limit=MAX_NAME)
        reference(found, f"{item_path}.role", participant.role)
        if participant.type not in _PARTICIPANT_TYPES or (
            participant.type == thread_pb2.PARTICIPANT_TYPE_UNSPECIFIED
        ):
            found.add(f"{item_path}.type", "must be USER, AGENT or TOOL")


def ttl(found: Violations, path: str, value: duration_pb2.Duration) -> None:
    """Check a thread's ttl is within 1 second and 3650 days."""
    if not duration(found, path, value):
        return
    if value.nanos < 0 or value.seconds < 0:
        found.add(path, "must be a positive duration")
    elif value.ToMicroseconds() < 1_000_000 or value.seconds > MAX_TTL_SECONDS:
        found.add(path, "must be between 1s and 3650 days")


def thread_fields(found: Violations, path: str, thread: thread_pb2.Thread) -> None:
    """Check every client-settable field of a thread."""
    text(found, f"{path}.title", thread.title, limit=MAX_TITLE)
    struct(found, f"{path}.metadata", thread.metadata)
    reference(found, f"{path}.agent_id", thread.agent_id)
    reference(found, f"{path}.user_id", thread.user_id)
    reference(found, f"{path}.external_ref", thread.external_ref, limit=MAX_EXTERNAL_REF)
    locale(found, f"{path}.locale", thread.locale)
    participants(found, f"{path}.participants", thread.participants)
    if thread.HasField("ttl"):
        ttl(found, f"{path}.ttl", thread.ttl)


def message_fields(found: Violations, path: str, message: message_pb2.Message) -> None:
    """Check a new message: a role, 1 to 100 well-formed parts, at most MAX_MESSAGE_BYTES."""
    if message.role == message_pb2.MESSAGE_ROLE_UNSPECIFIED:
        found.add(f"{path}.role", "is required (USER, AGENT, SYSTEM or TOOL)")
    elif message.role not in _ROLES:
        found.add(f"{path}.role", f"{message.role} is not a known role")
    struct(found, f"{path}.metadata", message.metadata)
    if not message.parts:
        found.add(f"{path}.parts", "must have at least one part")
    elif len(message.parts) > MAX_PARTS:
        found.add(f"{path}.parts", f"must have at most {MAX_PARTS} parts")
        return
    for index, part in enumerate(message.parts):
        part_path = f"{path}.parts[{index}]"
        kind = part.WhichOneof("kind")
        if kind is None:
            found.add(part_path, "must set one of text, tool_call, tool_result or media")
        elif kind == "tool_call":
            tool_call(found, f"{part_path}.tool_call", part.tool_call)
        elif kind == "tool_result":
            tool_result(found, f"{part_path}.tool_result", part.tool_result)
        elif kind == "media":
            _media(found, f"{part_path}.media", part.media)
    if message.parts and all(p.WhichOneof("kind") == "text" and not p.text for p in message.parts):
        found.add(f"{path}.parts", "must carry some content (every part is empty text)")
    message_size(found, f"{path}.parts", message)


def message_size(found: Violations, path: str, message: message_pb2.Message) -> None:
    """Check a message is at most MAX_MESSAGE_BYTES, whatever its parts."""
    size = sizes.message_size(message)
    if size > sizes.MAX_MESSAGE_BYTES:
        found.add(
            path,
            f"the message must be at most {sizes.MAX_MESSAGE_BYTES} bytes "
            f"(role, parts and metadata, serialized; got {size})",
        )


def tool_call(found: Violations, path: str, call: message_pb2.ToolCall) -> None:
    """Check a tool call: its id, its tool's name and its arguments."""
    reference(found, f"{path}.id", call.id, required=True)
    reference(found, f"{path}.name", call.name, required=True)
    struct(
        found,
        f"{path}.arguments",
        call.arguments,
        limit=MAX_TOOL_ARGUMENTS_BYTES,
        max_keys=MAX_PARTS * 10,
    )


def tool_result(found: Violations, path: str, result: message_pb2.ToolResult) -> None:
    """Check a tool's result: the call it answers and one output (text, or bounded JSON)."""
    reference(found, f"{path}.tool_call_id", result.tool_call_id, required=True)
    output = result.WhichOneof("output")
    if output is None:
        found.add(path, "must set json or text output")
        return
    if output == "text":
        return
    problem = jsonvalue.problem(result.json)
    if problem:
        found.add(f"{path}.json", f"is not valid JSON: {problem}")
    elif json_size(result.json) > MAX_TOOL_OUTPUT_BYTES:
        found.add(f"{path}.json", f"must be at most {MAX_TOOL_OUTPUT_BYTES} bytes as JSON")


def _media(found: Violations, path: str, media: message_pb2.Media) -> None:
    if not media.uri:
        found.add(f"{path}.uri", "is required")
    elif len(media.uri) > MAX_URI:
        found.add(f"{path}.uri", f"must be at most {MAX_URI} characters")
    elif not urlsplit(media.uri).scheme or _CONTROL.search(media.uri):
        found.add(f"{path}.uri", "must be an absolute URI with a scheme")
    if not media.mime_type:
        found.add(f"{path}.mime_type", "is required")
    elif not _MIME_TYPE.fullmatch(media.mime_type):
        found.add(f"{path}.mime_type", "is not a media type such as image/png")
    text(found, f"{path}.name", media.name, limit=MAX_NAME)
    if media.size_bytes < 0:
        found.add(f"{path}.size_bytes", "must not be negative")
