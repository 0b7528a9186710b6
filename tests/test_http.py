"""The HTTP/JSON side against a real server, called with a real HTTP client.

The server runs in the test's event loop with HTTP on 127.0.0.1:0 (its port is
``server.http_port``); requests go through aiohttp's ClientSession, and a few
through curl. Each test asserts what grpc-gateway v2 with default options
answers for the same request (the reference in shared/reference, and the real
gateway in tests/test_gateway_conformance.py), or what the README promises for
Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import duration_pb2, struct_pb2
from threadline.v1 import message_pb2, run_pb2, run_pb2_grpc, thread_pb2, webhook_pb2, worker_pb2
from threadline_server import config
from threadline_server.config import Settings
from threadline_server.http import jsonpb, params
from threadline_server.http import streaming as streaming_module
from threadline_server.http.gateway import HttpGateway
from threadline_server.http.routes import Router, RoutingError, bindings_for
from threadline_server.http.template import PathTemplate, TemplateError
from threadline_server.transport.server import SERVICE_NAMES, ThreadlineServer

from tests.conftest import Client, connect

pytestmark = pytest.mark.api

RUN_ID = re.compile(r"run_[0-9a-z]{26}")
SERVER_ID = re.compile(r"(thr|msg|run|call)_[0-9a-z]{26}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def gateway_error_body(code: int, message: str, reason: str) -> dict[str, Any]:
    """The body of an error the HTTP side answers itself: grpc-gateway's, with an ErrorInfo."""
    info = {"@type": ERROR_INFO, "reason": reason, "domain": "threadline.dev", "metadata": {}}
    return {"code": code, "message": message, "details": [info]}


NOT_FOUND_BODY = gateway_error_body(5, "Not Found", "ROUTE_NOT_FOUND")
METHOD_NOT_ALLOWED_BODY = gateway_error_body(12, "Method Not Allowed", "METHOD_NOT_ALLOWED")


@dataclass
class Http:
    """A running server with its HTTP side, an HTTP client and a gRPC client."""

    server: ThreadlineServer
    base: str
    session: aiohttp.ClientSession
    grpc: Client

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: str | bytes | io.BytesIO | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Send one request and read the whole answer; a body is labelled JSON unless told."""
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.base + path, data=data, headers=headers
        ) as response:
            raw = await response.read()
            return Reply(response.status, response.headers.get("Content-Type"), raw, response)


@dataclass
class Reply:
    """What an HTTP request got back."""

    status: int
    content_type: str | None
    raw: bytes
    response: aiohttp.ClientResponse

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.raw.decode().splitlines() if line]

    def error(self) -> tuple[int, int, str]:
        """HTTP status, gRPC code and ErrorInfo reason of an error answer."""
        body = self.json
        reasons = [d["reason"] for d in body["details"] if d["@type"].endswith("ErrorInfo")]
        return self.status, body["code"], reasons[0] if reasons else ""


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[Http]:
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            worker_agents=("remote",),
        )
    )
    port = await server.start()
    client = connect(f"127.0.0.1:{port}")
    session = aiohttp.ClientSession()
    try:
        yield Http(server, f"http://127.0.0.1:{server.http_port}", session, client)
    finally:
        await session.close()
        await client.channel.close(None)
        await server.stop(grace=1.0)


async def new_thread(http: Http, thread_id: str, **fields: Any) -> dict[str, Any]:
    reply = await http.call("POST", "/v1/threads", {"threadId": thread_id, "thread": fields})
    assert reply.status == 200, reply.raw
    return reply.json  # type: ignore[no-any-return]


def text_message(text: str) -> dict[str, Any]:
    return {"role": "MESSAGE_ROLE_USER", "parts": [{"text": text}]}


async def finished_run(http: Http, thread_id: str, text: str = "one two three") -> str:
    """Create an echo run, wait for it, return its id."""
    reply = await http.call(
        "POST",
        f"/v1/threads/{thread_id}/runs",
        {"agentId": "echo", "multitaskStrategy": "ENQUEUE", "inputMessages": [text_message(text)]},
    )
    assert reply.status == 200, reply.raw
    run_id: str = reply.json["runId"]
    waited = await http.call("POST", f"/v1/runs/{run_id}:wait", {"timeout": "10s"})
    assert waited.json["status"] == "RUN_STATUS_COMPLETED"
    return run_id


async def slow_run(http: Http, thread_id: str, words: int = 6, delay_ms: int = 150) -> str:
    """Start an echo run that takes about words * delay_ms; return its id at once."""
    text = " ".join(f"w{i}" for i in range(words))
    reply = await http.call(
        "POST",
        f"/v1/threads/{thread_id}/runs",
        {
            "agentId": "echo",
            "context": {"delay_ms": delay_ms},
            "multitaskStrategy": "MULTITASK_STRATEGY_ENQUEUE",
            "inputMessages": [text_message(text)],
        },
    )
    assert reply.status == 200, reply.raw
    return str(reply.json["runId"])


# -- start-up and configuration ------------------------------------------------------


async def test_http_port_is_discoverable_and_logged(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="threadline")
    server = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="127.0.0.1:0", database=str(tmp_path / "t.db"))
    )
    await server.start()
    try:
        assert server.http_port > 0
        assert f"http listening on 127.0.0.1:{server.http_port}" in caplog.text
        # The gRPC line comes first: scripts that read the first "listening on" get gRPC.
        assert caplog.text.index("listening on") < caplog.text.index("http listening on")
    finally:
        await server.stop(grace=0.5)


async def test_no_http_when_the_setting_is_empty(tmp_path):
    server = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="", database=str(tmp_path / "t.db"))
    )
    await server.start()
    try:
        assert server.http is None
        assert server.http_port == 0
    finally:
        await server.stop(grace=0.5)


def test_http_flags_and_variable():
    assert config.parse([]).http_listen == "127.0.0.1:8080"
    assert config.parse(["--http-listen", "0.0.0.0:9000"]).http_listen == "0.0.0.0:9000"
    assert config.parse(["--no-http"]).http_listen == ""
    assert config.parse(["--no-http", "--http-listen", "127.0.0.1:0"]).http_listen == "127.0.0.1:0"
    environ = {"THREADLINE_HTTP_LISTEN": ""}
    assert config.load(None, environ).http_listen == ""
    with pytest.raises(SystemExit):
        config.parse(["--http-listen", "nowhere"])


async def test_a_busy_http_port_stops_the_server_before_it_opens_the_store(tmp_path):
    blocker = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="127.0.0.1:0", database=str(tmp_path / "a.db"))
    )
    await blocker.start()
    try:
        second = ThreadlineServer(
            Settings(
                listen="127.0.0.1:0",
                http_listen=f"127.0.0.1:{blocker.http_port}",
                database=str(tmp_path / "b.db"),
            )
        )
        with pytest.raises(SystemExit, match="cannot listen for HTTP"):
            await second.start()
        assert not (tmp_path / "b.db").exists()
    finally:
        await blocker.stop(grace=0.5)


# -- threads --------------------------------------------------------------------------


async def test_thread_routes(http):
    created = await new_thread(
        http,
        "support-1",
        title="Printer",
        metadata={"channel": "web", "n": 1},
        locale={"language": "en"},
    )
    # EmitUnpopulated: zero values, [] and null for unset messages; int64 as strings.
    assert created["threadId"] == "support-1"
    assert created["ttl"] is None
    assert created["expireTime"] is None
    assert created["participants"] == []
    assert created["messages"] == []
    assert created["messageCount"] == "0"
    assert created["userId"] == ""
    assert created["metadata"] == {"channel": "web", "n": 1}
    assert created["locale"] == {"language": "en", "country": "", "timeZone": ""}
    assert created["status"] == "THREAD_STATUS_IDLE"

    again = await http.call("POST", "/v1/threads", {"threadId": "support-1"})
    assert again.error() == (409, 6, "THREAD_ALREADY_EXISTS")
    assert again.content_type == "application/json"
    kept = await http.call(
        "POST", "/v1/threads", {"thread_id": "support-1", "ifExists": "IF_EXISTS_DO_NOTHING"}
    )
    assert kept.status == 200
    assert kept.json["title"] == "Printer"

    got = await http.call("GET", "/v1/threads/support-1")
    assert got.status == 200
    assert got.json == created
    assert got.response.headers["Grpc-Metadata-Content-Type"] == "application/grpc"
    full = await http.call("GET", "/v1/threads/support-1?view=THREAD_VIEW_FULL")
    assert full.status == 200
    by_number = await http.call("GET", "/v1/threads/support-1?view=2")
    assert by_number.json == full.json

    missing = await http.call("GET", "/v1/threads/nope")
    assert missing.error() == (404, 5, "THREAD_NOT_FOUND")
    types = [d["@type"] for d in missing.json["details"]]
    assert types == [
        "type.googleapis.com/google.rpc.ErrorInfo",
        "type.googleapis.com/google.rpc.ResourceInfo",
    ]

    await new_thread(http, "support-2", userId="user-7", metadata={"channel": "web"})
    listed = await http.call(
        "GET", "/v1/threads?page_size=1&filter.user_id=user-7&filter.statuses=THREAD_STATUS_IDLE"
    )
    assert listed.status == 200
    assert [t["threadId"] for t in listed.json["threads"]] == ["support-2"]
    assert listed.json["nextPageToken"] == ""
    by_metadata = await http.call(
        "GET", "/v1/threads?filter.metadata=%7B%22channel%22%3A%22web%22%7D&pageSize=10"
    )
    assert {t["threadId"] for t in by_metadata.json["threads"]} == {"support-1", "support-2"}
    counted = await http.call("GET", "/v1/threads:count?filter.userId=user-7")
    assert counted.json == {"count": "1"}
    too_many = await http.call("GET", "/v1/threads?page_size=1000")
    assert too_many.error() == (400, 3, "VALIDATION_ERROR")

    copied = await http.call("POST", "/v1/threads/support-1:copy", {"newThreadId": "copy-1"})
    assert copied.status == 200
    assert copied.json["threadId"] == "copy-1"
    assert (await http.call("POST", "/v1/threads/nope:copy", {})).error()[:2] == (404, 5)

    stale = await http.call("DELETE", "/v1/threads/copy-1?etag=stale")
    assert stale.error() == (409, 10, "ETAG_MISMATCH")
    deleted = await http.call("DELETE", "/v1/threads/copy-1")
    assert (deleted.status, deleted.json) == (200, {})
    assert (await http.call("DELETE", "/v1/threads/copy-1")).error()[:2] == (404, 5)


async def test_patch_fills_the_update_mask_from_the_body(http):
    await new_thread(http, "patched", title="old")
    # No update_mask: the body's keys are the mask (title, ttl).
    reply = await http.call("PATCH", "/v1/threads/patched", {"title": "new", "ttl": "3600s"})
    assert reply.status == 200, reply.raw
    assert (reply.json["title"], reply.json["ttl"]) == ("new", "3600s")
    assert reply.json["expireTime"] is not None

    # A Struct's leaves are paths of their own (metadata.k): just those keys change...
    leaves = await http.call("PATCH", "/v1/threads/patched", {"metadata": {"k": "v", "j": 2}})
    assert leaves.status == 200, leaves.raw
    assert leaves.json["metadata"] == {"k": "v", "j": 2}
    leaf = await http.call("PATCH", "/v1/threads/patched", {"metadata": {"k": "w"}})
    assert leaf.json["metadata"] == {"k": "w", "j": 2}
    # ...and a mask named in the query wins over the body's keys: the whole object.
    named = await http.call(
        "PATCH", "/v1/threads/patched?update_mask=metadata", {"metadata": {"k": 1}}
    )
    assert named.status == 200, named.raw
    assert named.json["metadata"] == {"k": 1}
    assert named.json["title"] == "new"

    unknown = await http.call("PATCH", "/v1/threads/patched", {"nope": 1})
    assert unknown.status == 400
    assert unknown.json["code"] == 3
    assert "could not find field" in unknown.json["message"]
    empty = await http.call("PATCH", "/v1/threads/patched", data=b"")
    assert empty.error() == (400, 3, "VALIDATION_ERROR")
    # The etag is a body key too: in the inferred mask it is a precondition only.
    wrong_etag = await http.call("PATCH", "/v1/threads/patched", {"etag": "x", "title": "t"})
    assert wrong_etag.error() == (409, 10, "ETAG_MISMATCH")
    # The path's thread_id wins over the body's.
    moved = await http.call(
        "PATCH", "/v1/threads/patched?update_mask=title", {"threadId": "other", "title": "p"}
    )
    assert (moved.status, moved.json["threadId"]) == (200, "patched")


# -- messages -------------------------------------------------------------------------


async def test_message_routes(http):
    await new_thread(http, "chat-1")
    first = await http.call("POST", "/v1/threads/chat-1/messages", text_message("hello"))
    assert first.status == 200, first.raw
    message_id = first.json["messageId"]
    assert first.json["parts"] == [{"text": "hello"}]
    assert first.json["runId"] == ""
    second = await http.call(
        "POST",
        "/v1/threads/chat-1/messages",
        {
            "role": "MESSAGE_ROLE_AGENT",
            "parts": [{"toolCall": {"id": "c1", "name": "lookup", "arguments": {"q": "x"}}}],
        },
    )
    assert second.status == 200
    # A oneof member that is set is written; the others are left out, not null.
    assert second.json["parts"] == [
        {"toolCall": {"id": "c1", "name": "lookup", "arguments": {"q": "x"}}}
    ]

    got = await http.call("GET", f"/v1/threads/chat-1/messages/{message_id}")
    assert got.json == first.json
    page = await http.call(
        "GET", "/v1/threads/chat-1/messages?page_size=1&order_by=created_at%20desc"
    )
    assert [m["messageId"] for m in page.json["messages"]] == [second.json["messageId"]]
    assert page.json["nextPageToken"]

    updated = await http.call(
        "PATCH",
        f"/v1/threads/chat-1/messages/{message_id}?update_mask=metadata",
        {"metadata": {"sentiment": "calm"}},
    )
    assert updated.status == 200, updated.raw
    assert updated.json["metadata"] == {"sentiment": "calm"}

    deleted = await http.call("DELETE", f"/v1/threads/chat-1/messages/{message_id}")
    assert (deleted.status, deleted.json) == (200, {})
    gone = await http.call("GET", f"/v1/threads/chat-1/messages/{message_id}")
    assert gone.error() == (404, 5, "MESSAGE_NOT_FOUND")
    no_parts = await http.call("POST", "/v1/threads/chat-1/messages", {"role": "MESSAGE_ROLE_USER"})
    assert no_parts.error() == (400, 3, "VALIDATION_ERROR")
    two_kinds = await http.call(
        "POST",
        "/v1/threads/chat-1/messages",
        {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "a", "toolCall": {"id": "x"}}]},
    )
    assert (two_kinds.status, two_kinds.json["code"]) == (400, 3)
    no_thread = await http.call("POST", "/v1/threads/nope/messages", text_message("x"))
    assert no_thread.error() == (404, 5, "THREAD_NOT_FOUND")


# -- runs and workers -------------------------------------------------------------------


async def test_run_routes(http):
    chat = await http.call("POST", "/v1/chat", {"message": "hello there", "agentId": "echo"})
    assert chat.status == 200, chat.raw
    assert chat.json["response"] == "hello there"
    assert chat.json["error"] is None
    assert chat.json["usage"]["totalTokens"] == "4"
    tools = await http.call(
        "POST", "/v1/chat", {"message": "what is 2+3*4", "agentId": "tools-demo"}
    )
    assert tools.json["response"] == "2+3*4 = 14."
    unknown_agent = await http.call("POST", "/v1/chat", {"message": "x", "agentId": "nobody"})
    assert unknown_agent.error() == (404, 5, "AGENT_NOT_FOUND")

    thread_id = chat.json["threadId"]
    slow = await slow_run(http, thread_id, words=20, delay_ms=100)
    busy = await http.call(
        "POST",
        f"/v1/threads/{thread_id}/runs",
        {"agentId": "echo", "inputMessages": [text_message("again")]},
    )
    assert busy.error() == (400, 9, "THREAD_BUSY")
    cancelled = await http.call("POST", f"/v1/runs/{slow}:cancel", {})
    assert cancelled.status == 200
    waited = await http.call("POST", f"/v1/runs/{slow}:wait", {"timeout": "10s"})
    assert waited.json["status"] == "RUN_STATUS_CANCELLED"
    assert waited.json["error"]["code"] == "CANCELLED_BY_CLIENT"

    run_id = await finished_run(http, thread_id)
    got = await http.call("GET", f"/v1/runs/{run_id}")
    assert (got.json["runId"], got.json["status"]) == (run_id, "RUN_STATUS_COMPLETED")
    listed = await http.call("GET", f"/v1/threads/{thread_id}/runs?page_size=1")
    assert [r["runId"] for r in listed.json["runs"]] == [run_id]
    assert (await http.call("GET", "/v1/runs/nope")).error() == (404, 5, "RUN_NOT_FOUND")
    assert (await http.call("POST", "/v1/runs/nope:wait", {})).error()[:2] == (404, 5)
    assert (await http.call("POST", "/v1/runs/nope:cancel", {})).error()[:2] == (404, 5)


async def test_worker_routes(http):
    thread = await new_thread(http, "for-worker")
    created = await http.call(
        "POST",
        f"/v1/threads/{thread['threadId']}/runs",
        {"agentId": "remote", "inputMessages": [text_message("work")]},
    )
    assert created.status == 200, created.raw
    claimed = await http.call(
        "POST", "/v1/agents/remote/runs:claim", {"workerId": "w1", "leaseDuration": "30s"}
    )
    assert claimed.status == 200, claimed.raw
    lease = claimed.json["leaseId"]
    run_id = claimed.json["run"]["runId"]
    assert run_id == created.json["runId"]
    renewed = await http.call("POST", f"/v1/runs/{run_id}:renewLease", {"leaseId": lease})
    assert (renewed.status, renewed.json["cancelled"]) == (200, False)
    reported = await http.call(
        "POST",
        f"/v1/runs/{run_id}:report",
        {
            "leaseId": lease,
            "events": [
                {"iterationStarted": {}},
                {"textDelta": "done"},
                {"finish": {"status": "RUN_STATUS_COMPLETED"}},
            ],
        },
    )
    assert (reported.status, reported.json["ended"]) == (200, True), reported.raw
    lost = await http.call("POST", f"/v1/runs/{run_id}:renewLease", {"leaseId": lease})
    assert lost.error() == (400, 9, "LEASE_LOST")
    nobody = await http.call("POST", "/v1/agents/nobody/runs:claim", {})
    assert nobody.error()[:2] == (404, 5)


# -- routing and bad input ----------------------------------------------------------------


async def test_routing_errors(http):
    for method, path in [("GET", "/v1/nothing"), ("GET", "/"), ("GET", "//v1/threads")]:
        reply = await http.call(method, path)
        assert (reply.status, reply.json) == (404, NOT_FOUND_BODY), (method, path)
        assert reply.content_type == "application/json"
    # A path that only other methods serve: 405 with an Allow header and code 12 (grpc-gateway
    # answers 501: a deliberate difference, since the client is at fault).
    for method, path, allow in [
        ("PUT", "/v1/threads", "GET, POST"),
        ("DELETE", "/v1/threads", "GET, POST"),
        ("POST", "/v1/threads:count", "GET"),
        ("GET", "/v1/threads/x/runs:stream", "POST"),
        ("POST", "/v1/runs/x:unknownVerb", "GET"),
        ("POST", "/v1/runs/:cancel", "GET"),
        ("OPTIONS", "/v1/threads", "GET, POST"),
    ]:
        reply = await http.call(method, path)
        assert (reply.status, reply.json) == (405, METHOD_NOT_ALLOWED_BODY), (method, path)
        assert reply.response.headers.get("Allow") == allow, (method, path)
    head = await http.call("HEAD", "/v1/threads")
    assert (head.status, head.raw, head.response.headers.get("Allow")) == (405, b"", "GET, POST")
    # A verb is only split off for patterns that declare one: this is GetThread("x:count").
    odd = await http.call("GET", "/v1/threads/x:count")
    assert odd.error() == (400, 3, "VALIDATION_ERROR")
    # %2F is a separator once the path is decoded (grpc-gateway's default unescaping).
    await new_thread(http, "a")
    slashed = await http.call("GET", "/v1/threads/a%2Fmessages")
    assert (slashed.status, slashed.json["messages"]) == (200, [])
    bad_escape = await http.call("GET", "/v1/threads/%zz")
    assert bad_escape.status == 400
    # Bad input the gateway refuses itself says why, as any other error: an ErrorInfo.
    assert (await http.call("GET", "/v1/threads/x?view=%zz")).error() == (
        400,
        3,
        "MALFORMED_REQUEST",
    )
    not_a_string = await http.call("GET", "/v1/threads/x?view=NOPE")
    assert not_a_string.error() == (400, 3, "MALFORMED_REQUEST")
    violations = [d for d in not_a_string.json["details"] if d["@type"].endswith("BadRequest")]
    assert [v["field"] for v in violations[0]["fieldViolations"]] == ["view"]
    timeout = await http.call("GET", "/v1/threads/x", headers={"Grpc-Timeout": "1x"})
    assert timeout.error() == (400, 3, "INVALID_TIMEOUT")
    # Line breaks in a path parameter reach the service (which refuses the id), as any other
    # character (they once fell through to aiohttp's plain-text 404; tests/test_fuzz.py found it).
    for escaped in ("%0A", "%0D%0A", "a%0Ab"):
        broken = await http.call("GET", f"/v1/threads/{escaped}")
        assert broken.error() == (400, 3, "VALIDATION_ERROR"), escaped


async def test_bad_json_bodies(http):
    for data in [b"{bad", b"null", b"[]", b'"x"', b"12", b'{"threadId": 5}', b"\xff{}"]:
        reply = await http.call("POST", "/v1/threads", data=data)
        assert reply.status == 400, data
        assert reply.error() == (400, 3, "MALFORMED_REQUEST"), data
    duplicate = await http.call("POST", "/v1/threads", data=b'{"thread_id":"a","threadId":"b"}')
    assert duplicate.status == 400
    # Empty body is {}; unknown fields and unknown enum names are ignored; what follows
    # the first JSON value is not read.
    for data in [b"", b"  \n", b'{"unknown": {"x": 1}, "ifExists": "NOPE"}', b"{} trailing"]:
        reply = await http.call("POST", "/v1/threads", data=data)
        assert reply.status == 200, (data, reply.raw)
        assert reply.json["threadId"].startswith("thr_")
    # Both spellings of a field name are read.
    snake = await http.call("POST", "/v1/threads", data=b'{"thread_id":"snake-1"}')
    assert snake.json["threadId"] == "snake-1"
    # A parameter of the media type is not looked at (JSON is UTF-8).
    typed = await http.call(
        "POST",
        "/v1/threads",
        data=b'{"threadId":"typed"}',
        headers={"Content-Type": "Application/JSON; charset=whatever"},
    )
    assert typed.status == 200


async def test_query_parameters(http):
    await new_thread(http, "q-1", userId="u 7")
    cases = {
        "page_size=1&pageSize=2": 400,  # one field named twice
        "page_size=1&page_size=2": 400,  # a scalar twice
        "page_size=x": 400,
        "page_size=1;x=2": 400,
        "page_size=%zz": 400,
        "filter.statuses=BOGUS": 400,
        "filter.statuses=9": 400,
        "filter.createdAfter=yesterday": 400,
        "filter=1": 400,  # a message that is not a well-known type
        "filter.thread_ids.x=1": 400,  # a path through a repeated field
        "filter.metadata=%7Bnot-json": 400,
        "unknown=1&filter.nothing=2": 200,  # unknown keys are ignored
        # Repeated keys, an enum by name or number.
        "filter.statuses=THREAD_STATUS_IDLE&filter.statuses=2": 200,
        # RFC 3339 times, either spelling of the field names.
        "filter.created_after=2020-01-01T00:00:00Z"
        "&filter.createdBefore=2999-01-01T00:00:00.5%2B01:00": 200,
        "filter.user_id=u+7": 200,  # + is a space
    }
    for query, status in cases.items():
        reply = await http.call("GET", "/v1/threads?" + query)
        assert reply.status == status, (query, reply.raw)
        if status == 400:
            assert reply.json["code"] == 3
    found = await http.call("GET", "/v1/threads?filter.user_id=u+7")
    assert [t["threadId"] for t in found.json["threads"]] == ["q-1"]
    # Query keys that name a path parameter are skipped: the path wins.
    skipped = await http.call("GET", "/v1/threads/q-1?thread_id=other&threadId=other")
    assert skipped.json["threadId"] == "q-1"
    # Routes whose every field comes from the path or body read no query at all.
    ignored = await http.call("GET", "/v1/threads/q-1/messages/nope?page_size=x")
    assert ignored.error()[:2] == (404, 5)
    # Durations in Go syntax.
    run_id = await finished_run(http, "q-1")
    waited = await http.call("POST", f"/v1/runs/{run_id}:wait?timeout=bogus", {"timeout": "1.5s"})
    assert waited.status == 200  # body "*": the query is not read


def test_query_values_parse_as_go_does():
    assert params.parse_duration("1h30m") == (5400, 0)
    assert params.parse_duration("-1.5s") == (-1, -500_000_000)
    assert params.parse_duration("300ms") == (0, 300_000_000)
    assert params.parse_duration("0") == (0, 0)
    for bad in ["", "1", "1.5.s", "s", "2562048h"]:
        with pytest.raises(params.ParamError):
            params.parse_duration(bad)
    assert params.parse_timestamp("1970-01-01T00:00:01.5Z") == (1, 500_000_000)
    assert params.parse_timestamp("1970-01-01T01:00:00+01:00") == (0, 0)
    for bad in ["2020-02-30T00:00:00Z", "2020-01-01 00:00:00Z", "0000-01-01T00:00:00Z"]:
        with pytest.raises(params.ParamError):
            params.parse_timestamp(bad)
    assert params.parse_bool("T") is True
    with pytest.raises(params.ParamError):
        params.parse_bool("yes")
    assert params.parse_int("+12", 32, signed=True) == 12
    for bad in ["0x10", "1_000", "2147483648"]:
        with pytest.raises(params.ParamError):
            params.parse_int(bad, 32, signed=True)
    assert params.parse_query("a=1&a=2&b=x+y&&c") == {"a": ["1", "2"], "b": ["x y"], "c": [""]}


def test_field_mask_from_a_body():
    descriptor = thread_pb2.Thread.DESCRIPTOR
    body = {"title": "x", "ttl": "1s", "locale": {"language": "en"}, "participants": []}
    assert params.field_mask_from_body(body, descriptor) == [
        "locale.language",
        "participants",
        "title",
        "ttl",
    ]
    assert params.field_mask_from_body({"metadata": {"a": {"b": 1}}}, descriptor) == [
        "metadata.a.b"
    ]
    assert params.field_mask_from_body({"locale": {}}, descriptor) == ["locale"]
    assert params.field_mask_from_body({}, descriptor) == []
    with pytest.raises(params.ParamError):
        params.field_mask_from_body({"nope": 1}, descriptor)


# -- templates and routing ---------------------------------------------------------------


def test_path_templates():
    template = PathTemplate.parse("/v1/{name=shelves/*/books/**}:get")
    assert template.verb == "get"
    assert template.match(["v1", "shelves", "1", "books", "a", "b"], "get") == {
        "name": "shelves/1/books/a/b"
    }
    assert template.match(["v1", "shelves", "1"], "get") is None
    tail = PathTemplate.parse("/v1/**/x")
    assert tail.match(["v1", "a", "b", "x"], "") == {}
    assert tail.match(["v1", "x"], "") == {}
    nested = PathTemplate.parse("/v1/threads/{thread.thread_id}")
    assert nested.fields == ("thread.thread_id",)
    assert nested.match(["v1", "threads", ""], "") == {"thread.thread_id": ""}
    for bad in ["v1", "/v1/{a", "/v1/{1a}", "/v1/{a={b}}", "/v1//x", "/v1/a b", "/v1/{a}/{a}"]:
        with pytest.raises(TemplateError):
            PathTemplate.parse(bad)


def test_every_annotated_rpc_is_routed():
    bindings = bindings_for(SERVICE_NAMES)
    served = {b.rpc for b in bindings}
    for module in (thread_pb2, message_pb2, run_pb2, worker_pb2, webhook_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                assert f"/{service.full_name}/{method.name}" in served
    router = Router(bindings)
    assert router.route("GET", "/v1/threads:count").binding.rpc.endswith("/CountThreads")
    assert router.route("GET", "/v1/threads/x:count").params == {"thread_id": "x:count"}
    assert router.route("POST", "/v1/runs/r1:renewLease").params == {"run_id": "r1"}
    with pytest.raises(RoutingError) as caught:
        router.route("GET", "v1/threads")
    assert caught.value.status == 400
    # A form POST that no POST route serves goes to the GET route of the path.
    match = router.route("POST", "/v1/threads", form_fallback=True)
    assert match.binding.rpc.endswith("/CreateThread")
    match = router.route("POST", "/v1/runs/x", form_fallback=True)
    assert match.binding.rpc.endswith("/GetRun")


async def test_form_posts_and_method_override(http):
    await new_thread(http, "form-1", userId="formy")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    listed = await http.call(
        "POST",
        "/v1/threads",
        data="filter.user_id=formy",
        headers={**form, "X-HTTP-Method-Override": "GET"},
    )
    assert [t["threadId"] for t in listed.json["threads"]] == ["form-1"]
    got = await http.call("POST", "/v1/threads/form-1", data="view=THREAD_VIEW_FULL", headers=form)
    assert (got.status, got.json["threadId"]) == (200, "form-1")


# -- server streaming -----------------------------------------------------------------


async def test_stream_of_a_finished_run_is_ndjson(http):
    await new_thread(http, "s-1")
    run_id = await finished_run(http, "s-1", "good morning")
    reply = await http.call("GET", f"/v1/runs/{run_id}/events")
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.response.headers.get("Transfer-Encoding") == "chunked"
    assert reply.raw.endswith(b"}\n")
    lines = reply.lines
    assert all(set(line) == {"result"} for line in lines)
    events = [line["result"] for line in lines]
    assert events[0]["type"] == "run.created"
    assert events[-1]["type"] == "run.completed"
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "message.delta") == (
        "good morning"
    )
    assert [int(e["eventId"]) for e in events] == sorted(int(e["eventId"]) for e in events)
    middle = events[2]["eventId"]
    resumed = await http.call("GET", f"/v1/runs/{run_id}/events?after_event_id={middle}")
    assert [line["result"] for line in resumed.lines] == events[3:]
    # Nothing after the end: 200 with an empty body.
    ended = await http.call("GET", f"/v1/runs/{run_id}/events?afterEventId={events[-1]['eventId']}")
    assert (ended.status, ended.raw) == (200, b"")
    assert ended.content_type is None
    # Asked for by name, the same lines come as application/x-ndjson (what the
    # OpenAPI document says); an error before the stream is still plain JSON.
    ndjson = {"Accept": "application/x-ndjson"}
    named = await http.call("GET", f"/v1/runs/{run_id}/events", headers=ndjson)
    assert (named.status, named.content_type) == (200, "application/x-ndjson")
    assert [line["result"] for line in named.lines] == events
    missing = await http.call("GET", "/v1/runs/nope/events", headers=ndjson)
    assert (missing.status, missing.content_type) == (404, "application/json")
    assert missing.lines[0]["error"]["code"] == 5


async def test_stream_of_a_live_run_arrives_as_it_happens(http):
    await new_thread(http, "s-2")
    run_id = await slow_run(http, "s-2", words=6, delay_ms=150)
    arrivals: list[tuple[float, str]] = []
    async with http.session.get(f"{http.base}/v1/runs/{run_id}/events") as response:
        assert response.status == 200
        async for raw in response.content:
            event = json.loads(raw)["result"]
            arrivals.append((time.monotonic(), event["type"]))
    types = [kind for _, kind in arrivals]
    assert types[0] == "run.created"
    assert types[-1] == "run.completed"
    assert types.count("message.delta") == 6
    deltas = [at for at, kind in arrivals if kind == "message.delta"]
    # Six words 150 ms apart: the first arrived well before the last was written.
    assert deltas[-1] - deltas[0] > 0.5


async def test_stream_run_streams_a_new_run(http):
    await new_thread(http, "s-3")
    reply = await http.call(
        "POST",
        "/v1/threads/s-3/runs:stream",
        {"agentId": "echo", "inputMessages": [text_message("hi you")]},
    )
    assert reply.status == 200
    types = [line["result"]["type"] for line in reply.lines]
    assert types[0] == "run.created"
    assert types[-1] == "run.completed"


async def test_stream_errors_before_and_during_the_stream(http):
    # Before the first message: the code's HTTP status and one {"error": …} line.
    missing = await http.call("GET", "/v1/runs/nope/events")
    assert missing.status == 404
    assert missing.content_type == "application/json"
    [line] = missing.lines
    assert line["error"]["code"] == 5
    assert line["error"]["details"][0]["reason"] == "RUN_NOT_FOUND"
    # During the stream: status 200 was sent, so the error is a last line.
    await new_thread(http, "s-4")
    await http.call("POST", "/v1/threads/s-4/messages", text_message("hello"))
    watched = await http.call("GET", "/v1/threads/s-4/events", headers={"Grpc-Timeout": "1S"})
    assert watched.status == 200
    lines = watched.lines
    assert [line["result"]["type"] for line in lines[:-1]] == [
        "message.created",
        "message.completed",
    ]
    assert lines[-1]["error"]["code"] == 4  # DEADLINE_EXCEEDED
    assert set(lines[-1]["error"]) == {"code", "message", "details"}


async def test_closing_the_http_request_cancels_the_grpc_call(http, caplog):
    caplog.set_level(logging.INFO, logger="threadline.access")
    await new_thread(http, "s-5")
    # WatchThread sends nothing yet, so the answer's headers wait for its first
    # event; the client gives up first.
    request = asyncio.ensure_future(
        http.session.get(f"{http.base}/v1/threads/s-5/events?after_event_id=1000")
    )
    await asyncio.sleep(0.3)
    assert "WatchThread" not in caplog.text  # still open
    request.cancel()
    for _ in range(100):
        if "WatchThread code=CANCELLED" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "rpc=/threadline.v1.RunService/WatchThread code=CANCELLED" in caplog.text


# -- Server-Sent Events ---------------------------------------------------------------


def parse_sse(text: str, *, everything: bool = False) -> list[dict[str, str]]:
    """Split an event stream into its events (event, id, data).

    With ``everything``, the blocks without data too: the ``retry:`` hint, and
    comments (kept as ':').
    """
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.splitlines():
            name, _, value = line.partition(":")
            fields[name or ":"] = value.strip()
        if everything or "data" in fields:
            events.append(fields)
    return events


async def test_server_sent_events_with_ids_and_resume(http):
    await new_thread(http, "e-1")
    run_id = await finished_run(http, "e-1", "a b c")
    sse = {"Accept": "text/event-stream"}
    reply = await http.call("GET", f"/v1/runs/{run_id}/events", headers=sse)
    assert reply.status == 200
    assert reply.content_type == "text/event-stream"
    assert reply.response.headers["Cache-Control"] == "no-cache"
    # First how long to wait before reconnecting, then one event per RunEvent,
    # named by its type so that EventSource listeners can pick types.
    assert reply.raw.startswith(b"retry: %d\n\n" % streaming_module.SSE_RETRY_MILLISECONDS)
    events = parse_sse(reply.raw.decode())
    for event in events:
        data = json.loads(event["data"])
        assert event["id"] == data["eventId"]  # the data is the RunEvent itself
        assert event["event"] == data["type"]
    assert "message.delta" in {e["event"] for e in events}
    ids = [int(e["id"]) for e in events]
    assert json.loads(events[-1]["data"])["type"] == "run.completed"

    middle = ids[3]
    resumed = await http.call(
        "GET", f"/v1/runs/{run_id}/events", headers={**sse, "Last-Event-ID": str(middle)}
    )
    assert [int(e["id"]) for e in parse_sse(resumed.raw.decode())] == ids[4:]
    # Last-Event-ID wins over the URL's after_event_id (a reconnecting EventSource).
    both = await http.call(
        "GET",
        f"/v1/runs/{run_id}/events?after_event_id={ids[0]}",
        headers={**sse, "Last-Event-ID": str(middle)},
    )
    assert [int(e["id"]) for e in parse_sse(both.raw.decode())] == ids[4:]
    # Resuming after the run's final event: 204, so EventSource stops reconnecting.
    over = await http.call(
        "GET", f"/v1/runs/{run_id}/events", headers={**sse, "Last-Event-ID": str(ids[-1])}
    )
    assert (over.status, over.raw) == (204, b"")
    bad = await http.call("GET", f"/v1/runs/{run_id}/events", headers={**sse, "Last-Event-ID": "x"})
    assert (bad.status, bad.json["code"]) == (400, 3)
    missing = await http.call("GET", "/v1/runs/nope/events", headers=sse)
    assert missing.error() == (404, 5, "RUN_NOT_FOUND")


async def test_server_sent_events_keepalive_and_error(http, monkeypatch):
    monkeypatch.setattr(streaming_module, "SSE_FIRST_EVENT_WAIT_SECONDS", 0.1)
    monkeypatch.setattr(streaming_module, "SSE_KEEPALIVE_SECONDS", 0.2)
    await new_thread(http, "e-2")
    reply = await http.call(
        "GET",
        "/v1/threads/e-2/events",
        headers={"Accept": "text/event-stream", "Grpc-Timeout": "1S"},
    )
    assert reply.status == 200
    text = reply.raw.decode()
    # No event in the first 0.1 s: the stream opens anyway, with its retry hint,
    # then a comment every 0.2 s of silence until the deadline ends it.
    assert text.startswith("retry: 3000\n\n: keepalive\n\n: keepalive\n\n")
    blocks = parse_sse(text, everything=True)
    assert 3 <= sum(1 for block in blocks if block == {":": "keepalive"}) <= 6
    assert blocks[-1]["event"] == "error"
    assert json.loads(blocks[-1]["data"])["code"] == 4


async def test_curl_prints_server_sent_events_live_and_resumes(http):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not on PATH")
    await new_thread(http, "curl-1")
    run_id = await slow_run(http, "curl-1", words=5, delay_ms=150)
    url = f"{http.base}/v1/runs/{run_id}/events"
    process = await asyncio.create_subprocess_exec(
        curl, "-sN", "-H", "Accept: text/event-stream", url, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    arrivals: list[tuple[float, int]] = []
    async with asyncio.timeout(20):
        while line := await process.stdout.readline():
            if line.startswith(b"id: "):
                arrivals.append((time.monotonic(), int(line[4:])))
        assert await process.wait() == 0
    ids = [event_id for _, event_id in arrivals]
    assert len(ids) >= 10
    assert arrivals[-1][0] - arrivals[0][0] > 0.4  # printed as the run went, not at its end

    cut = ids[4]
    resumed = await asyncio.create_subprocess_exec(
        curl,
        "-sN",
        "-H",
        "Accept: text/event-stream",
        "-H",
        f"Last-Event-ID: {cut}",
        url,
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await asyncio.wait_for(resumed.communicate(), 20)
    assert [int(e["id"]) for e in parse_sse(output.decode())] == ids[5:]


# -- headers, metadata and deadlines ---------------------------------------------------------


@dataclass
class Recorded:
    metadata: list[tuple[str, str | bytes]]
    time_remaining: float | None


@pytest.fixture(params=["tcp", "unix"])
async def echo_backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[HttpGateway, list[Recorded]]]:
    """A gRPC GetThread that records its metadata and sends header metadata back.

    Reached over TCP, or over a unix socket as the server's own HTTP side reaches it.
    """
    calls: list[Recorded] = []

    async def get_thread(request: thread_pb2.GetThreadRequest, context: Any) -> thread_pb2.Thread:
        calls.append(Recorded(list(context.invocation_metadata()), context.time_remaining()))
        await context.send_initial_metadata((("echo", "yes"), ("echo-bin", b"\x00\x01")))
        return thread_pb2.Thread(thread_id=request.thread_id)

    backend = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        get_thread,
        request_deserializer=thread_pb2.GetThreadRequest.FromString,
        response_serializer=thread_pb2.Thread.SerializeToString,
    )
    backend.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "threadline.v1.ThreadService", {"GetThread": handler}
            ),
        )
    )
    if request.param == "unix":
        target = f"unix:{tmp_path / 'grpc.sock'}"
        backend.add_insecure_port(target)
    else:
        target = f"127.0.0.1:{backend.add_insecure_port('127.0.0.1:0')}"
    await backend.start()
    front = HttpGateway(target, ["threadline.v1.ThreadService"])
    front.bind("127.0.0.1:0")
    await front.start()
    try:
        yield front, calls
    finally:
        await front.stop(1.0)
        await backend.stop(None)


async def test_headers_become_metadata_and_back(echo_backend):
    front, calls = echo_backend
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{front.port}/v1/threads/t1",
            headers={
                "Authorization": "Bearer token-1",
                "User-Agent": "tester/1",
                "Cookie": "a=b",
                "Grpc-Metadata-Tenant": "acme",
                "Grpc-Metadata-Blob-Bin": "AAE=",
                "Grpc-Metadata-Grpcgateway-Host": "spoofed",
                "Grpc-Metadata-X-Forwarded-For": "spoofed",
                "X-Forwarded-For": "10.1.2.3",
                "X-Not-Forwarded": "dropped",
                "Grpc-Timeout": "5S",
            },
        ) as response,
    ):
        assert response.status == 200
        assert (await response.json())["threadId"] == "t1"
        assert response.headers["Grpc-Metadata-Echo"] == "yes"
        assert response.headers["Grpc-Metadata-Echo-Bin"] == "AAE="
        assert response.headers["Grpc-Metadata-Content-Type"] == "application/grpc"
    [call] = calls
    metadata: dict[str, list[str | bytes]] = {}
    for key, value in call.metadata:
        metadata.setdefault(key, []).append(value)
    assert metadata["authorization"] == ["Bearer token-1"]
    assert metadata["grpcgateway-authorization"] == ["Bearer token-1"]
    assert metadata["grpcgateway-user-agent"] == ["tester/1"]
    assert metadata["grpcgateway-cookie"] == ["a=b"]
    # grpc-gateway v2.33 forwards no Grpc-Metadata-* header by default.
    assert "tenant" not in metadata
    assert "blob-bin" not in metadata
    assert "grpcgateway-grpc-metadata-tenant" not in metadata
    assert metadata["x-forwarded-for"] == ["10.1.2.3, 127.0.0.1"]
    assert metadata["x-forwarded-host"] == [f"127.0.0.1:{front.port}"]
    assert "grpcgateway-host" not in metadata
    assert "x-not-forwarded" not in metadata
    assert call.time_remaining is not None
    # gRPC sends the deadline rounded up (grpc-timeout), so a little over 5 s can arrive.
    assert 3 < call.time_remaining <= 5.1


async def test_a_bad_timeout_header_is_400(echo_backend):
    front, calls = echo_backend
    async with aiohttp.ClientSession() as session:
        for headers, message in [
            ({"Grpc-Timeout": "soon"}, "invalid grpc-timeout: soon"),
            ({"Grpc-Timeout": "5"}, "invalid grpc-timeout: 5"),
            ({"Grpc-Timeout": "-5S"}, "invalid grpc-timeout: -5S"),
        ]:
            async with session.get(
                f"http://127.0.0.1:{front.port}/v1/threads/t1", headers=headers
            ) as response:
                body = await response.json()
                assert (response.status, body["code"]) == (400, 3)
                assert body["message"].startswith(message)
        # A zero timeout is no deadline at all; a -Bin header that is not
        # base64 is not forwarded, so it is no error.
        async with session.get(
            f"http://127.0.0.1:{front.port}/v1/threads/t1",
            headers={"Grpc-Timeout": "0S", "Grpc-Metadata-Blob-Bin": "!!"},
        ) as response:
            assert response.status == 200
    assert [c.time_remaining for c in calls] == [None]


async def test_grpc_timeout_is_the_deadline(http):
    await new_thread(http, "slow-1")
    run_id = await slow_run(http, "slow-1", words=20, delay_ms=100)
    # WaitRun answers just before the call's deadline: the header reached the server.
    started = time.monotonic()
    reply = await http.call(
        "POST", f"/v1/runs/{run_id}:wait", {"timeout": "30s"}, headers={"Grpc-Timeout": "300m"}
    )
    assert time.monotonic() - started < 5
    assert (reply.status, reply.json["status"]) == (200, "RUN_STATUS_RUNNING")
    # A stream cut by the deadline before its first message: 504 and code 4.
    cut = await http.call(
        "GET", "/v1/threads/slow-1/events?after_event_id=100000", headers={"Grpc-Timeout": "200m"}
    )
    assert (cut.status, cut.lines[0]["error"]["code"]) == (504, 4)
    await http.call("POST", f"/v1/runs/{run_id}:cancel", {})


# -- the same calls over gRPC and HTTP -------------------------------------------------------


class Normaliser:
    """Replace server-made ids (numbered in order), times, etags and tokens."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: "<volatile>" if k in {"etag", "nextPageToken", "durationMs"} else self(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, str):
            value = SERVER_ID.sub(
                lambda m: self.ids.setdefault(m.group(0), f"<id{len(self.ids)}>"), value
            )
            return TIMESTAMP.sub("<time>", value)
        return value


async def test_one_scenario_over_grpc_and_http_gives_equal_answers(http):
    runs = run_pb2_grpc.RunServiceStub(http.grpc.channel)
    over_grpc = [
        await http.grpc.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="same",
                thread=thread_pb2.Thread(
                    title="t",
                    metadata=struct_pb2.Struct(fields={"k": struct_pb2.Value(number_value=1)}),
                    ttl=duration_pb2.Duration(seconds=60),
                ),
            )
        ),
        await http.grpc.messages.CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id="same",
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
                ),
            )
        ),
        await runs.Chat(
            run_pb2.ChatRequest(thread_id="same", message="what is 1+1", agent_id="tools-demo")
        ),
        await http.grpc.threads.GetThread(
            thread_pb2.GetThreadRequest(thread_id="same", view=thread_pb2.THREAD_VIEW_FULL)
        ),
        await http.grpc.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id="same", page_size=2)
        ),
        await http.grpc.threads.CountThreads(thread_pb2.CountThreadsRequest()),
        await http.grpc.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="same")),
    ]
    over_http = [
        await http.call(
            "POST",
            "/v1/threads",
            {"threadId": "same", "thread": {"title": "t", "metadata": {"k": 1}, "ttl": "60s"}},
        ),
        await http.call("POST", "/v1/threads/same/messages", text_message("hi")),
        await http.call(
            "POST",
            "/v1/chat",
            {"threadId": "same", "message": "what is 1+1", "agentId": "tools-demo"},
        ),
        await http.call("GET", "/v1/threads/same?view=THREAD_VIEW_FULL"),
        await http.call("GET", "/v1/threads/same/messages?page_size=2"),
        await http.call("GET", "/v1/threads:count"),
        await http.call("DELETE", "/v1/threads/same"),
    ]
    assert all(reply.status == 200 for reply in over_http)
    grpc_side = Normaliser()([jsonpb.to_json(message) for message in over_grpc])
    http_side = Normaliser()([reply.json for reply in over_http])
    assert http_side == grpc_side


# -- limits and the OpenAPI document ------------------------------------------------------------


async def test_limits_give_a_clear_4xx_and_the_server_keeps_serving(http):
    # A body the HTTP side reads, whose message is over the gRPC limit: the
    # server's RESOURCE_EXHAUSTED, as through grpc-gateway.
    big = json.dumps({"threadId": "big", "thread": {"title": "x" * (5 * 1024 * 1024)}})
    reply = await http.call("POST", "/v1/threads", data=io.BytesIO(big.encode()))
    assert (reply.status, reply.json["code"]) == (429, 8)
    # A body over the HTTP limit is not read.
    huge = json.dumps({"threadId": "big", "thread": {"title": "x" * (9 * 1024 * 1024)}})
    reply = await http.call("POST", "/v1/threads", data=io.BytesIO(huge.encode()))
    assert (reply.status, reply.json["code"]) == (413, 8)
    ignored = await http.call("GET", "/v1/threads", headers={"X-Big": "a" * 20_000})
    assert ignored.status == 200
    long_header = await http.call("GET", "/v1/threads", headers={"X-Big": "a" * 70_000})
    assert long_header.status == 400
    long_query = await http.call("GET", "/v1/threads?x=" + "a" * 70_000)
    assert long_query.status == 400
    many = {f"X-H{i}": "v" for i in range(200)}
    too_many = await http.call("GET", "/v1/threads", headers=many)
    assert too_many.status == 400
    fine = await http.call("GET", "/v1/threads")
    assert fine.status == 200


async def test_openapi_documents_are_served(http):
    reply = await http.call("GET", "/openapi.json")
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert (reply.json["openapi"], reply.json["info"]["title"]) == ("3.1.0", "Threadline API")
    reply = await http.call("GET", "/swagger.json")
    assert (reply.status, reply.content_type) == (200, "application/json")
    document = reply.json
    assert document["swagger"] == "2.0"

    def camel(match: re.Match[str]) -> str:
        return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), match.group(0))

    templates = {
        re.sub(r"\{[^}]+\}", camel, b.template.template) for b in bindings_for(SERVICE_NAMES)
    }
    assert templates == set(document["paths"])


async def test_stop_ends_open_http_streams_within_the_grace(tmp_path):
    server = ThreadlineServer(
        Settings(listen="127.0.0.1:0", http_listen="127.0.0.1:0", database=str(tmp_path / "t.db"))
    )
    await server.start()
    async with aiohttp.ClientSession() as session:
        created = await session.post(
            f"http://127.0.0.1:{server.http_port}/v1/threads", json={"threadId": "w"}
        )
        assert created.status == 200
        watch = asyncio.ensure_future(
            session.get(f"http://127.0.0.1:{server.http_port}/v1/threads/w/events")
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await server.stop(grace=0.5)
        assert time.monotonic() - started < 5
        with pytest.raises((aiohttp.ClientError, asyncio.CancelledError)):
            await (await watch).read()


async def test_deeply_nested_json_is_a_bad_request_not_a_crash(http):
    reply = await http.call("POST", "/v1/threads", data=b"[" * 100_000)
    assert reply.status == 400
    assert reply.json["code"] == 3
