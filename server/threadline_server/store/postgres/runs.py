"""Runs on PostgreSQL: a writer's locked read of a run, and claims (the rest: store/sql/runs.py).

Claims by several processes: a claim locks the candidate's thread row with
SKIP LOCKED (a thread another process is writing is passed over, not waited
for), then reads the thread's runs in flight again under that lock, so two
processes can never start two runs of one thread.
"""

from __future__ import annotations

from threadline_server.errors import NotFoundError
from threadline_server.store.postgres.session import DictRow, Session
from threadline_server.store.records import RunRecord
from threadline_server.store.sql.runs import CLAIMABLE, LIVE, SELECT, records

# Candidates looked at per claim: those whose thread is being written are skipped.
_CLAIM_CANDIDATES = 8


async def locked_row_of(session: Session, run_id: str) -> DictRow:
    """Return a run of a live thread after locking its thread's row, or raise NotFoundError.

    The run is read after the lock is granted, so what is read is what the
    last writer committed; the row carries the thread's times for the
    transaction's clock (PostgresTransaction._locked).
    """
    live = session.dialect.sql(LIVE)
    params = (session.tenant, run_id, session.now)
    locked = await session.row(
        "SELECT t.last_activity_at, t.updated_at FROM runs AS r "
        f"JOIN threads AS t ON t.pk = r.thread_pk WHERE {live} FOR NO KEY UPDATE OF t",
        params,
    )
    row = None if locked is None else await session.row(f"{SELECT} WHERE {live}", params)
    if locked is None or row is None:
        raise NotFoundError("run", run_id)
    row.update(locked)
    return row


async def claimable(session: Session, agent_id: str) -> RunRecord | None:
    """Return and lock the tenant's oldest queued run of an agent that is first in line.

    The candidates' threads are locked with SKIP LOCKED, so a thread another
    transaction holds is passed over; each is then checked again under its lock.
    """
    candidates = await session.rows(
        session.dialect.sql(
            "SELECT r.run_id, t.pk AS thread_pk FROM runs AS r "
            f"JOIN threads AS t ON t.pk = r.thread_pk WHERE {CLAIMABLE} "
            "ORDER BY r.pk LIMIT ? FOR NO KEY UPDATE OF t SKIP LOCKED"
        ),
        (session.tenant, agent_id, session.now, _CLAIM_CANDIDATES),
    )
    params = (session.tenant, agent_id, session.now)
    for candidate in candidates:
        # Asked again under the lock: the snapshot above may predate a commit.
        found = await records(
            session,
            f"{CLAIMABLE} AND r.thread_pk = ? ORDER BY r.pk LIMIT 1",
            (*params, candidate["thread_pk"]),
        )
        if found:
            return found[0]
    return None
