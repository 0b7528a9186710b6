"""Runs on SQLite: the claim, one statement under the one writer (the rest: store/sql/runs.py)."""

from __future__ import annotations

from threadline_server.store.records import RunRecord
from threadline_server.store.sql.runs import CLAIMABLE, records
from threadline_server.store.sqlite.session import Session


async def claimable(session: Session, agent_id: str) -> RunRecord | None:
    """Return the tenant's oldest queued run of an agent that is first in line on its thread.

    One writer at a time: nothing can change between this read and the claim.
    """
    found = await records(
        session, f"{CLAIMABLE} ORDER BY r.pk LIMIT 1", (session.tenant, agent_id, session.now)
    )
    return found[0] if found else None
