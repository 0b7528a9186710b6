"""Malformed requests to every method: INVALID_ARGUMENT with ErrorInfo, never INTERNAL or UNKNOWN.

A small corpus per method, built from a valid request of the method (its
seed, naming real threads, messages and runs, so that checks past
validation run too): bytes that are no message at all (truncated, a bad
wire type, a length past the end, bad UTF-8 in a string, groups and Structs
nested past protobuf's limit) and well-typed messages with extreme values
in every field, one at a time (the largest and smallest integers, enum
numbers nobody defined, NaN, 5,000-character strings, timestamps and
durations out of their range, JSON nested 40 deep, 10,000-entry lists).
Each is sent as bytes over a real channel to a real server; the test counts
the outcomes and checks that no call was INTERNAL or UNKNOWN, that every
error carried an ErrorInfo, and that no failed call wrote a row.
"""

from __future__ import annotations

import asyncio
import collections
import math
import sqlite3
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2
from google.protobuf import message as protobuf_message
from google.protobuf.descriptor import FieldDescriptor
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_status import rpc_status
from threadline.v1 import (
    message_pb2,
    message_pb2_grpc,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    thread_pb2_grpc,
    webhook_pb2,
    worker_pb2,
    worker_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import expect_failure

pytestmark = pytest.mark.api

WORKER_AGENT = "fuzz-worker"
TABLES = ("threads", "messages", "runs", "events", "request_ids", "checkpoints")
# Codes a call may end with on its own (a stream that runs until the client
# leaves is cut by its deadline); they carry no ErrorInfo.
CLIENT_SIDE = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
# How long a stream is read before the client leaves.
STREAM_SECONDS = 0.3
INVALID = grpc.StatusCode.INVALID_ARGUMENT


# -- the world the seeds refer to ----------------------------------------------


@dataclass
class World:
    """A server with a thread, a message, runs and a claimed worker run to aim at."""

    server: ThreadlineServer
    channel: grpc.aio.Channel
    database: Path
    thread_id: str
    message_id: str
    run_id: str
    worker_run_id: str
    lease_id: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    database = tmp_path / "threadline.db"
    server = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            database=str(database),
            grace_period=1.0,
            http_listen="",
            worker_agents=(WORKER_AGENT,),
        )
    )
    port = await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    threads = thread_pb2_grpc.ThreadServiceStub(channel)
    messages = message_pb2_grpc.MessageServiceStub(channel)
    runs = run_pb2_grpc.RunServiceStub(channel)
    workers = worker_pb2_grpc.AgentWorkerServiceStub(channel)
    try:
        thread = await threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="target"))
        )
        message = await messages.CreateMessage(
            message_pb2.CreateMessageRequest(thread_id=thread.thread_id, message=text("hi"))
        )
        run = await runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="echo")
        )
        await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
        worker_thread = await threads.CreateThread(thread_pb2.CreateThreadRequest())
        await runs.CreateRun(
            run_pb2.CreateRunRequest(thread_id=worker_thread.thread_id, agent_id=WORKER_AGENT)
        )
        claimed = await workers.ClaimRun(
            worker_pb2.ClaimRunRequest(
                agent_id=WORKER_AGENT, lease_duration=duration_pb2.Duration(seconds=600)
            )
        )
        yield World(
            server,
            channel,
            database,
            thread.thread_id,
            message.message_id,
            run.run_id,
            claimed.run.run_id,
            claimed.lease_id,
        )
    finally:
        await channel.close(None)
        await server.stop(grace=1.0)


def text(value: str) -> message_pb2.Message:
    return message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=value)]
    )


def seeds(world: World) -> dict[str, protobuf_message.Message]:
    """A valid request for every method, by full method name."""
    struct = struct_pb2.Struct()
    struct.update({"k": "v", "n": 1})
    full_message = message_pb2.Message(
        role=message_pb2.MESSAGE_ROLE_AGENT,
        parts=[
            message_pb2.Part(text="t"),
            message_pb2.Part(tool_call=message_pb2.ToolCall(id="c", name="n", arguments=struct)),
            message_pb2.Part(
                tool_result=message_pb2.ToolResult(tool_call_id="c", json=struct_pb2.Value())
            ),
            message_pb2.Part(
                media=message_pb2.Media(uri="https://e/x.png", mime_type="image/png", size_bytes=1)
            ),
        ],
        metadata=struct,
    )
    full_message.parts[2].tool_result.json.string_value = "ok"
    thread = thread_pb2.Thread(
        title="t",
        metadata=struct,
        agent_id="a",
        user_id="u",
        external_ref="x",
        locale=thread_pb2.Locale(language="en", country="GB", time_zone="Europe/London"),
        participants=[
            thread_pb2.Participant(id="p", name="n", type=thread_pb2.PARTICIPANT_TYPE_USER)
        ],
        ttl=duration_pb2.Duration(seconds=3600),
    )
    thread_filter = thread_pb2.ThreadFilter(
        agent_id="a",
        statuses=[thread_pb2.THREAD_STATUS_IDLE],
        thread_ids=[world.thread_id],
        metadata=struct,
    )
    thread_filter.created_after.FromSeconds(0)
    thread_filter.created_before.FromSeconds(2_000_000_000)
    thread_filter.updated_after.FromSeconds(0)
    thread_filter.updated_before.FromSeconds(2_000_000_000)
    update_thread = thread_pb2.Thread(thread_id=world.thread_id, title="new", metadata=struct)
    t, r, w = world.thread_id, world.run_id, world.worker_run_id
    return {
        "/threadline.v1.ThreadService/CreateThread": thread_pb2.CreateThreadRequest(
            thread=thread, request_id="seed-thread"
        ),
        "/threadline.v1.ThreadService/GetThread": thread_pb2.GetThreadRequest(
            thread_id=t, view=thread_pb2.THREAD_VIEW_FULL
        ),
        "/threadline.v1.ThreadService/ListThreads": thread_pb2.ListThreadsRequest(
            page_size=5, filter=thread_filter, order_by="created_at", include_total_size=True
        ),
        "/threadline.v1.ThreadService/CountThreads": thread_pb2.CountThreadsRequest(
            filter=thread_filter
        ),
        "/threadline.v1.ThreadService/UpdateThread": thread_pb2.UpdateThreadRequest(
            thread=update_thread,
            update_mask=field_mask_pb2.FieldMask(paths=["title", "metadata.k"]),
        ),
        "/threadline.v1.ThreadService/DeleteThread": thread_pb2.DeleteThreadRequest(
            thread_id="never-made", etag="1-1"
        ),
        "/threadline.v1.ThreadService/CopyThread": thread_pb2.CopyThreadRequest(
            thread_id=t, new_thread_id="copy"
        ),
        "/threadline.v1.ThreadService/GetThreadState": thread_pb2.GetThreadStateRequest(
            thread_id=t
        ),
        "/threadline.v1.ThreadService/UpdateThreadState": thread_pb2.UpdateThreadStateRequest(
            thread_state=thread_pb2.ThreadState(thread_id=t, values=struct, etag="initial"),
            update_mask=field_mask_pb2.FieldMask(paths=["values.k", "values.n"]),
        ),
        "/threadline.v1.ThreadService/ListThreadCheckpoints": (
            thread_pb2.ListThreadCheckpointsRequest(thread_id=t, page_size=2)
        ),
        "/threadline.v1.ThreadService/GetDefaultThread": thread_pb2.GetDefaultThreadRequest(
            agent_id="a", user_id="u"
        ),
        "/threadline.v1.ThreadService/ClearThread": thread_pb2.ClearThreadRequest(
            thread_id=t, etag="1-1"
        ),
        "/threadline.v1.MessageService/CreateMessage": message_pb2.CreateMessageRequest(
            thread_id=t, message=full_message, request_id="seed-message"
        ),
        "/threadline.v1.MessageService/GetMessage": message_pb2.GetMessageRequest(
            thread_id=t, message_id=world.message_id
        ),
        "/threadline.v1.MessageService/ListMessages": message_pb2.ListMessagesRequest(
            thread_id=t, page_size=3, order_by="created_at desc"
        ),
        "/threadline.v1.MessageService/UpdateMessage": message_pb2.UpdateMessageRequest(
            message=message_pb2.Message(thread_id=t, message_id=world.message_id, metadata=struct),
            update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
        ),
        "/threadline.v1.MessageService/DeleteMessage": message_pb2.DeleteMessageRequest(
            thread_id=t, message_id="msg_never_made"
        ),
        "/threadline.v1.RunService/CreateRun": run_pb2.CreateRunRequest(
            thread_id=t,
            agent_id="echo",
            input_messages=[text("go")],
            context=struct,
            max_iterations=2,
            metadata=struct,
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
            request_id="seed-run",
        ),
        "/threadline.v1.RunService/GetRun": run_pb2.GetRunRequest(run_id=r),
        "/threadline.v1.RunService/ListRuns": run_pb2.ListRunsRequest(
            thread_id=t, page_size=2, order_by="created_at"
        ),
        "/threadline.v1.RunService/CancelRun": run_pb2.CancelRunRequest(run_id=r),
        "/threadline.v1.RunService/ResumeRun": run_pb2.ResumeRunRequest(
            run_id=r, answer=struct_pb2.Value(bool_value=True), request_id="seed-resume"
        ),
        "/threadline.v1.RunService/WaitRun": run_pb2.WaitRunRequest(
            run_id=r, timeout=duration_pb2.Duration(nanos=1000)
        ),
        "/threadline.v1.RunService/StreamRunEvents": run_pb2.StreamRunEventsRequest(
            run_id=r, after_event_id=1, event_types=["message.delta", "run.completed"]
        ),
        "/threadline.v1.RunService/StreamRunEventBatches": run_pb2.StreamRunEventsRequest(
            run_id=r, after_event_id=1, event_types=["message.delta", "run.completed"]
        ),
        "/threadline.v1.RunService/StreamRun": run_pb2.CreateRunRequest(
            thread_id=t,
            agent_id="echo",
            multitask_strategy=run_pb2.MULTITASK_STRATEGY_ENQUEUE,
            request_id="seed-stream",
            stream_event_types=["run.created", "run.completed"],
        ),
        "/threadline.v1.RunService/WatchThread": run_pb2.WatchThreadRequest(
            thread_id=t, after_event_id=1, event_types=["state.updated"]
        ),
        "/threadline.v1.RunService/Chat": run_pb2.ChatRequest(
            message="hi",
            agent_id="tools-demo",
            context=struct,
            request_id="seed-chat",
            tools=["clock"],
            ttl=duration_pb2.Duration(seconds=60),
        ),
        "/threadline.v1.AgentWorkerService/ClaimRun": worker_pb2.ClaimRunRequest(
            agent_id=WORKER_AGENT,
            worker_id="w",
            lease_duration=duration_pb2.Duration(seconds=60),
            wait=duration_pb2.Duration(nanos=1000),
        ),
        "/threadline.v1.AgentWorkerService/ReportRunEvents": worker_pb2.ReportRunEventsRequest(
            run_id=w,
            lease_id=world.lease_id,
            events=[
                worker_pb2.WorkerEvent(text_delta="x"),
                worker_pb2.WorkerEvent(usage=run_pb2.Usage(prompt_tokens=1)),
                worker_pb2.WorkerEvent(
                    tool_call_finished=worker_pb2.ToolCallFinished(
                        result=message_pb2.ToolResult(tool_call_id="c", text="out"),
                        duration_ms=1,
                    )
                ),
                worker_pb2.WorkerEvent(
                    state_update=worker_pb2.StateUpdate(
                        values=struct, update_mask=field_mask_pb2.FieldMask(paths=["values.k"])
                    )
                ),
            ],
        ),
        "/threadline.v1.AgentWorkerService/RenewLease": worker_pb2.RenewLeaseRequest(
            run_id=w, lease_id=world.lease_id
        ),
        "/threadline.v1.WebhookService/CreateWebhook": webhook_pb2.CreateWebhookRequest(
            webhook=webhook_pb2.Webhook(
                url="https://93.184.215.14/hooks",
                event_types=["run.failed"],
                secret="whsec_" + "a" * 44,
                description="seed",
            )
        ),
        "/threadline.v1.WebhookService/GetWebhook": webhook_pb2.GetWebhookRequest(
            webhook_id="wh_never_made"
        ),
        "/threadline.v1.WebhookService/ListWebhooks": webhook_pb2.ListWebhooksRequest(page_size=2),
        "/threadline.v1.WebhookService/DeleteWebhook": webhook_pb2.DeleteWebhookRequest(
            webhook_id="wh_never_made"
        ),
        "/threadline.v1.WebhookService/ListWebhookDeliveries": (
            webhook_pb2.ListWebhookDeliveriesRequest(run_id=r, page_size=2)
        ),
        "/grpc.health.v1.Health/Check": health_pb2.HealthCheckRequest(service=""),
        "/grpc.health.v1.Health/Watch": health_pb2.HealthCheckRequest(service=""),
        "/grpc.health.v1.Health/List": health_pb2.HealthListRequest(),
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": (
            reflection_pb2.ServerReflectionRequest(list_services="")
        ),
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": (
            reflection_pb2.ServerReflectionRequest(file_containing_symbol="threadline.v1.Thread")
        ),
    }


def served_methods() -> list[str]:
    """Every method the server serves, from the services' descriptors."""
    files = (thread_pb2, message_pb2, run_pb2, worker_pb2, webhook_pb2, health_pb2)
    methods = [
        f"/{service.full_name}/{method.name}"
        for module in files
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    ]
    return [
        *methods,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ]


# -- the corpus ----------------------------------------------------------------

INT_EXTREMES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (2**32 - 1,),
    FieldDescriptor.TYPE_FIXED32: (2**32 - 1,),
    FieldDescriptor.TYPE_UINT64: (2**64 - 1,),
    FieldDescriptor.TYPE_FIXED64: (2**64 - 1,),
    FieldDescriptor.TYPE_ENUM: (2**31 - 1, -1, -(2**31)),
}
FLOAT_EXTREMES = (math.inf, -math.inf, math.nan, 1e308, -0.0)
STRING_EXTREMES = ("x" * 5000, "é" * 3000, "\x00\x01\x7f", "../../etc/passwd", " ")
# (seconds, nanos) out of google.protobuf.Timestamp's and Duration's ranges.
TIMESTAMP_EXTREMES = (
    (253_402_300_800, 0),
    (-62_135_596_801, 0),
    (0, -1),
    (0, 1_000_000_000),
    (2**63 - 1, 2**31 - 1),
    (-(2**63), -(2**31)),
)
DURATION_EXTREMES = (
    (315_576_000_001, 0),
    (-315_576_000_001, 0),
    (1, -1),
    (-1, 1),
    (0, 2_000_000_000),
    (2**63 - 1, 0),
    (-(2**63), 0),
)


def nested_value(depth: int) -> struct_pb2.Value:
    """A JSON value of objects nested depth deep."""
    value = struct_pb2.Value(string_value="leaf")
    for _ in range(depth):
        outer = struct_pb2.Value()
        outer.struct_value.fields["a"].CopyFrom(value)
        value = outer
    return value


def nested_list(depth: int) -> struct_pb2.Value:
    """A JSON value of arrays nested depth deep."""
    value = struct_pb2.Value(number_value=1)
    for _ in range(depth):
        outer = struct_pb2.Value()
        outer.list_value.values.add().CopyFrom(value)
        value = outer
    return value


def message_extremes(field: Any) -> Iterator[tuple[str, Any]]:
    """Extreme values for a field holding a well-known message type."""
    name = field.message_type.full_name
    if name == "google.protobuf.Timestamp":
        for seconds, nanos in TIMESTAMP_EXTREMES:
            yield f"timestamp({seconds},{nanos})", {"seconds": seconds, "nanos": nanos}
    elif name == "google.protobuf.Duration":
        for seconds, nanos in DURATION_EXTREMES:
            yield f"duration({seconds},{nanos})", {"seconds": seconds, "nanos": nanos}
    elif name in ("google.protobuf.Struct", "google.protobuf.Value"):
        for label, value in (
            ("json-objects-40-deep", nested_value(40)),
            ("json-arrays-40-deep", nested_list(40)),
            ("json-nan", struct_pb2.Value(number_value=math.nan)),
            ("json-no-kind", struct_pb2.Value()),
        ):
            if name == "google.protobuf.Value":
                yield label, value
            else:
                struct = struct_pb2.Struct()
                struct.fields["k"].CopyFrom(value)
                yield label, struct
    elif name == "google.protobuf.FieldMask":
        yield "mask-5000-chars", {"paths": ["metadata." + "p" * 5000]}
        yield "mask-100-keys-deep", {"paths": ["metadata." + ".".join(["a"] * 100)]}
        yield "mask-many-paths", {"paths": [f"é{'x' * 300}{i}" for i in range(50)]}


def scalar_extremes(field: Any) -> tuple[Any, ...]:
    if field.type in INT_EXTREMES:
        return INT_EXTREMES[field.type]
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return FLOAT_EXTREMES
    if field.type == FieldDescriptor.TYPE_STRING:
        return STRING_EXTREMES
    if field.type == FieldDescriptor.TYPE_BYTES:
        return (b"\xff" * 5000,)
    if field.type == FieldDescriptor.TYPE_BOOL:
        return (True,)
    return ()


def assign(message: Any, field: Any, value: Any) -> None:
    """Set one field (the first entry of a repeated one) to value."""
    if field.message_type is not None:
        target = (
            (getattr(message, field.name)[0] if getattr(message, field.name) else None)
            if field.is_repeated
            else getattr(message, field.name)
        )
        if target is None:
            target = getattr(message, field.name).add()
        if isinstance(value, protobuf_message.Message):
            target.CopyFrom(value)
        else:
            target.Clear()
            for key, item in value.items():
                if isinstance(item, list):
                    getattr(target, key).extend(item)
                else:
                    setattr(target, key, item)
        return
    if field.is_repeated:
        entries = getattr(message, field.name)
        if entries:
            entries[0] = value
        else:
            entries.append(value)
    else:
        setattr(message, field.name, value)


def field_variants(
    seed: protobuf_message.Message, path: tuple[str, ...] = (), depth: int = 0
) -> Iterator[tuple[str, bytes]]:
    """Well-typed copies of seed with one field set to an extreme value each."""

    def copy_at() -> tuple[Any, Any]:
        root = type(seed)()
        root.CopyFrom(seed)
        node: Any = root
        for name in path:
            child = getattr(node, name)
            node = (child[0] if child else child.add()) if hasattr(child, "add") else child
        return root, node

    _, here = copy_at()
    for field in here.DESCRIPTOR.fields:
        where = ".".join((*path, field.name))
        if field.message_type is not None:
            known = list(message_extremes(field))
            for label, value in known:
                root, node = copy_at()
                assign(node, field, value)
                yield f"{where}={label}", root.SerializeToString()
            if not known and depth < 4 and not field.message_type.GetOptions().map_entry:
                yield from field_variants(seed, (*path, field.name), depth + 1)
        else:
            for value in scalar_extremes(field):
                root, node = copy_at()
                assign(node, field, value)
                yield f"{where}={str(value)[:20]}", root.SerializeToString()
        if field.is_repeated and field.message_type is None:
            root, node = copy_at()
            many = ["x"] * 10_000 if field.type == FieldDescriptor.TYPE_STRING else [1] * 10_000
            getattr(node, field.name).extend(many)
            yield f"{where}=10000-entries", root.SerializeToString()
        elif field.is_repeated and not field.message_type.GetOptions().map_entry:
            root, node = copy_at()
            entries = getattr(node, field.name)
            for _ in range(1000):
                entries.add()
            yield f"{where}=1000-empty-entries", root.SerializeToString()


def deep_struct_bytes(seed: protobuf_message.Message) -> Iterator[tuple[str, bytes]]:
    """Copies of seed whose first Struct or Value field nests past protobuf's limit of 100."""
    for field in seed.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.full_name in (
            "google.protobuf.Struct",
            "google.protobuf.Value",
        ):
            copy = type(seed)()
            copy.CopyFrom(seed)
            deep = nested_value(120)
            is_struct = field.message_type.full_name == "google.protobuf.Struct"
            assign(copy, field, deep.struct_value if is_struct else deep)
            yield f"{field.name}=struct-120-deep", copy.SerializeToString()


def raw_variants(seed: protobuf_message.Message) -> Iterator[tuple[str, bytes]]:
    """Bytes that are not a message of any type, or not of this one."""
    data = seed.SerializeToString()
    yield "bad-utf8-field-1", b"\x0a\x02\xff\xfe"
    yield "ff-ff-ff", b"\xff\xff\xff"
    yield "wire-type-7", b"\x0f\x00"
    yield "end-group-unopened", b"\x0c"
    yield "length-past-end", b"\x0a\xff\xff\xff\xff\x07xyz"
    yield "varint-11-bytes", b"\x08" + b"\xff" * 10 + b"\x01"
    yield "groups-200-deep", b"\x0b" * 200 + b"\x0c" * 200
    yield "field-number-0", b"\x00\x01"
    if len(data) > 1:
        yield "truncated-last-byte", data[:-1]
        yield "truncated-half", data[: len(data) // 2]
    yield "bad-utf8-appended", data + b"\x0a\x03a\xc3\x28"
    yield "seed-twice", data + data
    yield from deep_struct_bytes(seed)


def corpus(seed: protobuf_message.Message) -> Iterator[tuple[str, bytes]]:
    """Everything sent to one method: the raw variants, then the well-typed extremes."""
    yield from raw_variants(seed)
    yield from field_variants(seed)


# -- calling -------------------------------------------------------------------


@dataclass
class Outcome:
    """How one call ended."""

    code: grpc.StatusCode
    reason: str
    error: grpc.aio.AioRpcError | None = None


def outcome_of(error: grpc.aio.AioRpcError) -> Outcome:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    reason = ""
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
    return Outcome(error.code(), reason, error)


def kind_of(method: str) -> str:
    if "ServerReflectionInfo" in method:
        return "bidi"
    if method.endswith(
        ("/StreamRunEvents", "/StreamRunEventBatches", "/StreamRun", "/WatchThread", "/Watch")
    ):
        return "server-stream"
    return "unary"


async def send(channel: grpc.aio.Channel, method: str, data: bytes) -> Outcome:
    """Send raw request bytes to a method; read the answer (a stream for STREAM_SECONDS)."""
    kind = kind_of(method)
    # No serializers: the bytes go out as they are, and answers come back as bytes.
    raw: dict[str, Any] = {"request_serializer": None, "response_deserializer": None}
    try:
        if kind == "unary":
            await channel.unary_unary(method, **raw)(data, timeout=10)
        elif kind == "server-stream":
            async for _ in channel.unary_stream(method, **raw)(data, timeout=STREAM_SECONDS):
                pass
        else:
            async for _ in channel.stream_stream(method, **raw)(iter([data]), timeout=5):
                pass
    except grpc.aio.AioRpcError as error:
        return outcome_of(error)
    return Outcome(grpc.StatusCode.OK, "")


def row_counts(database: Path) -> tuple[int, ...]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return tuple(
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES
        )


async def settle(database: Path) -> None:
    """Wait until no in-process run is in flight (their events would move the counts)."""
    for _ in range(200):
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            busy = connection.execute(
                "SELECT count(*) FROM runs WHERE status IN (1, 2) AND agent_id != ?",
                (WORKER_AGENT,),
            ).fetchone()[0]
        if not busy:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("runs did not settle")


# -- tests ---------------------------------------------------------------------


def test_every_served_method_has_a_seed_and_a_corpus():
    names = served_methods()
    fake = World(None, None, Path(), "t", "m", "r", "w", "l")  # type: ignore[arg-type]
    assert set(seeds(fake)) == set(names)
    sizes = {name: sum(1 for _ in corpus(seed)) for name, seed in seeds(fake).items()}
    assert min(sizes.values()) >= 10, sizes


@pytest.mark.timeout(600)
async def test_malformed_requests_to_every_method(world, counts):
    channel = world.channel
    totals: collections.Counter[str] = collections.Counter()
    bad: list[str] = []
    errors = with_info = plain = wrote = sent = 0
    for method, seed in seeds(world).items():
        for label, data in corpus(seed):
            await settle(world.database)
            before = row_counts(world.database)
            outcome = await send(channel, method, data)
            sent += 1
            totals[outcome.code.name] += 1
            if outcome.code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                details = outcome.error.details() if outcome.error else ""
                bad.append(f"{method} {label}: {outcome.code.name} {details}")
            if outcome.code == grpc.StatusCode.OK or outcome.code in CLIENT_SIDE:
                continue
            errors += 1
            if outcome.reason:
                with_info += 1
            elif method.startswith("/threadline.") or outcome.code == INVALID:
                bad.append(f"{method} {label}: {outcome.code.name} without ErrorInfo")
            else:
                # grpc's own health service answers NOT_FOUND for a service
                # it does not know as its protocol says, with no details.
                plain += 1
            await settle(world.database)
            if row_counts(world.database) != before:
                wrote += 1
                bad.append(f"{method} {label}: {outcome.code.name} but rows changed")
    counts(
        f"malformed: {sent} requests to {len(seeds(world))} methods: "
        + ", ".join(f"{code} {count}" for code, count in sorted(totals.items()))
        + f"; {totals['INTERNAL']} INTERNAL, {totals['UNKNOWN']} UNKNOWN, ErrorInfo on "
        f"{with_info} of {errors} errors (the other {plain}: health's own NOT_FOUND), "
        f"{wrote} failed calls wrote"
    )
    assert not bad, "\n".join(bad[:40])
    assert totals["INVALID_ARGUMENT"] > sent // 2


@pytest.mark.parametrize(
    ("method", "data"),
    [
        ("/threadline.v1.ThreadService/GetThread", b"\x0a\x02\xff\xfe"),
        ("/threadline.v1.ThreadService/GetThread", b"\xff\xff\xff"),
        ("/threadline.v1.RunService/WatchThread", b"\xff\xff\xff"),
        ("/grpc.health.v1.Health/Check", b"\xff\xff\xff"),
    ],
)
async def test_undecodable_bytes_are_invalid_argument_naming_the_type(world, method, data):
    outcome = await send(world.channel, method, data)
    assert outcome.code == grpc.StatusCode.INVALID_ARGUMENT
    assert outcome.reason == "MALFORMED_REQUEST"
    assert outcome.error is not None
    message = outcome.error.details() or ""
    assert message.startswith("the request is not a valid ")
    assert "Error" not in message, message
    assert "Exception" not in message, message


async def test_a_struct_nested_past_the_parse_limit_is_invalid_argument(world):
    request = thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread())
    request.thread.metadata.fields["a"].CopyFrom(nested_value(120))
    outcome = await send(
        world.channel, "/threadline.v1.ThreadService/CreateThread", request.SerializeToString()
    )
    assert (outcome.code, outcome.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "MALFORMED_REQUEST",
    )
    assert outcome.error is not None
    assert "nested more than 100 deep" in (outcome.error.details() or "")


async def test_json_nested_past_32_is_a_validation_error(world):
    threads = thread_pb2_grpc.ThreadServiceStub(world.channel)
    request = thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread())
    request.thread.metadata.fields["a"].CopyFrom(nested_value(32))
    failed = await expect_failure(threads.CreateThread(request))
    assert (failed.code, failed.reason, failed.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "VALIDATION_ERROR",
        ["thread.metadata"],
    )
    request.thread.metadata.fields["a"].CopyFrom(nested_value(31))
    assert (await threads.CreateThread(request)).thread_id


@pytest.mark.parametrize(
    ("field", "seconds", "nanos"),
    [
        ("created_after", 253_402_300_800, 0),
        ("updated_before", 0, -1),
        ("created_before", -62_135_596_801, 0),
        ("updated_after", 0, 1_000_000_000),
    ],
)
async def test_filter_times_out_of_range_are_invalid(world, field, seconds, nanos):
    threads = thread_pb2_grpc.ThreadServiceStub(world.channel)
    request_filter = thread_pb2.ThreadFilter()
    getattr(request_filter, field).seconds = seconds
    getattr(request_filter, field).nanos = nanos
    for call in (
        threads.ListThreads(thread_pb2.ListThreadsRequest(filter=request_filter)),
        threads.CountThreads(thread_pb2.CountThreadsRequest(filter=request_filter)),
    ):
        failed = await expect_failure(call)
        assert (failed.code, failed.reason, failed.fields) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "VALIDATION_ERROR",
            [f"filter.{field}"],
        )


@pytest.mark.parametrize(("seconds", "nanos"), [(1, -1), (0, 2_000_000_000), (315_576_000_001, 0)])
async def test_durations_out_of_range_are_invalid(world, seconds, nanos):
    runs = run_pb2_grpc.RunServiceStub(world.channel)
    workers = worker_pb2_grpc.AgentWorkerServiceStub(world.channel)
    bad = duration_pb2.Duration(seconds=seconds, nanos=nanos)
    failed = await expect_failure(
        runs.WaitRun(run_pb2.WaitRunRequest(run_id=world.run_id, timeout=bad))
    )
    assert (failed.code, failed.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["timeout"])
    failed = await expect_failure(
        workers.ClaimRun(
            worker_pb2.ClaimRunRequest(agent_id=WORKER_AGENT, lease_duration=bad, wait=bad)
        )
    )
    assert failed.fields == ["lease_duration", "wait"]


def wire_size(error: grpc.aio.AioRpcError) -> int:
    """The bytes a failed call's status took in its trailers (keys and values as sent)."""
    message = urllib.parse.quote(error.details() or "", safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")
    size = len("grpc-status") + 2 + len("grpc-message") + len(message)
    trailers: Any = error.trailing_metadata() or ()
    for key, value in trailers:
        encoded = len(value) * 4 // 3 + 4 if key.endswith("-bin") else len(str(value))
        size += len(key) + encoded
    return size


async def test_errors_echo_little_enough_to_fit_a_clients_metadata_limit(world, counts):
    threads = thread_pb2_grpc.ThreadServiceStub(world.channel)
    # One long path, as the audit found: its error must arrive, not RESOURCE_EXHAUSTED.
    failed = await expect_failure(
        threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id=world.thread_id),
                update_mask=field_mask_pb2.FieldMask(paths=["x" * 5000]),
            )
        )
    )
    assert (failed.code, failed.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["update_mask"])
    sizes = []
    # The worst: many paths, each long and not ASCII (percent-encoded 3 bytes a byte).
    call = threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="é" * 3000, title="x" * 5000),
            update_mask=field_mask_pb2.FieldMask(paths=[f"{'é' * 2000}{i}" for i in range(60)]),
        )
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    sizes.append(wire_size(caught.value))
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            detail.Unpack(bad)
    assert bad.field_violations[-1].description.startswith("... and ")
    assert all(len(v.description.encode()) <= 256 for v in bad.field_violations)
    counts(f"error echo: the largest status took {max(sizes)} bytes of trailers (limit 8192)")
    assert max(sizes) < 6 * 1024


def test_corpus_covers_extremes_in_nested_fields():
    fake = World(None, None, Path(), "t", "m", "r", "w", "l")  # type: ignore[arg-type]
    labels = [label for label, _ in corpus(seeds(fake)["/threadline.v1.ThreadService/ListThreads"])]
    assert "filter.created_after=timestamp(253402300800,0)" in labels
    assert "filter.updated_before=timestamp(0,-1)" in labels
    labels = [
        label
        for label, _ in corpus(seeds(fake)["/threadline.v1.AgentWorkerService/ReportRunEvents"])
    ]
    assert any(label.startswith("events.usage.prompt_tokens=") for label in labels), labels
