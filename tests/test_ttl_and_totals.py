"""ListThreads' total_size, Chat's tools and ttl, and the server's --default-thread-ttl and
--max-thread-ttl, against real servers.

A TTL over the cap is refused (INVALID_ARGUMENT), never shortened: a client
that asked for 40 days and silently got 30 would lose data it meant to
keep. Threads made by Chat get the default TTL unless the request gives one;
default threads never expire. The flags are checked at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from threadline.v1 import run_pb2, run_pb2_grpc, thread_pb2
from threadline_server import config
from threadline_server.config import Settings
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import RunningServer, connect, expect_failure
from tests.test_threads import struct

pytestmark = pytest.mark.api
# Every test runs against SQLite and against PostgreSQL (tests/conftest.py).
BOTH_STORES = True

INVALID = grpc.StatusCode.INVALID_ARGUMENT
HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture
async def capped(tmp_path: Path, database_value: str) -> AsyncIterator[RunningServer]:
    """A server whose Chat threads expire after 24 hours, and no TTL may pass 720 hours."""
    database = tmp_path / "capped.db"
    instance = ThreadlineServer(
        Settings(
            listen="127.0.0.1:0",
            http_listen="",
            database=database_value if "://" in database_value else str(database),
            grace_period=1.0,
            default_thread_ttl=24 * HOUR,
            max_thread_ttl=720 * HOUR,
        )
    )
    port = await instance.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        yield RunningServer(instance, client, database)
    finally:
        await client.channel.close(None)
        await instance.stop(grace=1.0)


def seconds(value: int) -> duration_pb2.Duration:
    """A Duration of whole seconds."""
    return duration_pb2.Duration(seconds=value)


# -- total_size --------------------------------------------------------------------------------


async def test_list_threads_counts_the_total_when_asked(client):
    for n in range(7):
        await client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(
                thread=thread_pb2.Thread(metadata=struct({"even": n % 2 == 0}))
            )
        )
    page = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=2))
    assert page.total_size == 0  # not asked for
    for thread_filter, total in (
        (thread_pb2.ThreadFilter(), 7),
        (thread_pb2.ThreadFilter(metadata=struct({"even": True})), 4),
        (thread_pb2.ThreadFilter(user_id="nobody"), 0),
    ):
        token = ""
        while True:
            page = await client.threads.ListThreads(
                thread_pb2.ListThreadsRequest(
                    filter=thread_filter, page_size=2, page_token=token, include_total_size=True
                )
            )
            # Every page says the same total, whatever part of the walk it is.
            assert page.total_size == total
            token = page.next_page_token
            if not token:
                break
    # The flag is no part of the query a page token belongs to.
    first = await client.threads.ListThreads(thread_pb2.ListThreadsRequest(page_size=2))
    second = await client.threads.ListThreads(
        thread_pb2.ListThreadsRequest(
            page_size=2, page_token=first.next_page_token, include_total_size=True
        )
    )
    assert (len(second.threads), second.total_size) == (2, 7)


# -- Chat: tools and ttl -------------------------------------------------------------------------


async def test_chat_takes_the_tools_the_run_may_use(client):
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    allowed = await runs.Chat(
        run_pb2.ChatRequest(message="what is 2+3", agent_id="tools-demo", tools=["calculator"])
    )
    assert allowed.response == "2+3 = 5."
    refused = await runs.Chat(
        run_pb2.ChatRequest(message="what is 2+3", agent_id="tools-demo", tools=["clock"])
    )
    assert [(c.tool, c.error_code) for c in refused.tool_calls] == [
        ("calculator", "TOOL_NOT_ALLOWED")
    ]
    run = await runs.GetRun(run_pb2.GetRunRequest(run_id=refused.run_id))
    assert list(run.tools) == ["clock"]
    failure = await expect_failure(
        runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="tools-demo", tools=["shovel"]))
    )
    assert (failure.code, failure.fields) == (INVALID, ["tools[0]"])
    assert "it has: calculator, clock" in failure.message


async def test_chat_gives_the_thread_it_makes_a_ttl(client):
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    answer = await runs.Chat(
        run_pb2.ChatRequest(message="hi", agent_id="echo", ttl=seconds(90 * 60))
    )
    thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=answer.thread_id))
    assert thread.ttl.seconds == 90 * 60
    assert thread.expire_time.ToMicroseconds() == (
        thread.last_activity_at.ToMicroseconds() + 90 * 60 * 1_000_000
    )
    # Without a ttl (and no --default-thread-ttl), it never expires.
    answer = await runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo"))
    thread = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=answer.thread_id))
    assert not thread.HasField("ttl")
    # A ttl is for the thread Chat makes: with a thread_id it is refused.
    failure = await expect_failure(
        runs.Chat(
            run_pb2.ChatRequest(
                message="hi", agent_id="echo", thread_id=answer.thread_id, ttl=seconds(60)
            )
        )
    )
    assert (failure.code, failure.fields) == (INVALID, ["ttl"])
    for bad in (seconds(0), seconds(-5), seconds(3651 * DAY)):
        failure = await expect_failure(
            runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", ttl=bad))
        )
        assert failure.fields == ["ttl"]


async def test_a_chat_thread_expires_after_its_ttl(client):
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    answer = await runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", ttl=seconds(1)))
    await asyncio.sleep(1.2)
    failure = await expect_failure(
        client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=answer.thread_id))
    )
    assert failure.reason == "THREAD_NOT_FOUND"


# -- the server's default and cap ------------------------------------------------------------------


async def test_threads_made_by_chat_get_the_default_ttl(capped):
    runs = run_pb2_grpc.RunServiceStub(capped.client.channel)
    answer = await runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo"))
    thread = await capped.client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=answer.thread_id)
    )
    assert thread.ttl.seconds == 24 * HOUR
    given = await runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", ttl=seconds(HOUR)))
    thread = await capped.client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id=given.thread_id)
    )
    assert thread.ttl.seconds == HOUR
    # Other threads are as their callers make them; default threads never expire.
    plain = await capped.client.threads.CreateThread(thread_pb2.CreateThreadRequest())
    assert not plain.HasField("ttl")
    default = await capped.client.threads.GetDefaultThread(
        thread_pb2.GetDefaultThreadRequest(agent_id="echo")
    )
    assert not default.HasField("ttl")


async def test_a_ttl_over_the_cap_is_refused_everywhere(capped):
    client = capped.client
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    at_cap, over = seconds(720 * HOUR), seconds(720 * HOUR + 1)
    made = await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(thread=thread_pb2.Thread(ttl=at_cap))
    )
    assert made.ttl.seconds == 720 * HOUR
    failure = await expect_failure(
        client.threads.CreateThread(
            thread_pb2.CreateThreadRequest(thread_id="long", thread=thread_pb2.Thread(ttl=over))
        )
    )
    assert (failure.code, failure.fields) == (INVALID, ["thread.ttl"])
    assert "--max-thread-ttl" in failure.message
    failure = await expect_failure(
        client.threads.UpdateThread(
            thread_pb2.UpdateThreadRequest(
                thread=thread_pb2.Thread(thread_id=made.thread_id, ttl=over),
                update_mask=field_mask_pb2.FieldMask(paths=["ttl"]),
            )
        )
    )
    assert failure.fields == ["thread.ttl"]
    failure = await expect_failure(
        runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo", ttl=over))
    )
    assert failure.fields == ["ttl"]
    # Nothing was written: no thread "long", the ttl as it was, no chat thread.
    count = await client.threads.CountThreads(thread_pb2.CountThreadsRequest())
    assert count.count == 1
    kept = await client.threads.GetThread(thread_pb2.GetThreadRequest(thread_id=made.thread_id))
    assert kept.ttl.seconds == 720 * HOUR
    # Updating other fields of a thread is not held to the cap.
    await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id=made.thread_id, title="t", ttl=over),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--default-thread-ttl", "0.5"], "--default-thread-ttl must be 0"),
        (["--max-thread-ttl", "-1"], "--max-thread-ttl must be 0"),
        (["--max-thread-ttl", str(3651 * DAY)], "--max-thread-ttl must be 0"),
        (
            ["--default-thread-ttl", str(2 * DAY), "--max-thread-ttl", str(DAY)],
            "must not be longer than --max-thread-ttl",
        ),
    ],
)
def test_bad_ttl_flags_stop_the_server(flags, complaint):
    with pytest.raises(SystemExit, match=complaint):
        config.parse(flags)


def test_ttl_flags_and_variables():
    settings = config.parse(["--default-thread-ttl", "86400", "--max-thread-ttl", "2592000"])
    assert (settings.default_thread_ttl_us, settings.max_thread_ttl_us) == (
        86_400_000_000,
        2_592_000_000_000,
    )
    assert config.parse([]).default_thread_ttl_us is None
    assert config.parse([]).max_thread_ttl_us is None
    from_env = config.load(None, {"THREADLINE_MAX_THREAD_TTL": "3600"})
    assert from_env.max_thread_ttl == 3600
