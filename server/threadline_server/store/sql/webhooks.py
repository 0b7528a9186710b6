"""Webhooks and the outbox of their deliveries: rows and statements (both stores)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from threadline.v1 import webhook_pb2

from threadline_server.errors import NotFoundError
from threadline_server.store.records import (
    DeliveryPageQuery,
    DueDelivery,
    OutboxEntry,
    Page,
    StoredWebhook,
    ThreadRef,
    WebhookPageQuery,
)
from threadline_server.store.sql.session import Row, SqlSession, page

_WEBHOOK_COLUMNS = (
    "pk, tenant_id, webhook_id, run_id, url, event_types, secret, description, created_at"
)


def to_webhook(row: Row) -> webhook_pb2.Webhook:
    """Return the API view of a webhook row, without its secret."""
    webhook = webhook_pb2.Webhook(
        webhook_id=row["webhook_id"],
        url=row["url"],
        event_types=json.loads(row["event_types"]),
        description=row["description"],
        run_id=row["run_id"],
    )
    webhook.created_at.FromMicroseconds(row["created_at"])
    return webhook


def to_stored(row: Row) -> StoredWebhook:
    """Return a webhook row with its secret and key."""
    return StoredWebhook(to_webhook(row), row["secret"], row["pk"])


def to_delivery(row: Row) -> webhook_pb2.WebhookDelivery:
    """Return the API view of a delivery row."""
    return webhook_pb2.WebhookDelivery.FromString(row["record"])


async def insert(
    session: SqlSession, webhook: webhook_pb2.Webhook, secret: str, *, thread_key: int | None
) -> StoredWebhook:
    """Insert a webhook as given (id and created_at set), of a thread or of none."""
    row = await session.row(
        session.dialect.sql(
            "INSERT INTO webhooks (tenant_id, webhook_id, run_id, thread_pk, url, event_types, "
            "secret, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_WEBHOOK_COLUMNS}"
        ),
        (
            session.tenant,
            webhook.webhook_id,
            webhook.run_id,
            thread_key,
            webhook.url,
            json.dumps(list(webhook.event_types)),
            secret,
            webhook.description,
            webhook.created_at.ToMicroseconds(),
        ),
    )
    assert row is not None  # noqa: S101 - an INSERT without a conflict clause returns its row
    return to_stored(row)


async def row_of(session: SqlSession, webhook_id: str) -> Row:
    """Return one of the tenant's webhooks, or raise NotFoundError."""
    row = await session.row(
        session.dialect.sql(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ? AND webhook_id = ?"
        ),
        (session.tenant, webhook_id),
    )
    if row is None:
        raise NotFoundError("webhook", webhook_id)
    return row


async def count(session: SqlSession, limit: int) -> int:
    """Count the tenant's webhooks made by CreateWebhook, stopping at limit."""
    row = await session.row(
        session.dialect.sql(
            "SELECT count(*) AS n FROM (SELECT 1 FROM webhooks WHERE tenant_id = ? "
            "AND run_id = '' LIMIT ?)"
            f"{session.dialect.subquery_alias}"
        ),
        (session.tenant, limit),
    )
    return int(row["n"]) if row else 0


async def delete(session: SqlSession, webhook_id: str) -> None:
    """Delete a webhook and (by cascade) its deliveries, or raise NotFoundError."""
    changed = await session.change(
        session.dialect.sql("DELETE FROM webhooks WHERE tenant_id = ? AND webhook_id = ?"),
        (session.tenant, webhook_id),
    )
    if not changed:
        raise NotFoundError("webhook", webhook_id)


async def of_run(session: SqlSession, run_id: str) -> list[StoredWebhook]:
    """Return the tenant's webhooks for every run and the run's own, oldest first."""
    rows = await session.rows(
        session.dialect.sql(
            f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = ? "
            "AND run_id IN ('', ?) ORDER BY pk"
        ),
        (session.tenant, run_id),
    )
    return [to_stored(row) for row in rows]


async def list_page(session: SqlSession, query: WebhookPageQuery) -> Page[webhook_pb2.Webhook]:
    """Return one page of the tenant's webhooks made by CreateWebhook, newest first."""
    where = "tenant_id = ? AND run_id = ''"
    params: list[Any] = [session.tenant]
    if query.after is not None:
        where += " AND pk < ?"
        params.append(query.after.row_key)
    return await page(
        session,
        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE {where} ORDER BY pk DESC LIMIT ?",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column="pk",
        convert=to_webhook,
    )


async def insert_deliveries(
    session: SqlSession, thread: ThreadRef, entries: Sequence[OutboxEntry]
) -> None:
    """Write deliveries of a thread's events to the outbox, each as given."""
    statement = session.dialect.sql(
        "INSERT INTO webhook_deliveries (tenant_id, delivery_id, webhook_pk, thread_pk, "
        "run_id, status, next_attempt_at, body, record, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    for entry in entries:
        delivery = entry.delivery
        await session.change(
            statement,
            (
                session.tenant,
                delivery.delivery_id,
                entry.webhook_key,
                thread.key,
                delivery.run_id,
                delivery.status,
                delivery.next_attempt_at.ToMicroseconds()
                if delivery.HasField("next_attempt_at")
                else None,
                entry.body,
                delivery.SerializeToString(deterministic=True),
                delivery.created_at.ToMicroseconds(),
            ),
        )


async def list_deliveries(
    session: SqlSession, query: DeliveryPageQuery
) -> Page[webhook_pb2.WebhookDelivery]:
    """Return one page of the tenant's deliveries, newest first, of a webhook and/or a run."""
    if query.webhook_id:
        webhook = await row_of(session, query.webhook_id)
        if query.run_id:
            # A run's deliveries are few, a webhook's many: search by the run
            # (SQLite's + keeps it from choosing the webhook's index).
            webhook_pk = f"{session.dialect.unindexed}d.webhook_pk"
            where = f"d.tenant_id = ? AND d.run_id = ? AND {webhook_pk} = ?"
            params: list[Any] = [session.tenant, query.run_id, webhook["pk"]]
        else:
            where = "d.webhook_pk = ?"
            params = [webhook["pk"]]
    elif query.run_id:
        where = "d.tenant_id = ? AND d.run_id = ?"
        params = [session.tenant, query.run_id]
    else:
        where = "d.tenant_id = ?"
        params = [session.tenant]
    if query.after is not None:
        where += " AND d.pk < ?"
        params.append(query.after.row_key)
    return await page(
        session,
        f"SELECT d.pk, d.record FROM webhook_deliveries AS d WHERE {where} "
        "ORDER BY d.pk DESC LIMIT ?",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column="pk",
        convert=to_delivery,
    )


async def due(session: SqlSession, limit: int) -> list[tuple[str, str]]:
    """Return (tenant, delivery id) of up to limit deliveries due by now, of every tenant."""
    rows = await session.rows(
        session.dialect.sql(
            "SELECT tenant_id, delivery_id FROM webhook_deliveries "
            "WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at LIMIT ?"
        ),
        (session.now, limit),
    )
    return [(row["tenant_id"], row["delivery_id"]) for row in rows]


async def next_due(session: SqlSession) -> int | None:
    """Return when the next delivery of any tenant is due, or None when none is pending."""
    row = await session.row(
        "SELECT min(next_attempt_at) AS due FROM webhook_deliveries "
        "WHERE next_attempt_at IS NOT NULL"
    )
    return None if row is None or row["due"] is None else int(row["due"])


async def claim(session: SqlSession, delivery_ids: Sequence[str], until: int) -> list[DueDelivery]:
    """Lease the tenant's deliveries among these that are due, until a time; return them."""
    if not delivery_ids:
        return []
    among, ids = session.dialect.any_of("delivery_id", delivery_ids)
    rows = await session.rows(
        session.dialect.sql(
            "UPDATE webhook_deliveries SET next_attempt_at = ? "
            f"WHERE tenant_id = ? AND {among} AND next_attempt_at IS NOT NULL "
            "AND next_attempt_at <= ? RETURNING webhook_pk, body, record"
        ),
        (until, session.tenant, *ids, session.now),
    )
    if not rows:
        return []
    keys_among, keys = session.dialect.any_of("pk", sorted({row["webhook_pk"] for row in rows}))
    hooks = {
        row["pk"]: row
        for row in await session.rows(
            session.dialect.sql(f"SELECT pk, url, secret FROM webhooks WHERE {keys_among}"), keys
        )
    }
    return [
        DueDelivery(
            tenant=session.tenant or "",
            delivery=to_delivery(row),
            url=hooks[row["webhook_pk"]]["url"],
            secret=hooks[row["webhook_pk"]]["secret"],
            body=bytes(row["body"]),
        )
        for row in rows
    ]


async def forget(session: SqlSession, *, before: int, limit: int) -> int:
    """Delete up to limit done deliveries of every tenant made before a time; count them."""
    return await session.change(
        session.dialect.sql(
            "DELETE FROM webhook_deliveries WHERE pk IN (SELECT pk FROM webhook_deliveries "
            "WHERE next_attempt_at IS NULL AND created_at < ? ORDER BY created_at "
            f"LIMIT ?{session.dialect.skip_locked})"
        ),
        (before, limit),
    )


async def save_delivery(session: SqlSession, delivery: webhook_pb2.WebhookDelivery) -> None:
    """Write a delivery's status, next attempt and record back (nothing if it is gone).

    One with no next attempt is done, and keeps no body.
    """
    next_attempt_at = (
        delivery.next_attempt_at.ToMicroseconds() if delivery.HasField("next_attempt_at") else None
    )
    await session.change(
        session.dialect.sql(
            "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, record = ?, "
            "body = CASE WHEN ? THEN body ELSE ? END "
            "WHERE tenant_id = ? AND delivery_id = ?"
        ),
        (
            delivery.status,
            next_attempt_at,
            delivery.SerializeToString(deterministic=True),
            next_attempt_at is not None,
            b"",
            session.tenant,
            delivery.delivery_id,
        ),
    )
