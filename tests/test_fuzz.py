"""Generated requests by the thousand, over gRPC and over HTTP, against a server process.

tests/test_malformed.py sends a fixed corpus (one extreme value in one field
at a time) and tests/test_http_fuzz.py fuzzes the HTTP side from its OpenAPI
document. This module adds volume and combinations: hypothesis (derandomized,
no example database, so CI sends the same requests every run) draws
requests for every gRPC method from the request's descriptor, starting
from a valid request of the method (tests/test_malformed.py's seeds, naming
real threads, messages and runs, so checks past validation run too) and
changing one to four fields, anywhere in the message, to extreme values:
huge and negative numbers, enum numbers nobody defined, NaN, timestamps and
durations out of range, Structs nested up to 120 deep, long and odd
strings, many entries; or it corrupts the bytes: a string field carrying
invalid UTF-8, flipped, cut, repeated or random bytes. Over HTTP it draws
from the route table: every route with odd path values (percent-encoded
bytes that are no UTF-8, slashes, dots, very long), query strings (the
request's own field names with odd values, unknown keys, bad escapes),
headers (Content-Type, Content-Encoding, Grpc-Timeout, Authorization,
Accept, Last-Event-ID, X-HTTP-Method-Override) and bodies (JSON built from
the request's fields, broken JSON, invalid UTF-8, gzip, deep nesting).

Each request goes to one server process (its own SQLite file; expiry sweeps
and lease checks far apart, so nothing else writes while it runs). The
checks: no INTERNAL and no UNKNOWN (over HTTP, no 5xx but a 504 when the
request's own Grpc-Timeout ran out), an ErrorInfo on every error (the
gateway's own too: no route, a method no route serves, bad JSON),
nothing written by a failed call (SQLite's data_version, which moves with
every commit of another connection, is the same before and after), the
server's memory (RSS) bounded, and no traceback in its log.
Each test prints its counts.

THREADLINE_FUZZ_GRPC_WELL_TYPED, THREADLINE_FUZZ_GRPC_CORRUPTED and
THREADLINE_FUZZ_HTTP change the numbers of requests (3,000, 4,000 and 3,000).
"""

from __future__ import annotations

import collections
import gzip
import http.client
import json
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import hypothesis
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, message_factory, struct_pb2
from google.protobuf import message as protobuf_message
from google.protobuf.descriptor import FieldDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import strategies as st
from threadline.v1 import message_pb2, run_pb2, thread_pb2, worker_pb2
from threadline_server.http.routes import Binding, Router, bindings_for
from threadline_server.transport.server import SERVICE_NAMES

from tests.conftest import ServerProcess, start_server_process
from tests.test_malformed import (
    DURATION_EXTREMES,
    FLOAT_EXTREMES,
    INT_EXTREMES,
    TIMESTAMP_EXTREMES,
    World,
    kind_of,
    nested_list,
    nested_value,
    seeds,
)

pytestmark = [pytest.mark.process, pytest.mark.timeout(240)]

# Requests of each gRPC test: well-typed messages, and bytes that are not (faster to send).
GRPC_REQUESTS = {
    True: int(os.environ.get("THREADLINE_FUZZ_GRPC_WELL_TYPED", "3000")),
    False: int(os.environ.get("THREADLINE_FUZZ_GRPC_CORRUPTED", "4000")),
}
HTTP_REQUESTS = int(os.environ.get("THREADLINE_FUZZ_HTTP", "3000"))
WORKER_AGENT = "fuzz-worker"
# How long a stream is read before the client leaves, and a unary call's deadline.
STREAM_SECONDS = 0.1
CALL_SECONDS = 5.0
# The methods that wait by design (for a run to end, or for one to claim) get
# a short deadline: their waits are fuzzed too.
WAITING = ("/WaitRun", "/ClaimRun")
WAIT_SECONDS = 0.3
# The most the server's resident memory may grow between the end of the
# warm-up and the end of the run, and the most it may hold at any sample.
RSS_GROWTH_LIMIT = 120 * 2**20
RSS_PEAK_LIMIT = 600 * 2**20
WARM_UP = 300
SAMPLE_EVERY = 250
CLIENT_SIDE = {grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}


# -- the server and what it holds --------------------------------------------------


@dataclass
class Target:
    """A server process, the resources the seeds name, and a view of its database."""

    server: ServerProcess
    world: World
    database: Path
    ids: list[str]
    watch: sqlite3.Connection

    def data_version(self) -> int:
        """SQLite's counter of commits made by other connections."""
        return int(self.watch.execute("PRAGMA data_version").fetchone()[0])

    def settled(self) -> bool:
        """Wait (a while) until no in-process run is queued or running."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            busy = self.watch.execute(
                "SELECT count(*) FROM runs WHERE status IN (1, 2) AND agent_id != ?",
                (WORKER_AGENT,),
            ).fetchone()[0]
            if not busy:
                return True
            time.sleep(0.005)
        return False

    def rss(self) -> int:
        """The server's resident memory, in bytes."""
        status = Path(f"/proc/{self.server.process.pid}/status").read_text(encoding="utf-8")
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1]) * 1024


def _call(channel: grpc.Channel, method: str, data: bytes) -> Any:
    raw: dict[str, Any] = {"request_serializer": None, "response_deserializer": None}
    kind = kind_of(method)
    if kind == "unary":
        timeout = WAIT_SECONDS if method.endswith(WAITING) else CALL_SECONDS
        return channel.unary_unary(method, **raw)(data, timeout=timeout)
    if kind == "server-stream":
        return list(channel.unary_stream(method, **raw)(data, timeout=STREAM_SECONDS))
    return list(channel.stream_stream(method, **raw)(iter([data]), timeout=CALL_SECONDS))


def _make_world(server: ServerProcess, database: Path) -> World:
    """Tenant default's thread, message, finished run and claimed worker run."""
    with grpc.insecure_channel(server.address) as channel:

        def call(method: str, request: protobuf_message.Message, reply: Any) -> Any:
            return reply.FromString(_call(channel, method, request.SerializeToString()))

        text = message_pb2.Message(
            role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
        )
        thread = call(
            "/threadline.v1.ThreadService/CreateThread",
            thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(title="target")),
            thread_pb2.Thread,
        )
        message = call(
            "/threadline.v1.MessageService/CreateMessage",
            message_pb2.CreateMessageRequest(thread_id=thread.thread_id, message=text),
            message_pb2.Message,
        )
        run = call(
            "/threadline.v1.RunService/CreateRun",
            run_pb2.CreateRunRequest(thread_id=thread.thread_id, agent_id="echo"),
            run_pb2.Run,
        )
        call(
            "/threadline.v1.RunService/WaitRun",
            run_pb2.WaitRunRequest(run_id=run.run_id),
            run_pb2.Run,
        )
        worker_thread = call(
            "/threadline.v1.ThreadService/CreateThread",
            thread_pb2.CreateThreadRequest(thread_id="worker-thread"),
            thread_pb2.Thread,
        )
        call(
            "/threadline.v1.RunService/CreateRun",
            run_pb2.CreateRunRequest(thread_id=worker_thread.thread_id, agent_id=WORKER_AGENT),
            run_pb2.Run,
        )
        claimed = call(
            "/threadline.v1.AgentWorkerService/ClaimRun",
            worker_pb2.ClaimRunRequest(
                agent_id=WORKER_AGENT, lease_duration=duration_pb2.Duration(seconds=600)
            ),
            worker_pb2.ClaimRunResponse,
        )
    del database
    return World(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        Path(),
        thread.thread_id,
        message.message_id,
        run.run_id,
        claimed.run.run_id,
        claimed.lease_id,
    )


def _start_server(database: Path) -> ServerProcess:
    return start_server_process(
        database,
        "--http-listen",
        "127.0.0.1:0",
        "--worker-agent",
        WORKER_AGENT,
        "--expiry-sweep-interval",
        "3600",
        "--lease-check-interval",
        "3600",
        # The upkeep (purging deleted threads, checkpointing the WAL) commits
        # in the background, which a failed call's check would count as its own.
        "--db-maintenance-interval",
        "3600",
        "--run-timeout",
        "5",
    )


def _target(server: ServerProcess, database: Path) -> Target:
    world = _make_world(server, database)
    watch = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)
    ids = [world.thread_id, world.message_id, world.run_id, "never-made", "thr_x", ""]
    return Target(server, world, database, ids, watch)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    database = tmp_path / "threadline.db"
    server = _start_server(database)
    try:
        made = _target(server, database)
        try:
            yield made
        finally:
            made.watch.close()
    finally:
        server.stop()


# -- values ------------------------------------------------------------------------

ODD_TEXT = (
    "x" * 5000,
    "é" * 3000,
    "\x00",
    "\u202e\u0301",
    "../../etc/passwd",
    "%ff%fe",
    "a/b:c",
    "\U0001f600" * 10,
    " ",
    "null",
)
JSON_DEPTHS = (5, 31, 32, 33, 64, 99, 101, 120)
MASK_PATHS = ("title", "metadata", "metadata.k", "values.k", "x" * 5000, "", "*", "a..b", "é")


def _json_values() -> st.SearchStrategy[struct_pb2.Value]:
    leaves = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).map(
            lambda n: struct_pb2.Value(number_value=n)
        ),
        st.text(max_size=50).map(lambda s: struct_pb2.Value(string_value=s)),
        st.booleans().map(lambda b: struct_pb2.Value(bool_value=b)),
        st.just(struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)),
        st.just(struct_pb2.Value()),
    )
    deep = st.sampled_from(JSON_DEPTHS).flatmap(
        lambda depth: st.sampled_from((nested_value(depth), nested_list(depth)))
    )

    def extend(
        children: st.SearchStrategy[struct_pb2.Value],
    ) -> st.SearchStrategy[struct_pb2.Value]:
        def as_list(items: list[struct_pb2.Value]) -> struct_pb2.Value:
            value = struct_pb2.Value()
            value.list_value.values.extend(items)
            return value

        def as_object(items: dict[str, struct_pb2.Value]) -> struct_pb2.Value:
            value = struct_pb2.Value()
            for key, item in items.items():
                value.struct_value.fields[key].CopyFrom(item)
            return value

        return st.one_of(
            st.lists(children, max_size=4).map(as_list),
            st.dictionaries(st.text(max_size=20), children, max_size=4).map(as_object),
        )

    return st.one_of(st.recursive(leaves, extend, max_leaves=12), deep)


def _scalar(field_descriptor: FieldDescriptor, ids: list[str]) -> st.SearchStrategy[Any]:
    kind = field_descriptor.type
    if kind == FieldDescriptor.TYPE_ENUM:
        enum_type = field_descriptor.enum_type
        defined = [v.number for v in enum_type.values] if enum_type is not None else [0]
        return st.one_of(
            st.sampled_from(defined), st.sampled_from(INT_EXTREMES[kind]), st.integers(-5, 50)
        )
    if kind in INT_EXTREMES:
        low, high = min(INT_EXTREMES[kind]), max(INT_EXTREMES[kind])
        low = min(low, 0)
        return st.one_of(
            st.sampled_from(INT_EXTREMES[kind]),
            st.integers(low, high),
            st.integers(max(low, -3), min(high, 1000)),
        )
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.one_of(
            st.sampled_from(FLOAT_EXTREMES),
            st.floats(width=32 if kind == FieldDescriptor.TYPE_FLOAT else 64),
        )
    if kind == FieldDescriptor.TYPE_STRING:
        return st.one_of(st.sampled_from(ids), st.sampled_from(ODD_TEXT), st.text(max_size=300))
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=2000)
    return st.booleans()


def _timestamps(pairs: tuple[tuple[int, int], ...]) -> st.SearchStrategy[tuple[int, int]]:
    return st.one_of(
        st.sampled_from(pairs),
        st.tuples(st.integers(-(2**63), 2**63 - 1), st.integers(-(2**31), 2**31 - 1)),
        st.tuples(st.integers(-(10**11), 10**11), st.integers(-2, 10**9 + 1)),
    )


def _value_for(field_descriptor: FieldDescriptor, ids: list[str]) -> st.SearchStrategy[Any]:
    """A strategy of values for one field: a scalar, or a message to copy in."""
    message_type = field_descriptor.message_type
    if message_type is None:
        return _scalar(field_descriptor, ids)
    name = message_type.full_name
    if name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        pairs = TIMESTAMP_EXTREMES if name.endswith("Timestamp") else DURATION_EXTREMES
        cls = message_factory.GetMessageClass(message_type)
        return _timestamps(pairs).map(lambda p: cls(seconds=p[0], nanos=p[1]))
    if name == "google.protobuf.Value":
        return _json_values()
    if name == "google.protobuf.Struct":

        def as_struct(items: dict[str, struct_pb2.Value]) -> struct_pb2.Struct:
            struct = struct_pb2.Struct()
            for key, item in items.items():
                struct.fields[key].CopyFrom(item)
            return struct

        return st.dictionaries(
            st.one_of(st.text(max_size=30), st.sampled_from(("delay_ms", "k", "x" * 3000))),
            _json_values(),
            max_size=5,
        ).map(as_struct)
    if name == "google.protobuf.FieldMask":
        return st.lists(
            st.one_of(st.sampled_from(MASK_PATHS), st.text(max_size=40)), max_size=8
        ).map(lambda paths: field_mask_pb2.FieldMask(paths=paths))
    cls = message_factory.GetMessageClass(message_type)
    return st.just(cls())


def _paths(
    descriptor: Any, prefix: tuple[FieldDescriptor, ...] = ()
) -> Iterator[tuple[FieldDescriptor, ...]]:
    """Every field path of a request type, into its own messages up to 4 deep."""
    for each in descriptor.fields:
        path = (*prefix, each)
        yield path
        message_type = each.message_type
        if (
            message_type is not None
            and len(path) < 4
            and not message_type.GetOptions().map_entry
            and not message_type.full_name.startswith("google.protobuf.")
        ):
            yield from _paths(message_type, path)


def _set(
    root: protobuf_message.Message, path: tuple[FieldDescriptor, ...], value: Any, how: str
) -> None:
    node: Any = root
    for step in path[:-1]:
        child = getattr(node, step.name)
        node = (child[0] if len(child) else child.add()) if step.is_repeated else child
    last = path[-1]
    if last.message_type is not None and last.message_type.GetOptions().map_entry:
        return
    target = getattr(node, last.name)
    if how == "clear":
        node.ClearField(last.name)
    elif last.is_repeated:
        count = {"one": 1, "many": 300}.get(how, 1)
        for _ in range(count):
            if last.message_type is not None:
                target.add().CopyFrom(value)
            else:
                target.append(value)
    elif last.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(node, last.name, value)


@st.composite
def _well_typed(
    draw: Any, seed: protobuf_message.Message, paths: list[Any], ids: list[str]
) -> bytes:
    message = type(seed)()
    message.CopyFrom(seed)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(("set", "set", "set", "clear", "many")))
        value = draw(_value_for(path[-1], ids))
        try:
            _set(message, path, value, how)
        except (ValueError, TypeError):
            # A value of the wrong kind for this field (a surrogate in a
            # string, say): protobuf itself refuses it; keep the message as is.
            continue
    return message.SerializeToString()


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


BAD_UTF8 = (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"a\x80", b"\xc0\xaf")


@st.composite
def _bad_utf8(draw: Any, seed: protobuf_message.Message, string_fields: list[int]) -> bytes:
    """The seed with one more value for a string field, whose bytes are no UTF-8."""
    number = draw(st.sampled_from(string_fields))
    value = draw(st.sampled_from(BAD_UTF8)) + draw(st.binary(max_size=20))
    head = seed.SerializeToString() + _varint(number << 3 | 2)
    return bytes(head + _varint(len(value)) + value)


@st.composite
def _corrupted(draw: Any, seed: protobuf_message.Message) -> bytes:
    data = bytearray(seed.SerializeToString())
    how = draw(st.sampled_from(("flip", "cut", "repeat", "random", "insert")))
    if how == "random" or not data:
        return bytes(draw(st.binary(max_size=500)))
    if how == "flip":
        for _ in range(draw(st.integers(1, 4))):
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    if how == "cut":
        return bytes(data[: int(draw(st.integers(0, len(data) - 1)))])
    if how == "repeat":
        return bytes(data) * int(draw(st.integers(2, 50)))
    index = draw(st.integers(0, len(data)))
    inserted = bytes(draw(st.binary(min_size=1, max_size=16)))
    return bytes(data[:index]) + inserted + bytes(data[index:])


def _labelled(
    method: str, kind: str, data: st.SearchStrategy[bytes]
) -> st.SearchStrategy[tuple[str, str, bytes]]:
    return data.map(lambda item: (method, kind, item))


def grpc_requests(
    world: World, ids: list[str], *, well_typed: bool
) -> st.SearchStrategy[tuple[str, str, bytes]]:
    """(method, kind of request, bytes) over every served method.

    Well-typed messages with extreme values, or (well_typed False) bytes
    that are not a valid message: a string field carrying invalid UTF-8, or
    corrupted bytes.
    """
    choices = []
    for method, seed in sorted(seeds(world).items()):
        paths = list(_paths(seed.DESCRIPTOR))
        strings = [
            f.number for f in seed.DESCRIPTOR.fields if f.type == FieldDescriptor.TYPE_STRING
        ]
        kinds: list[st.SearchStrategy[tuple[str, str, bytes]]] = []
        if well_typed and paths:
            kinds.append(_labelled(method, "well-typed", _well_typed(seed, paths, ids)))
        elif well_typed:
            kinds.append(st.just((method, "well-typed", seed.SerializeToString())))
        else:
            kinds.append(_labelled(method, "corrupted", _corrupted(seed)))
            if strings:
                kinds.append(_labelled(method, "bad-utf8", _bad_utf8(seed, strings)))
        choices.append(st.one_of(kinds))
    return st.one_of(choices)


# -- tallies -------------------------------------------------------------------------


@dataclass
class Tally:
    """What a run sent and got."""

    sent: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    methods: set[str] = field(default_factory=set)
    errors: int = 0
    with_info: int = 0
    unchecked_writes: int = 0
    bad: list[str] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    warm_rss: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: collections.defaultdict(float))

    def memory(self, target: Target) -> None:
        if self.sent == WARM_UP:
            self.warm_rss = target.rss()
        if self.sent % SAMPLE_EVERY == 0:
            self.rss.append(target.rss())

    def memory_line(self, target: Target) -> str:
        end = target.rss()
        self.rss.append(end)
        return (
            f"server RSS {self.warm_rss / 2**20:.0f} MiB after {WARM_UP} requests, "
            f"{end / 2**20:.0f} MiB at the end, peak sample {max(self.rss) / 2**20:.0f} MiB"
        )

    def check_memory(self) -> None:
        assert self.rss[-1] - self.warm_rss < RSS_GROWTH_LIMIT, self.rss
        assert max(self.rss) < RSS_PEAK_LIMIT, self.rss


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""


def _run_hypothesis(
    count: int, strategy: st.SearchStrategy[Any], each: Callable[[Any], None]
) -> None:
    @hypothesis.settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(strategy)
    def send(item: Any) -> None:
        each(item)

    send()


# -- gRPC ------------------------------------------------------------------------------


@pytest.mark.parametrize("well_typed", [True, False], ids=["well-typed", "corrupted"])
def test_generated_grpc_requests_find_no_internal_error(
    target: Target, counts: Any, well_typed: bool
) -> None:
    tally = Tally()
    started = time.monotonic()
    with grpc.insecure_channel(target.server.address) as channel:

        def each(item: tuple[str, str, bytes]) -> None:
            method, kind, data = item
            waited = time.monotonic()
            settled = target.settled()
            tally.seconds["(waiting for runs)"] += time.monotonic() - waited
            before = target.data_version()
            called = time.monotonic()
            reason = details = ""
            try:
                _call(channel, method, data)
                code = grpc.StatusCode.OK
            except grpc.RpcError as error:
                code = error.code()
                details = error.details() or ""
                reason = _reason(error)
            tally.seconds[method.rsplit("/", 1)[1]] += time.monotonic() - called
            tally.sent += 1
            tally.kinds[kind] += 1
            tally.methods.add(method)
            tally.outcomes[code.name] += 1
            tally.memory(target)
            label = f"{method} {kind} {data[:120]!r}"
            if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                tally.bad.append(f"{label}: {code.name} {details}")
            if code == grpc.StatusCode.OK or code in CLIENT_SIDE:
                return
            tally.errors += 1
            if reason:
                tally.with_info += 1
            elif method.startswith("/threadline."):
                tally.bad.append(f"{label}: {code.name} without ErrorInfo")
            if not settled:
                tally.unchecked_writes += 1
            elif target.data_version() != before:
                tally.bad.append(f"{label}: {code.name} but the database changed")

        requests = grpc_requests(target.world, target.ids, well_typed=well_typed)
        _run_hypothesis(GRPC_REQUESTS[well_typed], requests, each)
    seconds = time.monotonic() - started
    memory = tally.memory_line(target)
    tracebacks = target.server.log.count("Traceback")
    counts(
        f"fuzz gRPC: {tally.sent} generated requests to {len(tally.methods)} methods in "
        f"{seconds:.0f}s ("
        + ", ".join(f"{k} {n}" for k, n in sorted(tally.kinds.items()))
        + "): "
        + ", ".join(f"{k} {n}" for k, n in sorted(tally.outcomes.items()))
        + f"; {tally.outcomes['INTERNAL']} INTERNAL, {tally.outcomes['UNKNOWN']} UNKNOWN, "
        f"ErrorInfo on {tally.with_info} of {tally.errors} errors, "
        f"{sum('database changed' in b for b in tally.bad)} failed calls wrote "
        f"({tally.unchecked_writes} not checked: runs still busy); {memory}; "
        f"{tracebacks} tracebacks; most time: "
        + ", ".join(
            f"{k} {v:.1f}s" for k, v in sorted(tally.seconds.items(), key=lambda kv: -kv[1])[:4]
        )
    )
    assert not tally.bad, "\n".join(tally.bad[:30])
    assert tally.sent >= GRPC_REQUESTS[well_typed] * 0.9
    assert len(tally.methods) == len(seeds(target.world))
    assert tally.outcomes["OK"] > 0
    assert tally.outcomes["INVALID_ARGUMENT"] > tally.sent // (4 if well_typed else 2)
    assert tally.unchecked_writes < tally.errors // 100 + 1
    tally.check_memory()
    assert tracebacks == 0, target.server.log[-5000:]


# -- HTTP ------------------------------------------------------------------------------

# Valid short deadlines, for routes that stream or wait by design.
SHORT_TIMEOUTS = ("100m", "200m", "300m")
ODD_TIMEOUTS = (
    "",
    "abc",
    "-1S",
    "1X",
    "1",
    "S",
    "99999999999999999999999H",
    "0S",
    "\u0661S",
    "1.5S",
)
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin-1",
    "",
    "*/*",
)
ACCEPTS = ("application/json", "application/x-ndjson", "text/event-stream", "*/*", "x/y", "")
ODD_PATH_VALUES = (
    "%ff%fe",
    "%00",
    "%",
    "%zz",
    "..",
    ".",
    "a%2Fb",
    "%2F",
    "x" * 3000,
    "%e2%80%ae",
    "%ed%a0%80",
    "a:b",
    "*",
    "~!$&'()*+,;=",
)
ODD_QUERY_VALUES = (
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "-1",
    "1e400",
    "NaN",
    "Infinity",
    "true",
    "0x10",
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2020-13-45T99:99:99Z",
    "99999999999999h",
    "-1s",
    "1.5e3s",
    "%ff",
    "%",
    "{",
    '{"a":' * 200,
    "[]",
    "null",
    "THREAD_VIEW_FULL",
    "2147483648",
)


def _json_text(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def _json_documents() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.sampled_from((2**63, -(2**63) - 1, 2**64, 2**31, -1)),
        st.floats(),
        st.text(max_size=40),
        st.sampled_from(ODD_QUERY_VALUES),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=12), children, max_size=4),
        ),
        max_leaves=10,
    )


def _names(descriptor: Any) -> list[str]:
    names = []
    for each in descriptor.fields:
        names += [each.name, each.json_name]
        if each.message_type is not None and not each.message_type.full_name.startswith(
            "google.protobuf."
        ):
            names += [f"{each.name}.{inner.name}" for inner in each.message_type.fields]
    return sorted(set(names))


_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {}


def _once(key: Any, make: Callable[[], st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A strategy made once and kept: making strategies at every draw is slow."""
    if key not in _STRATEGIES:
        _STRATEGIES[key] = make()
    return _STRATEGIES[key]


def _pick(values: Any) -> st.SearchStrategy[Any]:
    """sampled_from, made once per sequence of values."""
    values = tuple(values)
    return _once(("pick", values), lambda: st.sampled_from(values))


def _body_descriptor(binding: Binding) -> Any:
    descriptor = binding.request_type.DESCRIPTOR
    if binding.body not in ("", "*"):
        body_field = descriptor.fields_by_name[binding.body.split(".")[0]]
        descriptor = body_field.message_type or descriptor
    return descriptor


RAW_BODIES = (b"{", b'{"a":1,}', b"\xff\xfe{}", b'{"a":"\xc3\x28"}', b"[]", b"null")


@st.composite
def _body(draw: Any, binding: Binding) -> bytes:
    descriptor = _body_descriptor(binding)
    names = tuple(_names(descriptor)) or ("x",)
    how = draw(_pick(("fields", "fields", "fields", "any", "raw", "deep", "none")))
    if how == "none":
        return b""
    if how == "raw":
        raw = _once("raw bodies", lambda: st.one_of(st.binary(max_size=300), _pick(RAW_BODIES)))
        return bytes(draw(raw))
    if how == "deep":
        depth = int(draw(_pick((31, 32, 33, 100, 101, 1000, 100_000))))
        key = draw(_pick(names))
        return f'{{"{key}":'.encode() + b'{"a":' * depth + b"1" + b"}" * (depth + 1)
    documents = _once("json documents", _json_documents)
    if how == "any":
        return _json_text(draw(documents))
    keys = _once(("keys", names), lambda: st.one_of(_pick(names), st.text(max_size=10)))
    document = draw(_once(("body", names), lambda: st.dictionaries(keys, documents, max_size=5)))
    return _json_text(document)


@st.composite
def _query(draw: Any, binding: Binding) -> str:
    names = tuple(_names(binding.request_type.DESCRIPTOR)) or ("x",)
    pairs = draw(
        _once(
            ("query", names),
            lambda: st.lists(
                st.tuples(
                    st.one_of(_pick(names), st.text(max_size=10)),
                    st.one_of(_pick(ODD_QUERY_VALUES), st.text(max_size=40)),
                ),
                max_size=5,
            ),
        )
    )
    raw = draw(st.booleans())
    parts = [
        f"{k}={v}"
        if raw and k.isascii() and v.isascii() and k.isprintable() and v.isprintable()
        else f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='')}"
        for k, v in pairs
    ]
    return "&".join(parts).replace(" ", "%20").replace("#", "%23")


@dataclass(frozen=True)
class HttpRequest:
    """One generated HTTP request."""

    route: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def _one_in(draw: Any, count: int) -> bool:
    return bool(draw(_once(("one in", count), lambda: st.integers(0, count - 1))) == 0)


AUTHORIZATIONS = ("Bearer", "Bearer x", "Basic eA==", "Bearer " + "A" * 5000, "tl_x")


@st.composite
def _headers_and_body(draw: Any, binding: Binding) -> tuple[dict[str, str], bytes]:
    headers: dict[str, str] = {}
    waits = binding.server_streaming or binding.rpc.endswith(WAITING)
    if waits or not _one_in(draw, 4):
        headers["Grpc-Timeout"] = draw(_pick(SHORT_TIMEOUTS))
    else:
        headers["Grpc-Timeout"] = draw(_pick(ODD_TIMEOUTS))
    body = draw(_body(binding)) if binding.body or _one_in(draw, 5) else b""
    if body or draw(st.booleans()):
        headers["Content-Type"] = draw(
            _pick(CONTENT_TYPES) if _one_in(draw, 4) else _pick(CONTENT_TYPES[:2])
        )
    if _one_in(draw, 10):
        encoding = draw(_pick(("gzip", "deflate", "br", "x", "gzip, gzip")))
        headers["Content-Encoding"] = encoding
        if encoding == "gzip" and draw(st.booleans()):
            body = gzip.compress(body)
    if binding.server_streaming or _one_in(draw, 6):
        headers["Accept"] = draw(_pick(ACCEPTS))
    if _one_in(draw, 8):
        headers["Authorization"] = draw(_pick(AUTHORIZATIONS))
    if _one_in(draw, 10):
        headers["Last-Event-ID"] = draw(_pick(("-1", "x", "9" * 30, "1", "%ff")))
    if _one_in(draw, 20):
        headers["X-HTTP-Method-Override"] = draw(_pick(("GET", "DELETE", "FROB", "")))
    return headers, body


@st.composite
def http_requests(draw: Any, bindings: list[Binding], ids: list[str]) -> HttpRequest:
    binding = draw(_pick(bindings))
    known = tuple(urllib.parse.quote(i, safe="") for i in ids if i)
    values = _once(
        ("path values", known),
        lambda: st.one_of(
            _pick(known),
            _pick(ODD_PATH_VALUES),
            st.text(min_size=1, max_size=60).map(lambda t: urllib.parse.quote(t, safe="")),
        ),
    )
    pieces = [
        segment.literal if segment.literal else draw(values)
        for segment in binding.template.segments()
    ]
    path = "/" + "/".join(pieces)
    verb = binding.template.verb
    if _one_in(draw, 20):
        verb = draw(_pick(("frob", "", "copy:x", "%ff")))
    if verb:
        path += ":" + verb
    query = draw(_query(binding)) if draw(st.booleans()) else ""
    target = path + ("?" + query if query else "")
    headers, body = draw(_headers_and_body(binding))
    return HttpRequest(binding.rpc, binding.http_method, target, headers, body)


class HttpClient:
    """One keep-alive HTTP/1.1 connection, opened again when the server closes it."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._connection: http.client.HTTPConnection | None = None

    def send(self, request: HttpRequest) -> tuple[int, bytes]:
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=10)
            try:
                # Header values as UTF-8 bytes: http.client would refuse what is not Latin-1.
                headers = {k: v.encode() for k, v in request.headers.items()}
                self._connection.request(
                    request.method, request.target, body=request.body, headers=headers
                )
                response = self._connection.getresponse()
                data = response.read()
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
            else:
                if response.will_close:
                    self.close()
                return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _error_documents(status: int, data: bytes) -> list[Any]:
    """The errors of an answer: its body (a stream's: {"error": ...}), or its error lines."""
    try:
        if status >= 400:
            lines = [json.loads(data)]
        else:
            lines = [json.loads(line) for line in data.splitlines() if line.startswith(b"{")]
    except ValueError:
        return [None] if status >= 400 else []
    if status >= 400:
        return [line.get("error", line) if isinstance(line, dict) else line for line in lines]
    return [line["error"] for line in lines if isinstance(line, dict) and set(line) == {"error"}]


def _has_error_info(document: Any) -> bool:
    details = document.get("details", []) if isinstance(document, dict) else []
    return any(
        isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo")
        for d in details
    )


# gRPC's own refusal of more than 8 KiB of metadata (a 5,000-character
# Authorization header, forwarded as grpc-gateway forwards it): its status
# comes from the gRPC library, before any handler, so it has no ErrorInfo.
METADATA_LIMIT = "received metadata size exceeds"
CLIENT_DEADLINE = 4  # DEADLINE_EXCEEDED: the Grpc-Timeout the request asked for ran out


def test_generated_http_requests_find_no_server_error(target: Target, counts: Any) -> None:
    bindings = Router(bindings_for(SERVICE_NAMES)).bindings
    tally = Tally()
    statuses: collections.Counter[int] = collections.Counter()
    deadline = metadata_limit = 0
    started = time.monotonic()
    client = HttpClient(target.server.http_port)

    def each(request: HttpRequest) -> None:
        nonlocal deadline, metadata_limit
        settled = target.settled()
        before = target.data_version()
        called = time.monotonic()
        status, data = client.send(request)
        tally.seconds[request.route.rsplit("/", 1)[1]] += time.monotonic() - called
        tally.sent += 1
        tally.methods.add(request.route)
        statuses[status] += 1
        tally.memory(target)
        label = f"{request.method} {request.target[:200]} {request.headers} {request.body[:200]!r}"
        documents = _error_documents(status, data)
        for document in documents:
            code = document.get("code") if isinstance(document, dict) else None
            if code == CLIENT_DEADLINE:
                deadline += 1
                continue
            tally.errors += 1
            if _has_error_info(document):
                tally.with_info += 1
            elif status == 429 and str(document.get("message", "")).startswith(METADATA_LIMIT):
                metadata_limit += 1
            else:
                tally.bad.append(f"{label}: {status} without ErrorInfo: {data[:300]!r}")
        if status >= 500 and not (
            status == 504 and documents and documents[0].get("code") == CLIENT_DEADLINE
        ):
            tally.bad.append(f"{label}: {status} {data[:300]!r}")
        if status >= 400 and documents and documents[0] is not None:
            if not settled:
                tally.unchecked_writes += 1
            elif target.data_version() != before:
                tally.bad.append(f"{label}: {status} but the database changed")

    try:
        _run_hypothesis(HTTP_REQUESTS, http_requests(bindings, target.ids), each)
    finally:
        client.close()
    seconds = time.monotonic() - started
    memory = tally.memory_line(target)
    tracebacks = target.server.log.count("Traceback")
    counts(
        f"fuzz HTTP: {tally.sent} generated requests to {len(tally.methods)} routes in "
        f"{seconds:.0f}s: "
        + ", ".join(f"{k} {n}" for k, n in sorted(statuses.items()))
        + f"; {sum(n for k, n in statuses.items() if k >= 500)} 5xx (all "
        f"{deadline} ran out of their own Grpc-Timeout), ErrorInfo on {tally.with_info} of "
        f"{tally.errors} errors (the others: "
        f"{metadata_limit} gRPC's 429 for metadata over 8 KiB), "
        f"{sum('database changed' in b for b in tally.bad)} failed calls wrote "
        f"({tally.unchecked_writes} not checked: runs still busy); {memory}; "
        f"{tracebacks} tracebacks; most time: "
        + ", ".join(
            f"{k} {v:.1f}s" for k, v in sorted(tally.seconds.items(), key=lambda kv: -kv[1])[:4]
        )
    )
    assert not tally.bad, "\n".join(tally.bad[:30])
    assert tally.sent >= HTTP_REQUESTS * 0.9
    assert len(tally.methods) == len({b.rpc for b in bindings})
    assert statuses[200] > 0
    assert statuses[400] > tally.sent // 4
    assert tally.unchecked_writes < tally.errors // 100 + 1
    tally.check_memory()
    assert tracebacks == 0, target.server.log[-5000:]
