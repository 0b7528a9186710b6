"""Threadline's HTTP/JSON side against the real grpc-gateway v2, request by request.

The claim under test: a client written against grpc-gateway v2 with its
default options cannot tell Threadline's own HTTP side from a grpc-gateway in
front of Threadline's gRPC side. So the test builds the real gateway
(tests/gateway: ``runtime.NewServeMux()`` with no options over the handlers
protoc-gen-grpc-gateway made from our protos), starts one Threadline server
with its HTTP side on, puts the gateway in front of that same server's gRPC
port, and sends the same requests to both.

Every scenario below runs twice, once against each side, and each run makes
its own resources: client-chosen ids and filter values carry the side's tag
(``gwSide`` or ``tlSide``), so the two runs never touch each other's threads,
runs or worker agents although they share one database. Each answer is
reduced to what a client sees (status, Content-Type, the ``Grpc-Metadata-*``
and trailer headers, and the parsed JSON body, or the list of parsed lines of
a stream) and normalised: server-made ids become placeholders numbered in
order of appearance within each answer, times (checked to be in protojson's
form first), etags, page tokens, event ids and tool durations become fixed
words, both tags become ``<side>``, and the two texts the real gateway gives
at random for the same thing are made one (protojson's "proto:" prefix with
a space or a no-break space; "context deadline exceeded" or "Deadline
Exceeded", depending on which end noticed first). Then the two runs must be
equal, answer by answer; any difference fails with a diff.

A difference that Threadline keeps on purpose is listed in DELIBERATE, with
its reason, and in docs/design.md; nothing else is allowed.

Every request also states the status the real gateway answers with (checked
on the gateway run only), so a scenario that drifts from what it means to
test fails even before there is anything to compare with. Until Threadline's
HTTP side exists (the ``--http-listen`` flag), the scenarios run against the
gateway alone and the comparison is skipped. The normalised transcripts of
the last run are written to .tools/gateway/transcripts/ for reading.

With THREADLINE_CONFORMANCE_SELF_CHECK=1 the second run goes to the gateway
too, not to Threadline's HTTP side: a check that the scenarios themselves are
deterministic (any difference then is a flaw in a scenario, not in Threadline).
"""

from __future__ import annotations

import difflib
import fnmatch
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2, http_pb2
from threadline.v1 import message_pb2, run_pb2, thread_pb2, webhook_pb2, worker_pb2

from tests.conftest import HTTP_LISTENING, LISTENING, ServerProcess, start_server_process

# Building the gateway the first time downloads its modules; a scenario run
# takes a few seconds per side. All of it happens in the first test's setup.
pytestmark = [pytest.mark.toolchain, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
GATEWAY_SOURCE = ROOT / "tests" / "gateway"
GATEWAY_CACHE = ROOT / ".tools" / "gateway"
GATEWAY_BINARY = GATEWAY_CACHE / "gateway"
TRANSCRIPTS = GATEWAY_CACHE / "transcripts"
# Where the deliberate differences are listed for people, each with its reason.
DESIGN_NOTES = ROOT / "docs" / "design.md"

GATEWAY = "grpc-gateway"
THREADLINE = "threadline"
# Each side's tag, in every client-chosen id and filter value it uses. Tags
# have capitals so that no lowercase server-made id or token can contain one.
TAGS = {GATEWAY: "gwSide", THREADLINE: "tlSide"}

GATEWAY_LISTENING = re.compile(r"gateway listening on (\S+):(\d+)")
REQUEST_TIMEOUT = 20.0
# Set to 1 to compare the gateway with itself (in place of Threadline's HTTP
# side): a check that every scenario gives the same answers on every run.
SELF_CHECK = "THREADLINE_CONFORMANCE_SELF_CHECK"


# -- deliberate differences -------------------------------------------------


@dataclass(frozen=True)
class Deliberate:
    """A difference between the two sides that Threadline keeps on purpose."""

    reason: str
    # Which parts of the answer may differ: "status", "content_type",
    # "headers", "body", or only "message" (the text of an error's message,
    # at the top of the body or in a stream's {"error": ...} line).
    parts: frozenset[str]


# The one list of differences kept on purpose. Keys are "scenario/label" of a
# request, or an fnmatch pattern over them ("*/malformed"); each must match a
# request some scenario sends, and must be named, as written here in
# backquotes, in docs/design.md with its reason (test_deliberate_differences_...).
DELIBERATE: dict[str, Deliberate] = {
    "*/bad-json-*": Deliberate(
        "malformed-JSON message wording comes from Python's parsers (same status and code)",
        frozenset({"message"}),
    ),
    "*/bad-query-*": Deliberate(
        "bad query value message wording comes from Python's parsers (same status and code)",
        frozenset({"message"}),
    ),
    "routing/*-method": Deliberate(
        "aiohttp's parser refuses non-standard and lower-case methods with 400",
        frozenset({"status", "content_type", "body"}),
    ),
    "routing/*-document": Deliberate(
        "/openapi.json (OpenAPI 3.1) and /swagger.json (Swagger 2.0) are additions",
        frozenset({"status", "body"}),
    ),
    "run-cancel/events-as-sse*": Deliberate(
        "Server-Sent Events with Accept: text/event-stream are an addition",
        frozenset({"content_type", "headers", "body"}),
    ),
    "run-cancel/events-as-ndjson": Deliberate(
        "Accept: application/x-ndjson labels the same lines application/x-ndjson",
        frozenset({"content_type"}),
    ),
    "headers/te-trailers*": Deliberate("aiohttp sends no HTTP trailers", frozenset({"headers"})),
    "limits/body-over-8-mib": Deliberate(
        "413 before reading an oversized body", frozenset({"status", "message"})
    ),
    "limits/*-over-64-kib": Deliberate(
        "64 KiB limit on the request line and each header",
        frozenset({"status", "content_type", "headers", "body"}),
    ),
    "*/invalid-utf8*": Deliberate(
        "percent-encoded bytes that are not UTF-8 are 400 INVALID_ARGUMENT (grpc-gateway: 500)",
        frozenset({"status", "headers", "body"}),
    ),
    "*/not-json-*": Deliberate(
        "a request body must be Content-Type: application/json: 415 (grpc-gateway reads any)",
        frozenset({"status", "headers", "body"}),
    ),
    "browser/cross-site-*": Deliberate(
        "a cross-origin browser request that would act is 403 PERMISSION_DENIED",
        frozenset({"status", "headers", "body"}),
    ),
    "browser/preflight-*": Deliberate(
        "a CORS preflight gets the CORS rules' answer: 403 while CORS is off (grpc-gateway: 501)",
        frozenset({"status", "headers", "body"}),
    ),
    "path-params/bad-escape": Deliberate(
        "a bad %-escape in the path is a JSON error with an ErrorInfo (Go: text/plain)",
        frozenset({"content_type", "body"}),
    ),
    "browser/encoded-*": Deliberate(
        "a body with a Content-Encoding is 415 (grpc-gateway ignores the header)",
        frozenset({"status", "headers", "body"}),
    ),
}


# Two differences kept on purpose in every error the HTTP side answers itself
# (before calling the server), whatever the scenario; docs/design.md lists
# them as `gateway-errors/*` (test_deliberate_differences_...):
# - its body carries an ErrorInfo (domain threadline.dev) and, when a
#   parameter is at fault, a BadRequest, where grpc-gateway's has "details": [];
# - a path that only other methods serve is 405 with an Allow header, body code
#   12 (grpc-gateway: 501, a 5xx for the client's mistake).
# as_grpc_gateway undoes both on Threadline's side, and reports an error of
# its own without an ErrorInfo.
GATEWAY_ERROR_DIFFERENCES = ("gateway-errors/error-info", "gateway-errors/method-not-allowed")
ERROR_DOMAIN = "threadline.dev"
OWN_DETAILS = frozenset(
    {"type.googleapis.com/google.rpc.ErrorInfo", "type.googleapis.com/google.rpc.BadRequest"}
)


def _error_in(body: Any) -> dict[str, Any] | None:
    """The error of an error answer: the body, or a stream's one line."""
    if isinstance(body, dict) and isinstance(body.get("lines"), list) and len(body["lines"]) == 1:
        body = body["lines"][0]
    if isinstance(body, dict) and "code" in body and isinstance(body.get("details"), list):
        return body
    return None


def _with_error(body: Any, error: dict[str, Any]) -> Any:
    if isinstance(body, dict) and "lines" in body:
        return {**body, "lines": [error]}
    return error


def as_grpc_gateway(
    gateway: dict[str, Any], threadline: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Threadline's exchange with the two gateway-error differences undone, and any flaw."""
    theirs, ours = _error_in(gateway["body"]), _error_in(threadline["body"])
    is_own_error = (
        theirs is not None
        and theirs["details"] == []
        and ours is not None
        and bool(ours["details"])
        and {detail.get("@type") for detail in ours["details"]} <= OWN_DETAILS
    )
    problems = []
    undone = threadline
    if is_own_error and ours is not None:
        infos = [d for d in ours["details"] if d["@type"].endswith(".ErrorInfo")]
        if len(infos) != 1 or infos[0].get("domain") != ERROR_DOMAIN or not infos[0].get("reason"):
            problems.append(f"{threadline['label']}: no ErrorInfo of {ERROR_DOMAIN}: {ours}")
        undone = {**threadline, "body": _with_error(threadline["body"], {**ours, "details": []})}
    head = threadline["request"].startswith("HEAD ")
    if (
        gateway["status"] == 501
        and threadline["status"] == 405
        and ((ours is not None and ours.get("code") == 12) or head)
    ):
        headers = dict(threadline["headers"])
        if not headers.pop("allow", ""):
            problems.append(f"{threadline['label']}: a 405 without an Allow header")
        undone = {**undone, "status": 501, "headers": headers}
    return undone, problems


def allowed_parts(key: str) -> frozenset[str]:
    """The parts of one request's answer that DELIBERATE lets differ."""
    allowed: frozenset[str] = frozenset()
    for pattern, deliberate in DELIBERATE.items():
        if fnmatch.fnmatchcase(key, pattern):
            allowed |= deliberate.parts
    return allowed


# -- the routes, from the descriptors ----------------------------------------


@dataclass(frozen=True)
class Route:
    """One HTTP binding of an RPC, read from its google.api.http option."""

    rpc: str
    method: str
    template: str
    body: str
    server_streaming: bool
    pattern: re.Pattern[str]


def _segment_regex(segment: str) -> str:
    if segment == "**":
        return ".*"
    if segment == "*":
        return "[^/]*"
    variable = re.fullmatch(r"\{([^=}]+)(?:=(.*))?\}", segment)
    if variable is None:
        return re.escape(segment)
    inner = variable.group(2)
    if inner is None:
        return "[^/]*"
    return "/".join(_segment_regex(part) for part in inner.split("/"))


def template_regex(template: str) -> re.Pattern[str]:
    """Compile a google.api.http path template into a regex over decoded paths."""
    verb = ""
    colon = template.rfind(":")
    if colon > max(template.rfind("/"), template.rfind("}")):
        template, verb = template[:colon], template[colon:]
    segments = re.split(r"/(?![^{]*\})", template.lstrip("/"))
    return re.compile("/" + "/".join(_segment_regex(s) for s in segments) + re.escape(verb))


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    yield rule
    for extra in rule.additional_bindings:
        yield from _bindings(extra)


def annotated_routes() -> list[Route]:
    """Every google.api.http binding of every Threadline RPC."""
    routes = []
    for module in (thread_pb2, message_pb2, run_pb2, worker_pb2, webhook_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                options = method.GetOptions()
                if not options.HasExtension(annotations_pb2.http):
                    continue
                for rule in _bindings(options.Extensions[annotations_pb2.http]):
                    kind = rule.WhichOneof("pattern")
                    assert kind is not None, f"{method.full_name}: an http rule without a path"
                    if kind == "custom":
                        verb, template = rule.custom.kind, rule.custom.path
                    else:
                        verb, template = kind.upper(), getattr(rule, kind)
                    routes.append(
                        Route(
                            rpc=method.full_name,
                            method=verb,
                            template=template,
                            body=rule.body,
                            server_streaming=method.server_streaming,
                            pattern=template_regex(template),
                        )
                    )
    return routes


ROUTES = annotated_routes()


def route_of(method: str, target: str) -> Route | None:
    """The route a request is meant for, by method and decoded path."""
    path = urllib.parse.unquote(target.split("?", 1)[0])
    for route in ROUTES:
        if route.method == method and route.pattern.fullmatch(path):
            return route
    return None


# -- talking HTTP -------------------------------------------------------------


class _NoBody:
    pass


NO_BODY: Any = _NoBody()


@dataclass
class Answer:
    """What a client sees of one HTTP answer."""

    status: int
    content_type: str | None
    headers: dict[str, str]
    body: Any
    raw: bytes

    def json(self) -> Any:
        """The parsed body; fails the scenario when it is not JSON."""
        return json.loads(self.raw)

    def lines(self) -> list[Any]:
        """The parsed lines of a streamed body."""
        return [json.loads(line) for line in self.raw.splitlines() if line.strip()]


@dataclass
class Exchange:
    """One request of a scenario and the answer it got."""

    label: str
    method: str
    target: str
    request_headers: dict[str, str]
    request_body: bytes | None
    answer: Answer
    expect: int | None


# Response headers a client of grpc-gateway can see beside the body.
def _compared_header(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(("grpc-metadata-", "grpc-trailer-")) or lower in {
        "trailer",
        "www-authenticate",
        "allow",
    }


def _compared_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The headers a client can compare, by lower-case name, repeated ones joined.

    The gateway announces trailers with one ``Trailer`` header per key, in Go's
    random map order, so the names in Trailer are sorted.
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        if _compared_header(name):
            values.setdefault(name.lower(), []).append(value)
    joined = {name: ", ".join(parts) for name, parts in values.items()}
    if "trailer" in joined:
        joined["trailer"] = ", ".join(sorted(p.strip() for p in joined["trailer"].split(",")))
    return joined


def _parse_body(raw: bytes, stream: bool) -> Any:
    if stream:
        lines = raw.split(b"\n")
        terminated = raw.endswith(b"\n") or not raw
        parsed = [_parse_json(line) for line in lines if line.strip()]
        return {"lines": parsed, "last_line_terminated": terminated}
    if not raw:
        return "<empty body>"
    return _parse_json(raw)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return {"<not json>": raw.decode("utf-8", errors="replace")}


def send(
    address: tuple[str, int],
    method: str,
    target: str,
    *,
    body: bytes | None,
    headers: dict[str, str],
    stream: bool,
    max_lines: int | None,
    timeout: float,
) -> Answer:
    """Send one request as written (no normalising of the target) and read the answer."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        if max_lines is None:
            raw = response.read()
        else:
            parts: list[bytes] = []
            while len(parts) < max_lines:
                line = response.readline()
                if not line:
                    break
                parts.append(line)
            raw = b"".join(parts)
        compared = _compared_headers(response.getheaders())
        return Answer(
            status=response.status,
            content_type=response.getheader("Content-Type"),
            headers=compared,
            body=_parse_body(raw, stream),
            raw=raw,
        )
    finally:
        connection.close()


class ScenarioError(AssertionError):
    """A scenario did not go as written against one side."""


class Side:
    """One HTTP side (the gateway or Threadline's own) as a scenario sees it."""

    def __init__(self, name: str, host: str, port: int, worker_agent: str) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.tag = TAGS[name]
        self.worker_agent = worker_agent
        self.exchanges: list[Exchange] = []
        # On the gateway: requests whose status is not the one the scenario expects.
        self.unexpected: list[str] = []

    def tid(self, name: str) -> str:
        """A client-chosen id (thread id, user id, ...) of this side."""
        return f"{self.tag}-{name}"

    def call(
        self,
        label: str,
        method: str,
        target: str,
        body: Any = NO_BODY,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        content_type: str | None = "application/json",
        stream: bool = False,
        max_lines: int | None = None,
        expect: int | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Answer:
        """Send one request and record it; on the gateway, check the status it expects."""
        if any(e.label == label for e in self.exchanges):
            raise ScenarioError(f"two requests are labelled {label!r}")
        data = raw if raw is not None else None if body is NO_BODY else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None and content_type is not None:
            sent.setdefault("Content-Type", content_type)
        answer = send(
            (self.host, self.port),
            method,
            target,
            body=data,
            headers=sent,
            stream=stream,
            max_lines=max_lines,
            timeout=timeout,
        )
        self.exchanges.append(Exchange(label, method, target, sent, data, answer, expect))
        if self.name == GATEWAY and expect is not None and answer.status != expect:
            self.unexpected.append(
                f"{label}: {method} {target} answered {answer.status}, the scenario expects "
                f"{expect}:\n{answer.raw.decode(errors='replace')[:1000]}"
            )
        return answer

    def get(self, label: str, target: str, **kw: Any) -> Answer:
        """GET a target."""
        return self.call(label, "GET", target, **kw)

    def post(self, label: str, target: str, body: Any = NO_BODY, **kw: Any) -> Answer:
        """POST a JSON body to a target."""
        return self.call(label, "POST", target, body, **kw)

    def patch(self, label: str, target: str, body: Any = NO_BODY, **kw: Any) -> Answer:
        """PATCH a JSON body to a target."""
        return self.call(label, "PATCH", target, body, **kw)

    def delete(self, label: str, target: str, **kw: Any) -> Answer:
        """DELETE a target."""
        return self.call(label, "DELETE", target, **kw)

    def create_thread(self, label: str, name: str, **fields: Any) -> str:
        """Create a thread with a client-chosen id; return the id."""
        thread_id = self.tid(name)
        self.post(label, "/v1/threads", {"thread_id": thread_id, "thread": fields}, expect=200)
        return thread_id

    def add_message(self, label: str, thread_id: str, text: str, role: str = "USER") -> str:
        """Append a text message; return its server-made id."""
        answer = self.post(
            label,
            f"/v1/threads/{thread_id}/messages",
            {"role": f"MESSAGE_ROLE_{role}", "parts": [{"text": text}]},
            expect=200,
        )
        message_id: str = answer.json()["messageId"]
        return message_id


# -- normalising --------------------------------------------------------------

SERVER_ID = re.compile(
    r"(?<![0-9a-z_])(thr|msg|run|call|lse|ckp|act|wh|whd)_[0-9a-z]{26}(?![0-9a-z])"
)
# protojson's own form of a Timestamp: UTC, 0, 3, 6 or 9 fraction digits.
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6}|\.\d{9})?Z")
TIME_KEYS = re.compile(r"(At|Time|_at|_time)$")
EVENT_ID_KEYS = {"eventId", "event_id", "afterEventId", "after_event_id"}
# A deadline that runs out is reported by whichever end notices first: the
# gateway's own gRPC client ("context deadline exceeded") or the server
# ("Deadline Exceeded"). The real gateway gives either, at random.
DEADLINE_MESSAGES = {"context deadline exceeded", "Deadline Exceeded"}
# protojson starts its error messages with "proto:" and, at random, a space or
# a no-break space, so that nobody matches its text byte for byte.
PROTOJSON_PREFIX = re.compile("proto:[ \u00a0]")


class Normaliser:
    """Replaces what differs from run to run; ids are numbered in order of appearance.

    Both sides' tags become ``<side>``: an answer may name the other side's
    resources too (the list of known agents names both worker agents).
    """

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.events: dict[str, str] = {}

    def _server_id(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if value not in self.ids:
            prefix = match.group(1)
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            self.ids[value] = f"<{prefix}_{self.counts[prefix]}>"
        return self.ids[value]

    def text(self, value: str) -> str:
        """Normalise a free-text string."""
        value = SERVER_ID.sub(self._server_id, value)
        value = PROTOJSON_PREFIX.sub("proto: ", value)
        for tag in TAGS.values():
            value = value.replace(tag, "<side>")
        return value

    def _keyed(self, key: str, value: Any) -> Any:
        if not isinstance(value, str) or not value:
            return None
        if key == "etag":
            return "<etag>"
        if key in {"nextPageToken", "next_page_token"}:
            return "<page_token>"
        if key in {"durationMs", "duration_ms"} and value.isdigit():
            return "<duration>"
        if key in EVENT_ID_KEYS and value.isdigit():
            if value not in self.events:
                self.events[value] = f"<event_{len(self.events) + 1}>"
            return self.events[value]
        if TIME_KEYS.search(key):
            return "<time>" if CANONICAL_TIME.fullmatch(value) else f"<non-canonical time {value}>"
        return None

    def value(self, value: Any) -> Any:
        """Normalise a parsed JSON value. Keys are visited in sorted order."""
        if isinstance(value, dict):
            out = {}
            for key in sorted(value):
                replaced = self._keyed(key, value[key])
                out[self.text(key)] = replaced if replaced is not None else self.value(value[key])
            if out.get("code") == 4 and out.get("message") in DEADLINE_MESSAGES:
                out["message"] = "<deadline exceeded>"
            return out
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
            # A Struct number is a double: Go writes 1e19 as 10000000000000000000,
            # Python as 1e+19. Compare what a JSON client reads: the double.
            return float(value)
        return value


def _sent(exchange: Exchange) -> str:
    """The headers and body of a request, shortened, for a failure message."""
    headers = {
        name: value if len(value) <= 100 else f"{value[:100]}... ({len(value)} characters)"
        for name, value in exchange.request_headers.items()
    }
    body = exchange.request_body
    text = "none" if body is None else repr(body[:300])
    if body is not None and len(body) > 300:
        text += f"... ({len(body)} bytes)"
    return f"headers {headers}, body {text}"


def normalised(exchanges: list[Exchange]) -> list[dict[str, Any]]:
    """Each exchange as a client sees it, normalised, in order.

    Ids are numbered afresh in each answer, so that one difference (a thread
    made on one side only) does not shift the numbers of every answer after it.
    """
    out = []
    for exchange in exchanges:
        normaliser = Normaliser()
        answer = exchange.answer
        out.append(
            {
                "label": exchange.label,
                "request": normaliser.text(f"{exchange.method} {exchange.target}"),
                "sent": normaliser.text(_sent(exchange)),
                "status": answer.status,
                "content_type": answer.content_type,
                "headers": {k: normaliser.text(v) for k, v in sorted(answer.headers.items())},
                "body": normaliser.value(answer.body),
            }
        )
    return out


# -- scenarios ----------------------------------------------------------------

Scenario = Callable[[Side], None]
SCENARIOS: dict[str, Scenario] = {}


def scenario(function: Scenario) -> Scenario:
    """Register a scenario under its function name, without ``scenario_``."""
    SCENARIOS[function.__name__.removeprefix("scenario_").replace("_", "-")] = function
    return function


def q(value: str) -> str:
    """Percent-encode a query value (a space becomes %20, a + becomes %2B)."""
    return urllib.parse.quote(value, safe="")


@scenario
def scenario_routing(s: Side) -> None:
    t = s.create_thread("create", "routing")
    s.get("unknown-path", "/v1/nope", expect=404)
    s.get("root", "/", expect=404)
    s.get("upper-case-version", "/V1/threads", expect=404)
    s.get("too-deep", f"/v1/threads/{t}/messages/m/extra", expect=404)
    s.get("count-with-extra-segment", "/v1/threads:count/extra", expect=404)
    s.call("put-collection", "PUT", "/v1/threads", {}, expect=501)
    s.call("delete-collection", "DELETE", "/v1/threads", expect=501)
    s.call("patch-collection", "PATCH", "/v1/threads", {}, expect=501)
    s.post("post-to-thread", f"/v1/threads/{t}", {}, expect=501)
    s.call("put-thread", "PUT", f"/v1/threads/{t}", {}, expect=501)
    s.call("head-collection", "HEAD", "/v1/threads", expect=501)
    s.call("options-collection", "OPTIONS", "/v1/threads", expect=501)
    s.call("options-unknown", "OPTIONS", "/v1/nope", expect=404)
    s.call("lower-case-method", "get", "/v1/threads", expect=501)
    s.call("unknown-method", "FROB", f"/v1/threads/{t}", expect=501)
    s.get("trailing-slash", "/v1/threads/", expect=400)
    s.get("double-slash", "/v1//threads", expect=404)
    s.get("unknown-verb-get", f"/v1/threads/{t}:frob", expect=400)
    s.post("unknown-verb-post", f"/v1/threads/{t}:frob", {}, expect=501)
    s.get("get-of-post-verb", f"/v1/threads/{t}:copy", expect=400)
    s.post("post-of-get-verb", "/v1/threads:count", {}, expect=501)
    s.get("bare-verb", "/v1/runs/:cancel", expect=400)
    s.get("openapi-document", "/openapi.json", expect=404)
    s.get("swagger-document", "/swagger.json", expect=404)
    s.get("semicolon-in-query", f"/v1/threads/{t}?view=1;x=2", expect=400)
    s.get("bad-escape-in-query", f"/v1/threads/{t}?view=%zz", expect=400)
    s.get("fragment-free-question-marks", f"/v1/threads/{t}??view=1", expect=200)


@scenario
def scenario_path_params(s: Side) -> None:
    t = s.create_thread("create", "path.params~ok_1")
    s.get("unreserved-characters", f"/v1/threads/{t}", expect=200)
    s.get("escaped-tilde", f"/v1/threads/%7E{s.tag}", expect=404)
    s.get("escaped-dot", f"/v1/threads/{s.tag}-path%2Eparams~ok_1", expect=200)
    s.get("space", f"/v1/threads/{s.tag}%20x", expect=400)
    s.get("plus", f"/v1/threads/{s.tag}+x", expect=400)
    s.get("escaped-slash", f"/v1/threads/{s.tag}%2Fx", expect=404)
    s.get("escaped-slash-to-route", f"/v1/threads/{t}%2Fmessages", expect=200)
    s.get("escaped-percent", f"/v1/threads/{s.tag}%25x", expect=400)
    s.get("unicode", f"/v1/threads/{s.tag}%E2%9C%93", expect=400)
    s.get("escaped-colon-verb", f"/v1/threads/{t}%3Acopy", expect=400)
    s.get("escaped-colon", f"/v1/threads/{s.tag}%3Ax", expect=400)
    s.get("nul", f"/v1/threads/{s.tag}%00x", expect=400)
    s.get("too-long", f"/v1/threads/{s.tag}{'x' * 200}", expect=400)
    s.get("bad-escape", f"/v1/threads/{s.tag}%zz", expect=400)
    s.get("invalid-utf8", f"/v1/threads/{s.tag}%FF", expect=500)
    s.get("message-ids", f"/v1/threads/{t}/messages/msg_{'0' * 26}", expect=404)
    s.get("run-id-with-space", "/v1/runs/run%20x", expect=400)


@scenario
def scenario_threads_create(s: Side) -> None:
    full = {
        "thread_id": s.tid("full"),
        "thread": {
            "title": "Printer <b>offline</b> & café \u2603",
            "metadata": {
                "channel": "web",
                "n": 1.5,
                "big": 12345678901234567890,
                "flags": [True, None, "x", {"deep": []}],
                "empty": {},
            },
            "agent_id": "helpdesk",
            "userId": s.tid("user"),
            "external_ref": "T-1",
            "locale": {"language": "en", "country": "GB", "time_zone": "Europe/London"},
            "participants": [
                {"id": "u1", "name": "Ann", "type": "PARTICIPANT_TYPE_USER", "role": "customer"},
                {"id": "b1", "type": 2},
            ],
            "ttl": "3600s",
        },
    }
    s.post("full", "/v1/threads", full, expect=200)
    s.post("already-exists", "/v1/threads", full, expect=409)
    s.post(
        "do-nothing-by-name",
        "/v1/threads",
        {**full, "if_exists": "IF_EXISTS_DO_NOTHING"},
        expect=200,
    )
    s.post("do-nothing-by-number", "/v1/threads", {**full, "if_exists": 2}, expect=200)
    s.post("raise-camel-case", "/v1/threads", {**full, "ifExists": "IF_EXISTS_RAISE"}, expect=409)
    s.post("if-exists-as-string-number", "/v1/threads", {**full, "if_exists": "2"}, expect=409)
    s.post("server-made-id", "/v1/threads", {}, expect=200)
    s.post("no-body", "/v1/threads", expect=200)
    s.post("empty-raw-body", "/v1/threads", raw=b"", expect=200)
    s.post("whitespace-body", "/v1/threads", raw=b"  \n", expect=200)
    s.post("ttl-fraction", "/v1/threads", {"thread": {"ttl": "1.5s"}}, expect=200)
    s.post("ttl-nanos", "/v1/threads", {"thread": {"ttl": "2.000000001s"}}, expect=200)
    s.post("ttl-too-short", "/v1/threads", {"thread": {"ttl": "0.5s"}}, expect=400)
    s.post("bad-json-ttl-go-syntax", "/v1/threads", {"thread": {"ttl": "1h"}}, expect=400)
    s.post("bad-json-ttl-number", "/v1/threads", {"thread": {"ttl": 3600}}, expect=400)
    s.post("ttl-negative", "/v1/threads", {"thread": {"ttl": "-5s"}}, expect=400)
    s.post("bad-json-metadata-string", "/v1/threads", {"thread": {"metadata": "text"}}, expect=400)
    s.post("bad-json-metadata-list", "/v1/threads", {"thread": {"metadata": [1]}}, expect=400)
    s.post("metadata-null", "/v1/threads", {"thread": {"metadata": None}}, expect=200)
    s.post("thread-null", "/v1/threads", {"thread": None, "thread_id": None}, expect=200)
    s.post(
        "bad-time-zone",
        "/v1/threads",
        {"thread": {"locale": {"time_zone": "Mars/Base"}}},
        expect=400,
    )
    s.post(
        "unknown-enum-name",
        "/v1/threads",
        {"thread": {"participants": [{"id": "p", "type": "PARTICIPANT_TYPE_ROBOT"}]}},
        expect=400,
    )
    s.post(
        "unknown-enum-number",
        "/v1/threads",
        {"thread": {"participants": [{"id": "p", "type": 7}]}},
        expect=400,
    )
    s.post("bad-json-enum-wrong-type", "/v1/threads", {"if_exists": True}, expect=400)
    s.post(
        "bad-json-same-field-twice",
        "/v1/threads",
        {"thread_id": s.tid("twice"), "threadId": s.tid("twice")},
        expect=400,
    )
    s.post("bad-json-id-as-number", "/v1/threads", {"thread_id": 5}, expect=400)
    s.post("bad-json-id-as-list", "/v1/threads", {"thread_id": ["a"]}, expect=400)
    s.post("bad-json-title-as-object", "/v1/threads", {"thread": {"title": {}}}, expect=400)
    s.post("bad-id", "/v1/threads", {"thread_id": "has space"}, expect=400)
    s.post(
        "many-bad-fields",
        "/v1/threads",
        {"thread_id": "a/b", "thread": {"title": "x" * 300, "locale": {"language": "english"}}},
        expect=400,
    )
    s.post(
        "unknown-fields",
        "/v1/threads",
        {"thread_id": s.tid("unknown"), "bogus": {"deep": [1]}, "thread": {"nope": 1}},
        expect=200,
    )
    s.post(
        "output-only-fields",
        "/v1/threads",
        {
            "thread_id": s.tid("output-only"),
            "thread": {
                "message_count": "5",
                "status": "THREAD_STATUS_BUSY",
                "created_at": "2020-01-01T00:00:00Z",
                "messages": [{"role": 1}],
            },
        },
        expect=200,
    )
    s.post(
        "bad-json-output-only-time",
        "/v1/threads",
        {"thread": {"created_at": "yesterday"}},
        expect=400,
    )
    s.post(
        "trailing-garbage",
        "/v1/threads",
        raw=json.dumps({"thread_id": s.tid("trailing")}).encode() + b" garbage",
        expect=200,
    )
    s.post(
        "two-documents",
        "/v1/threads",
        raw=json.dumps({"thread_id": s.tid("two")}).encode() + b'{"thread_id": "x"}',
        expect=200,
    )
    s.post("bad-json-truncated", "/v1/threads", raw=b'{"thread_id": ', expect=400)
    s.post("bad-json-null", "/v1/threads", raw=b"null", expect=400)
    s.post("bad-json-array", "/v1/threads", raw=b"[]", expect=400)
    s.post("bad-json-string", "/v1/threads", raw=b'"thread"', expect=400)
    s.post("bad-json-number", "/v1/threads", raw=b"42", expect=400)
    s.post("bad-json-not-utf8", "/v1/threads", raw=b'{"thread_id": "\xff\xfe"}', expect=400)
    s.post("bad-json-single-quotes", "/v1/threads", raw=b"{'thread_id': 'x'}", expect=400)
    s.post("bad-json-trailing-comma", "/v1/threads", raw=b'{"thread_id": "x",}', expect=400)
    s.post(
        "escapes",
        "/v1/threads",
        raw=b'{"thread_id": "'
        + s.tid("escapes").encode()
        + b'", "thread": {"title": "\\u00e9 \\ud83d\\ude00 \\t<&>"}}',
        expect=200,
    )
    s.post(
        "bad-json-lone-surrogate",
        "/v1/threads",
        raw=b'{"thread": {"title": "\\ud800"}}',
        expect=400,
    )
    s.post(
        "not-json-text-plain",
        "/v1/threads",
        {"thread_id": s.tid("plain")},
        content_type="text/plain",
        expect=200,
    )
    s.post(
        "not-json-no-content-type",
        "/v1/threads",
        {"thread_id": s.tid("untyped")},
        content_type=None,
        expect=200,
    )
    s.post(
        "not-json-form-content-type",
        "/v1/threads",
        raw=f"thread_id={s.tid('form')}".encode(),
        content_type="application/x-www-form-urlencoded",
        expect=400,
    )
    s.post(
        "query-ignored-with-body-star", f"/v1/threads?thread_id={s.tid('query')}", {}, expect=200
    )


@scenario
def scenario_threads_read(s: Side) -> None:
    t = s.create_thread("create", "read", title="read me", metadata={"a": 1})
    s.add_message("message-1", t, "first")
    s.add_message("message-2", t, "second", role="AGENT")
    base = f"/v1/threads/{t}"
    s.get("basic", base, expect=200)
    s.get("view-full-by-name", f"{base}?view=THREAD_VIEW_FULL", expect=200)
    s.get("view-full-by-number", f"{base}?view=2", expect=200)
    s.get("view-basic", f"{base}?view=THREAD_VIEW_BASIC", expect=200)
    s.get("bad-query-view-lower-case", f"{base}?view=thread_view_full", expect=400)
    s.get("bad-query-view-short-name", f"{base}?view=FULL", expect=400)
    s.get("bad-query-view-undefined-number", f"{base}?view=9", expect=400)
    s.get("view-twice", f"{base}?view=2&view=1", expect=400)
    s.get("bad-query-view-empty", f"{base}?view=", expect=400)
    s.get("bad-query-view-no-value", f"{base}?view", expect=400)
    s.get("unknown-query", f"{base}?bogus=1&thread_id=other&threadId=other", expect=200)
    s.get("path-field-in-query", f"{base}?thread_id=other", expect=200)
    s.get("accept-xml", base, headers={"Accept": "application/xml"}, expect=200)
    s.get("missing", f"/v1/threads/{s.tid('missing')}", expect=404)
    s.get("missing-server-style-id", f"/v1/threads/thr_{'0' * 26}", expect=404)


@scenario
def scenario_threads_list(s: Side) -> None:
    user = s.tid("lister")
    for index, key in enumerate(("v1", "v2", "v1")):
        s.create_thread(
            f"create-{index}", f"list-{index}", user_id=user, metadata={"k": key, "i": index}
        )
    base = f"/v1/threads?filter.user_id={user}"
    s.get("by-user", base, expect=200)
    first = s.get("camel-case-keys", f"/v1/threads?filter.userId={user}&pageSize=1", expect=200)
    token = first.json()["nextPageToken"]
    second = s.get("page-2", f"{base}&page_size=1&page_token={q(token)}", expect=200)
    token = second.json()["nextPageToken"]
    s.get("page-3", f"{base}&page_size=1&page_token={q(token)}", expect=200)
    s.get(
        "token-other-query",
        f"{base}&page_size=1&order_by=created_at&page_token={q(token)}",
        expect=400,
    )
    s.get("oldest-first", f"{base}&order_by=created_at", expect=200)
    s.get("newest-first-space", f"{base}&order_by=created_at%20desc", expect=200)
    s.get("newest-first-plus", f"{base}&order_by=created_at+desc", expect=200)
    s.get("updated-order", f"{base}&order_by=updated_at", expect=200)
    s.get("bad-order", f"{base}&order_by=title", expect=400)
    s.get("metadata-filter", f"{base}&filter.metadata={q(json.dumps({'k': 'v1'}))}", expect=200)
    s.get("metadata-filter-number", f"{base}&filter.metadata={q(json.dumps({'i': 1}))}", expect=200)
    s.get("bad-query-metadata-not-json", f"{base}&filter.metadata=notjson", expect=400)
    s.get("bad-query-metadata-list", f"{base}&filter.metadata={q('[1]')}", expect=400)
    s.get("metadata-twice", f"{base}&filter.metadata=%7B%7D&filter.metadata=%7B%7D", expect=400)
    s.get(
        "statuses-repeated",
        f"{base}&filter.statuses=THREAD_STATUS_IDLE&filter.statuses=2",
        expect=200,
    )
    s.get(
        "bad-query-statuses-comma",
        f"{base}&filter.statuses=THREAD_STATUS_IDLE,THREAD_STATUS_BUSY",
        expect=400,
    )
    s.get("bad-query-statuses-unknown", f"{base}&filter.statuses=NOPE", expect=400)
    s.get("statuses-unspecified", f"{base}&filter.statuses=0", expect=400)
    s.get(
        "ids-repeated",
        f"{base}&filter.thread_ids={s.tid('list-0')}&filter.thread_ids={s.tid('list-2')}",
        expect=200,
    )
    s.get(
        "ids-both-spellings",
        f"{base}&filter.thread_ids={s.tid('list-0')}&filter.threadIds={s.tid('list-2')}",
        expect=400,
    )
    s.get(
        "time-range",
        f"{base}&filter.created_after=2000-01-01T00:00:00Z"
        f"&filter.created_before={q('2100-01-01T00:00:00.5+02:00')}",
        expect=200,
    )
    s.get("time-future", f"{base}&filter.createdAfter=2100-01-01T00:00:00Z", expect=200)
    s.get(
        "bad-query-time-plus-unescaped",
        f"{base}&filter.created_after=2000-01-01T00:00:00+00:00",
        expect=400,
    )
    s.get("bad-query-time-word", f"{base}&filter.created_after=yesterday", expect=400)
    s.get("bad-query-time-date-only", f"{base}&filter.created_after=2000-01-01", expect=400)
    s.get("bad-query-time-seconds", f"{base}&filter.updated_after=1700000000", expect=400)
    s.get("bad-query-page-size-word", f"{base}&page_size=abc", expect=400)
    s.get("page-size-twice", f"{base}&page_size=1&page_size=2", expect=400)
    s.get("bad-query-page-size-hex", f"{base}&page_size=0x2", expect=400)
    s.get("page-size-octal", f"{base}&page_size=010", expect=200)
    s.get("page-size-too-big", f"{base}&page_size=1000", expect=400)
    s.get("page-size-negative", f"{base}&page_size=-1", expect=400)
    s.get("bad-query-page-size-fraction", f"{base}&page_size=1.5", expect=400)
    s.get("bad-query-page-size-empty", f"{base}&page_size=", expect=400)
    s.get("bad-query-page-size-overflow", f"{base}&page_size=99999999999", expect=400)
    s.get("page-size-plus-sign", f"{base}&page_size=%2B2", expect=200)
    s.get("bad-query-page-size-spaces", f"{base}&page_size=%202", expect=400)
    s.get("page-token-garbage", f"{base}&page_token=garbage", expect=400)
    s.get("bad-query-filter-as-scalar", f"{base}&filter=x", expect=400)
    s.get("through-a-scalar", f"{base}&filter.user_id.x=1", expect=400)
    s.get("unknown-nested-field", f"{base}&filter.nope=1", expect=200)
    s.get("map-syntax-on-message", f"{base}&filter[x]=1", expect=400)
    s.get("empty-key", f"{base}&=1", expect=200)
    s.get("unicode-value", "/v1/threads?filter.user_id=caf%C3%A9", expect=200)
    s.get("invalid-utf8-value", "/v1/threads?filter.user_id=caf%FF", expect=500)
    s.get("no-filter-other-user", f"/v1/threads?filter.user_id={s.tid('nobody')}", expect=200)


@scenario
def scenario_threads_count(s: Side) -> None:
    user = s.tid("counter")
    s.create_thread("create-1", "count-1", user_id=user, metadata={"k": "a"})
    s.create_thread("create-2", "count-2", user_id=user, metadata={"k": "b"})
    base = f"/v1/threads:count?filter.user_id={user}"
    s.get("by-user", base, expect=200)
    s.get("nobody", f"/v1/threads:count?filter.user_id={s.tid('nobody')}", expect=200)
    s.get("busy", f"{base}&filter.statuses=THREAD_STATUS_BUSY", expect=200)
    s.get("metadata", f"{base}&filter.metadata={q(json.dumps({'k': 'a'}))}", expect=200)
    s.get("unspecified-status", f"{base}&filter.statuses=0", expect=400)
    s.get("bad-query-time", f"{base}&filter.created_before=soon", expect=400)
    s.get(
        "too-many-ids",
        f"{base}&" + "&".join(f"filter.thread_ids=t{i}" for i in range(101)),
        expect=400,
    )
    s.get("page-size-ignored", f"{base}&page_size=1000", expect=200)


@scenario
def scenario_threads_update(s: Side) -> None:
    t = s.create_thread(
        "create",
        "update",
        title="before",
        user_id="u-1",
        metadata={"a": {"b": 1}, "c": 2},
        ttl="3600s",
        locale={"language": "en", "country": "GB"},
    )
    base = f"/v1/threads/{t}"
    s.patch("infer-title", base, {"title": "renamed"}, expect=200)
    s.patch("infer-nested-metadata", base, {"metadata": {"a": {"b": 2}}}, expect=200)
    s.patch("infer-two-fields", base, {"title": "two", "user_id": "u-2"}, expect=200)
    s.patch("infer-camel-case", base, {"externalRef": "ext"}, expect=200)
    s.patch(
        "explicit-mask",
        f"{base}?update_mask=title",
        {"title": "t2", "user_id": "ignored"},
        expect=200,
    )
    s.patch("explicit-mask-camel", f"{base}?updateMask=title", {"title": "t3"}, expect=200)
    s.patch("explicit-clears", f"{base}?update_mask=user_id", {}, expect=200)
    s.patch("explicit-two-paths", f"{base}?update_mask=title,ttl", {"title": "t4"}, expect=200)
    s.patch(
        "explicit-camel-path", f"{base}?update_mask=externalRef", {"externalRef": "e2"}, expect=400
    )
    s.patch("explicit-unknown-path", f"{base}?update_mask=bogus", {"title": "x"}, expect=400)
    s.patch("explicit-output-only-path", f"{base}?update_mask=message_count", {}, expect=400)
    s.patch(
        "explicit-twice", f"{base}?update_mask=title&update_mask=ttl", {"title": "t5"}, expect=400
    )
    s.patch("explicit-empty", f"{base}?update_mask=", {"title": "t6"}, expect=400)
    s.patch(
        "metadata-whole", f"{base}?update_mask=metadata", {"metadata": {"z": [1, None]}}, expect=200
    )
    s.patch("infer-empty-metadata", base, {"metadata": {}}, expect=200)
    s.patch("infer-locale", base, {"locale": {"language": "fr"}}, expect=400)
    s.patch("infer-empty-locale", base, {"locale": {}}, expect=200)
    s.patch("infer-null-title", base, {"title": None}, expect=200)
    s.patch("ttl-fraction", base, {"ttl": "1.5s"}, expect=200)
    s.patch(
        "participants",
        base,
        {"participants": [{"id": "p1", "type": "PARTICIPANT_TYPE_TOOL"}, {"id": "p2", "type": 1}]},
        expect=200,
    )
    s.patch(
        "duplicate-participants", base, {"participants": [{"id": "p", "type": 1}] * 2}, expect=400
    )
    s.patch("infer-etag", base, {"etag": "stale-1", "title": "x"}, expect=409)
    s.patch(
        "stale-etag", f"{base}?update_mask=title", {"etag": "stale-1", "title": "x"}, expect=409
    )
    current = s.get("read-etag", base, expect=200).json()["etag"]
    s.patch(
        "current-etag", f"{base}?update_mask=title", {"etag": current, "title": "ok"}, expect=200
    )
    s.patch(
        "same-etag-again", f"{base}?update_mask=title", {"etag": current, "title": "no"}, expect=409
    )
    current = s.get("read-etag-again", base, expect=200).json()["etag"]
    s.patch("infer-current-etag", base, {"etag": current, "title": "inferred"}, expect=200)
    s.patch("no-body", base, expect=400)
    s.patch("empty-object", base, {}, expect=400)
    s.patch("bad-json-null-body", base, raw=b"null", expect=400)
    s.patch("bad-json-array-body", base, raw=b"[]", expect=400)
    s.patch("bad-json-malformed", base, raw=b'{"title": ', expect=400)
    s.patch("unknown-key", base, {"bogus": 1}, expect=400)
    s.patch("unknown-and-known", base, {"bogus": 1, "title": "x"}, expect=400)
    s.patch("bad-json-wrong-type", base, {"title": 5}, expect=400)
    s.patch("body-id-differs", base, {"thread_id": "other", "title": "x"}, expect=400)
    s.patch(
        "body-id-with-mask",
        f"{base}?update_mask=title",
        {"thread_id": "other", "title": "path wins"},
        expect=200,
    )
    s.patch("missing", f"/v1/threads/{s.tid('missing')}", {"title": "x"}, expect=404)
    s.get("after", base, expect=200)


@scenario
def scenario_threads_copy_delete(s: Side) -> None:
    src = s.create_thread("create", "src", title="source", metadata={"k": "v"})
    s.add_message("message", src, "copied text")
    s.post("copy", f"/v1/threads/{src}:copy", {"new_thread_id": s.tid("dst")}, expect=200)
    s.post("copy-taken", f"/v1/threads/{src}:copy", {"new_thread_id": s.tid("dst")}, expect=409)
    s.post("copy-camel", f"/v1/threads/{src}:copy", {"newThreadId": s.tid("dst2")}, expect=200)
    s.post("copy-server-id", f"/v1/threads/{src}:copy", {}, expect=200)
    s.post("copy-no-body", f"/v1/threads/{src}:copy", expect=200)
    s.post(
        "copy-body-id-ignored",
        f"/v1/threads/{src}:copy",
        {"thread_id": s.tid("missing"), "new_thread_id": s.tid("dst3")},
        expect=200,
    )
    s.post("copy-query-ignored", f"/v1/threads/{src}:copy?new_thread_id=q", {}, expect=200)
    s.post("copy-bad-id", f"/v1/threads/{src}:copy", {"new_thread_id": "bad id"}, expect=400)
    s.post("copy-missing", f"/v1/threads/{s.tid('missing')}:copy", {}, expect=404)
    s.post("bad-json-copy-malformed", f"/v1/threads/{src}:copy", raw=b"{", expect=400)
    s.get("copied-full", f"/v1/threads/{s.tid('dst')}?view=THREAD_VIEW_FULL", expect=200)
    dst = f"/v1/threads/{s.tid('dst')}"
    s.delete("delete-stale-etag", f"{dst}?etag=stale-1", expect=409)
    s.delete("delete-etag-twice", f"{dst}?etag=a&etag=b", expect=400)
    etag = s.get("read-etag", dst, expect=200).json()["etag"]
    s.delete("delete-current-etag", f"{dst}?etag={q(etag)}", expect=200)
    s.delete("delete-again", dst, expect=404)
    s.get("deleted", dst, expect=404)
    s.delete(
        "delete-body-ignored", f"/v1/threads/{s.tid('dst2')}", body={"etag": "stale"}, expect=200
    )
    s.delete("delete-bad-id", f"/v1/threads/{s.tag}%20x", expect=400)
    s.get("source-untouched", f"/v1/threads/{src}?view=2", expect=200)


@scenario
def scenario_messages(s: Side) -> None:
    t = s.create_thread("create", "messages")
    base = f"/v1/threads/{t}/messages"
    first = s.post(
        "text", base, {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "hello"}]}, expect=200
    )
    s.post(
        "role-number-and-metadata",
        base,
        {"role": 1, "parts": [{"text": "x"}], "metadata": {"k": [1, "two", None, True]}},
        expect=200,
    )
    s.post(
        "tool-call",
        base,
        {
            "role": "MESSAGE_ROLE_AGENT",
            "parts": [
                {"text": "let me check"},
                {"tool_call": {"id": "c1", "name": "calc", "arguments": {"expr": "1+1"}}},
            ],
        },
        expect=200,
    )
    s.post(
        "tool-results",
        base,
        {
            "role": "MESSAGE_ROLE_TOOL",
            "parts": [
                {"tool_result": {"tool_call_id": "c1", "json": {"value": 2}}},
                {"toolResult": {"toolCallId": "c1", "json": 2.5}},
                {"tool_result": {"tool_call_id": "c1", "json": [1, "a"]}},
                {"tool_result": {"tool_call_id": "c1", "json": "str"}},
                {"tool_result": {"tool_call_id": "c1", "text": "boom", "is_error": True}},
            ],
        },
        expect=200,
    )
    s.post(
        "media",
        base,
        {
            "role": "MESSAGE_ROLE_USER",
            "parts": [
                {
                    "media": {
                        "uri": "https://example.com/a.png",
                        "mime_type": "image/png",
                        "name": "a.png",
                        "size_bytes": "1024",
                    }
                },
                {
                    "media": {
                        "uri": "s3://bucket/b.pdf",
                        "mimeType": "application/pdf",
                        "sizeBytes": 2048,
                    }
                },
            ],
        },
        expect=200,
    )
    s.post(
        "media-negative-size",
        base,
        {
            "role": 1,
            "parts": [
                {"media": {"uri": "https://e.com/x", "mime_type": "a/b", "size_bytes": "-1"}}
            ],
        },
        expect=400,
    )
    s.post(
        "bad-json-media-size-not-integer",
        base,
        {
            "role": 1,
            "parts": [{"media": {"uri": "https://e.com/x", "mime_type": "a/b", "size_bytes": 1.5}}],
        },
        expect=400,
    )
    s.post(
        "bad-json-two-kinds-in-one-part",
        base,
        {"role": 1, "parts": [{"text": "x", "tool_call": {"id": "c", "name": "n"}}]},
        expect=400,
    )
    s.post(
        "json-null-result",
        base,
        {"role": 4, "parts": [{"tool_result": {"tool_call_id": "c1", "json": None}}]},
        expect=200,
    )
    s.post("no-parts", base, {"role": "MESSAGE_ROLE_USER", "parts": []}, expect=400)
    s.post(
        "unknown-role-name",
        base,
        {"role": "MESSAGE_ROLE_NOPE", "parts": [{"text": "x"}]},
        expect=400,
    )
    s.post("short-role-name", base, {"role": "user", "parts": [{"text": "x"}]}, expect=400)
    s.post(
        "wrapped-in-message", base, {"message": {"role": 1, "parts": [{"text": "x"}]}}, expect=400
    )
    s.post("empty-object", base, {}, expect=400)
    s.post("no-body", base, expect=400)
    s.post(
        "query-for-path-field",
        f"{base}?thread_id=other&message.role=2",
        {"role": 1, "parts": [{"text": "query"}]},
        expect=200,
    )
    s.post(
        "missing-thread",
        f"/v1/threads/{s.tid('missing')}/messages",
        {"role": 1, "parts": [{"text": "x"}]},
        expect=404,
    )
    message_id = first.json()["messageId"]
    one = f"{base}/{message_id}"
    s.get("get", one, expect=200)
    s.get("get-missing", f"{base}/msg_{'0' * 26}", expect=404)
    s.get("get-missing-thread", f"/v1/threads/{s.tid('missing')}/messages/{message_id}", expect=404)
    listed = s.get("list-page-1", f"{base}?page_size=2", expect=200)
    token = listed.json()["nextPageToken"]
    s.get("list-page-2", f"{base}?page_size=2&page_token={q(token)}", expect=200)
    s.get("list-newest-first", f"{base}?order_by=created_at%20desc&pageSize=3", expect=200)
    s.get("list-bad-order", f"{base}?order_by=role", expect=400)
    s.get("bad-query-list-bad-page-size", f"{base}?page_size=0.5", expect=400)
    s.patch("update-infer-nested", one, {"metadata": {"s": "x"}}, expect=200)
    s.patch("update-infer-empty", one, {"metadata": {}}, expect=200)
    s.patch("update-explicit", f"{one}?update_mask=metadata", {"metadata": {"s": "y"}}, expect=200)
    s.patch("update-role", one, {"role": "MESSAGE_ROLE_AGENT"}, expect=400)
    s.patch("update-empty", one, {}, expect=400)
    s.patch(
        "update-body-ids",
        one,
        {"message_id": "other", "thread_id": "other", "metadata": {}},
        expect=400,
    )
    s.patch("update-missing", f"{base}/msg_{'0' * 26}", {"metadata": {}}, expect=404)
    s.delete("delete", one, expect=200)
    s.delete("delete-again", one, expect=404)
    s.get("thread-after", f"/v1/threads/{t}?view=THREAD_VIEW_FULL", expect=200)


def _echo_request(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "agent_id": "echo",
        "input_messages": [{"role": "MESSAGE_ROLE_USER", "parts": [{"text": text}]}],
        **extra,
    }


@scenario
def scenario_runs(s: Side) -> None:
    t = s.create_thread("create", "runs")
    runs = f"/v1/threads/{t}/runs"
    created = s.post(
        "create-run",
        runs,
        _echo_request(
            "hello run",
            context={"delay_ms": 0, "nested": {"x": [1]}},
            metadata={"k": "v"},
            max_iterations="2",
            tools=[],
            multitask_strategy="MULTITASK_STRATEGY_ENQUEUE",
        ),
        expect=200,
    )
    run_id = created.json()["runId"]
    s.post("wait", f"/v1/runs/{run_id}:wait", {"timeout": "10s"}, expect=200)
    s.get("get", f"/v1/runs/{run_id}", expect=200)
    s.post("cancel-finished", f"/v1/runs/{run_id}:cancel", {}, expect=200)
    s.post("cancel-no-body", f"/v1/runs/{run_id}:cancel", expect=200)
    second = s.post("second", runs, _echo_request("second run"), expect=200).json()["runId"]
    s.post("second-wait", f"/v1/runs/{second}:wait", {"timeout": "10s"}, expect=200)
    s.get("list", runs, expect=200)
    page = s.get("list-page-1", f"{runs}?page_size=1&order_by=created_at", expect=200)
    token = page.json()["nextPageToken"]
    s.get(
        "list-page-2", f"{runs}?page_size=1&order_by=created_at&page_token={q(token)}", expect=200
    )
    s.get("list-bad-order", f"{runs}?order_by=status", expect=400)
    s.get("list-missing-thread", f"/v1/threads/{s.tid('missing')}/runs", expect=404)
    s.get("get-missing", f"/v1/runs/run_{'0' * 26}", expect=404)
    s.get("get-bad-id", "/v1/runs/has%20space", expect=400)
    s.post("wait-missing", f"/v1/runs/run_{'0' * 26}:wait", {}, expect=404)
    s.post("bad-json-wait-bad-timeout", f"/v1/runs/{run_id}:wait", {"timeout": "abc"}, expect=400)
    s.post("bad-json-wait-timeout-number", f"/v1/runs/{run_id}:wait", {"timeout": 5}, expect=400)
    s.post("wait-timeout-too-long", f"/v1/runs/{run_id}:wait", {"timeout": "7200s"}, expect=400)
    s.post("cancel-missing", f"/v1/runs/run_{'0' * 26}:cancel", {}, expect=404)
    s.post("unknown-agent", runs, {"agent_id": "nope"}, expect=404)
    s.post("no-agent", runs, {}, expect=400)
    s.post("max-iterations-too-big", runs, _echo_request("x", max_iterations=99), expect=400)
    s.post(
        "bad-json-max-iterations-fraction", runs, _echo_request("x", max_iterations=1.5), expect=400
    )
    s.post(
        "bad-json-max-iterations-word", runs, _echo_request("x", max_iterations="abc"), expect=400
    )
    s.post(
        "bad-json-max-iterations-exponent",
        runs,
        _echo_request("x", max_iterations=1e10),
        expect=400,
    )
    s.post("strategy-undefined-number", runs, _echo_request("x", multitask_strategy=42), expect=400)
    s.post("unknown-tool", runs, _echo_request("x", tools=["nope"]), expect=400)
    s.post("missing-thread", f"/v1/threads/{s.tid('missing')}/runs", _echo_request("x"), expect=404)
    s.post(
        "bad-input-message", runs, {"agent_id": "echo", "input_messages": [{"role": 1}]}, expect=400
    )
    s.post("bad-json-context-not-object", runs, {"agent_id": "echo", "context": [1]}, expect=400)
    s.get("events", f"/v1/runs/{run_id}/events", stream=True, expect=200)


@scenario
def scenario_run_cancel(s: Side) -> None:
    t = s.create_thread("create", "cancel")
    runs = f"/v1/threads/{t}/runs"
    slow = s.post(
        "create-slow",
        runs,
        _echo_request("one two three four five six", context={"delay_ms": 1000}),
        expect=200,
    ).json()["runId"]
    s.post("busy", runs, _echo_request("rejected"), expect=400)
    s.post(
        "busy-explicit-reject", runs, _echo_request("rejected", multitask_strategy=1), expect=400
    )
    # The agent waits 1 s before its first word: everything up to the cancel
    # happens well before that, so the run is RUNNING with nothing said yet.
    s.post("wait-short", f"/v1/runs/{slow}:wait", {"timeout": "0.1s"}, expect=200)
    s.post(
        "wait-deadline-header",
        f"/v1/runs/{slow}:wait",
        {},
        headers={"Grpc-Timeout": "100m"},
        expect=200,
    )
    s.get("thread-busy", f"/v1/threads/{t}", expect=200)
    s.get(
        "count-busy",
        f"/v1/threads:count?filter.thread_ids={t}&filter.statuses=THREAD_STATUS_BUSY",
        expect=200,
    )
    s.post("cancel", f"/v1/runs/{slow}:cancel", {}, expect=200)
    s.post("cancel-again", f"/v1/runs/{slow}:cancel", {"run_id": "ignored"}, expect=200)
    events = s.get("events", f"/v1/runs/{slow}/events", stream=True, expect=200)
    ids = [line["result"]["eventId"] for line in events.lines()]
    s.get(
        "events-after-first",
        f"/v1/runs/{slow}/events?after_event_id={ids[0]}",
        stream=True,
        expect=200,
    )
    s.get(
        "events-after-last",
        f"/v1/runs/{slow}/events?after_event_id={ids[-1]}",
        stream=True,
        expect=200,
    )
    s.get(
        "events-after-camel",
        f"/v1/runs/{slow}/events?afterEventId={ids[1]}",
        stream=True,
        expect=200,
    )
    s.get(
        "bad-query-events-after-word",
        f"/v1/runs/{slow}/events?after_event_id=abc",
        stream=True,
        expect=400,
    )
    s.get(
        "events-after-negative",
        f"/v1/runs/{slow}/events?after_event_id=-1",
        stream=True,
        expect=400,
    )
    s.get(
        "events-after-twice",
        f"/v1/runs/{slow}/events?after_event_id=1&after_event_id=2",
        stream=True,
        expect=400,
    )
    s.get(
        "bad-query-events-after-hex",
        f"/v1/runs/{slow}/events?after_event_id=0x0",
        stream=True,
        expect=400,
    )
    s.get(
        "bad-query-events-after-overflow",
        f"/v1/runs/{slow}/events?after_event_id=9223372036854775808",
        stream=True,
        expect=400,
    )
    s.get(
        "events-as-sse",
        f"/v1/runs/{slow}/events",
        headers={"Accept": "text/event-stream"},
        stream=True,
        expect=200,
    )
    s.get(
        "events-as-ndjson",
        f"/v1/runs/{slow}/events",
        headers={"Accept": "application/x-ndjson"},
        stream=True,
        expect=200,
    )
    s.get(
        "events-as-sse-resumed",
        f"/v1/runs/{slow}/events",
        headers={"Accept": "text/event-stream", "Last-Event-ID": ids[1]},
        stream=True,
        expect=200,
    )
    s.get("events-missing", f"/v1/runs/run_{'0' * 26}/events", stream=True, expect=404)
    s.get("event-batches", f"/v1/runs/{slow}/events:batches", stream=True, expect=200)
    s.get(
        "event-batches-after-first",
        f"/v1/runs/{slow}/events:batches?after_event_id={ids[0]}&event_types=message.delta",
        stream=True,
        expect=200,
    )
    s.get(
        "event-batches-missing", f"/v1/runs/run_{'0' * 26}/events:batches", stream=True, expect=404
    )
    s.get("events-bad-id", "/v1/runs/has%20space/events", stream=True, expect=400)
    # Last-Event-ID means nothing to grpc-gateway: without Accept:
    # text/event-stream the stream starts from the first event.
    s.get(
        "events-last-event-id-ignored",
        f"/v1/runs/{slow}/events",
        headers={"Last-Event-ID": ids[1]},
        stream=True,
        expect=200,
    )
    slow_request = _echo_request("slow words here", context={"delay_ms": 1000})
    s.post("interrupt-target", runs, slow_request, expect=200)
    interrupt = s.post(
        "interrupt", runs, _echo_request("interrupting", multitask_strategy=3), expect=200
    ).json()["runId"]
    s.post("interrupt-wait", f"/v1/runs/{interrupt}:wait", {"timeout": "10s"}, expect=200)
    s.post("rollback-target", runs, slow_request, expect=200)
    rollback = s.post(
        "rollback",
        runs,
        _echo_request("rolling back", multitask_strategy="MULTITASK_STRATEGY_ROLLBACK"),
        expect=200,
    ).json()["runId"]
    s.post("rollback-wait", f"/v1/runs/{rollback}:wait", {"timeout": "10s"}, expect=200)
    s.get("list-all", runs, expect=200)
    s.get("messages-after", f"/v1/threads/{t}/messages", expect=200)
    s.get(
        "watch-all",
        f"/v1/threads/{t}/events",
        headers={"Grpc-Timeout": "300m"},
        stream=True,
        expect=200,
    )


@scenario
def scenario_stream_run(s: Side) -> None:
    t = s.create_thread("create", "stream")
    target = f"/v1/threads/{t}/runs:stream"
    s.post("echo", target, _echo_request("stream me <please> & thanks"), stream=True, expect=200)
    s.post(
        "tools-demo",
        target,
        {
            "agent_id": "tools-demo",
            "input_messages": [{"role": 1, "parts": [{"text": "what is 2+3*4"}]}],
        },
        stream=True,
        expect=200,
    )
    s.post(
        "max-iterations",
        target,
        {
            "agent_id": "tools-demo",
            "max_iterations": 1,
            "input_messages": [{"role": 1, "parts": [{"text": "what is 2+3*4"}]}],
        },
        stream=True,
        expect=200,
    )
    s.post("unknown-agent", target, {"agent_id": "nope"}, stream=True, expect=404)
    s.post("invalid", target, {"agent_id": "echo", "max_iterations": 50}, stream=True, expect=400)
    s.post("bad-json-malformed", target, raw=b'{"agent_id": ', stream=True, expect=400)
    s.post("bad-json-wrong-type", target, {"agent_id": 1}, stream=True, expect=400)
    s.post(
        "missing-thread",
        f"/v1/threads/{s.tid('missing')}/runs:stream",
        _echo_request("x"),
        stream=True,
        expect=404,
    )
    s.get("get-method", target, stream=True, expect=501)
    s.get("thread-after", f"/v1/threads/{t}?view=THREAD_VIEW_FULL", expect=200)


@scenario
def scenario_human_in_the_loop(s: Side) -> None:
    t = s.create_thread("create-thread", "hitl")
    runs = f"/v1/threads/{t}/runs"
    ask = {"role": 1, "parts": [{"text": "where am I"}]}
    tool = {"name": "get_location", "description": "Where the user is.", "parameters": {}}
    run_id = s.post(
        "create",
        runs,
        {"agent_id": "tools-demo", "input_messages": [ask], "client_tools": [tool]},
        expect=200,
    ).json()["runId"]
    paused = s.post("wait-paused", f"/v1/runs/{run_id}:wait", {"timeout": "10s"}, expect=200)
    call_id = paused.json()["requiredAction"]["toolCalls"]["calls"][0]["id"]
    resume = f"/v1/runs/{run_id}:resume"
    s.post("resume-no-outputs", resume, {}, expect=400)
    s.post(
        "resume-unknown-call",
        resume,
        {"tool_outputs": [{"tool_call_id": "x", "text": "y"}]},
        expect=400,
    )
    s.post("resume-bad-json-answer", resume, {"answer": {"a": 1e999}}, expect=400)
    s.post("resume-missing", f"/v1/runs/run_{'0' * 26}:resume", {}, expect=404)
    s.post(
        "resume",
        resume,
        {"tool_outputs": [{"tool_call_id": call_id, "json": {"city": "Lyon"}}]},
        expect=200,
    )
    s.post("wait-done", f"/v1/runs/{run_id}:wait", {"timeout": "10s"}, expect=200)
    s.post("resume-again", resume, {"answer": True}, expect=400)
    s.get("events", f"/v1/runs/{run_id}/events", stream=True, expect=200)
    s.post(
        "bad-client-tool",
        runs,
        {"agent_id": "tools-demo", "client_tools": [{"name": ""}]},
        expect=400,
    )


@scenario
def scenario_watch_thread(s: Side) -> None:
    t = s.create_thread("create", "watch")
    s.add_message("message-1", t, "watched one")
    s.add_message("message-2", t, "watched two")
    target = f"/v1/threads/{t}/events"
    everything = s.get(
        "until-deadline", target, headers={"Grpc-Timeout": "500m"}, stream=True, expect=200
    )
    first = everything.lines()[0]["result"]["eventId"]
    s.get("first-two-lines", target, stream=True, max_lines=2, expect=200)
    s.get(
        "after-first",
        f"{target}?after_event_id={first}",
        headers={"Grpc-Timeout": "300m"},
        stream=True,
        expect=200,
    )
    s.get(
        "nothing-new",
        f"{target}?after_event_id=999999999",
        headers={"Grpc-Timeout": "200m"},
        stream=True,
        expect=504,
    )
    s.get("negative-after", f"{target}?after_event_id=-5", stream=True, expect=400)
    s.get("missing-thread", f"/v1/threads/{s.tid('missing')}/events", stream=True, expect=404)


@scenario
def scenario_chat(s: Side) -> None:
    t = s.create_thread("create", "chat")
    s.post(
        "echo", "/v1/chat", {"message": "hi chat", "agent_id": "echo", "thread_id": t}, expect=200
    )
    s.post("new-thread", "/v1/chat", {"message": "no thread", "agentId": "echo"}, expect=200)
    s.post(
        "tools-demo",
        "/v1/chat",
        {"message": "what is 2+3*4", "agent_id": "tools-demo", "thread_id": t},
        expect=200,
    )
    s.post(
        "context",
        "/v1/chat",
        {"message": "a b", "agent_id": "echo", "thread_id": t, "context": {"delay_ms": 1}},
        expect=200,
    )
    s.post(
        "deadline-first",
        "/v1/chat",
        # The answer takes 6 s; the deadline of 2 s leaves Chat 1.75 s to wait
        # before it answers with the run as it stands (0.4 s was too little
        # on a busy machine: the call itself ran out, 504).
        {"message": "slow slow slow", "agent_id": "echo", "context": {"delay_ms": 2000}},
        headers={"Grpc-Timeout": "2S"},
        expect=200,
    )
    s.post("no-message", "/v1/chat", {"agent_id": "echo"}, expect=400)
    s.post("unknown-agent", "/v1/chat", {"message": "x", "agent_id": "nope"}, expect=404)
    s.post(
        "missing-thread",
        "/v1/chat",
        {"message": "x", "agent_id": "echo", "thread_id": s.tid("missing")},
        expect=404,
    )
    s.post(
        "bad-thread-id",
        "/v1/chat",
        {"message": "x", "agent_id": "echo", "thread_id": "a b"},
        expect=400,
    )
    s.post(
        "max-iterations",
        "/v1/chat",
        {"message": "x", "agent_id": "echo", "max_iterations": 21},
        expect=400,
    )
    s.post(
        "tools-and-ttl",
        "/v1/chat",
        {"message": "what is 1+1", "agent_id": "tools-demo", "tools": ["clock"], "ttl": "90s"},
        expect=200,
    )
    s.post(
        "ttl-with-thread",
        "/v1/chat",
        {"message": "x", "agent_id": "echo", "thread_id": t, "ttl": "90s"},
        expect=400,
    )
    s.post(
        "unknown-tool",
        "/v1/chat",
        {"message": "x", "agent_id": "tools-demo", "tools": ["shovel"]},
        expect=400,
    )
    s.get("get-method", "/v1/chat", expect=501)
    s.get("history", f"/v1/threads/{t}/messages", expect=200)


@scenario
def scenario_workers(s: Side) -> None:
    agent = s.worker_agent
    t = s.create_thread("create", "work")
    s.add_message("message", t, "work on this")
    created = s.post("create-run", f"/v1/threads/{t}/runs", {"agent_id": agent}, expect=200)
    run_id = created.json()["runId"]
    claim = f"/v1/agents/{agent}/runs:claim"
    claimed = s.post("claim", claim, {"worker_id": "w-1", "lease_duration": "30s"}, expect=200)
    lease = claimed.json()["leaseId"]
    s.post("claim-none-left", claim, {"wait": "0s"}, expect=200)
    s.post("claim-none-left-no-body", claim, expect=200)
    s.post("claim-short-wait", claim, {"wait": "0.2s"}, expect=200)
    s.post("claim-bad-lease", claim, {"lease_duration": "0.5s"}, expect=400)
    s.post("bad-json-claim-lease-number", claim, {"lease_duration": 5}, expect=400)
    s.post("claim-long-wait", claim, {"wait": "61s"}, expect=400)
    s.post("claim-unknown-agent", "/v1/agents/nope/runs:claim", {}, expect=404)
    s.post("claim-in-process-agent", "/v1/agents/echo/runs:claim", {}, expect=404)
    renew = f"/v1/runs/{run_id}:renewLease"
    s.post("renew", renew, {"lease_id": lease}, expect=200)
    s.post("renew-camel", renew, {"leaseId": lease}, expect=200)
    s.post("renew-wrong-lease", renew, {"lease_id": f"lse_{'0' * 26}"}, expect=400)
    s.post("renew-no-lease", renew, {}, expect=400)
    s.post(
        "renew-missing-run", f"/v1/runs/run_{'0' * 26}:renewLease", {"lease_id": lease}, expect=400
    )
    report = f"/v1/runs/{run_id}:report"
    s.post(
        "report",
        report,
        {
            "lease_id": lease,
            "events": [
                {"iteration_started": {}},
                {"text_delta": "hello "},
                {"tool_call_started": {"id": "c1", "name": "calc", "arguments": {"x": 1}}},
                {
                    "tool_call_finished": {
                        "result": {"tool_call_id": "c1", "json": 2},
                        "duration_ms": "7",
                    }
                },
                {"textDelta": "worker"},
                {"usage": {"prompt_tokens": "3", "completion_tokens": 2, "total_tokens": 5}},
                {"state_update": {"values": {"seen": 1}}},
                {"stateUpdate": {"values": {}, "updateMask": "values.seen"}},
            ],
        },
        expect=200,
    )
    s.post(
        "bad-json-report-state-mask-list",
        report,
        {"lease_id": lease, "events": [{"state_update": {"update_mask": ["values.x"]}}]},
        expect=400,
    )
    s.post(
        "report-state-update-nothing",
        report,
        {"lease_id": lease, "events": [{"state_update": {}}]},
        expect=400,
    )
    s.post(
        "bad-json-report-two-kinds",
        report,
        {"lease_id": lease, "events": [{"text_delta": "x", "usage": {}}]},
        expect=400,
    )
    s.post("report-no-events", report, {"lease_id": lease, "events": []}, expect=400)
    s.post("report-empty-event", report, {"lease_id": lease, "events": [{}]}, expect=400)
    s.post(
        "report-wrong-lease",
        report,
        {"lease_id": "lse_x", "events": [{"text_delta": "x"}]},
        expect=400,
    )
    s.post(
        "report-failed-without-error",
        report,
        {"lease_id": lease, "events": [{"finish": {"status": "RUN_STATUS_FAILED"}}]},
        expect=400,
    )
    s.post(
        "report-finish",
        report,
        {"lease_id": lease, "events": [{"finish": {"status": "RUN_STATUS_COMPLETED"}}]},
        expect=200,
    )
    s.post("renew-after-finish", renew, {"lease_id": lease}, expect=400)
    s.post(
        "report-after-finish",
        report,
        {"lease_id": lease, "events": [{"text_delta": "x"}]},
        expect=400,
    )
    s.get("run", f"/v1/runs/{run_id}", expect=200)
    s.get("events", f"/v1/runs/{run_id}/events", stream=True, expect=200)
    s.get(
        "events-of-types",
        f"/v1/runs/{run_id}/events?eventTypes=state.updated&eventTypes=run.completed",
        stream=True,
        expect=200,
    )
    s.get(
        "events-of-an-unknown-type",
        f"/v1/runs/{run_id}/events?event_types=state.changed",
        stream=True,
        expect=400,
    )
    s.get("thread", f"/v1/threads/{t}?view=THREAD_VIEW_FULL", expect=200)
    s.get("state", f"/v1/threads/{t}/state", expect=200)


@scenario
def scenario_thread_state(s: Side) -> None:
    t = s.create_thread("create", "state")
    base = f"/v1/threads/{t}"
    s.get("empty", f"{base}/state", expect=200)
    merged = s.patch("merge", f"{base}/state", {"values": {"a": 1, "b": {"c": 2}}}, expect=200)
    checkpoint = merged.json()["checkpointId"]
    s.patch("merge-nested", f"{base}/state", {"values": {"b": {"d": [1, None]}}}, expect=200)
    s.patch("mask-in-query", f"{base}/state?update_mask=values.a", {"values": {}}, expect=200)
    s.patch(
        "replace-camel-mask", f"{base}/state?updateMask=values", {"values": {"k": "v"}}, expect=200
    )
    s.patch("empty-values-replace", f"{base}/state", {"values": {}}, expect=200)
    s.patch("stale-etag", f"{base}/state", {"values": {"x": 1}, "etag": "ckp_stale"}, expect=409)
    s.patch("nothing", f"{base}/state", {}, expect=400)
    s.patch("no-body", f"{base}/state", expect=400)
    s.patch("bad-json-values-list", f"{base}/state", {"values": [1]}, expect=400)
    s.patch("mask-of-another-field", f"{base}/state?update_mask=title", {"values": {}}, expect=400)
    s.patch("unknown-field", f"{base}/state", {"values": {"x": 1}, "nope": 1}, expect=400)
    s.get("missing-thread", f"/v1/threads/{s.tid('missing')}/state", expect=404)
    s.patch(
        "missing-thread-update",
        f"/v1/threads/{s.tid('missing')}/state",
        {"values": {"x": 1}},
        expect=404,
    )
    s.get("checkpoints", f"{base}/checkpoints", expect=200)
    first = s.get("checkpoints-page-1", f"{base}/checkpoints?page_size=1", expect=200)
    token = first.json()["nextPageToken"]
    s.get("checkpoints-page-2", f"{base}/checkpoints?pageSize=1&pageToken={q(token)}", expect=200)
    s.get("checkpoints-size-too-big", f"{base}/checkpoints?page_size=101", expect=400)
    s.get("checkpoints-missing", f"/v1/threads/{s.tid('missing')}/checkpoints", expect=404)
    s.post(
        "fork",
        f"{base}:copy",
        {"newThreadId": s.tid("fork"), "checkpointId": checkpoint},
        expect=200,
    )
    s.post("fork-unknown", f"{base}:copy", {"checkpoint_id": f"ckp_{'0' * 26}"}, expect=404)
    s.post("clear", f"{base}:clear", {}, expect=200)
    s.post("clear-no-body", f"{base}:clear", expect=200)
    s.post("clear-stale-etag", f"{base}:clear", {"etag": "0-0"}, expect=409)
    s.post("clear-missing", f"/v1/threads/{s.tid('missing')}:clear", {}, expect=404)
    agent = s.tid("agent")
    made = s.post(
        "default", "/v1/threads:getDefault", {"agentId": agent, "user_id": "u"}, expect=200
    )
    s.post(
        "default-again", "/v1/threads:getDefault", {"agent_id": agent, "userId": "u"}, expect=200
    )
    s.post("default-bad-agent", "/v1/threads:getDefault", {"agentId": "x" * 200}, expect=400)
    s.get("default-by-get", "/v1/threads:getDefault", expect=501)
    s.delete("default-delete", f"/v1/threads/{made.json()['threadId']}", expect=400)
    s.get(
        "list-with-total", f"/v1/threads?filter.agent_id={agent}&includeTotalSize=true", expect=200
    )
    s.get("bad-query-total-word", "/v1/threads?include_total_size=yes", expect=400)


# A global address given as one (nothing to resolve), and a secret of the
# test's own (a secret the server makes differs from side to side). Its
# webhooks ask for events no run here makes.
WEBHOOK_URL = "https://93.184.215.14/hooks"
WEBHOOK_SECRET = "whsec_" + "a" * 44


@scenario
def scenario_webhooks(s: Side) -> None:
    hook = {"url": WEBHOOK_URL, "secret": WEBHOOK_SECRET}
    s.post(
        "create",
        "/v1/webhooks",
        {**hook, "eventTypes": ["run.max_iterations_reached"], "description": s.tag},
        expect=200,
    )
    made = s.post(
        "create-snake-case",
        "/v1/webhooks",
        {**hook, "event_types": ["run.max_iterations_reached"]},
        expect=200,
    )
    webhook = made.json()["webhookId"]
    s.get("get", f"/v1/webhooks/{webhook}", expect=200)
    s.get("list-newest", "/v1/webhooks?page_size=1", expect=200)
    s.get("list-size-too-big", "/v1/webhooks?pageSize=101", expect=400)
    s.get("deliveries", f"/v1/webhookDeliveries?webhookId={webhook}", expect=200)
    s.get("deliveries-bad-run-id", "/v1/webhookDeliveries?run_id=a%20b", expect=400)
    s.get("deliveries-unknown", f"/v1/webhookDeliveries?webhook_id=wh_{'0' * 26}", expect=404)
    s.post("refused-address", "/v1/webhooks", {"url": "http://127.0.0.1:9/"}, expect=400)
    s.post("bad-scheme", "/v1/webhooks", {"url": "ftp://example.com/"}, expect=400)
    s.post("bad-json-event-types", "/v1/webhooks", {**hook, "eventTypes": "x"}, expect=400)
    s.post("unknown-event-type", "/v1/webhooks", {**hook, "eventTypes": ["x"]}, expect=400)
    s.get("missing", f"/v1/webhooks/wh_{'0' * 26}", expect=404)
    s.delete("delete", f"/v1/webhooks/{webhook}", expect=200)
    s.delete("delete-again", f"/v1/webhooks/{webhook}", expect=404)


@scenario
def scenario_headers(s: Side) -> None:
    t = s.create_thread("create", "headers", title="headers")
    base = f"/v1/threads/{t}"
    s.get("metadata-header", base, headers={"Grpc-Metadata-X-Trace": "abc"}, expect=200)
    s.get("binary-metadata", base, headers={"Grpc-Metadata-Trace-Bin": "aGVsbG8="}, expect=200)
    s.get(
        "binary-metadata-unpadded", base, headers={"Grpc-Metadata-Trace-Bin": "aGVsbG8"}, expect=200
    )
    s.get("binary-metadata-invalid", base, headers={"Grpc-Metadata-Trace-Bin": "***"}, expect=200)
    s.get("bad-metadata-key", base, headers={"Grpc-Metadata-Bad!Key": "x"}, expect=200)
    # A key is always checked, also by a server that takes calls without one:
    # 401 with WWW-Authenticate on a unary route, and none on a stream.
    s.get("authorization", base, headers={"Authorization": "Bearer secret"}, expect=401)
    s.get(
        "authorization-stream",
        f"{base}/events",
        headers={"Authorization": "Bearer secret"},
        stream=True,
        expect=401,
    )
    s.get(
        "cookie-and-forwarding",
        base,
        headers={"Cookie": "a=b", "X-Forwarded-For": "10.0.0.1", "X-Forwarded-Host": "example.com"},
        expect=200,
    )
    s.get("timeout-seconds", base, headers={"Grpc-Timeout": "10S"}, expect=200)
    s.get("timeout-hours", base, headers={"Grpc-Timeout": "1H"}, expect=200)
    s.get("timeout-bad-unit", base, headers={"Grpc-Timeout": "10x"}, expect=400)
    s.get("timeout-no-unit", base, headers={"Grpc-Timeout": "10"}, expect=400)
    s.get("timeout-negative", base, headers={"Grpc-Timeout": "-1S"}, expect=400)
    s.get("timeout-empty", base, headers={"Grpc-Timeout": ""}, expect=200)
    s.get("te-trailers", base, headers={"TE": "trailers"}, expect=200)
    s.get(
        "te-trailers-error",
        f"/v1/threads/{s.tid('missing')}",
        headers={"TE": "trailers"},
        expect=404,
    )
    s.get("accept-event-stream-unary", base, headers={"Accept": "text/event-stream"}, expect=200)
    s.get("accept-json", base, headers={"Accept": "application/json"}, expect=200)
    s.post(
        "content-type-charset",
        "/v1/threads",
        {"thread_id": s.tid("charset")},
        content_type="application/json; charset=utf-8",
        expect=200,
    )
    form = "application/x-www-form-urlencoded"
    s.post(
        "form-post-as-get",
        base,
        raw=b"view=THREAD_VIEW_FULL",
        content_type=form,
        expect=200,
    )
    s.post(
        "form-override-get",
        base,
        raw=b"view=2",
        content_type=form,
        headers={"X-HTTP-Method-Override": "GET"},
        expect=200,
    )
    s.post(
        "form-override-patch",
        f"{base}?update_mask=title",
        raw=b"",
        content_type=form,
        headers={"X-HTTP-Method-Override": "patch"},
        expect=200,
    )
    s.post(
        "form-override-delete",
        f"/v1/threads/{s.tid('missing')}",
        raw=b"",
        content_type=form,
        headers={"X-HTTP-Method-Override": "DELETE"},
        expect=404,
    )
    s.post(
        "json-override-ignored",
        base,
        {},
        headers={"X-HTTP-Method-Override": "GET"},
        expect=501,
    )
    s.post("bad-query-form-bad-query", base, raw=b"view=nope", content_type=form, expect=400)
    s.post("form-unknown-path", "/v1/nope", raw=b"a=1", content_type=form, expect=404)


@scenario
def scenario_browser(s: Side) -> None:
    """What a web page can send: only the request's own answer may differ."""
    evil = {"Origin": "https://evil.example"}
    s.post(
        "cross-site-text-plain",
        "/v1/threads",
        {"thread_id": s.tid("evil")},
        content_type="text/plain",
        headers=evil,
        expect=200,
    )
    missing = s.tid("missing")
    s.post("cross-site-empty-post", f"/v1/threads/{missing}:copy", headers=evil, expect=404)
    s.get("cross-site-get", "/v1/threads:count", headers=evil, expect=200)
    preflight = {**evil, "Access-Control-Request-Method": "POST"}
    s.call("preflight-while-cors-is-off", "OPTIONS", "/v1/threads", headers=preflight, expect=501)
    s.call("options-without-origin", "OPTIONS", "/v1/threads", expect=501)
    t = s.create_thread("create", "browser")
    s.post(
        "encoded-gzip",
        f"/v1/threads/{t}:copy",
        raw=b"{}",
        headers={"Content-Encoding": "gzip"},
        expect=200,
    )
    s.post(
        "same-origin-post",
        f"/v1/threads/{t}:copy",
        {},
        headers={"Origin": f"http://{s.host}:{s.port}"},
        expect=200,
    )
    s.get("invalid-utf8-page-token", "/v1/threads?page_token=%FF", expect=500)


@scenario
def scenario_limits(s: Side) -> None:
    t = s.create_thread("create", "limits")
    big_title = "x" * (5 * 1024 * 1024)
    s.post("body-over-4-mib", "/v1/threads", {"thread": {"title": big_title}}, expect=429)
    s.post("body-1-mib", "/v1/threads", {"thread": {"title": "x" * (1024 * 1024)}}, expect=400)
    s.get("big-ignored-header", f"/v1/threads/{t}", headers={"X-Big": "y" * 20000}, expect=200)
    s.get(
        "big-metadata-header",
        f"/v1/threads/{t}",
        headers={"Grpc-Metadata-Big": "y" * 20000},
        expect=200,
    )
    s.get("long-query", f"/v1/threads?filter.user_id={'u' * 20000}", expect=400)
    s.post(
        "body-over-8-mib", "/v1/threads", {"thread": {"title": "x" * (9 * 1024 * 1024)}}, expect=429
    )
    s.get(
        "header-over-64-kib", f"/v1/threads/{t}", headers={"X-Big": "y" * (70 * 1024)}, expect=200
    )
    s.get("query-over-64-kib", f"/v1/threads?filter.user_id={'u' * (70 * 1024)}", expect=400)
    s.get(
        "many-query-values",
        "/v1/threads?" + "&".join(f"filter.thread_ids=t{i}" for i in range(500)),
        expect=400,
    )


# -- running both sides -------------------------------------------------------


@dataclass
class SideRun:
    """What one scenario did against one side."""

    exchanges: list[Exchange]
    error: str | None
    unexpected: list[str]
    seconds: float


@dataclass
class Conformance:
    """The scenario runs of every side."""

    runs: dict[str, dict[str, SideRun]] = field(default_factory=dict)
    threadline_missing: str | None = None


def run_scenarios(side: Side) -> dict[str, SideRun]:
    """Run every scenario against one side."""
    results = {}
    for name, function in SCENARIOS.items():
        side.exchanges = []
        side.unexpected = []
        started = time.monotonic()
        error = None
        try:
            function(side)
        except Exception:  # noqa: BLE001 - a scenario's failure is reported by its own test
            error = traceback.format_exc(limit=4)
        results[name] = SideRun(side.exchanges, error, side.unexpected, time.monotonic() - started)
    return results


def build_gateway() -> Path:
    """Build tests/gateway into .tools/gateway (Go's build cache makes a rebuild quick)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain (`go`) is not on PATH: the real grpc-gateway cannot be built")
    GATEWAY_CACHE.mkdir(parents=True, exist_ok=True)
    build = subprocess.run(
        [go, "build", "-mod=readonly", "-o", str(GATEWAY_BINARY), "."],
        cwd=GATEWAY_SOURCE,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert build.returncode == 0, f"go build of tests/gateway failed:\n{build.stderr}"
    return GATEWAY_BINARY


def threadline_http_flag() -> bool:
    """Tell whether `threadline serve` has the --http-listen flag yet."""
    result = subprocess.run(
        [sys.executable, "-m", "threadline_server", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return "--http-listen" in result.stdout


def wait_for(
    pattern: re.Pattern[str], read: Callable[[], str], alive: Callable[[], bool], what: str
) -> re.Match[str]:
    """Wait until a log matches, or fail with the log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = pattern.search(read())
        if match:
            return match
        if not alive():
            break
        time.sleep(0.05)
    raise AssertionError(f"{what} did not start:\n{read()}")


@pytest.fixture(scope="module")
def conformance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conformance]:
    """Start the server and the gateway, and run every scenario against each side."""
    binary = build_gateway()
    folder = tmp_path_factory.mktemp("conformance")
    with_http = threadline_http_flag()
    extra = [
        "--worker-agent",
        f"{TAGS[GATEWAY]}-worker",
        "--worker-agent",
        f"{TAGS[THREADLINE]}-worker",
    ]
    if with_http:
        extra += ["--http-listen", "127.0.0.1:0"]
    server: ServerProcess = start_server_process(folder / "threadline.db", *extra)
    gateway_log = folder / "gateway.log"
    gateway: subprocess.Popen[bytes] | None = None
    try:
        grpc_match = wait_for(
            LISTENING, lambda: server.log, lambda: server.process.poll() is None, "the server"
        )
        grpc_address = f"{grpc_match.group(1)}:{grpc_match.group(2)}"
        with gateway_log.open("wb") as out:
            gateway = subprocess.Popen(
                [str(binary), "--grpc", grpc_address, "--listen", "127.0.0.1:0"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running = gateway
        gateway_match = wait_for(
            GATEWAY_LISTENING,
            lambda: gateway_log.read_text(errors="replace"),
            lambda: running.poll() is None,
            "the gateway",
        )
        result = Conformance()
        sides = [
            Side(
                GATEWAY,
                gateway_match.group(1),
                int(gateway_match.group(2)),
                f"{TAGS[GATEWAY]}-worker",
            )
        ]
        if os.environ.get(SELF_CHECK) == "1":
            # The scenarios against the gateway twice: every difference is a
            # scenario that does not give the same answers twice.
            sides.append(
                Side(THREADLINE, sides[0].host, sides[0].port, f"{TAGS[THREADLINE]}-worker")
            )
        elif with_http:
            http_match = wait_for(
                HTTP_LISTENING,
                lambda: server.log,
                lambda: server.process.poll() is None,
                "Threadline's HTTP side",
            )
            sides.append(
                Side(
                    THREADLINE,
                    http_match.group(1),
                    int(http_match.group(2)),
                    f"{TAGS[THREADLINE]}-worker",
                )
            )
        else:
            result.threadline_missing = (
                "Threadline's HTTP side is not there yet (`threadline serve` has no --http-listen "
                "flag): every scenario ran against the real grpc-gateway alone"
            )
        for side in sides:
            result.runs[side.name] = run_scenarios(side)
        write_transcripts(result)
        yield result
        assert server.process.poll() is None, "the server died during the scenarios:\n" + server.log
    finally:
        if gateway is not None and gateway.poll() is None:
            gateway.terminate()
            gateway.wait(timeout=10)
        server.stop()


def write_transcripts(result: Conformance) -> None:
    """Write each side's normalised exchanges to .tools/gateway/transcripts/<side>.json."""
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    for side, runs in result.runs.items():
        document = {
            name: {"error": run.error, "exchanges": normalised(run.exchanges)}
            for name, run in runs.items()
        }
        (TRANSCRIPTS / f"{side}.json").write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        )


# -- comparing ----------------------------------------------------------------

PARTS = ("status", "content_type", "headers", "body")
# A diff longer than this is cut short; the transcripts have everything.
DIFF_LINES = 80
MESSAGE = "message"


def _without_message(body: Any) -> Any:
    """A body with the text of its error messages taken out."""
    if isinstance(body, dict) and "lines" in body:
        return {**body, "lines": [_without_message(line) for line in body["lines"]]}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return {**body, "error": _without_message(body["error"])}
    if isinstance(body, dict) and "code" in body and MESSAGE in body:
        return {key: value for key, value in body.items() if key != MESSAGE}
    return body


def _view(exchange: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    view = {part: exchange[part] for part in PARTS if part not in allowed}
    if MESSAGE in allowed and "body" in view:
        view["body"] = _without_message(view["body"])
    return view


def compare(
    name: str, gateway: list[dict[str, Any]], threadline: list[dict[str, Any]]
) -> list[str]:
    """Every difference between the two sides' normalised exchanges, as readable diffs."""
    problems = []
    for index in range(max(len(gateway), len(threadline))):
        if index >= len(gateway) or index >= len(threadline):
            extra = gateway[index] if index < len(gateway) else threadline[index]
            problems.append(f"{name}: only one side got as far as {extra['label']!r}")
            break
        ours, theirs = gateway[index], threadline[index]
        key = f"{name}/{ours['label']}"
        allowed = allowed_parts(key)
        theirs, flaws = as_grpc_gateway(ours, theirs)
        problems.extend(f"{name}/{flaw}" for flaw in flaws)
        left, right = _view(ours, allowed), _view(theirs, allowed)
        if left == right:
            continue
        diff = difflib.unified_diff(
            json.dumps(left, indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
            json.dumps(right, indent=2, sort_keys=True, ensure_ascii=False).splitlines(),
            fromfile=GATEWAY,
            tofile=THREADLINE,
            lineterm="",
        )
        lines = list(diff)
        if len(lines) > DIFF_LINES:
            lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines of diff"]
        problems.append(f"{key}: {ours['request']}\n(sent {ours['sent']})\n" + "\n".join(lines))
    return problems


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_answers(conformance: Conformance, name: str) -> None:
    gateway = conformance.runs[GATEWAY][name]
    if gateway.error is not None:
        pytest.fail(
            f"scenario {name} failed against the real grpc-gateway:\n{gateway.error}", pytrace=False
        )
    if gateway.unexpected:
        pytest.fail(
            f"scenario {name}: the real grpc-gateway answered other than the scenario expects "
            "(when the server's own behaviour changed on purpose, change the request's expect=, "
            "or the request, so that it still tests what its label says):\n\n"
            + "\n\n".join(gateway.unexpected),
            pytrace=False,
        )
    if conformance.threadline_missing:
        pytest.skip(conformance.threadline_missing)
    threadline = conformance.runs[THREADLINE][name]
    problems = compare(
        name,
        normalised(gateway.exchanges),
        normalised(threadline.exchanges),
    )
    if threadline.error is not None:
        problems.append(
            f"scenario {name} failed against Threadline's HTTP side:\n{threadline.error}"
        )
    if problems:
        pytest.fail(
            f"{len(problems)} difference(s) between the real grpc-gateway and Threadline's "
            f"HTTP side in scenario {name}:\n\n" + "\n\n".join(problems),
            pytrace=False,
        )


def test_every_annotated_rpc_is_covered(
    conformance: Conformance, counts: Callable[[str], None]
) -> None:
    """Each RPC with a google.api.http rule gets a good and a bad request through the gateway."""
    good: dict[str, int] = {route.rpc: 0 for route in ROUTES}
    bad: dict[str, int] = dict.fromkeys(good, 0)
    for run in conformance.runs[GATEWAY].values():
        for exchange in run.exchanges:
            route = route_of(exchange.method, exchange.target)
            if route is None:
                continue
            if exchange.answer.status == 200:
                good[route.rpc] += 1
            elif 400 <= exchange.answer.status < 500:
                bad[route.rpc] += 1
    missing = [rpc for rpc in good if not good[rpc] or not bad[rpc]]
    sides = ", ".join(
        f"{side}: {sum(len(r.exchanges) for r in runs.values())} requests in "
        f"{sum(r.seconds for r in runs.values()):.1f}s"
        for side, runs in conformance.runs.items()
    )
    counts(
        f"conformance: {len(SCENARIOS)} scenarios over {len(good)} annotated RPCs "
        f"({sum(good.values())} answered 200, {sum(bad.values())} answered 4xx through the "
        f"gateway); {sides}"
    )
    assert len(good) >= 24, f"fewer annotated RPCs than expected: {sorted(good)}"
    assert not missing, "RPCs without both a 200 and a 4xx request: " + ", ".join(
        f"{rpc} (200: {good[rpc]}, 4xx: {bad[rpc]})" for rpc in missing
    )


def test_every_streaming_rpc_is_streamed(conformance: Conformance) -> None:
    """Scenarios read the server-streaming routes as streams, and only those."""
    for name, run in conformance.runs[GATEWAY].items():
        for exchange in run.exchanges:
            route = route_of(exchange.method, exchange.target)
            streamed = isinstance(exchange.answer.body, dict) and "lines" in exchange.answer.body
            if route is not None:
                assert streamed == route.server_streaming, (
                    f"{name}/{exchange.label}: read as the wrong kind"
                )


def test_deliberate_differences_are_real_and_in_the_design_notes(conformance: Conformance) -> None:
    """Each deliberate difference names a request that exists and is listed in docs/design.md."""
    labels = {
        f"{name}/{exchange.label}"
        for name, run in conformance.runs[GATEWAY].items()
        for exchange in run.exchanges
    }
    notes = DESIGN_NOTES.read_text(encoding="utf-8")
    for key, deliberate in DELIBERATE.items():
        assert fnmatch.filter(labels, key), f"DELIBERATE names {key!r}, which no scenario sends"
        assert deliberate.parts, f"{key}: name the parts that may differ"
        assert deliberate.parts <= {*PARTS, MESSAGE}, f"{key}: unknown parts {deliberate.parts}"
        assert deliberate.reason, f"{key}: give the reason"
        assert f"`{key}`" in notes, f"docs/design.md must list the deliberate difference `{key}`"
    for key in GATEWAY_ERROR_DIFFERENCES:
        assert f"`{key}`" in notes, f"docs/design.md must list the deliberate difference `{key}`"
