"""Runs on PostgreSQL: the statements that read and write them.

Claims by several processes: a claim locks the candidate's thread row with
SKIP LOCKED (a thread another process is writing is passed over, not waited
for), then reads the thread's runs in flight again under that lock, so two
processes can never start two runs of one thread.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from threadline.v1 import run_pb2

from threadline_server import jsonvalue
from threadline_server.errors import NotFoundError
from threadline_server.store.postgres import threads
from threadline_server.store.postgres.session import DictRow, Session, as_row, child_page
from threadline_server.store.records import Page, RunPageQuery, RunRecord, ThreadRef
from threadline_server.store.sqlite import runs as sqlite_runs

COLUMNS = sqlite_runs.COLUMNS
_SELECT = f"SELECT {COLUMNS} FROM runs AS r JOIN threads AS t ON t.pk = r.thread_pk"
_OWN_COLUMNS = sqlite_runs._OWN_COLUMNS
_QUEUED = int(run_pb2.RUN_STATUS_QUEUED)
_RUNNING = int(run_pb2.RUN_STATUS_RUNNING)
_WAITING = int(run_pb2.RUN_STATUS_REQUIRES_ACTION)
_IN_FLIGHT_TERM = f"r.status IN ({_QUEUED}, {_RUNNING}, {_WAITING})"
# Candidates looked at per claim: those whose thread is being written are skipped.
_CLAIM_CANDIDATES = 8


def to_run(row: DictRow, thread_id: str | None = None) -> run_pb2.Run:
    """Return the API view of a run row."""
    return sqlite_runs.to_run(as_row(row), thread_id)


def to_record(row: DictRow, ref: ThreadRef | None = None) -> RunRecord:
    """Return a run row with what only the server sees."""
    return sqlite_runs.to_record(as_row(row), ref)


async def row_of(session: Session, run_id: str, *, lock: bool = False) -> DictRow:
    """Return a run of a live thread, or raise NotFoundError.

    With lock, its thread's row is locked first and the run read after the
    lock is granted, so what is read is what the last writer committed.
    """
    live = "r.tenant_id = %s AND r.run_id = %s AND (t.expire_at IS NULL OR t.expire_at > %s)"
    params = (session.tenant, run_id, session.now)
    locked: DictRow | None = None
    if lock:
        locked = await session.row(
            "SELECT t.last_activity_at, t.updated_at FROM runs AS r "
            f"JOIN threads AS t ON t.pk = r.thread_pk WHERE {live} FOR NO KEY UPDATE OF t",
            params,
        )
        if locked is None:
            raise NotFoundError("run", run_id)
    row = await session.row(f"{_SELECT} WHERE {live}", params)
    if row is None:
        raise NotFoundError("run", run_id)
    if locked is not None:
        # The thread's times, for the transaction's clock (PostgresTransaction._locked).
        row.update(locked)
    return row


async def records(session: Session, where: str, params: tuple[Any, ...]) -> list[RunRecord]:
    """Return the runs that match a condition on runs r and threads t."""
    return [to_record(row) for row in await session.rows(f"{_SELECT} WHERE {where}", params)]


async def in_flight(session: Session, thread: ThreadRef) -> list[RunRecord]:
    """Return the thread's queued and running runs, oldest first."""
    return await records(
        session, f"r.thread_pk = %s AND {_IN_FLIGHT_TERM} ORDER BY r.pk", (thread.key,)
    )


async def all_in_flight(session: Session) -> list[RunRecord]:
    """Return every queued and running run, of every tenant (for the run metrics)."""
    return await records(session, _IN_FLIGHT_TERM, ())


async def insert(session: Session, thread: ThreadRef, run: run_pb2.Run) -> RunRecord:
    """Insert a run as given; return it as stored."""
    row = await session.row(
        "INSERT INTO runs (tenant_id, run_id, thread_pk, agent_id, status, "
        "multitask_strategy, max_iterations, tools, context, metadata, created_at, client_tools, "
        "webhook_url, webhook_id) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_OWN_COLUMNS}",
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


async def save(session: Session, record: RunRecord) -> None:
    """Write every mutable field of a run back."""
    run = record.run
    await session.change(
        "UPDATE runs SET status = %s, response = %s, tool_calls = %s, iterations = %s, "
        "prompt_tokens = %s, completion_tokens = %s, error_code = %s, error_message = %s, "
        "lease_id = %s, lease_expires_at = %s, lease_duration_us = %s, worker_id = %s, "
        "started_at = %s, ended_at = %s, required_action = %s, action_response = %s, "
        "action_expires_at = %s "
        "WHERE tenant_id = %s AND run_id = %s",
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
            record.thread.tenant,
            run.run_id,
        ),
    )


def _first_in_line(in_flight_runs: list[RunRecord], run_id: str) -> bool:
    if any(r.run.status != run_pb2.RUN_STATUS_QUEUED for r in in_flight_runs):
        return False
    return bool(in_flight_runs) and in_flight_runs[0].run.run_id == run_id


async def claimable(session: Session, agent_id: str) -> RunRecord | None:
    """Return and lock the tenant's oldest queued run of an agent that is first in line.

    The candidates' threads are locked with SKIP LOCKED, so a thread another
    transaction holds is passed over; each is then checked again under its lock.
    """
    candidates = await session.rows(
        "SELECT r.run_id, t.pk AS thread_pk FROM runs AS r "
        "JOIN threads AS t ON t.pk = r.thread_pk "
        f"WHERE {_IN_FLIGHT_TERM} AND r.status = {_QUEUED} AND r.tenant_id = %s "
        "AND r.agent_id = %s AND (t.expire_at IS NULL OR t.expire_at > %s) "
        "AND NOT EXISTS (SELECT 1 FROM runs AS o WHERE o.thread_pk = r.thread_pk "
        f"AND (o.status IN ({_RUNNING}, {_WAITING}) OR (o.status = {_QUEUED} AND o.pk < r.pk))) "
        "ORDER BY r.pk LIMIT %s FOR NO KEY UPDATE OF t SKIP LOCKED",
        (session.tenant, agent_id, session.now, _CLAIM_CANDIDATES),
    )
    for candidate in candidates:
        # Read again under the lock: the snapshot above may predate a commit.
        ref = ThreadRef(candidate["thread_pk"], session.tenant or "", "")
        flying = await in_flight(session, ref)
        if _first_in_line(flying, candidate["run_id"]):
            return flying[0]
    return None


async def waiting_expired(session: Session) -> list[RunRecord]:
    """Return runs of every tenant waiting in REQUIRES_ACTION past their expire time."""
    return await records(
        session,
        f"r.status = {_WAITING} AND r.action_expires_at <= %s ORDER BY r.action_expires_at",
        (session.now,),
    )


async def count_in_flight(session: Session, limit: int) -> int:
    """Count the tenant's queued and running runs, stopping at limit.

    Under a lock on the tenant's runs until the commit, so that processes
    creating runs at once cannot all count below the cap and all insert.
    """
    await session.change(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"runs:{session.tenant}",)
    )
    row = await session.row(
        f"SELECT count(*) AS n FROM (SELECT 1 FROM runs AS r WHERE {_IN_FLIGHT_TERM} "
        "AND r.tenant_id = %s LIMIT %s) AS x",
        (session.tenant, limit),
    )
    return int(row["n"]) if row else 0


async def stale(session: Session) -> list[RunRecord]:
    """Return running runs of every tenant whose lease ran out, or that have none."""
    return await records(
        session,
        f"{_IN_FLIGHT_TERM} AND r.status = {_RUNNING} "
        "AND (r.lease_id IS NULL OR r.lease_expires_at <= %s) ORDER BY r.pk",
        (session.now,),
    )


async def threads_with_queued(session: Session) -> list[ThreadRef]:
    """Return every thread of every tenant that has a queued run."""
    rows = await session.rows(
        "SELECT DISTINCT t.pk, t.tenant_id, t.thread_id, t.ttl_us FROM runs AS r "
        f"JOIN threads AS t ON t.pk = r.thread_pk WHERE {_IN_FLIGHT_TERM} "
        f"AND r.status = {_QUEUED} ORDER BY t.pk"
    )
    return [threads.to_ref(row) for row in rows]


async def get(session: Session, run_id: str) -> run_pb2.Run:
    """Return one run of a live thread."""
    return to_run(await row_of(session, run_id))


async def list_page(session: Session, query: RunPageQuery) -> Page[run_pb2.Run]:
    """Return one page of a thread's runs by keyset on pk."""
    thread = await threads.live_row(session, query.thread_id)
    return await child_page(
        session,
        _SELECT,
        alias="r",
        thread_pk=thread["pk"],
        descending=query.descending,
        limit=query.limit,
        max_bytes=query.max_bytes,
        after=query.after,
        convert=sqlite_runs.to_run,
    )
