"""Browser safety and malformed input on the HTTP side, against a real server.

A page on another site must not be able to make the server act (cross-origin
requests refused, bodies only as JSON, CORS only for listed origins), a name
re-pointed at 127.0.0.1 must not reach a loopback listener (DNS rebinding),
answers name no software versions, and malformed input of every kind is a 4xx
with grpc-gateway's JSON error body, never a 500 or a traceback in the log.
Raw requests go over plain sockets, so that every byte is the test's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from threadline.v1 import thread_pb2
from threadline_server import config
from threadline_server.config import Settings
from threadline_server.http.browser import is_loopback_name
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import connect

pytestmark = pytest.mark.api

APP = "https://app.example"
EVIL = "https://evil.example"


@dataclass
class Answer:
    """One raw HTTP answer."""

    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


async def send(port: int, raw: bytes) -> Answer:
    """Send raw bytes as one request on a new connection; read one answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, list[str]] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = headers.get("content-length")
        if length:
            body = await asyncio.wait_for(reader.readexactly(int(length[0])), 10)
        elif headers.get("transfer-encoding") == ["chunked"]:
            body = await asyncio.wait_for(_read_chunks(reader), 10)
        else:
            body = b""
        return Answer(status, headers, body)
    finally:
        writer.close()


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return body
        body += await reader.readexactly(size)
        await reader.readline()


def request(
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    host: str = "127.0.0.1",
) -> bytes:
    """The bytes of one HTTP/1.1 request (header values written as latin-1)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in pairs]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


@dataclass
class Running:
    server: ThreadlineServer
    port: int

    async def send(self, *args: Any, **kwargs: Any) -> Answer:
        return await send(self.port, request(*args, **kwargs))

    async def thread_count(self) -> int:
        client: Any = connect(f"127.0.0.1:{self.server.port}")
        try:
            reply = await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
            return int(reply.count)
        finally:
            await client.channel.close(None)


async def running(tmp_path: Path, **settings: Any) -> AsyncIterator[Running]:
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            **settings,
        )
    )
    await server.start()
    try:
        yield Running(server, server.http_port)
    finally:
        await server.stop(grace=1.0)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[Running]:
    """A server with the default settings: CORS off."""
    async for item in running(tmp_path):
        yield item


@pytest.fixture
async def cors(tmp_path: Path) -> AsyncIterator[Running]:
    """A server whose pages at APP may call it."""
    async for item in running(tmp_path, cors_origins=(APP,)):
        yield item


JSON = {"Content-Type": "application/json"}


def error(answer: Answer) -> tuple[int, int]:
    """HTTP status and gRPC code of a grpc-gateway style JSON error."""
    body = answer.json
    assert set(body) == {"code", "message", "details"}, body
    assert answer.header("content-type") == "application/json"
    return answer.status, body["code"]


# -- a page on another site ---------------------------------------------------------------


async def test_a_page_on_another_site_cannot_make_the_server_act(http):
    # The audit's request: a "simple" cross-site POST, no preflight needed.
    plain = {"Content-Type": "text/plain", "Origin": EVIL}
    answer = await http.send("POST", "/v1/threads", b'{"threadId": "evil"}', plain)
    assert error(answer) == (403, 7)
    assert EVIL in answer.json["message"]
    # Other simple requests: an empty POST, a form, one marked cross-site by the browser.
    for body, headers in [
        (None, {"Origin": EVIL}),
        (b"thread_id=x", {"Content-Type": "application/x-www-form-urlencoded", "Origin": EVIL}),
        (b"{}", {**JSON, "Sec-Fetch-Site": "cross-site"}),
        (b"{}", {**JSON, "Sec-Fetch-Site": "same-site", "Origin": "https://sub.127.0.0.1"}),
        (b"{}", {**JSON, "Origin": "null"}),
    ]:
        assert error(await http.send("POST", "/v1/threads", body, headers)) == (403, 7), headers
    for method, target in [("DELETE", "/v1/threads/x"), ("PATCH", "/v1/threads/x")]:
        answer = await http.send(method, target, b"{}", {**JSON, "Origin": EVIL})
        assert error(answer) == (403, 7)
    assert await http.thread_count() == 0

    # Same-origin pages, browsers that say so, and clients that are not browsers act.
    for headers in [
        {"Origin": f"http://127.0.0.1:{http.port}"},
        {"Sec-Fetch-Site": "same-origin", "Origin": f"http://127.0.0.1:{http.port}"},
        {"Sec-Fetch-Site": "none"},
        {},
    ]:
        answer = await http.send(
            "POST", "/v1/threads", b"{}", {**JSON, **headers}, host=f"127.0.0.1:{http.port}"
        )
        assert answer.status == 200, (headers, answer.body)
    assert await http.thread_count() == 4
    # Reading is not refused (the page cannot read the answer without CORS).
    answer = await http.send("GET", "/v1/threads", headers={"Origin": EVIL})
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") is None


async def test_request_bodies_must_be_json(http):
    cases = [
        ({"Content-Type": "text/plain"}, "'text/plain'"),
        ({}, "no Content-Type"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "x-www-form-urlencoded"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, "multipart"),
        ({"Content-Type": "application/jsonx"}, "jsonx"),
    ]
    for headers, named in cases:
        answer = await http.send("POST", "/v1/threads", b'{"threadId": "t"}', headers)
        assert error(answer) == (415, 3), headers
        assert [d["reason"] for d in answer.json["details"]] == ["UNSUPPORTED_MEDIA_TYPE"]
        assert "application/json" in answer.json["message"]
        assert named in answer.json["message"]
    assert await http.thread_count() == 0
    # JSON with parameters, in any case; an empty body needs no Content-Type (it is {}).
    for body, headers in [
        (b"{}", {"Content-Type": "application/json; charset=utf-8"}),
        (b"{}", {"Content-Type": "APPLICATION/JSON"}),
        (b"", {}),
        (None, {}),
        (b"", {"Content-Type": "text/plain"}),
    ]:
        answer = await http.send("POST", "/v1/threads", body, headers)
        assert answer.status == 200, (body, headers, answer.body)
    # A route without a body ignores one; form posts still work as grpc-gateway's.
    answer = await http.send(
        "POST", "/v1/threads/nope", b"view=2", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert error(answer) == (404, 5)


# -- CORS ------------------------------------------------------------------------------------


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_cors_is_off_by_default(http):
    answer = await http.send("OPTIONS", "/v1/threads", headers=preflight(APP))
    assert error(answer) == (403, 7)
    assert "CORS is off" in answer.json["message"]
    assert answer.header("access-control-allow-origin") is None
    # An OPTIONS that is no preflight finds no route: 405 (grpc-gateway: 501).
    assert error(await http.send("OPTIONS", "/v1/threads")) == (405, 12)
    answer = await http.send("GET", "/v1/threads", headers={"Origin": APP})
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") is None
    assert answer.header("vary") is None


async def test_cors_for_a_listed_origin(cors):
    answer = await cors.send("OPTIONS", "/v1/threads", headers=preflight(APP))
    assert (answer.status, answer.body) == (204, b"")
    assert answer.header("access-control-allow-origin") == APP
    assert answer.header("access-control-allow-methods") == "DELETE, GET, PATCH, POST"
    allowed = {h.strip().lower() for h in answer.header("access-control-allow-headers").split(",")}
    assert {"authorization", "content-type", "last-event-id"} <= allowed
    assert int(answer.header("access-control-max-age")) > 0
    assert answer.header("vary") == "Origin"

    # The page's requests are served, and it may read the answers, errors too.
    answer = await cors.send(
        "POST", "/v1/threads", b'{"threadId": "from-app"}', {**JSON, "Origin": APP}
    )
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") == APP
    assert answer.header("vary") == "Origin"
    answer = await cors.send("GET", "/v1/threads/missing", headers={"Origin": APP})
    assert (answer.status, answer.header("access-control-allow-origin")) == (404, APP)
    # A stream's answer too (its headers are sent by the handler).
    answer = await cors.send(
        "GET",
        "/v1/threads/from-app/events",
        headers={"Origin": APP, "Grpc-Timeout": "300m", "Accept": "application/x-ndjson"},
    )
    assert answer.header("access-control-allow-origin") == APP

    # Any other origin: no preflight, no acting, no reading.
    answer = await cors.send("OPTIONS", "/v1/threads", headers=preflight(EVIL))
    assert error(answer) == (403, 7)
    assert answer.header("access-control-allow-origin") is None
    answer = await cors.send("POST", "/v1/threads", b"{}", {**JSON, "Origin": EVIL})
    assert error(answer) == (403, 7)
    answer = await cors.send("GET", "/v1/threads", headers={"Origin": EVIL})
    assert answer.status == 200
    assert answer.header("access-control-allow-origin") is None
    assert answer.header("vary") == "Origin"
    assert await cors.thread_count() == 1


def test_cors_origins_are_checked_at_start_up():
    assert config.parse(["--cors-origin", APP, "--cors-origin", "http://localhost:3000"])
    environ = {"THREADLINE_CORS_ORIGINS": f"{APP}, http://[::1]:5173"}
    assert config.load(None, environ).cors_origins == (APP, "http://[::1]:5173")
    for wrong in ["app.example", f"{APP}/", f"{APP}/path", "*", "ftp://app.example"]:
        with pytest.raises(SystemExit, match="is not an origin"):
            config.parse(["--cors-origin", wrong])


# -- DNS rebinding -----------------------------------------------------------------------------


async def test_a_loopback_listener_refuses_other_host_names(http):
    port = http.port
    for host in [f"evil.example:{port}", "evil.example", f"192.168.1.10:{port}", "localhost.evil"]:
        answer = await http.send("GET", "/v1/threads", host=host)
        assert error(answer) == (403, 7), host
        assert "loopback" in answer.json["message"]
        assert (await http.send("GET", "/metrics", host=host)).status == 403
    assert (await http.send("POST", "/v1/threads", b"{}", JSON, host="evil.example")).status == 403
    assert await http.thread_count() == 0
    for host in [
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "LOCALHOST",
        f"127.1.2.3:{port}",
        f"[::1]:{port}",
        f"app.localhost:{port}",
        "localhost.",
    ]:
        assert (await http.send("GET", "/v1/threads", host=host)).status == 200, host


async def test_a_reverse_proxy_name_can_be_allowed(tmp_path):
    async for allowed in running(tmp_path, http_allowed_hosts=("api.example",)):
        for host in ["api.example", f"API.example:{allowed.port}"]:
            assert (await allowed.send("GET", "/v1/threads", host=host)).status == 200
        assert (await allowed.send("GET", "/v1/threads", host="other.example")).status == 403


def test_loopback_names():
    for name in ["localhost", "LocalHost:80", "a.b.localhost", "127.0.0.1", "127.9.9.9:1", "[::1]"]:
        assert is_loopback_name(name), name
    for name in ["evil.example", "localhost.evil", "10.0.0.1", "[::2]:80", "0.0.0.0", ""]:  # noqa: S104
        assert not is_loopback_name(name), name


# -- no versions in Server -----------------------------------------------------------------------


async def test_no_server_header_names_a_version(http):
    answers = [
        await http.send("GET", "/v1/threads"),
        await http.send("GET", "/nope"),
        await http.send("GET", "/metrics"),
        # aiohttp's own answer to a request it cannot parse.
        await send(http.port, b"GET /\x01 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    ]
    assert [a.status for a in answers] == [200, 404, 200, 400]
    for answer in answers:
        assert answer.header("server") in (None, "threadline"), answer.headers


# -- malformed input ---------------------------------------------------------------------------

GZIP_OF_EMPTY_OBJECT = bytes.fromhex("1f8b08000000000000ffabae0500437bbf7002000000")
DIGITS = "9" * 5000

MALFORMED: list[tuple[str, str, bytes | None, dict[str, str], int]] = [
    # Content codings are not inflated: every one is refused, a valid gzip too.
    ("POST", "/v1/threads", b"{}", {**JSON, "Content-Encoding": "gzip"}, 415),
    ("POST", "/v1/threads", GZIP_OF_EMPTY_OBJECT, {**JSON, "Content-Encoding": "gzip"}, 415),
    ("POST", "/v1/threads", b"{}", {**JSON, "Content-Encoding": "deflate"}, 415),
    ("POST", "/v1/threads", b"{}", {**JSON, "Content-Encoding": "br"}, 415),
    ("POST", "/v1/threads", b"{}", {**JSON, "Content-Encoding": "zstd"}, 415),
    ("POST", "/v1/threads", b"{}", {**JSON, "Content-Encoding": "x-unknown"}, 415),
    # Percent-encoding that is not UTF-8, anywhere in the URL.
    ("GET", "/v1/threads?page_token=%ff", None, {}, 400),
    ("GET", "/v1/threads/%ff%fe", None, {}, 400),
    ("GET", "/v1/threads?filter.user_id=caf%FF", None, {}, 400),
    ("GET", "/v1/threads?%ff=1", None, {}, 400),
    ("GET", "/%ff", None, {}, 400),
    ("GET", "/openapi.json%ff", None, {}, 400),
    ("GET", "http://x/v1/threads/%c0%af", None, {}, 400),
    ("GET", "/v1/threads/%ed%a0%80", None, {}, 400),
    ("PATCH", "/v1/threads/x?update_mask=%ff", b"{}", JSON, 400),
    ("GET", "/v1/threads/a%zz", None, {}, 400),
    ("GET", "/v1/threads?view=%", None, {}, 400),
    # Invalid UTF-8 in JSON, in keys and values; a lone surrogate escape.
    ("POST", "/v1/threads", b'{"thread": {"title": "\xff"}}', JSON, 400),
    ("POST", "/v1/threads", b'{"\xc3": 1}', JSON, 400),
    ("POST", "/v1/threads", b'{"thread": {"title": "\\ud800"}}', JSON, 400),
    ("POST", "/v1/threads", b"\xef\xbb\xbf{}", JSON, 400),
    # Huge numbers, in JSON and in the query, in every kind of field.
    ("POST", "/v1/threads", f'{{"thread": {{"metadata": {{"n": {DIGITS}}}}}}}'.encode(), JSON, 400),
    ("POST", "/v1/threads", f'{{"ifExists": {DIGITS}}}'.encode(), JSON, 400),
    ("POST", "/v1/threads", b'{"thread": {"metadata": {"n": 1e400}}}', JSON, 400),
    ("POST", "/v1/threads", b'{"thread": {"ttl": "99999999999999999999999s"}}', JSON, 400),
    ("GET", f"/v1/threads?page_size={DIGITS}", None, {}, 400),
    ("GET", f"/v1/threads?page_size=-{DIGITS}", None, {}, 400),
    ("GET", f"/v1/threads?filter.created_after.seconds={DIGITS}", None, {}, 400),
    ("GET", f"/v1/threads?filter.metadata=%7B%22n%22%3A{DIGITS}%7D", None, {}, 400),
    ("GET", "/v1/threads?filter.created_after=99999-01-01T00:00:00Z", None, {}, 400),
    # Header values that are not UTF-8 or not numbers, quoted back in the error.
    ("GET", "/v1/threads", None, {"Grpc-Timeout": "\xff1S"}, 400),
    ("GET", "/v1/threads", None, {"Grpc-Timeout": f"{DIGITS}S"}, 400),
    (
        "GET",
        "/v1/runs/x/events",
        None,
        {"Accept": "text/event-stream", "Last-Event-ID": "\xff"},
        400,
    ),
    (
        "GET",
        "/v1/runs/x/events",
        None,
        {"Accept": "text/event-stream", "Last-Event-ID": DIGITS},
        400,
    ),
    ("POST", "/v1/threads", b"{}", {"Content-Type": "\xff/\xfe"}, 415),
    ("POST", "/v1/threads", b"{}", {"Content-Type": "application/json; charset=\xff"}, 200),
]


async def test_malformed_input_is_a_4xx_and_never_a_traceback(http, caplog, counts):
    caplog.set_level(logging.WARNING)
    statuses = []
    for method, target, body, headers, expected in MALFORMED:
        answer = await http.send(method, target, body, headers)
        statuses.append(answer.status)
        assert answer.status == expected, (method, target[:80], headers, answer.body[:300])
        if answer.body == b"400 Bad Request":
            # A malformed escape in the path: Go's net/http's plain answer, as grpc-gateway's.
            assert "%zz" in target
        elif answer.status != 200:
            assert error(answer)[0] == expected
            answer.body.decode("utf-8")  # the error quotes the input, as valid UTF-8
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    counts(f"malformed requests: {len(MALFORMED)}, statuses {sorted(set(statuses))}, 5xx 0")
    # The server still serves.
    assert (await http.send("GET", "/v1/threads")).status == 200
