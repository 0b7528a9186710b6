"""The scenarios: what is called, on which systems, after which setup, against which baseline.

Each scenario lists its entries (a system, and the load it gets). The first
entry is Threadline's; the table shows every entry's calls/s as a share of
the scenario's baseline (the limit, for most) and Threadline's calls/s over
each entry's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from threadline.v1 import message_pb2, message_pb2_grpc, thread_pb2, thread_pb2_grpc

from bench.load import DriverLoad, GrpcLoad, HttpLoad, Load
from bench.systems import Running

THREADS = "threadline.v1.ThreadService/"
MESSAGES = "threadline.v1.MessageService/"
RUNS = "threadline.v1.RunService/"
TEXT = "hello, this is a benchmark message"
USER_MESSAGE = {"role": "MESSAGE_ROLE_USER", "parts": [{"text": TEXT}]}
SPREAD_THREADS = 1000
LIST_THREAD_MESSAGES = 40
NEWEST_FIRST = "created_at desc"

# Setup: given the running system and what the seeding said, make what the load
# needs, and return the load with its target(s): several loads run side by side.
Prepare = Callable[[Running, dict[str, Any]], list[tuple[Load, str]]]


@dataclass(frozen=True)
class Entry:
    """One system in a scenario, under a label, with its setup and load."""

    label: str
    system: str
    prepare: Prepare
    large_store: bool = False


@dataclass(frozen=True)
class Scenario:
    """A row group of the table."""

    key: str
    title: str
    entries: tuple[Entry, ...]
    baseline: str
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Calls that take a few hundred milliseconds need a longer window than
    # --quick's, or none would complete in it.
    least_seconds: float = 0.0

    @property
    def subject(self) -> Entry:
        """Threadline's entry, whose ratios to the others the table shows."""
        return self.entries[0]


# -- setup over gRPC (Threadline's API: the references answer it too) ---------------------


async def _create_threads(target: str, ids: Sequence[str]) -> list[str]:
    """Create threads (with these client ids; '' lets the server choose); return their ids."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = thread_pb2_grpc.ThreadServiceStub(channel)
        made: list[str] = []
        for start in range(0, len(ids), 64):
            batch = ids[start : start + 64]
            answers = await asyncio.gather(
                *(
                    stub.CreateThread(
                        thread_pb2.CreateThreadRequest(
                            thread=thread_pb2.Thread(title="bench thread"), thread_id=thread_id
                        ),
                        timeout=30,
                    )
                    for thread_id in batch
                )
            )
            made += [answer.thread_id for answer in answers]
        return made


async def _add_messages(target: str, thread_id: str, count: int) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = message_pb2_grpc.MessageServiceStub(channel)
        for _ in range(count):
            await stub.CreateMessage(
                message_pb2.CreateMessageRequest(
                    thread_id=thread_id,
                    message=message_pb2.Message(
                        role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text=TEXT)]
                    ),
                ),
                timeout=30,
            )


def one_thread(running: Running, messages: int = 0) -> str:
    """Create one thread (with some messages) on the system; return its id."""
    (thread_id,) = asyncio.run(_create_threads(running.grpc_target, [""]))
    if messages:
        asyncio.run(_add_messages(running.grpc_target, thread_id, messages))
    return thread_id


# -- loads --------------------------------------------------------------------------------


def grpc_load(call: str, data: dict[str, Any]) -> Callable[[Running], list[tuple[Load, str]]]:
    """Load every gRPC target of the system (one, or one per process) with the same ghz call."""

    def loads(running: Running) -> list[tuple[Load, str]]:
        return [(GrpcLoad(call, data), target) for target in running.grpc_targets]

    return loads


def create_thread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """CreateThread with a title."""
    return grpc_load(THREADS + "CreateThread", {"thread": {"title": "bench thread"}})(running)


def langgraph_create_thread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """POST /threads with the title in its metadata."""
    return [
        (HttpLoad("POST", "/threads", {"metadata": {"title": "bench thread"}}), running.http_base)
    ]


def http_create_thread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """POST /v1/threads on Threadline's HTTP side."""
    return [
        (HttpLoad("POST", "/v1/threads", {"thread": {"title": "bench thread"}}), running.http_base)
    ]


def create_message_hot(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """CreateMessage, every call into the same thread."""
    thread_id = one_thread(running)
    data = {"thread_id": thread_id, "message": USER_MESSAGE}
    return grpc_load(MESSAGES + "CreateMessage", data)(running)


def create_message_spread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """CreateMessage round-robin over 1,000 threads (spread-0 ... spread-999)."""
    asyncio.run(
        _create_threads(running.grpc_target, [f"spread-{i}" for i in range(SPREAD_THREADS)])
    )
    data = {
        "thread_id": f"spread-{{{{mod .RequestNumber {SPREAD_THREADS}}}}}",
        "message": USER_MESSAGE,
    }
    return grpc_load(MESSAGES + "CreateMessage", data)(running)


def get_thread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """GetThread of one thread."""
    return grpc_load(THREADS + "GetThread", {"thread_id": one_thread(running)})(running)


def http_get_thread(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """GET /v1/threads/{id} on Threadline's HTTP side."""
    return [(HttpLoad("GET", f"/v1/threads/{one_thread(running)}"), running.http_base)]


def list_messages(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """ListMessages, a page of 20, of a thread of 40 messages."""
    thread_id = one_thread(running, LIST_THREAD_MESSAGES)
    data = {"thread_id": thread_id, "page_size": 20}
    return grpc_load(MESSAGES + "ListMessages", data)(running)


def chat(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """Chat with the echo agent: a new thread, the message, the run and its reply, per call."""
    return grpc_load(RUNS + "Chat", {"message": "hello there", "agent_id": "echo"})(running)


def a2a_send_message(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """A2A SendMessage to the echo agent: a new task, completed with the reply, per call."""
    data = {
        "message": {
            "message_id": "bench-{{.RequestNumber}}-{{.WorkerID}}",
            "role": "ROLE_USER",
            "parts": [{"text": "hello there"}],
        }
    }
    return [
        (GrpcLoad("lf.a2a.v1.A2AService/SendMessage", data, protoset="a2a"), running.grpc_target)
    ]


def run_and_wait(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """CreateRun (echo) then WaitRun, each worker on its own thread."""
    return [(DriverLoad("threadline-run"), running.grpc_target)]


def langgraph_run_and_wait(running: Running, _: dict[str, Any]) -> list[tuple[Load, str]]:
    """POST /threads/{id}/runs then GET .../join, each worker on its own thread."""
    return [(DriverLoad("langgraph-run"), running.http_base)]


# -- the large store ----------------------------------------------------------------------


def large_get_thread(running: Running, seeded: dict[str, Any]) -> list[tuple[Load, str]]:
    """GetThread of a thread in the middle of the store (or a fresh one in the empty store)."""
    thread_id = seeded["middle_thread_id"] if seeded else one_thread(running)
    return grpc_load(THREADS + "GetThread", {"thread_id": thread_id})(running)


def large_list_messages(running: Running, seeded: dict[str, Any]) -> list[tuple[Load, str]]:
    """List the newest 20 messages of the biggest thread (of a 40-message one when empty)."""
    thread_id = seeded["big_thread_id"] if seeded else one_thread(running, LIST_THREAD_MESSAGES)
    data = {"thread_id": thread_id, "page_size": 20, "order_by": NEWEST_FIRST}
    return grpc_load(MESSAGES + "ListMessages", data)(running)


def large_create_message(running: Running, seeded: dict[str, Any]) -> list[tuple[Load, str]]:
    """CreateMessage into the biggest thread (into a fresh thread when empty)."""
    thread_id = seeded["big_thread_id"] if seeded else one_thread(running)
    data = {"thread_id": thread_id, "message": USER_MESSAGE}
    return grpc_load(MESSAGES + "CreateMessage", data)(running)


# -- the list -----------------------------------------------------------------------------

THREADLINE = "Threadline"
LIMIT = "empty grpc.aio (limit)"
NAIVE = "naive durable"
LANGGRAPH = "LangGraph dev"
A2A = "A2A SDK"
EMPTY_STORE = "Threadline, empty store"
LARGE_STORE = "Threadline, large store"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "create-thread",
        "CreateThread",
        (
            Entry(THREADLINE, "threadline", create_thread),
            Entry(LIMIT, "limit", create_thread),
            Entry(NAIVE, "naive", create_thread),
            Entry(LANGGRAPH, "langgraph", langgraph_create_thread),
        ),
        LIMIT,
        "LangGraph: POST /threads over HTTP/1.1 (its only API)",
    ),
    Scenario(
        "create-message-hot",
        "CreateMessage, one thread",
        (
            Entry(THREADLINE, "threadline", create_message_hot),
            Entry(LIMIT, "limit", create_message_hot),
            Entry(NAIVE, "naive", create_message_hot),
        ),
        LIMIT,
    ),
    Scenario(
        "create-message-spread",
        f"CreateMessage, {SPREAD_THREADS:,} threads",
        (
            Entry(THREADLINE, "threadline", create_message_spread),
            Entry(LIMIT, "limit", create_message_spread),
            Entry(NAIVE, "naive", create_message_spread),
        ),
        LIMIT,
    ),
    Scenario(
        "get-thread",
        "GetThread",
        (Entry(THREADLINE, "threadline", get_thread), Entry(LIMIT, "limit", get_thread)),
        LIMIT,
    ),
    Scenario(
        "list-messages",
        "ListMessages (page 20)",
        (Entry(THREADLINE, "threadline", list_messages), Entry(LIMIT, "limit", list_messages)),
        LIMIT,
    ),
    Scenario(
        "chat",
        "Chat (echo)",
        (
            Entry(THREADLINE, "threadline", chat),
            Entry(LIMIT, "limit", chat),
            Entry(A2A, "a2a", a2a_send_message),
        ),
        LIMIT,
        "A2A: SendMessage (blocking) to an echo agent; the task goes to its SQLite task store",
        least_seconds=4.0,
    ),
    Scenario(
        "run-wait",
        "CreateRun + WaitRun (echo)",
        (
            Entry(THREADLINE, "threadline", run_and_wait),
            Entry(LIMIT, "limit", run_and_wait),
            Entry(LANGGRAPH, "langgraph", langgraph_run_and_wait),
        ),
        LIMIT,
        "two calls per row; load from bench/driver.py; LangGraph: POST .../runs then GET .../join",
        least_seconds=4.0,
    ),
    Scenario(
        "http-create-thread",
        "HTTP CreateThread",
        (
            Entry("Threadline HTTP", "threadline", http_create_thread),
            Entry("Threadline gRPC", "threadline", create_thread),
        ),
        "Threadline gRPC",
        "POST /v1/threads (vegeta) against CreateThread (ghz) on the same server",
    ),
    Scenario(
        "http-get-thread",
        "HTTP GetThread",
        (
            Entry("Threadline HTTP", "threadline", http_get_thread),
            Entry("Threadline gRPC", "threadline", get_thread),
        ),
        "Threadline gRPC",
        "GET /v1/threads/{id} (vegeta) against GetThread (ghz) on the same server",
    ),
    Scenario(
        "large-get-thread",
        "GetThread, large store",
        (
            Entry(LARGE_STORE, "threadline", large_get_thread, large_store=True),
            Entry(EMPTY_STORE, "threadline", large_get_thread),
        ),
        EMPTY_STORE,
        tags=("large",),
    ),
    Scenario(
        "large-list-messages",
        "ListMessages newest 20, large store",
        (
            Entry(LARGE_STORE, "threadline", large_list_messages, large_store=True),
            Entry(EMPTY_STORE, "threadline", large_list_messages),
        ),
        EMPTY_STORE,
        "large: the store's biggest thread; empty: a thread of 40",
        tags=("large",),
    ),
    Scenario(
        "large-create-message",
        "CreateMessage, large store",
        (
            Entry(LARGE_STORE, "threadline", large_create_message, large_store=True),
            Entry(EMPTY_STORE, "threadline", large_create_message),
        ),
        EMPTY_STORE,
        "large: into the store's biggest thread",
        tags=("large",),
    ),
    Scenario(
        "postgres-create-thread",
        "CreateThread, PostgreSQL",
        (
            Entry("PostgreSQL, 1 process", "threadline postgres", create_thread),
            Entry("PostgreSQL, 2 processes", "threadline postgres x2", create_thread),
            Entry("SQLite, 1 process", "threadline", create_thread),
        ),
        "SQLite, 1 process",
        "a throwaway cluster per system and round (tests/pgcluster.py); its CPU is not counted",
        tags=("postgres",),
    ),
    Scenario(
        "postgres-get-thread",
        "GetThread, PostgreSQL",
        (
            Entry("PostgreSQL, 1 process", "threadline postgres", get_thread),
            Entry("PostgreSQL, 2 processes", "threadline postgres x2", get_thread),
            Entry("SQLite, 1 process", "threadline", get_thread),
        ),
        "SQLite, 1 process",
        "2 processes: each loaded with half the calls in flight",
        tags=("postgres",),
    ),
)
BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
