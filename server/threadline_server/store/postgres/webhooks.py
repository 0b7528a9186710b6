"""Webhooks and the outbox of their deliveries on PostgreSQL (as store/sqlite/webhooks.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from threadline.v1 import webhook_pb2

from threadline_server.errors import NotFoundError
from threadline_server.store.postgres.session import DictRow, Session, as_row, page
from threadline_server.store.records import (
    DeliveryPageQuery,
    DueDelivery,
    OutboxEntry,
    Page,
    StoredWebhook,
    ThreadRef,
    WebhookPageQuery,
)
from threadline_server.store.sqlite.session import Row

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
    session: Session, webhook: webhook_pb2.Webhook, secret: str, *, thread_key: int | None
) -> StoredWebhook:
    """Insert a webhook as given (id and created_at set), of a thread or of none."""
    row = await session.row(
        "INSERT INTO webhooks (tenant_id, webhook_id, run_id, thread_pk, url, event_types, "
        "secret, description, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
        f"RETURNING {_WEBHOOK_COLUMNS}",
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
    return to_stored(as_row(row))


async def row_of(session: Session, webhook_id: str) -> DictRow:
    """Return one of the tenant's webhooks, or raise NotFoundError."""
    row = await session.row(
        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = %s AND webhook_id = %s",
        (session.tenant, webhook_id),
    )
    if row is None:
        raise NotFoundError("webhook", webhook_id)
    return row


async def count(session: Session, limit: int) -> int:
    """Count the tenant's webhooks made by CreateWebhook, stopping at limit."""
    row = await session.row(
        "SELECT count(*) AS n FROM (SELECT 1 FROM webhooks WHERE tenant_id = %s AND run_id = '' "
        "LIMIT %s) AS x",
        (session.tenant, limit),
    )
    return int(row["n"]) if row else 0


async def delete(session: Session, webhook_id: str) -> None:
    """Delete a webhook and (by cascade) its deliveries, or raise NotFoundError."""
    changed = await session.change(
        "DELETE FROM webhooks WHERE tenant_id = %s AND webhook_id = %s",
        (session.tenant, webhook_id),
    )
    if not changed:
        raise NotFoundError("webhook", webhook_id)


async def of_run(session: Session, run_id: str) -> list[StoredWebhook]:
    """Return the tenant's webhooks for every run and the run's own, oldest first."""
    rows = await session.rows(
        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = %s AND run_id IN ('', %s) "
        "ORDER BY pk",
        (session.tenant, run_id),
    )
    return [to_stored(as_row(row)) for row in rows]


async def list_page(session: Session, query: WebhookPageQuery) -> Page[webhook_pb2.Webhook]:
    """Return one page of the tenant's webhooks made by CreateWebhook, newest first."""
    where = "tenant_id = %s AND run_id = ''"
    params: list[Any] = [session.tenant]
    if query.after is not None:
        where += " AND pk < %s"
        params.append(query.after.row_key)
    return await page(
        session,
        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE {where} ORDER BY pk DESC LIMIT %s",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column="pk",
        convert=to_webhook,
    )


async def insert_deliveries(
    session: Session, thread: ThreadRef, entries: Sequence[OutboxEntry]
) -> None:
    """Write deliveries of a thread's events to the outbox, each as given."""
    for entry in entries:
        delivery = entry.delivery
        await session.change(
            "INSERT INTO webhook_deliveries (tenant_id, delivery_id, webhook_pk, thread_pk, "
            "run_id, status, next_attempt_at, body, record, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
    session: Session, query: DeliveryPageQuery
) -> Page[webhook_pb2.WebhookDelivery]:
    """Return one page of the tenant's deliveries, newest first, of a webhook and/or a run."""
    if query.webhook_id:
        webhook = await row_of(session, query.webhook_id)
        if query.run_id:
            # A run's deliveries are few, a webhook's many: search by the run
            # (the + keeps SQLite from choosing the webhook's index).
            where = "d.tenant_id = %s AND d.run_id = %s AND d.webhook_pk = %s"
            params: list[Any] = [session.tenant, query.run_id, webhook["pk"]]
        else:
            where = "d.webhook_pk = %s"
            params = [webhook["pk"]]
    elif query.run_id:
        where = "d.tenant_id = %s AND d.run_id = %s"
        params = [session.tenant, query.run_id]
    else:
        where = "d.tenant_id = %s"
        params = [session.tenant]
    if query.after is not None:
        where += " AND d.pk < %s"
        params.append(query.after.row_key)
    return await page(
        session,
        f"SELECT d.pk, d.record FROM webhook_deliveries AS d WHERE {where} "
        "ORDER BY d.pk DESC LIMIT %s",
        params,
        limit=query.limit,
        max_bytes=query.max_bytes,
        sort_column="pk",
        convert=to_delivery,
    )


async def due(session: Session, limit: int) -> list[tuple[str, str]]:
    """Return (tenant, delivery id) of up to limit deliveries due by now, of every tenant."""
    rows = await session.rows(
        "SELECT tenant_id, delivery_id FROM webhook_deliveries "
        "WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= %s "
        "ORDER BY next_attempt_at LIMIT %s",
        (session.now, limit),
    )
    return [(row["tenant_id"], row["delivery_id"]) for row in rows]


async def next_due(session: Session) -> int | None:
    """Return when the next delivery of any tenant is due, or None when none is pending."""
    row = await session.row(
        "SELECT min(next_attempt_at) AS due FROM webhook_deliveries "
        "WHERE next_attempt_at IS NOT NULL"
    )
    return None if row is None or row["due"] is None else int(row["due"])


async def claim(session: Session, delivery_ids: Sequence[str], until: int) -> list[DueDelivery]:
    """Lease the tenant's deliveries among these that are due, until a time; return them."""
    if not delivery_ids:
        return []
    rows = await session.rows(
        "UPDATE webhook_deliveries SET next_attempt_at = %s "
        "WHERE tenant_id = %s AND delivery_id = ANY(%s) AND next_attempt_at IS NOT NULL "
        "AND next_attempt_at <= %s RETURNING webhook_pk, body, record",
        (until, session.tenant, list(delivery_ids), session.now),
    )
    if not rows:
        return []
    keys = sorted({row["webhook_pk"] for row in rows})
    hooks = {
        row["pk"]: row
        for row in await session.rows(
            "SELECT pk, url, secret FROM webhooks WHERE pk = ANY(%s)",
            (keys,),
        )
    }
    return [
        DueDelivery(
            tenant=session.tenant or "",
            delivery=to_delivery(as_row(row)),
            url=hooks[row["webhook_pk"]]["url"],
            secret=hooks[row["webhook_pk"]]["secret"],
            body=bytes(row["body"]),
        )
        for row in rows
    ]


async def forget(session: Session, *, before: int, limit: int) -> int:
    """Delete up to limit done deliveries of every tenant made before a time; count them."""
    return await session.change(
        "DELETE FROM webhook_deliveries WHERE pk IN (SELECT pk FROM webhook_deliveries "
        "WHERE next_attempt_at IS NULL AND created_at < %s ORDER BY created_at LIMIT %s "
        "FOR UPDATE SKIP LOCKED)",
        (before, limit),
    )


async def save_delivery(session: Session, delivery: webhook_pb2.WebhookDelivery) -> None:
    """Write a delivery's status, next attempt and record back (nothing if it is gone).

    One with no next attempt is done, and keeps no body.
    """
    next_attempt_at = (
        delivery.next_attempt_at.ToMicroseconds() if delivery.HasField("next_attempt_at") else None
    )
    await session.change(
        "UPDATE webhook_deliveries SET status = %s, next_attempt_at = %s, record = %s, "
        "body = CASE WHEN %s::bigint IS NULL THEN ''::bytea ELSE body END "
        "WHERE tenant_id = %s AND delivery_id = %s",
        (
            delivery.status,
            next_attempt_at,
            delivery.SerializeToString(deterministic=True),
            next_attempt_at,
            session.tenant,
            delivery.delivery_id,
        ),
    )
