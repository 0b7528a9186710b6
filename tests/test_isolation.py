"""Isolation: every RPC and HTTP route, tried on tenant a's resources with the wrong credentials.

Tenant a has a thread (with a message and a finished run), a worker run it
holds a lease on, and a queued worker run on a second thread. Then each RPC
(gRPC) and each route (HTTP) is tried on those resources with eight
credentials: another tenant's admin key, no key, a made-up key, a's revoked
key, a's admin key with one character changed, an Authorization that is not
Bearer (Basic, with a's key in it), an empty Bearer, and (on the calls that
write) a's read key. The RPCs come from the services' descriptors and the
routes from the route table (test_every_rpc_and_route_is_in_the_matrix), so a
new RPC cannot be left out.

Every attempt must fail as specified, and none may leak that the resource
exists: after a's threads are deleted, every attempt is made again (another
tenant's part by a second, fresh tenant) and must give the same answer, byte
for byte (code, message, and the google.rpc.Status in the trailers; over
HTTP, status, body and WWW-Authenticate). Tenant a's data must be untouched.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    webhook_pb2,
    webhook_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.transport.auth import REQUIRED_SCOPE
from threadline_server.transport.server import SERVICE_NAMES, ThreadlineServer

from tests.tenants import bearer, make_key, revoke_key
from tests.test_threads import struct

pytestmark = pytest.mark.api

HTTP_STATUS = {"OK": 200, "NOT_FOUND": 404, "FAILED_PRECONDITION": 400}
UNAUTHENTICATED = ("UNAUTHENTICATED", 401)
PERMISSION_DENIED = ("PERMISSION_DENIED", 403)
# Made up, well formed: tl_ + 16 base32 + _ + 43 base64url characters.
BAD_KEY = "tl_aaaaaaaaaaaaaaaa_" + "A" * 43
# A thread id the server made: a's threads have ids of a's choosing, so one of
# these in a reply is a thread an attempt made (another tenant's default
# thread), different on every run.
SERVER_MADE_THREAD_ID = re.compile(r"(thr|wh)_[0-9a-z]{26}")
# A webhook URL at a global address, given as one (nothing to resolve); its
# webhooks ask for an event no run here makes, so nothing is ever sent to it.
WEBHOOK_URL = "https://93.184.215.14/hooks"
WEBHOOK_SECRET = "whsec_" + "a" * 44


@dataclass
class Stubs:
    """Stubs of every service on one channel."""

    threads: thread_pb2_grpc.ThreadServiceAsyncStub
    messages: message_pb2_grpc.MessageServiceAsyncStub
    runs: run_pb2_grpc.RunServiceAsyncStub
    workers: worker_pb2_grpc.AgentWorkerServiceAsyncStub
    webhooks: webhook_pb2_grpc.WebhookServiceAsyncStub

    @classmethod
    def on(cls, channel: grpc.aio.Channel) -> Stubs:
        return cls(
            thread_pb2_grpc.ThreadServiceStub(channel),
            message_pb2_grpc.MessageServiceStub(channel),
            run_pb2_grpc.RunServiceStub(channel),
            worker_pb2_grpc.AgentWorkerServiceStub(channel),
            webhook_pb2_grpc.WebhookServiceStub(channel),
        )


@dataclass
class World:
    """Tenant a's resources, and the keys of everyone."""

    server: ThreadlineServer
    stubs: Stubs
    http: str
    database: Path
    thread_id: str
    message_id: str
    run_id: str
    worker_run_id: str
    lease_id: str
    queued_run_id: str
    default_thread_id: str
    webhook_id: str
    keys: dict[str, str]


@dataclass(frozen=True)
class Attempt:
    """One RPC: how to call it over gRPC, its HTTP route, and what another tenant gets."""

    rpc: str
    call: Callable[[Stubs, World], Any]
    http: Callable[[World], tuple[str, str, dict[str, Any] | None]]
    # What another tenant gets: NOT_FOUND, or what the RPC answers for nothing there.
    other_tenant: str = "NOT_FOUND"
    streaming: bool = False

    @property
    def writes(self) -> bool:
        return REQUIRED_SCOPE[f"/threadline.v1.{self.rpc}"].label != "read"


def _user_message(text: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=text)]
    )


OWNED_BY_A = thread_pb2.ThreadFilter(metadata=struct({"owner": "a"}))
ATTEMPTS = [
    Attempt(
        "ThreadService/GetThread",
        lambda s, w: s.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=w.thread_id)),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}", None),
    ),
    Attempt(
        "ThreadService/ListThreads",
        lambda s, w: s.threads.ListThreads(thread_pb2.ListThreadsRequest(filter=OWNED_BY_A)),
        lambda w: ("GET", "/v1/threads?filter.metadata=%7B%22owner%22%3A%22a%22%7D", None),
        other_tenant="OK",
    ),
    Attempt(
        "ThreadService/CountThreads",
        lambda s, w: s.threads.CountThreads(thread_pb2.CountThreadsRequest(filter=OWNED_BY_A)),
        lambda w: ("GET", "/v1/threads:count?filter.metadata=%7B%22owner%22%3A%22a%22%7D", None),
        other_tenant="OK",
    ),
    Attempt(
        "ThreadService/UpdateThread",
        lambda s, w: s.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id=w.thread_id, title="taken"),
                update_mask=field_mask_pb2.FieldMask(paths=["title"]),
            )
        ),
        lambda w: ("PATCH", f"/v1/threads/{w.thread_id}", {"title": "taken"}),
    ),
    Attempt(
        "ThreadService/DeleteThread",
        lambda s, w: s.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id=w.thread_id)),
        lambda w: ("DELETE", f"/v1/threads/{w.thread_id}", None),
    ),
    Attempt(
        "ThreadService/CopyThread",
        lambda s, w: s.threads.CopyThread(
            thread_pb2.CopyThreadRequest(thread_id=w.thread_id, new_thread_id="stolen")
        ),
        lambda w: ("POST", f"/v1/threads/{w.thread_id}:copy", {"newThreadId": "stolen"}),
    ),
    Attempt(
        "ThreadService/GetThreadState",
        lambda s, w: s.threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id=w.thread_id)
        ),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/state", None),
    ),
    Attempt(
        "ThreadService/UpdateThreadState",
        lambda s, w: s.threads.UpdateThreadState(
            thread_pb2.UpdateThreadStateRequest(
                thread_state=thread_pb2.ThreadState(
                    thread_id=w.thread_id, values=struct({"secret": "forged"})
                )
            )
        ),
        lambda w: ("PATCH", f"/v1/threads/{w.thread_id}/state", {"values": {"secret": "x"}}),
    ),
    Attempt(
        "ThreadService/ListThreadCheckpoints",
        lambda s, w: s.threads.ListThreadCheckpoints(
            thread_pb2.ListThreadCheckpointsRequest(thread_id=w.thread_id)
        ),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/checkpoints", None),
    ),
    Attempt(
        "ThreadService/ClearThread",
        lambda s, w: s.threads.ClearThread(thread_pb2.ClearThreadRequest(thread_id=w.thread_id)),
        lambda w: ("POST", f"/v1/threads/{w.thread_id}:clear", {}),
    ),
    Attempt(
        "MessageService/CreateMessage",
        lambda s, w: s.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=w.thread_id, message=_user_message("x"))
        ),
        lambda w: (
            "POST",
            f"/v1/threads/{w.thread_id}/messages",
            {"role": "MESSAGE_ROLE_USER", "parts": [{"text": "x"}]},
        ),
    ),
    Attempt(
        "MessageService/GetMessage",
        lambda s, w: s.messages.GetMessage(
            message_pb2.GetMessageRequest(thread_id=w.thread_id, message_id=w.message_id)
        ),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/messages/{w.message_id}", None),
    ),
    Attempt(
        "MessageService/ListMessages",
        lambda s, w: s.messages.ListMessages(
            message_pb2.ListMessagesRequest(thread_id=w.thread_id)
        ),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/messages", None),
    ),
    Attempt(
        "MessageService/UpdateMessage",
        lambda s, w: s.messages.UpdateMessage(
            message_pb2.UpdateMessageRequest(
                message=message_pb2.Message(
                    thread_id=w.thread_id, message_id=w.message_id, metadata=struct({"x": 1})
                ),
                update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
            )
        ),
        lambda w: (
            "PATCH",
            f"/v1/threads/{w.thread_id}/messages/{w.message_id}",
            {"metadata": {"x": 1}},
        ),
    ),
    Attempt(
        "MessageService/DeleteMessage",
        lambda s, w: s.messages.DeleteMessage(
            message_pb2.DeleteMessageRequest(thread_id=w.thread_id, message_id=w.message_id)
        ),
        lambda w: ("DELETE", f"/v1/threads/{w.thread_id}/messages/{w.message_id}", None),
    ),
    Attempt(
        "RunService/CreateRun",
        lambda s, w: s.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=w.thread_id, agent_id="echo")
        ),
        lambda w: ("POST", f"/v1/threads/{w.thread_id}/runs", {"agentId": "echo"}),
    ),
    Attempt(
        "RunService/GetRun",
        lambda s, w: s.runs.GetRun(run_pb2.GetRunRequest(run_id=w.run_id)),
        lambda w: ("GET", f"/v1/runs/{w.run_id}", None),
    ),
    Attempt(
        "RunService/ListRuns",
        lambda s, w: s.runs.ListRuns(run_pb2.ListRunsRequest(thread_id=w.thread_id)),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/runs", None),
    ),
    Attempt(
        "RunService/CancelRun",
        lambda s, w: s.runs.CancelRun(run_pb2.CancelRunRequest(run_id=w.worker_run_id)),
        lambda w: ("POST", f"/v1/runs/{w.worker_run_id}:cancel", {}),
    ),
    Attempt(
        "RunService/ResumeRun",
        lambda s, w: s.runs.ResumeRun(
            run_pb2.ResumeRunRequest(run_id=w.run_id, answer=struct_pb2.Value(bool_value=True))
        ),
        lambda w: ("POST", f"/v1/runs/{w.run_id}:resume", {"answer": True}),
    ),
    Attempt(
        "RunService/WaitRun",
        lambda s, w: s.runs.WaitRun(
            run_pb2.WaitRunRequest(run_id=w.run_id, timeout=duration_pb2.Duration(seconds=1))
        ),
        lambda w: ("POST", f"/v1/runs/{w.run_id}:wait", {"timeout": "1s"}),
    ),
    Attempt(
        "RunService/StreamRunEvents",
        lambda s, w: s.runs.StreamRunEvents(run_pb2.StreamRunEventsRequest(run_id=w.run_id)),
        lambda w: ("GET", f"/v1/runs/{w.run_id}/events", None),
        streaming=True,
    ),
    Attempt(
        "RunService/StreamRunEventBatches",
        lambda s, w: s.runs.StreamRunEventBatches(run_pb2.StreamRunEventsRequest(run_id=w.run_id)),
        lambda w: ("GET", f"/v1/runs/{w.run_id}/events:batches", None),
        streaming=True,
    ),
    Attempt(
        "RunService/StreamRun",
        lambda s, w: s.runs.StreamRun(
            run_pb2.CreateRunRequest(thread_id=w.thread_id, agent_id="echo")
        ),
        lambda w: ("POST", f"/v1/threads/{w.thread_id}/runs:stream", {"agentId": "echo"}),
        streaming=True,
    ),
    Attempt(
        "RunService/WatchThread",
        lambda s, w: s.runs.WatchThread(run_pb2.WatchThreadRequest(thread_id=w.thread_id)),
        lambda w: ("GET", f"/v1/threads/{w.thread_id}/events", None),
        streaming=True,
    ),
    Attempt(
        "RunService/Chat",
        lambda s, w: s.runs.Chat(
            run_pb2.ChatRequest(thread_id=w.thread_id, agent_id="echo", message="hi")
        ),
        lambda w: (
            "POST",
            "/v1/chat",
            {"threadId": w.thread_id, "agentId": "echo", "message": "hi"},
        ),
    ),
    Attempt(
        "AgentWorkerService/ClaimRun",
        lambda s, w: s.workers.ClaimRun(worker_pb2.ClaimRunRequest(agent_id="w")),
        lambda w: ("POST", "/v1/agents/w/runs:claim", {}),
        other_tenant="OK",
    ),
    Attempt(
        "AgentWorkerService/ReportRunEvents",
        lambda s, w: s.workers.ReportRunEvents(
            worker_pb2.ReportRunEventsRequest(
                run_id=w.worker_run_id,
                lease_id=w.lease_id,
                events=[worker_pb2.WorkerEvent(text_delta="forged")],
            )
        ),
        lambda w: (
            "POST",
            f"/v1/runs/{w.worker_run_id}:report",
            {"leaseId": w.lease_id, "events": [{"textDelta": "forged"}]},
        ),
        other_tenant="FAILED_PRECONDITION",
    ),
    Attempt(
        "AgentWorkerService/RenewLease",
        lambda s, w: s.workers.RenewLease(
            worker_pb2.RenewLeaseRequest(run_id=w.worker_run_id, lease_id=w.lease_id)
        ),
        lambda w: ("POST", f"/v1/runs/{w.worker_run_id}:renewLease", {"leaseId": w.lease_id}),
        other_tenant="FAILED_PRECONDITION",
    ),
    Attempt(
        "WebhookService/GetWebhook",
        lambda s, w: s.webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=w.webhook_id)),
        lambda w: ("GET", f"/v1/webhooks/{w.webhook_id}", None),
    ),
    Attempt(
        "WebhookService/ListWebhooks",
        lambda s, w: s.webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest()),
        lambda w: ("GET", "/v1/webhooks", None),
        other_tenant="OK",
    ),
    Attempt(
        "WebhookService/ListWebhookDeliveries",
        lambda s, w: s.webhooks.ListWebhookDeliveries(
            webhook_pb2.ListWebhookDeliveriesRequest(webhook_id=w.webhook_id)
        ),
        lambda w: ("GET", f"/v1/webhookDeliveries?webhookId={w.webhook_id}", None),
    ),
    Attempt(
        "WebhookService/DeleteWebhook",
        lambda s, w: s.webhooks.DeleteWebhook(
            webhook_pb2.DeleteWebhookRequest(webhook_id=w.webhook_id)
        ),
        lambda w: ("DELETE", f"/v1/webhooks/{w.webhook_id}", None),
    ),
    # It succeeds for another tenant (a webhook of its own), after ListWebhooks.
    Attempt(
        "WebhookService/CreateWebhook",
        lambda s, w: s.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(
                webhook=webhook_pb2.Webhook(
                    url=WEBHOOK_URL,
                    secret=WEBHOOK_SECRET,
                    event_types=["run.max_iterations_reached"],
                )
            )
        ),
        lambda w: (
            "POST",
            "/v1/webhooks",
            {
                "url": WEBHOOK_URL,
                "secret": WEBHOOK_SECRET,
                "eventTypes": ["run.max_iterations_reached"],
            },
        ),
        other_tenant="OK",
    ),
    # It succeeds for another tenant: a default thread of its own, never a's.
    Attempt(
        "ThreadService/GetDefaultThread",
        lambda s, w: s.threads.GetDefaultThread(
            thread_pb2.GetDefaultThreadRequest(agent_id="echo", user_id="u-a")
        ),
        lambda w: ("POST", "/v1/threads:getDefault", {"agentId": "echo", "userId": "u-a"}),
        other_tenant="OK",
    ),
    # Last: it succeeds for another tenant (a thread of its own under the same
    # id), which would change what the attempts above find.
    Attempt(
        "ThreadService/CreateThread",
        lambda s, w: s.threads.CreateThread(thread_pb2.CreateThreadRequest(thread_id=w.thread_id)),
        lambda w: ("POST", "/v1/threads", {"threadId": w.thread_id}),
        other_tenant="OK",
    ),
]
# (credential, whose keys in phase 1 and phase 2, expected code, expected reason)
CREDENTIALS = {
    "other tenant": None,
    "no key": ("UNAUTHENTICATED", "API_KEY_MISSING"),
    "bad key": ("UNAUTHENTICATED", "API_KEY_INVALID"),
    "revoked key": ("UNAUTHENTICATED", "API_KEY_INVALID"),
    "near-miss key": ("UNAUTHENTICATED", "API_KEY_INVALID"),
    "not bearer": ("UNAUTHENTICATED", "API_KEY_INVALID"),
    "empty bearer": ("UNAUTHENTICATED", "API_KEY_INVALID"),
    "read key": ("PERMISSION_DENIED", "INSUFFICIENT_SCOPE"),
}
# A key that stands for a whole Authorization value, sent as it is (not after "Bearer ").
RAW = "raw:"


def _normalised(message: Message) -> bytes:
    """A reply without what differs between two equal answers (times, etags)."""
    copy = type(message)()
    copy.CopyFrom(message)
    _clear_volatile(copy)
    return copy.SerializeToString(deterministic=True)


def _clear_volatile(message: Message) -> None:
    for field, value in message.ListFields():
        if (
            field.message_type is timestamp_pb2.Timestamp.DESCRIPTOR
            or field.name == "etag"
            or (isinstance(value, str) and SERVER_MADE_THREAD_ID.fullmatch(value))
        ):
            message.ClearField(field.name)
        elif field.message_type is not None and field.is_repeated:
            if not field.message_type.GetOptions().map_entry:
                for item in value:
                    _clear_volatile(item)
        elif field.message_type is not None:
            _clear_volatile(value)


def _reason(status: status_pb2.Status) -> str:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


@dataclass(frozen=True)
class GrpcOutcome:
    code: str
    message: str
    status_bytes: bytes  # the google.rpc.Status trailer, or the normalised reply

    @property
    def reason(self) -> str:
        return _reason(status_pb2.Status.FromString(self.status_bytes)) if self.code != "OK" else ""


def _authorization(key: str | None) -> str | None:
    """The Authorization value that carries a key (a RAW one as it is)."""
    if key is None:
        return None
    return key.removeprefix(RAW) if key.startswith(RAW) else f"Bearer {key}"


async def _grpc_attempt(
    attempt: Attempt, stubs: Stubs, world: World, key: str | None
) -> GrpcOutcome:
    value = _authorization(key)
    metadata = () if value is None else (("authorization", value),)
    try:
        if attempt.streaming:
            replies = [
                _normalised(item) async for item in _with_metadata(attempt, stubs, world, metadata)
            ]
            return GrpcOutcome("OK", "", b"".join(replies))
        reply = await _with_metadata(attempt, stubs, world, metadata)
        return GrpcOutcome("OK", "", _normalised(reply))
    except grpc.aio.AioRpcError as error:
        # grpc-stubs types the metadata as _Metadatum; at run time it is (key, value) pairs.
        trailers: Any = error.trailing_metadata() or ()
        details = b"".join(
            bytes(value)
            for key, value in trailers
            if key == "grpc-status-details-bin" and isinstance(value, bytes)
        )
        return GrpcOutcome(error.code().name, error.details() or "", details)


class _WithMetadata:
    """A stub whose every call carries the given metadata and a deadline."""

    def __init__(self, stub: Any, metadata: Any) -> None:
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)
        # A deadline: a stream that hangs (delivering another tenant's events) fails too.
        return lambda request: method(request, metadata=self._metadata, timeout=5)


def _with_metadata(attempt: Attempt, stubs: Stubs, world: World, metadata: Any) -> Any:
    """Start the attempt's RPC with metadata."""
    wrapped = Stubs(
        *(
            _WithMetadata(stub, metadata)
            for stub in (stubs.threads, stubs.messages, stubs.runs, stubs.workers, stubs.webhooks)
        )  # type: ignore[arg-type]
    )
    return attempt.call(wrapped, world)


VOLATILE_JSON = {"createdAt", "updatedAt", "lastActivityAt", "etag"}


def _json_normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_normalised(v) for k, v in value.items() if k not in VOLATILE_JSON}
    if isinstance(value, list):
        return [_json_normalised(v) for v in value]
    if isinstance(value, str) and SERVER_MADE_THREAD_ID.fullmatch(value):
        return "<thread made by the attempt>"
    return value


@dataclass(frozen=True)
class HttpOutcome:
    status: int
    body: str
    www_authenticate: str | None

    @property
    def reason(self) -> str:
        try:
            documents = json.loads(self.body)  # the body's JSON documents, normalised
        except json.JSONDecodeError:
            return ""
        for document in documents:
            error = document.get("error", document) if isinstance(document, dict) else {}
            for detail in error.get("details", []) if isinstance(error, dict) else []:
                if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
                    return str(detail.get("reason", ""))
        return ""


async def _http_attempt(
    attempt: Attempt, session: aiohttp.ClientSession, world: World, key: str | None
) -> HttpOutcome:
    method, path, body = attempt.http(world)
    value = _authorization(key)
    headers = {} if value is None else {"Authorization": value}
    async with session.request(
        method, world.http + path, json=body, headers=headers, timeout=aiohttp.ClientTimeout(10)
    ) as response:
        text = await response.text()
        try:
            documents = [json.loads(line) for line in text.splitlines() if line.strip()]
            text = json.dumps(_json_normalised(documents), sort_keys=True)
        except json.JSONDecodeError:
            pass
        return HttpOutcome(response.status, text, response.headers.get("WWW-Authenticate"))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """A server with keys, and tenant a's resources in it."""
    database = tmp_path / "threadline.db"
    keys = {
        "a write": await make_key(database, "a", "write"),
        "a admin": await make_key(database, "a", "admin"),
        "a read": await make_key(database, "a", "read"),
        "a revoked": await make_key(database, "a", "admin"),
    }
    for tenant in ("b1", "b2", "b3", "b4"):
        keys[tenant] = await make_key(database, tenant, "admin")
    await revoke_key(database, keys["a revoked"])
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            database=str(database),
            worker_agents=("w",),
            grace_period=1.0,
        )
    )
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stubs = Stubs.on(channel)
    a, admin = bearer(keys["a write"]), bearer(keys["a admin"])
    try:
        thread = await stubs.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="t-a", thread=thread_pb2.Thread(metadata=struct({"owner": "a"}))
            ),
            metadata=a,
        )
        message = await stubs.messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id="t-a", message=_user_message("secret")),
            metadata=a,
        )
        await stubs.threads.UpdateThreadState(
            thread_pb2.UpdateThreadStateRequest(
                thread_state=thread_pb2.ThreadState(
                    thread_id="t-a", values=struct({"secret": "a's"})
                )
            ),
            metadata=a,
        )
        default = await stubs.threads.GetDefaultThread(
            thread_pb2.GetDefaultThreadRequest(agent_id="echo", user_id="u-a"), metadata=a
        )
        run = await stubs.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="t-a", agent_id="echo"), metadata=a
        )
        await stubs.runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id), metadata=a)
        await stubs.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="t-a", agent_id="w"), metadata=a
        )
        claimed = await stubs.workers.ClaimRun(
            worker_pb2.ClaimRunRequest(
                agent_id="w", lease_duration=duration_pb2.Duration(seconds=600)
            ),
            metadata=admin,
        )
        await stubs.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread_id="t-a2", thread=thread_pb2.Thread(metadata=struct({"owner": "a"}))
            ),
            metadata=a,
        )
        queued = await stubs.runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id="t-a2", agent_id="w"), metadata=a
        )
        webhook = await stubs.webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(
                webhook=webhook_pb2.Webhook(
                    url=WEBHOOK_URL, event_types=["run.max_iterations_reached"]
                )
            ),
            metadata=admin,
        )
        assert claimed.run.thread_id == thread.thread_id
        yield World(
            server=server,
            stubs=stubs,
            http=f"http://127.0.0.1:{server.http_port}",
            database=database,
            thread_id=thread.thread_id,
            message_id=message.message_id,
            run_id=run.run_id,
            worker_run_id=claimed.run.run_id,
            lease_id=claimed.lease_id,
            queued_run_id=queued.run_id,
            default_thread_id=default.thread_id,
            webhook_id=webhook.webhook_id,
            keys=keys,
        )
    finally:
        await channel.close(None)
        await server.stop(grace=1.0)


def _phase_key(world: World, credential: str, attacker: str) -> str | None:
    return {
        "other tenant": world.keys[attacker],
        "no key": None,
        "bad key": BAD_KEY,
        "revoked key": world.keys["a revoked"],
        # a's own admin key, one character changed: the right key id, the wrong secret.
        "near-miss key": world.keys["a admin"][:-1]
        + ("A" if world.keys["a admin"][-1] != "A" else "B"),
        "not bearer": RAW
        + "Basic "
        + base64.b64encode(f"a:{world.keys['a admin']}".encode()).decode(),
        "empty bearer": RAW + "Bearer ",
        "read key": world.keys["a read"],
    }[credential]


def _plan() -> list[tuple[Attempt, str]]:
    return [
        (attempt, credential)
        for attempt in ATTEMPTS
        for credential in CREDENTIALS
        if credential != "read key" or attempt.writes
    ]


async def _run_phase(world: World, grpc_attacker: str, http_attacker: str) -> dict[Any, Any]:
    outcomes: dict[Any, Any] = {}
    for attempt, credential in _plan():
        key = _phase_key(world, credential, grpc_attacker)
        outcomes["grpc", attempt.rpc, credential] = await _grpc_attempt(
            attempt, world.stubs, world, key
        )
    async with aiohttp.ClientSession() as session:
        for attempt, credential in _plan():
            key = _phase_key(world, credential, http_attacker)
            outcomes["http", attempt.rpc, credential] = await _http_attempt(
                attempt, session, world, key
            )
    return outcomes


def _as_specified(side: str, attempt: Attempt, credential: str, outcome: Any) -> str | None:
    """Return what is wrong with an outcome, or None."""
    expected = CREDENTIALS[credential]
    code, reason = expected if expected else (attempt.other_tenant, None)
    if side == "grpc":
        if outcome.code != code or (reason and outcome.reason != reason):
            return f"{outcome.code} {outcome.reason} {outcome.message!r}, expected {code} {reason}"
        return None
    status = {**HTTP_STATUS, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403}[code]
    if outcome.status != status or (reason and outcome.reason != reason):
        return f"HTTP {outcome.status} {outcome.body[:200]}, expected {status} {reason}"
    if code == "UNAUTHENTICATED" and not attempt.streaming and not outcome.www_authenticate:
        return "UNAUTHENTICATED without WWW-Authenticate"
    return None


async def _a_is_untouched(world: World) -> None:
    a = bearer(world.keys["a write"])
    stubs = world.stubs
    thread = await stubs.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=world.thread_id, view=thread_pb2.THREAD_VIEW_FULL),
        metadata=a,
    )
    assert thread.title == ""
    assert [m.message_id for m in thread.messages if m.run_id == ""] == [world.message_id]
    assert thread.messages[0].metadata == struct({})
    worker_run = await stubs.runs.GetRun(
        run_pb2.GetRunRequest(run_id=world.worker_run_id), metadata=a
    )
    assert worker_run.status == run_pb2.RUN_STATUS_RUNNING
    assert worker_run.response == ""
    queued = await stubs.runs.GetRun(run_pb2.GetRunRequest(run_id=world.queued_run_id), metadata=a)
    assert queued.status == run_pb2.RUN_STATUS_QUEUED
    count = await stubs.threads.CountThreads(thread_pb2.CountThreadsRequest(), metadata=a)
    assert count.count == 3
    state = await stubs.threads.GetThreadState(
        thread_pb2.GetThreadStateRequest(thread_id=world.thread_id), metadata=a
    )
    assert state.values == struct({"secret": "a's"})
    default = await stubs.threads.GetDefaultThread(
        thread_pb2.GetDefaultThreadRequest(agent_id="echo", user_id="u-a"), metadata=a
    )
    assert default.thread_id == world.default_thread_id
    renewed = await stubs.workers.RenewLease(
        worker_pb2.RenewLeaseRequest(run_id=world.worker_run_id, lease_id=world.lease_id),
        metadata=bearer(world.keys["a admin"]),
    )
    assert not renewed.cancelled
    webhook = await stubs.webhooks.GetWebhook(
        webhook_pb2.GetWebhookRequest(webhook_id=world.webhook_id), metadata=a
    )
    assert webhook.url == WEBHOOK_URL


async def test_no_credential_reaches_another_tenant_s_data(world: World, counts):
    # Phase 1: tenant a's resources exist.
    first = await _run_phase(world, "b1", "b3")
    await _a_is_untouched(world)
    # Phase 2: they exist nowhere; fresh tenants try the same.
    a = bearer(world.keys["a write"])
    for thread_id in (world.thread_id, "t-a2"):
        await world.stubs.threads.DeleteThread(
            thread_pb2.DeleteThreadRequest(thread_id=thread_id), metadata=a
        )
    await world.stubs.webhooks.DeleteWebhook(
        webhook_pb2.DeleteWebhookRequest(webhook_id=world.webhook_id),
        metadata=bearer(world.keys["a admin"]),
    )
    second = await _run_phase(world, "b2", "b4")

    wrong = []
    for (side, rpc, credential), outcome in first.items():
        attempt = next(a for a in ATTEMPTS if a.rpc == rpc)
        problem = _as_specified(side, attempt, credential, outcome)
        if problem:
            wrong.append(f"{side} {rpc} with {credential}: {problem}")
    leaks = [
        f"{side} {rpc} with {credential}:\n  exists:  {first[key]}\n  missing: {second[key]}"
        for key in first
        for side, rpc, credential in [key]
        if first[key] != second[key]
    ]
    rpcs = len(ATTEMPTS)
    routes = len({attempt.http(_PATHS)[:2] for attempt in ATTEMPTS})
    writes = sum(attempt.writes for attempt in ATTEMPTS)
    counts(
        f"isolation: {rpcs} RPCs and {routes} HTTP routes x {len(CREDENTIALS)} credentials "
        f"({', '.join(CREDENTIALS)}; the read key on the {writes} that write): {len(first)} "
        f"attempts, each made again once the resources were gone: {len(wrong)} not as "
        f"specified, {len(leaks)} leaks"
    )
    assert not wrong, "\n".join(wrong)
    assert not leaks, "\n".join(leaks)


class _Paths:
    """Placeholder ids, to count distinct routes."""

    thread_id = message_id = run_id = worker_run_id = lease_id = webhook_id = "x"


_PATHS: Any = _Paths()


def test_every_rpc_and_route_is_in_the_matrix():
    from threadline_server.http.routes import Router, bindings_for  # noqa: PLC0415

    rpcs = {
        f"{service.rsplit('.', 1)[1]}/{method.name}"
        for service in SERVICE_NAMES
        for method in _service(service).methods
    }
    assert {attempt.rpc for attempt in ATTEMPTS} == rpcs
    router = Router(bindings_for(SERVICE_NAMES))
    for attempt in ATTEMPTS:
        method, path, _ = attempt.http(_PATHS)
        routed = router.route(method, path.split("?")[0]).binding.rpc
        assert routed == f"/threadline.v1.{attempt.rpc}", f"{method} {path} is not {attempt.rpc}"
    assert len(router.bindings) == len(ATTEMPTS)


def _service(name: str) -> Any:
    from google.protobuf import descriptor_pool  # noqa: PLC0415

    return descriptor_pool.Default().FindServiceByName(name)
