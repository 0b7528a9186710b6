"""Remembered creation calls (request_ids): the statements that read, write and sweep them."""

from __future__ import annotations

from threadline_server.store.records import RememberedRequest
from threadline_server.store.sql.session import SqlSession

_COLUMNS = "method, request_id, fingerprint, thread_id, resource_id, created_at"


async def find(
    session: SqlSession, method: str, request_id: str, *, since: int
) -> RememberedRequest | None:
    """Return the call remembered under the session's tenant, method and id, made since then.

    In a write transaction it first serializes on the (tenant, method, id)
    until the commit: two calls with one request id, on any processes, run
    one after the other, so the second finds what the first made.
    """
    await session.serialize(f"request:{session.tenant}:{method}:{request_id}")
    row = await session.row(
        session.dialect.sql(
            f"SELECT {_COLUMNS} FROM request_ids "
            "WHERE tenant_id = ? AND method = ? AND request_id = ? AND created_at >= ?"
        ),
        (session.tenant, method, request_id, since),
    )
    if row is None:
        return None
    return RememberedRequest(
        method=row["method"],
        request_id=row["request_id"],
        fingerprint=bytes(row["fingerprint"]),
        thread_id=row["thread_id"],
        resource_id=row["resource_id"],
        created_at=row["created_at"],
    )


async def remember(session: SqlSession, request: RememberedRequest) -> None:
    """Remember a call; one remembered under the same id before (and not yet swept) is replaced."""
    await session.change(
        session.dialect.sql(
            f"INSERT INTO request_ids (tenant_id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (tenant_id, method, request_id) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, thread_id = excluded.thread_id, "
            "resource_id = excluded.resource_id, created_at = excluded.created_at"
        ),
        (
            session.tenant,
            request.method,
            request.request_id,
            request.fingerprint,
            request.thread_id,
            request.resource_id,
            request.created_at,
        ),
    )


async def forget(session: SqlSession, *, before: int, limit: int) -> int:
    """Forget up to limit calls made before a time, of every tenant; return how many."""
    return await session.change(
        session.dialect.sql(
            "DELETE FROM request_ids WHERE pk IN (SELECT pk FROM request_ids WHERE created_at < ? "
            f"ORDER BY created_at LIMIT ?{session.dialect.skip_locked})"
        ),
        (before, limit),
    )
