"""TLS and mutual TLS on both listeners, the gateway's private way in, and reload on SIGHUP.

Certificates come from trustme: a certificate authority made in memory per
test, a server certificate for localhost and 127.0.0.1, and for mutual TLS a
second authority that signs client certificates. Every call goes over a real
TLS connection: grpc.aio channels, and aiohttp (or a raw ssl socket) for HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import trustme
from grpc_health.v1 import health_pb2, health_pb2_grpc
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
)
from threadline_server import config
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import ServerProcess

CALL_TIMEOUT = 10.0


@dataclass
class Pki:
    """A server CA and certificate on disk; a client CA and a client certificate for mTLS."""

    folder: Path
    ca: trustme.CA
    cert: Path
    key: Path
    client_ca: trustme.CA
    client_ca_file: Path
    client: trustme.LeafCert

    def issue(self, name: str, ca: trustme.CA | None = None) -> tuple[Path, Path]:
        """Write a server certificate (chain) and key for localhost, signed by ca."""
        leaf = (ca or self.ca).issue_cert("localhost", "127.0.0.1")
        cert, key = self.folder / f"{name}.pem", self.folder / f"{name}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        for extra in leaf.cert_chain_pems[1:]:
            extra.write_to_path(str(cert), append=True)
        leaf.private_key_pem.write_to_path(str(key))
        return cert, key


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    ca, client_ca = trustme.CA(), trustme.CA()
    client_ca_file = folder / "client-ca.pem"
    client_ca.cert_pem.write_to_path(str(client_ca_file))
    made = Pki(
        folder,
        ca,
        Path(),
        Path(),
        client_ca,
        client_ca_file,
        client_ca.issue_cert("worker@example.com"),
    )
    made.cert, made.key = made.issue("server")
    return made


def grpc_credentials(ca: trustme.CA, client: trustme.LeafCert | None = None) -> Any:
    """Channel credentials trusting ca, presenting client's certificate when given."""
    if client is None:
        return grpc.ssl_channel_credentials(ca.cert_pem.bytes())
    return grpc.ssl_channel_credentials(
        ca.cert_pem.bytes(),
        private_key=client.private_key_pem.bytes(),
        certificate_chain=b"".join(blob.bytes() for blob in client.cert_chain_pems),
    )


def http_context(ca: trustme.CA, client: trustme.LeafCert | None = None) -> ssl.SSLContext:
    """A client context trusting ca, presenting client's certificate when given."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if client is not None:
        client.configure_cert(context)
    return context


async def health(address: str, credentials: Any) -> Any:
    """One health Check over a new channel: SERVING, or the status code it failed with."""
    channel = grpc.aio.secure_channel(address, credentials)
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT
        )
    except grpc.aio.AioRpcError as error:
        return error.code()
    else:
        return reply.status
    finally:
        await channel.close(None)


async def create_over_https(port: int, context: ssl.SSLContext) -> tuple[int, dict[str, Any]]:
    """POST /v1/threads over a new HTTPS connection."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"https://127.0.0.1:{port}/v1/threads",
            json={"thread": {"title": "over TLS"}},
            ssl=context,
            timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT),
        ) as response,
    ):
        return response.status, await response.json()


async def https_refused(port: int, context: ssl.SSLContext) -> bool:
    """Whether an HTTPS request with this context gets no answer (the handshake fails)."""
    try:
        await create_over_https(port, context)
    except (aiohttp.ClientError, ssl.SSLError, ConnectionError):
        return True
    return False


@pytest.fixture
async def tls_server(tmp_path: Path, pki: Pki, request: Any) -> AsyncIterator[ThreadlineServer]:
    """A server with TLS on both listeners (mutual when the test is parametrized mutual=True)."""
    mutual = getattr(request, "param", False)
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(tmp_path / "threadline.db"),
            grace_period=1.0,
            tls_cert=str(pki.cert),
            tls_key=str(pki.key),
            tls_client_ca=str(pki.client_ca_file) if mutual else "",
        )
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=1.0)


@pytest.mark.api
async def test_grpc_and_http_serve_tls_and_refuse_plaintext(tls_server, pki):
    address = f"127.0.0.1:{tls_server.port}"
    assert await health(address, grpc_credentials(pki.ca)) == health_pb2.HealthCheckResponse.SERVING
    channel = grpc.aio.secure_channel(address, grpc_credentials(pki.ca))
    thread = await thread_pb2_grpc.ThreadServiceStub(channel).CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="grpc over TLS"))
    )
    await channel.close(None)
    assert thread.thread_id.startswith("thr_")
    status, body = await create_over_https(tls_server.http_port, http_context(pki.ca))
    assert (status, body["title"]) == (200, "over TLS")

    # Plaintext gets nothing on either port; a client that trusts another CA neither.
    plain = grpc.aio.insecure_channel(address)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=3)
    await plain.close(None)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    stranger = trustme.CA()
    assert await health(address, grpc_credentials(stranger)) == grpc.StatusCode.UNAVAILABLE
    assert await https_refused(tls_server.http_port, http_context(stranger))
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_server.http_port)
    writer.write(b"GET /v1/threads HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), CALL_TIMEOUT)
    writer.close()
    assert not answer.startswith(b"HTTP/"), answer[:100]


@pytest.mark.api
@pytest.mark.parametrize("tls_server", [True], indirect=True, ids=["mutual"])
async def test_mutual_tls_refuses_a_client_without_a_certificate(tls_server, pki):
    address = f"127.0.0.1:{tls_server.port}"
    with_cert = grpc_credentials(pki.ca, pki.client)
    assert await health(address, with_cert) == health_pb2.HealthCheckResponse.SERVING
    assert await health(address, grpc_credentials(pki.ca)) == grpc.StatusCode.UNAVAILABLE
    # A certificate from an authority the server does not name is no better.
    forged = trustme.CA().issue_cert("worker@example.com")
    assert await health(address, grpc_credentials(pki.ca, forged)) == grpc.StatusCode.UNAVAILABLE

    status, _ = await create_over_https(tls_server.http_port, http_context(pki.ca, pki.client))
    assert status == 200
    assert await https_refused(tls_server.http_port, http_context(pki.ca))
    assert await https_refused(tls_server.http_port, http_context(pki.ca, forged))


@pytest.mark.api
@pytest.mark.parametrize("tls_server", [True], indirect=True, ids=["mutual"])
async def test_the_http_side_calls_in_process_without_a_way_in_of_its_own(tls_server, pki):
    """Under mutual TLS the HTTP side has no client certificate, and needs none: it calls
    the server's handlers in process, so the server opens no socket or port for it."""
    assert not hasattr(tls_server, "gateway_socket")
    status, body = await create_over_https(tls_server.http_port, http_context(pki.ca, pki.client))
    assert status == 200
    # What HTTP made is the very same server's: gRPC, with a client certificate, reads it.
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{tls_server.port}", grpc_credentials(pki.ca, pki.client)
    )
    thread = await thread_pb2_grpc.ThreadServiceStub(channel).GetThread(
        thread_pb2.GetThreadRequest(thread_id=body["threadId"]), timeout=CALL_TIMEOUT
    )
    await channel.close(None)
    assert thread.title == "over TLS"


@pytest.mark.api
async def test_files_that_cannot_be_used_stop_the_start_with_the_reason(tmp_path, pki):
    _, other_key = pki.issue("other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    cases = {
        "the key does not belong to the certificate": (pki.cert, other_key, ""),
        "cannot read the certificate file": (tmp_path / "missing.pem", pki.key, ""),
        "not a PEM certificate chain or key": (garbage, pki.key, ""),
        "holds no PEM CA certificate": (pki.cert, pki.key, garbage),
    }
    for reason, (cert, key, client_ca) in cases.items():
        server = ThreadlineServer(
            Settings(
                listen="127.0.0.1:0",
                http_listen="127.0.0.1:0",
                database=str(tmp_path / "threadline.db"),
                tls_cert=str(cert),
                tls_key=str(key),
                tls_client_ca=str(client_ca),
            )
        )
        with pytest.raises(SystemExit) as stopped:
            await server.start()
        assert "cannot serve TLS" in str(stopped.value), stopped.value
        assert reason in str(stopped.value), stopped.value
    assert not (tmp_path / "threadline.db").exists()
    for flags, message in [
        (["--tls-cert", str(pki.cert)], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", str(pki.client_ca_file)], "needs --tls-cert"),
    ]:
        with pytest.raises(SystemExit, match=message):
            config.parse(flags)


# -- reload on SIGHUP ----------------------------------------------------------------------


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest().upper()


def served_certificate(port: int, ca: trustme.CA) -> str:
    """The fingerprint of the certificate a new HTTPS connection is shown."""
    context = http_context(ca)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=CALL_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return fingerprint(der)


def wait_for_log(child: ServerProcess, text: str, count: int = 1) -> None:
    deadline = time.monotonic() + CALL_TIMEOUT
    while child.log.count(text) < count:
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{child.log}"
        time.sleep(0.05)


async def created_over_http(response: aiohttp.ClientResponse) -> str:
    """Read an NDJSON event stream up to the next message.created; return the message's text."""
    while True:
        line = await asyncio.wait_for(response.content.readline(), CALL_TIMEOUT)
        event = json.loads(line)["result"]
        if event["type"] == "message.created":
            text: str = event["message"]["parts"][0]["text"]
            return text


async def created_over_grpc(stream: Any) -> str:
    """Read a WatchThread stream up to the next message.created; return the message's text."""
    while True:
        event = await asyncio.wait_for(stream.read(), CALL_TIMEOUT)
        if event.type == "message.created":
            text: str = event.message.parts[0].text
            return text


@pytest.mark.process
async def test_sighup_swaps_the_certificate_and_open_connections_go_on(spawn_server, pki):
    child = spawn_server(
        None,
        "--http-listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(pki.cert),
        "--tls-key",
        str(pki.key),
    )
    address = f"127.0.0.1:{child.port}"
    old_ca, new_ca = pki.ca, trustme.CA()
    old_print = served_certificate(child.http_port, old_ca)

    # Streams opened before the reload: gRPC WatchThread, and the same over HTTP.
    channel = grpc.aio.secure_channel(address, grpc_credentials(old_ca))
    threads = thread_pb2_grpc.ThreadServiceStub(channel)
    thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
    watch = run_pb2_grpc.RunServiceStub(channel).WatchThread(
        run_pb2.WatchThreadRequest(thread_id=thread.thread_id)
    )
    session = aiohttp.ClientSession()
    # An NDJSON stream answers with its first event.
    opening = asyncio.ensure_future(
        session.get(
            f"https://127.0.0.1:{child.http_port}/v1/threads/{thread.thread_id}/events",
            headers={"Accept": "application/x-ndjson"},
            ssl=http_context(old_ca),
        )
    )

    async def add_message(text: str, credentials: Any) -> None:
        writer = grpc.aio.secure_channel(address, credentials)
        await message_pb2_grpc.MessageServiceStub(writer).CreateMessage(
            message_pb2.CreateMessageRequest(
                thread_id=thread.thread_id,
                message=message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
                ),
            ),
            timeout=CALL_TIMEOUT,
        )
        await writer.close(None)

    http_stream: aiohttp.ClientResponse | None = None
    try:
        await add_message("before", grpc_credentials(old_ca))
        assert await created_over_grpc(watch) == "before"
        http_stream = await asyncio.wait_for(opening, CALL_TIMEOUT)
        assert http_stream.status == 200
        assert await created_over_http(http_stream) == "before"

        # New files in place, then SIGHUP.
        new_cert, new_key = pki.issue("renewed", new_ca)
        pki.cert.write_bytes(new_cert.read_bytes())
        pki.key.write_bytes(new_key.read_bytes())
        child.process.send_signal(signal.SIGHUP)
        wait_for_log(child, "TLS certificate reloaded")
        assert child.process.poll() is None

        # New connections see the new certificate, on both listeners ...
        new_print = served_certificate(child.http_port, new_ca)
        assert new_print != old_print
        assert new_print in child.log
        assert await health(address, grpc_credentials(new_ca)) == 1
        assert await health(address, grpc_credentials(old_ca)) == grpc.StatusCode.UNAVAILABLE
        assert await https_refused(child.http_port, http_context(old_ca))
        # ... and the streams opened before go on over their old connections.
        await add_message("after", grpc_credentials(new_ca))
        assert await created_over_grpc(watch) == "after"
        assert await created_over_http(http_stream) == "after"
        # The old channel's connection is still up for new calls too.
        assert await threads.GetThread(thread_pb2.GetThreadRequest(thread_id=thread.thread_id))

        # A bad file on SIGHUP: the server says why and keeps serving the last good one.
        pki.key.write_text("not a key")
        child.process.send_signal(signal.SIGHUP)
        wait_for_log(child, "TLS certificate not reloaded")
        assert "one of them is not a PEM certificate chain or key" in child.log
        assert served_certificate(child.http_port, new_ca) == new_print
        assert await health(address, grpc_credentials(new_ca)) == 1
    finally:
        if http_stream is not None:
            http_stream.close()
        opening.cancel()
        await session.close()
        watch.cancel()
        await channel.close(None)
    assert child.stop() == 0


@pytest.mark.process
def test_sighup_without_tls_is_logged_and_harmless(spawn_server):
    child = spawn_server()
    child.process.send_signal(signal.SIGHUP)
    wait_for_log(child, "no TLS certificate to reload")
    assert child.process.poll() is None
    assert child.stop() == 0
