"""Every statement the store runs is an index search scoped to its tenant (EXPLAIN QUERY PLAN).

A real server serves a workload that reaches every kind of statement
(threads, messages, runs, events, workers, request ids, the background
jobs); each statement the store sends through aiosqlite is recorded with its bound
parameters, then explained on the same database. The server never runs
ANALYZE, so SQLite plans without statistics, the same at any size: a plan
that is an index search here is one on a store of millions of rows.

Rules, each a bug once:
- no full scan of a table (a partial index is used only when the query
  repeats its WHERE term; without it, the lease checker read every run);
- no search by a row-key range alone (reading a run's events walked every
  event after the cursor);
- a unique index is searched by all its columns, tenant_id first (finding a
  message by thread_pk walked the thread's every message);
- every statement names its tenant, or a row key a tenant's lookup gave, or
  is one of the background jobs' reads across tenants.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from threadline.v1 import (
    message_pb2,
    run_pb2,
    run_pb2_grpc,
    thread_pb2,
    webhook_pb2,
    webhook_pb2_grpc,
    worker_pb2,
    worker_pb2_grpc,
)
from threadline_server.config import Settings
from threadline_server.store.records import DEFAULT_TENANT
from threadline_server.store.sqlite.onehop import SyncConnection
from threadline_server.transport.server import ThreadlineServer

from tests.conftest import connect
from tests.test_threads import struct
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.api

STATEMENTS = {"SELECT", "INSERT", "UPDATE", "DELETE"}
ALLOWED_SCANS = re.compile(r"^SCAN (\(subquery-\d+\)|\d+ CONSTANT ROWS?|j VIRTUAL TABLE)")
ROW_KEY_RANGE_ALONE = re.compile(r"USING INTEGER PRIMARY KEY \(rowid[<>]")
UNIQUE_INDEX_SEARCH = re.compile(r"USING (?:COVERING )?INDEX (sqlite_autoindex_\w+) \(([^)]*)\)")
# The reads across tenants, for expiry, lease checks, recovery and metrics.
ACROSS_TENANTS = (
    "WHERE expire_at IS NOT NULL AND expire_at <= ?",
    "AND r.status = 2 AND (r.lease_id IS NULL",
    "SELECT DISTINCT t.pk, t.tenant_id",
    "ON t.pk = r.thread_pk WHERE r.status IN (1, 2, 7)",
    "WHERE r.status = 7 AND r.action_expires_at <= ?",
    # The store's upkeep: threads being built or purged, of every tenant.
    "FROM threads WHERE phase != 0 AND phase = ",
    # The webhook dispatcher's: which deliveries are due, and when the next is.
    "FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL",
    # The sweep of deliveries done long ago.
    "WHERE next_attempt_at IS NULL AND created_at < ?",
)
# Statements by a row key that a tenant-scoped lookup handed over.
BY_ROW_KEY = re.compile(r"WHERE (?:\w+\.)?(?:pk|thread_pk|webhook_pk) (?:= [?:]|IN)")
# The plans some statements must have.
EXPECTED = {
    "FROM threads WHERE phase != 0 AND phase = 2": "threads_in_phase (phase=?)",
    "FROM messages WHERE thread_pk = ? AND pk > ?": (
        "messages_by_thread (thread_pk=? AND pk>? AND pk<?)"
    ),
    "FROM threads WHERE tenant_id = ? AND thread_id = ?": (
        "sqlite_autoindex_threads_1 (tenant_id=? AND thread_id=?)"
    ),
    "WHERE m.tenant_id = ? AND m.message_id = ?": (
        "sqlite_autoindex_messages_1 (tenant_id=? AND message_id=?)"
    ),
    "WHERE r.tenant_id = ? AND r.run_id = ?": "sqlite_autoindex_runs_1 (tenant_id=? AND run_id=?)",
    "AND r.status = 1 AND r.tenant_id = ? AND r.agent_id = ?": (
        "runs_in_flight (status=? AND tenant_id=? AND agent_id=?)"
    ),
    "SELECT count(*) AS n FROM (SELECT 1 FROM runs": "runs_in_flight (status=? AND tenant_id=?)",
    "WHERE e.run_id = ?": "events_by_run (run_id=? AND event_id>?)",
    "WHERE e.thread_pk = ?": "events_by_thread (thread_pk=? AND event_id>?)",
    "AND r.status = 2 AND (r.lease_id IS NULL": "runs_in_flight (status=?)",
    "WHERE r.status = 7 AND r.action_expires_at <= ?": "runs_waiting (action_expires_at<?)",
    "DELETE FROM messages WHERE thread_pk = ? AND run_id": "messages_by_run (run_id=?)",
    "FROM request_ids WHERE tenant_id = ?": (
        "sqlite_autoindex_request_ids_1 (tenant_id=? AND method=? AND request_id=?)"
    ),
    "FROM request_ids WHERE created_at < ?": "request_ids_by_age (created_at<?)",
    "FROM checkpoints AS c WHERE c.thread_pk = ? ORDER BY c.pk DESC LIMIT 1": (
        "checkpoints_by_thread (thread_pk=?)"
    ),
    "WHERE c.thread_pk = ? AND c.run_id = ?": "checkpoints_by_run (thread_pk=? AND run_id=?)",
    "WHERE c.tenant_id = ? AND c.checkpoint_id = ?": (
        "sqlite_autoindex_checkpoints_1 (tenant_id=? AND checkpoint_id=?)"
    ),
    "WHERE m.tenant_id = ? AND m.message_id = ? AND m.thread_pk = ?), 0)": (
        "sqlite_autoindex_messages_1 (tenant_id=? AND message_id=?)"
    ),
    "AND user_id = ? AND is_default = 1": "threads_default (tenant_id=? AND agent_id=? AND",
    "SELECT message_id FROM messages WHERE thread_pk = ? ORDER BY pk DESC": (
        "messages_by_thread (thread_pk=?)"
    ),
    "AND next_attempt_at <= ? ORDER BY next_attempt_at": "webhook_deliveries_due (next_attempt_at",
    "SELECT min(next_attempt_at)": "webhook_deliveries_due (next_attempt_at",
    "WHERE next_attempt_at IS NULL AND created_at < ?": "webhook_deliveries_done (created_at<?)",
    "FROM webhooks WHERE tenant_id = ? AND webhook_id = ?": (
        "sqlite_autoindex_webhooks_1 (tenant_id=? AND webhook_id=?)"
    ),
    "SELECT 1 FROM webhooks WHERE tenant_id = ? AND run_id = ''": (
        "webhooks_by_run (tenant_id=? AND run_id=?)"
    ),
    "FROM webhooks WHERE tenant_id = ? AND run_id IN": "webhooks_by_run (tenant_id=? AND run_id=?)",
    "FROM webhooks WHERE tenant_id = ? AND run_id = ''": (
        "webhooks_by_run (tenant_id=? AND run_id=?"
    ),
    "WHERE tenant_id = ? AND delivery_id IN": (
        "sqlite_autoindex_webhook_deliveries_1 (tenant_id=? AND delivery_id=?)"
    ),
    "WHERE tenant_id = ? AND delivery_id = ?": (
        "sqlite_autoindex_webhook_deliveries_1 (tenant_id=? AND delivery_id=?)"
    ),
    "WHERE d.webhook_pk = ? ORDER BY": "webhook_deliveries_by_webhook (webhook_pk=?",
    # A run's deliveries are few, a webhook's many: by the run.
    "AND d.run_id = ? AND +d.webhook_pk = ?": "webhook_deliveries_by_run (tenant_id=? AND run_id=?",
    "WHERE d.tenant_id = ? AND d.run_id = ?": (
        "webhook_deliveries_by_run (tenant_id=? AND run_id=?"
    ),
    "WHERE d.tenant_id = ? AND d.pk": "webhook_deliveries_by_tenant (tenant_id=? AND pk<?)",
}


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record every statement the store runs, with its first parameters.

    Every statement of the store goes through execute or execute_fetchall of
    the one-hop SyncConnection (store/sqlite/onehop.py) or of aiosqlite; each
    call still returns what the original returns.
    """
    seen: dict[str, Any] = {}

    def recording(original: Callable[..., Any]) -> Callable[..., Any]:
        def record(self: Any, sql: str, parameters: Any = ()) -> Any:
            # "SELECT 1" is the store's own probe of a read connection.
            if sql.lstrip().split(" ", 1)[0].upper() in STATEMENTS and sql != "SELECT 1":
                params = parameters if parameters is not None else ()
                seen.setdefault(sql, params if isinstance(params, dict) else tuple(params))
            return original(self, sql, parameters)

        return record

    for name in ("execute", "execute_fetchall"):
        monkeypatch.setattr(SyncConnection, name, recording(getattr(SyncConnection, name)))

    monkeypatch.setattr(aiosqlite.Connection, "execute", recording(aiosqlite.Connection.execute))
    monkeypatch.setattr(
        aiosqlite.Connection,
        "execute_fetchall",
        recording(aiosqlite.Connection.execute_fetchall),
    )
    return seen


def workload_settings(database: str) -> Settings:
    """The server the workload runs on: a worker agent and short sweeps, on either store."""
    return Settings(
        listen="127.0.0.1:0",
        http_listen="",
        database=database,
        worker_agents=("w",),
        lease_check_interval=0.05,
        expiry_sweep_interval=0.05,
        webhook_allow=("127.0.0.1",),
        webhook_first_retry=0.05,
    )


@pytest.fixture
async def busy_server(tmp_path: Path, statements: dict[str, Any]) -> AsyncIterator[Any]:
    """A server with a worker agent, short sweeps, and a workload done on it."""
    server = ThreadlineServer(workload_settings(str(tmp_path / "plans.db")))
    port = await server.start()
    client = connect(f"127.0.0.1:{port}")
    try:
        await _workload(server, client)
        yield server
    finally:
        await client.channel.close(None)
        await server.stop(grace=1.0)


async def _workload(server: ThreadlineServer, client: Any) -> None:
    runs = run_pb2_grpc.RunServiceStub(client.channel)
    workers = worker_pb2_grpc.AgentWorkerServiceStub(client.channel)
    await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread_id="a",
            thread=thread_pb2.Thread(user_id="u", agent_id="echo", metadata=struct({"k": "v"})),
            request_id="create-a",
        )
    )
    await client.threads.GetThread(
        thread_pb2.GetThreadRequest(thread_id="a", view=thread_pb2.THREAD_VIEW_FULL)
    )
    filters = [
        thread_pb2.ThreadFilter(),
        thread_pb2.ThreadFilter(user_id="u"),
        thread_pb2.ThreadFilter(agent_id="echo"),
        thread_pb2.ThreadFilter(external_ref="x"),
        thread_pb2.ThreadFilter(metadata=struct({"k": "v"})),
    ]
    for thread_filter in filters:
        for order in ("", "updated_at"):
            await client.threads.ListThreads(
                thread_pb2.ListThreadsRequest(filter=thread_filter, order_by=order, page_size=1)
            )
        await client.threads.CountThreads(thread_pb2.CountThreadsRequest(filter=thread_filter))
    message = await client.messages.CreateMessage(
        message_pb2.CreateMessageRequest(
            thread_id="a",
            message=message_pb2.Message(
                role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="hi")]
            ),
        )
    )
    await client.messages.GetMessage(
        message_pb2.GetMessageRequest(thread_id="a", message_id=message.message_id)
    )
    await client.messages.ListMessages(message_pb2.ListMessagesRequest(thread_id="a"))
    await client.messages.UpdateMessage(
        message_pb2.UpdateMessageRequest(
            message=message_pb2.Message(
                thread_id="a", message_id=message.message_id, metadata=struct({"x": 1})
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["metadata"]),
        )
    )
    await client.threads.UpdateThread(
        thread_pb2.UpdateThreadRequest(
            thread=thread_pb2.Thread(thread_id="a", title="t"),
            update_mask=field_mask_pb2.FieldMask(paths=["title"]),
        )
    )
    await client.threads.CopyThread(thread_pb2.CopyThreadRequest(thread_id="a", new_thread_id="b"))
    await _state_workload(client, runs)
    await _webhook_workload(client, runs)
    run = await runs.CreateRun(run_pb2.CreateRunRequest(thread_id="a", agent_id="echo"))
    await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
    await runs.GetRun(run_pb2.GetRunRequest(run_id=run.run_id))
    await runs.ListRuns(run_pb2.ListRunsRequest(thread_id="a"))
    await runs.Chat(run_pb2.ChatRequest(message="hi", agent_id="echo"))
    # A worker's run: claimed, renewed, reported to its end.
    await runs.CreateRun(run_pb2.CreateRunRequest(thread_id="b", agent_id="w"))
    claimed = await workers.ClaimRun(worker_pb2.ClaimRunRequest(agent_id="w"))
    await workers.RenewLease(
        worker_pb2.RenewLeaseRequest(run_id=claimed.run.run_id, lease_id=claimed.lease_id)
    )
    await workers.ReportRunEvents(
        worker_pb2.ReportRunEventsRequest(
            run_id=claimed.run.run_id,
            lease_id=claimed.lease_id,
            events=[
                worker_pb2.WorkerEvent(text_delta="x"),
                worker_pb2.WorkerEvent(
                    finish=worker_pb2.RunFinished(status=run_pb2.RUN_STATUS_COMPLETED)
                ),
            ],
        )
    )
    # A queued run with input messages, rolled back by the next (its messages deleted).
    await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id="b",
            agent_id="w",
            input_messages=[
                message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER, parts=[message_pb2.Part(text="q")]
                )
            ],
        )
    )
    rolled = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id="b", agent_id="w", multitask_strategy=run_pb2.MULTITASK_STRATEGY_ROLLBACK
        )
    )
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=rolled.run_id))
    # A lease that runs out (the lease checker ends the run).
    await runs.CreateRun(run_pb2.CreateRunRequest(thread_id="b", agent_id="w"))
    lapsed = await workers.ClaimRun(
        worker_pb2.ClaimRunRequest(agent_id="w", lease_duration=duration_pb2.Duration(seconds=1))
    )
    await runs.WaitRun(
        run_pb2.WaitRunRequest(run_id=lapsed.run.run_id, timeout=duration_pb2.Duration(seconds=5))
    )
    # Events read back from the store, not the bus's tail.
    await server.store.read_events(
        DEFAULT_TENANT, run_id=run.run_id, after=0, limit=10, max_bytes=1 << 20
    )
    await server.store.read_events(
        DEFAULT_TENANT, thread_id="a", after=0, limit=10, max_bytes=1 << 20
    )
    # A thread that expires, swept; recovery's reads.
    await client.threads.CreateThread(
        thread_pb2.CreateThreadRequest(
            thread_id="brief", thread=thread_pb2.Thread(ttl=duration_pb2.Duration(seconds=1))
        )
    )
    await server.engine.scheduler.recover()
    await client.messages.DeleteMessage(
        message_pb2.DeleteMessageRequest(thread_id="a", message_id=message.message_id)
    )
    await client.threads.DeleteThread(thread_pb2.DeleteThreadRequest(thread_id="a"))
    for _ in range(100):
        if not await server.store.expired_threads(10) and await _gone(client, "brief"):
            break
        await asyncio.sleep(0.05)


async def _state_workload(client: Any, runs: Any) -> None:
    """Thread state, checkpoints, forks, default threads, clearing, a restore after a cancel."""
    for values in ({"k": 1}, {"k": 2}):
        await client.threads.UpdateThreadState(
            thread_pb2.UpdateThreadStateRequest(
                thread_state=thread_pb2.ThreadState(thread_id="a", values=struct(values))
            )
        )
    await client.threads.GetThreadState(thread_pb2.GetThreadStateRequest(thread_id="a"))
    page = await client.threads.ListThreadCheckpoints(
        thread_pb2.ListThreadCheckpointsRequest(thread_id="a", page_size=1)
    )
    await client.threads.ListThreadCheckpoints(
        thread_pb2.ListThreadCheckpointsRequest(
            thread_id="a", page_size=1, page_token=page.next_page_token
        )
    )
    await client.threads.CopyThread(
        thread_pb2.CopyThreadRequest(
            thread_id="a", new_thread_id="fork", checkpoint_id=page.checkpoints[0].checkpoint_id
        )
    )
    for _ in range(2):
        await client.threads.GetDefaultThread(
            thread_pb2.GetDefaultThreadRequest(agent_id="notes", user_id="u")
        )
    await client.threads.ClearThread(thread_pb2.ClearThreadRequest(thread_id="fork"))
    # An agent's change, then a run cancelled after its change (the state restored).
    await runs.Chat(run_pb2.ChatRequest(message="remember 1", agent_id="notes", thread_id="fork"))
    slow = await runs.CreateRun(
        run_pb2.CreateRunRequest(
            thread_id="fork",
            agent_id="notes",
            input_messages=[
                message_pb2.Message(
                    role=message_pb2.MESSAGE_ROLE_USER,
                    parts=[message_pb2.Part(text="remember that slowly")],
                )
            ],
            context=struct({"delay_ms": 200}),
        )
    )
    for _ in range(200):
        state = await client.threads.GetThreadState(
            thread_pb2.GetThreadStateRequest(thread_id="fork")
        )
        if len(state.values["notes"]) == 2:
            break
        await asyncio.sleep(0.01)
    await runs.CancelRun(run_pb2.CancelRunRequest(run_id=slow.run_id))
    await runs.WaitRun(run_pb2.WaitRunRequest(run_id=slow.run_id))


async def _webhook_workload(client: Any, runs: Any) -> None:
    """Webhooks made, read, listed; a run's deliveries sent, one retried; deleted."""
    webhooks = webhook_pb2_grpc.WebhookServiceStub(client.channel)
    receiver = await Receiver(status=500).start()
    try:
        made = await webhooks.CreateWebhook(
            webhook_pb2.CreateWebhookRequest(webhook=webhook_pb2.Webhook(url=receiver.url))
        )
        await webhooks.GetWebhook(webhook_pb2.GetWebhookRequest(webhook_id=made.webhook_id))
        page = await webhooks.ListWebhooks(webhook_pb2.ListWebhooksRequest(page_size=1))
        await webhooks.ListWebhooks(
            webhook_pb2.ListWebhooksRequest(page_size=1, page_token=page.next_page_token)
        )
        run = await runs.CreateRun(
            run_pb2.CreateRunRequest(
                thread_id="a",
                agent_id="echo",
                webhook_url=receiver.url,
                webhook_secret="whsec_" + "a" * 44,
            )
        )
        await runs.WaitRun(run_pb2.WaitRunRequest(run_id=run.run_id))
        await receiver.wait_for(3)  # a retry after a 500
        receiver.status = 200
        for _ in range(200):
            done = await webhooks.ListWebhookDeliveries(
                webhook_pb2.ListWebhookDeliveriesRequest(run_id=run.run_id)
            )
            if all(
                d.status == webhook_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED for d in done.deliveries
            ):
                break
            await asyncio.sleep(0.05)
        for fields in (
            {},
            {"run_id": run.run_id},
            {"webhook_id": made.webhook_id},
            {"webhook_id": made.webhook_id, "run_id": run.run_id},
        ):
            first = await webhooks.ListWebhookDeliveries(
                webhook_pb2.ListWebhookDeliveriesRequest(page_size=1, **fields)
            )
            await webhooks.ListWebhookDeliveries(
                webhook_pb2.ListWebhookDeliveriesRequest(
                    page_size=1, page_token=first.next_page_token, **fields
                )
            )
        await webhooks.DeleteWebhook(webhook_pb2.DeleteWebhookRequest(webhook_id=made.webhook_id))
    finally:
        await receiver.stop()


async def _gone(client: Any, thread_id: str) -> bool:
    count = await client.threads.CountThreads(
        thread_pb2.CountThreadsRequest(filter=thread_pb2.ThreadFilter(thread_ids=[thread_id]))
    )
    return bool(count.count == 0)


def _problems(sql: str, plan: list[str]) -> list[str]:
    found = []
    for line in plan:
        if line.startswith("SCAN ") and not ALLOWED_SCANS.match(line):
            found.append(f"full scan: {line}")
        if ROW_KEY_RANGE_ALONE.search(line):
            found.append(f"row-key range alone: {line}")
        unique = UNIQUE_INDEX_SEARCH.search(line)
        if unique and "tenant_id=?" in unique.group(2) and " AND " not in unique.group(2):
            found.append(f"unique index by its tenant alone: {line}")
    for fragment, expected in EXPECTED.items():
        if fragment in sql and not any(expected in line for line in plan):
            found.append(f"expected {expected}")
    is_write_of_new_row = sql.startswith("INSERT")
    if not (
        is_write_of_new_row
        or "tenant_id = ?" in sql
        or BY_ROW_KEY.search(sql)
        or any(fragment in sql for fragment in ACROSS_TENANTS)
    ):
        found.append("names no tenant and no row key")
    return found


async def test_every_statement_is_an_index_search_scoped_to_its_tenant(
    busy_server: ThreadlineServer, statements: dict[str, Any], counts
):
    database = busy_server.settings.database
    explained: dict[str, list[str]] = {}
    with sqlite3.connect(database) as connection:
        for sql, params in statements.items():
            rows = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
            explained[sql] = [row[3] for row in rows]
    problems = {sql: found for sql, plan in explained.items() if (found := _problems(sql, plan))}
    covered = [f for f in EXPECTED if any(f in sql for sql in explained)]
    counts(
        f"query plans: {len(explained)} statements explained, "
        f"{len(covered)}/{len(EXPECTED)} expected plans seen, {len(problems)} problems"
    )
    assert not problems, "\n\n".join(
        f"{sql}\n  plan: {explained[sql]}\n  " + "\n  ".join(found)
        for sql, found in problems.items()
    )
    assert covered == list(EXPECTED), f"statements never run: {set(EXPECTED) - set(covered)}"


def test_the_rules_catch_what_they_are_for():
    """The checks above fail on the plans of the bugs they were written for."""
    assert _problems("SELECT 1 FROM runs AS r WHERE r.status = 2", ["SCAN r"])
    assert _problems(
        "SELECT e.event_id FROM events AS e WHERE e.run_id = ? AND e.tenant_id = ?",
        ["SEARCH e USING INTEGER PRIMARY KEY (rowid>?)"],
    )
    assert _problems(
        "SELECT pk FROM messages AS m WHERE m.thread_pk = ? AND m.message_id = ?",
        ["SEARCH m USING INDEX sqlite_autoindex_messages_1 (tenant_id=?)"],
    )
    assert _problems("SELECT 1 FROM threads WHERE thread_id = ?", ["SEARCH threads USING X"])
