"""Runs: their rows, and the statements both stores read and write them with.

Claims (which run a worker takes next) and a writer's locked read of a run
differ by database and stay in each adapter's runs module.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from threadline.v1 import run_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.records import Page, RunPageQuery, RunRecord, ThreadRef
from threadline_server.store.sql.session import Row, SqlSession, child_page

COLUMNS = (
    "r.pk, t.pk AS thread_pk, t.tenant_id, t.thread_id, t.ttl_us, r.run_id, r.agent_id, r.status, "
    "r.multitask_strategy, r.max_iterations, r.tools, r.context, r.metadata, r.response, "
    "r.tool_calls, r.iterations, r.prompt_tokens, r.completion_tokens, r.error_code, "
    "r.error_message, r.lease_id, r.lease_expires_at, r.lease_duration_us, r.worker_id, "
    "r.created_at, r.started_at, r.ended_at, r.client_tools, r.required_action, "
    "r.action_response, r.action_expires_at, r.webhook_url, r.webhook_id"
)
SELECT = f"SELECT {COLUMNS} FROM runs AS r JOIN threads AS t ON t.pk = r.thread_pk"
# A run's own columns, for RETURNING (which cannot join): the caller knows the thread.
OWN_COLUMNS = ", ".join(
    column.removeprefix("r.") for column in COLUMNS.split(", ") if column.startswith("r.")
)
IN_FLIGHT = (
    run_pb2.RUN_STATUS_QUEUED,
    run_pb2.RUN_STATUS_RUNNING,
    run_pb2.RUN_STATUS_REQUIRES_ACTION,
)
# Statuses written into the SQL itself, not bound. SQLite uses the partial
# index of runs in flight (runs_in_flight, WHERE status IN (1, 2, 7)) only for a
# query whose WHERE repeats that term word for word, so each query of runs
# by status says IN_FLIGHT_TERM as well.
QUEUED = int(run_pb2.RUN_STATUS_QUEUED)
RUNNING = int(run_pb2.RUN_STATUS_RUNNING)
WAITING = int(run_pb2.RUN_STATUS_REQUIRES_ACTION)
IN_FLIGHT_TERM = f"r.status IN ({QUEUED}, {RUNNING}, {WAITING})"
# The claim's rule as a condition: the tenant's queued runs of an agent that
# are first in line on their live thread (nothing running or waiting there,
# nothing queued before them); parameters: tenant, agent id, now. The store
# finds them by index across threads; the scheduler's _next_in_line says the
# same of one thread's runs in flight.
CLAIMABLE = (
    f"{IN_FLIGHT_TERM} AND r.status = {QUEUED} AND r.tenant_id = ? AND r.agent_id = ? "
    "AND (t.expire_at IS NULL OR t.expire_at > ?) "
    "AND NOT EXISTS (SELECT 1 FROM runs AS o WHERE o.thread_pk = r.thread_pk "
    f"AND (o.status IN ({RUNNING}, {WAITING}) OR (o.status = {QUEUED} AND o.pk < r.pk)))"
)
# A run of the session's tenant, by id, on a thread that has not expired.
LIVE = "r.tenant_id = ? AND r.run_id = ? AND (t.expire_at IS NULL OR t.expire_at > ?)"


def to_run(row: Row, thread_id: str | None = None) -> run_pb2.Run:
    """Return the API view of a run row (of the given thread, or the one it was joined with)."""
    run = run_pb2.Run(
        run_id=row["run_id"],
        thread_id=row["thread_id"] if thread_id is None else thread_id,
        agent_id=row["agent_id"],
        status=row["status"],
        response=row["response"],
        iterations=row["iterations"],
        max_iterations=row["max_iterations"],
        tools=json.loads(row["tools"]),
        multitask_strategy=row["multitask_strategy"],
        webhook_url=row["webhook_url"],
        webhook_id=row["webhook_id"],
    )
    for item in json.loads(row["tool_calls"]):
        json_format.ParseDict(item, run.tool_calls.add())
    run.usage.prompt_tokens = row["prompt_tokens"]
    run.usage.completion_tokens = row["completion_tokens"]
    run.usage.total_tokens = row["prompt_tokens"] + row["completion_tokens"]
    if row["error_code"]:
        run.error.code = row["error_code"]
        run.error.message = row["error_message"]
    run.context.CopyFrom(jsonvalue.loads_struct(row["context"]))
    run.metadata.CopyFrom(jsonvalue.loads_struct(row["metadata"]))
    run.created_at.FromMicroseconds(row["created_at"])
    if row["started_at"] is not None:
        run.started_at.FromMicroseconds(row["started_at"])
    if row["ended_at"] is not None:
        run.ended_at.FromMicroseconds(row["ended_at"])
    if row["client_tools"] is not None:
        run.MergeFromString(row["client_tools"])
    if row["required_action"] is not None:
        run.required_action.ParseFromString(row["required_action"])
    if row["action_response"] is not None:
        run.action_response.ParseFromString(row["action_response"])
    return run


def to_record(row: Row, ref: ThreadRef | None = None) -> RunRecord:
    """Return a run row with what only the server sees (its thread, its lease)."""
    if ref is None:
        ref = ThreadRef(row["thread_pk"], row["tenant_id"], row["thread_id"], row["ttl_us"])
    return RunRecord(
        run=to_run(row, ref.thread_id),
        thread=ref,
        lease_id=row["lease_id"],
        lease_expires_at=row["lease_expires_at"],
        lease_duration_us=row["lease_duration_us"],
        worker_id=row["worker_id"],
    )


async def row_of(session: SqlSession, run_id: str) -> Row:
    """Return a run of a live thread, or raise NotFoundError."""
    row = await session.row(
        session.dialect.sql(f"{SELECT} WHERE {LIVE}"),
        (session.tenant, run_id, session.now),
    )
    if row is None:
        raise NotFoundError("run", run_id)
    return row


async def records(session: SqlSession, where: str, params: tuple[Any, ...]) -> list[RunRecord]:
    """Return the runs that match a condition on runs r and threads t."""
    rows = await session.rows(session.dialect.sql(f"{SELECT} WHERE {where}"), params)
    return [to_record(row) for row in rows]


async def in_flight(session: SqlSession, thread: ThreadRef) -> list[RunRecord]:
    """Return the thread's queued and running runs, oldest first."""
    return await records(
        session,
        f"r.thread_pk = ? AND {IN_FLIGHT_TERM} ORDER BY r.pk",
        (thread.key,),
    )


async def all_in_flight(session: SqlSession) -> list[RunRecord]:
    """Return every run in flight (queued, running, waiting), of every tenant (run metrics)."""
    return await records(session, IN_FLIGHT_TERM, ())


async def insert(session: SqlSession, thread: ThreadRef, run: run_pb2.Run) -> RunRecord:
    """Insert a run as given (run_id, status and created_at set); return it as stored."""
    row = await session.row(
        session.dialect.sql(
            "INSERT INTO runs (tenant_id, run_id, thread_pk, agent_id, status, "
            "multitask_strategy, max_iterations, tools, context, metadata, created_at, "
            "client_tools, webhook_url, webhook_id) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {OWN_COLUMNS}"
        ),
        (
            session.tenant,
            run.run_id,
            thread.key,
            run.agent_id,
            run.status,
            run.multitask_strategy,
            run.max_iterations,
            json.dumps(list(run.tools)),
            jsonvalue.dumps(jsonvalue.struct_to_python(run.context)),
            jsonvalue.dumps(jsonvalue.struct_to_python(run.metadata)),
            run.created_at.ToMicroseconds(),
            run_pb2.Run(client_tools=run.client_tools).SerializeToString()
            if run.client_tools
            else None,
            run.webhook_url,
            run.webhook_id,
        ),
    )
    assert row is not None  # noqa: S101 - an INSERT without a conflict clause returns its row
    return to_record(row, thread)


async def save(session: SqlSession, record: RunRecord) -> None:
    """Write every mutable field of a run back."""
    run = record.run
    await session.change(
        session.dialect.sql(
            "UPDATE runs SET status = ?, response = ?, tool_calls = ?, iterations = ?, "
            "prompt_tokens = ?, completion_tokens = ?, error_code = ?, error_message = ?, "
            "lease_id = ?, lease_expires_at = ?, lease_duration_us = ?, worker_id = ?, "
            "started_at = ?, ended_at = ?, required_action = ?, action_response = ?, "
            "action_expires_at = ? "
            "WHERE tenant_id = ? AND run_id = ?"
        ),
        (
            run.status,
            run.response,
            json.dumps(
                [
                    json_format.MessageToDict(c, preserving_proto_field_name=True)
                    for c in run.tool_calls
                ],
                separators=(",", ":"),
            ),
            run.iterations,
            run.usage.prompt_tokens,
            run.usage.completion_tokens,
            run.error.code,
            run.error.message,
            record.lease_id,
            record.lease_expires_at,
            record.lease_duration_us,
            record.worker_id,
            run.started_at.ToMicroseconds() if run.HasField("started_at") else None,
            run.ended_at.ToMicroseconds() if run.HasField("ended_at") else None,
            run.required_action.SerializeToString() if run.HasField("required_action") else None,
            run.action_response.SerializeToString() if run.HasField("action_response") else None,
            run.required_action.expire_time.ToMicroseconds()
            if run.status == run_pb2.RUN_STATUS_REQUIRES_ACTION
            else None,
            session.tenant,
            run.run_id,
        ),
    )


async def count_in_flight(session: SqlSession, limit: int) -> int:
    """Count the tenant's queued and running runs, stopping at limit.

    Serialized on the tenant's runs until the commit, so that processes
    creating runs at once cannot all count below the cap and all insert.
    """
    await session.serialize(f"runs:{session.tenant}")
    row = await session.row(
        session.dialect.sql(
            f"SELECT count(*) AS n FROM (SELECT 1 FROM runs AS r WHERE {IN_FLIGHT_TERM} "
            "AND r.tenant_id = ? LIMIT ?)"
            f"{session.dialect.subquery_alias}"
        ),
        (session.tenant, limit),
    )
    return int(row["n"]) if row else 0


async def stale(session: SqlSession) -> list[RunRecord]:
    """Return running runs of every tenant whose worker lease ran out, or that have none."""
    return await records(
        session,
        f"{IN_FLIGHT_TERM} AND r.status = {RUNNING} "
        "AND (r.lease_id IS NULL OR r.lease_expires_at <= ?) ORDER BY r.pk",
        (session.now,),
    )


async def waiting_expired(session: SqlSession) -> list[RunRecord]:
    """Return runs of every tenant waiting in REQUIRES_ACTION past their expire time."""
    return await records(
        session,
        f"r.status = {WAITING} AND r.action_expires_at <= ? ORDER BY r.action_expires_at",
        (session.now,),
    )


async def threads_with_queued(session: SqlSession) -> list[ThreadRef]:
    """Return every thread of every tenant that has a queued run."""
    rows = await session.rows(
        "SELECT DISTINCT t.pk, t.tenant_id, t.thread_id, t.ttl_us FROM runs AS r "
        f"JOIN threads AS t ON t.pk = r.thread_pk WHERE {IN_FLIGHT_TERM} "
        f"AND r.status = {QUEUED} ORDER BY t.pk"
    )
    return [ThreadRef(row["pk"], row["tenant_id"], row["thread_id"], row["ttl_us"]) for row in rows]


async def get(session: SqlSession, run_id: str) -> run_pb2.Run:
    """Return one run of a live thread."""
    return to_run(await row_of(session, run_id))


async def list_page(session: SqlSession, ref: ThreadRef, query: RunPageQuery) -> Page[run_pb2.Run]:
    """Return one page of a live thread's runs by keyset on pk."""
    return await child_page(
        session,
        SELECT,
        alias="r",
        thread_pk=ref.key,
        descending=query.descending,
        limit=query.limit,
        max_bytes=query.max_bytes,
        after=query.after,
        convert=to_run,
    )
