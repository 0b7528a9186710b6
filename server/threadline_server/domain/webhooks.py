"""WebhookService rules: validating webhooks, and the webhook a run names for itself."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import run_pb2, webhook_pb2

from threadline_server import ids
from threadline_server.domain import paging, sizes, validation, webhook_signing
from threadline_server.domain.webhook_outbox import WEBHOOK_EVENT_TYPES
from threadline_server.domain.webhook_urls import (
    AddressPolicy,
    AddressRefusedError,
    target,
    url_problem,
)
from threadline_server.errors import (
    FailedPreconditionError,
    Violations,
    WebhookUrlNotAllowedError,
)
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import DeliveryPageQuery, ThreadRef, WebhookPageQuery

MAX_EVENT_TYPES = 16
# Webhooks made by CreateWebhook a tenant may have: each run's end is sent to
# every one of them.
MAX_WEBHOOKS = 100
MAX_DESCRIPTION = 256
_SECRET_RULE = (
    f"must be {webhook_signing.SECRET_PREFIX!r} and the base64 of "
    f"{webhook_signing.MIN_KEY_BYTES} to {webhook_signing.MAX_KEY_BYTES} random bytes"
)


def check_url(found: Violations, path: str, url: str) -> None:
    """Check a webhook URL's form (its address is checked by check_address)."""
    problem = url_problem(url)
    if problem is not None:
        found.add(path, problem)


def check_secret(found: Violations, path: str, secret: str) -> None:
    """Check a webhook secret given by a caller."""
    if webhook_signing.secret_key(secret) is None:
        found.add(path, _SECRET_RULE)


def check_event_types(found: Violations, path: str, names: Sequence[str]) -> None:
    """Check the event types a webhook asks for."""
    if len(names) > MAX_EVENT_TYPES:
        found.add(path, f"must name at most {MAX_EVENT_TYPES} event types")
        return
    for index, name in enumerate(names):
        if name not in WEBHOOK_EVENT_TYPES:
            found.add(
                f"{path}[{index}]",
                f"{name[:64]!r} is not an event type webhooks are sent; they are: "
                f"{', '.join(sorted(WEBHOOK_EVENT_TYPES))}",
            )
        elif name in names[:index]:
            found.add(f"{path}[{index}]", f"{name!r} is named twice")


def check_run_webhook(found: Violations, prefix: str, url: str, secret: str) -> None:
    """Check the webhook_url and webhook_secret of CreateRun or Chat."""
    if url:
        check_url(found, f"{prefix}webhook_url", url)
        if not secret:
            found.add(f"{prefix}webhook_secret", f"is required with webhook_url; {_SECRET_RULE}")
        else:
            check_secret(found, f"{prefix}webhook_secret", secret)
    elif secret:
        found.add(f"{prefix}webhook_secret", "is only for a webhook_url")


async def check_address(policy: AddressPolicy, path: str, url: str) -> None:
    """Refuse a (well-formed) URL whose host is, or resolves to, an address not allowed."""
    where = target(url)
    try:
        await policy.resolve(where.host, where.port)
    except AddressRefusedError as error:
        raise WebhookUrlNotAllowedError(path, str(error)) from None


async def attach_to_run(
    tx: StoreTransaction, thread: ThreadRef, run: run_pb2.Run, secret: str
) -> None:
    """Make the webhook of a run's own webhook_url, and note it in the run (before its insert).

    It belongs to the run's thread, and goes with it.
    """
    webhook = webhook_pb2.Webhook(
        webhook_id=ids.new_webhook_id(), url=run.webhook_url, run_id=run.run_id
    )
    webhook.created_at.FromMicroseconds(tx.now)
    await tx.insert_webhook(webhook, secret, thread=thread)
    run.webhook_id = webhook.webhook_id


class WebhookHandler:
    """Carries out WebhookService calls."""

    def __init__(self, store: Store, policy: AddressPolicy) -> None:
        self._store = store
        self._policy = policy

    async def create_webhook(
        self, tenant: str, request: webhook_pb2.CreateWebhookRequest
    ) -> webhook_pb2.Webhook:
        """Validate and make a webhook; return it with its secret (made when not given)."""
        found = Violations()
        given = request.webhook
        if not request.HasField("webhook"):
            found.add("webhook", "is required")
        else:
            check_url(found, "webhook.url", given.url)
            check_event_types(found, "webhook.event_types", given.event_types)
            if given.secret:
                check_secret(found, "webhook.secret", given.secret)
            validation.text(found, "webhook.description", given.description, limit=MAX_DESCRIPTION)
        found.raise_if_any()
        await check_address(self._policy, "webhook.url", given.url)
        secret = given.secret or webhook_signing.new_secret()
        webhook = webhook_pb2.Webhook(
            webhook_id=ids.new_webhook_id(),
            url=given.url,
            event_types=given.event_types,
            description=given.description,
        )

        async def work(tx: StoreTransaction) -> webhook_pb2.Webhook:
            if await tx.count_webhooks(MAX_WEBHOOKS) >= MAX_WEBHOOKS:
                raise FailedPreconditionError(
                    "TOO_MANY_WEBHOOKS",
                    f"this tenant already has {MAX_WEBHOOKS} webhooks, its limit; delete one "
                    "first (a run's own webhook_url does not count)",
                    metadata={"limit": str(MAX_WEBHOOKS)},
                )
            webhook.created_at.FromMicroseconds(tx.now)
            return (await tx.insert_webhook(webhook, secret)).webhook

        made = await self._store.transaction(tenant, work)
        made.secret = secret
        return made

    async def get_webhook(
        self, tenant: str, request: webhook_pb2.GetWebhookRequest
    ) -> webhook_pb2.Webhook:
        """Return one webhook, without its secret."""
        found = Violations()
        validation.resource_id(found, "webhook_id", request.webhook_id)
        found.raise_if_any()
        return await self._store.get_webhook(tenant, request.webhook_id)

    async def list_webhooks(
        self, tenant: str, request: webhook_pb2.ListWebhooksRequest
    ) -> webhook_pb2.ListWebhooksResponse:
        """Return one page of the tenant's webhooks, newest first."""
        found = Violations()
        size, cursor, key = paging.start(
            found, request.page_size, request.page_token, ("webhooks",)
        )
        found.raise_if_any()
        page = await self._store.list_webhooks(
            tenant, WebhookPageQuery(limit=size, after=cursor, max_bytes=sizes.REPLY_BYTES)
        )
        return webhook_pb2.ListWebhooksResponse(
            webhooks=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )

    async def delete_webhook(self, tenant: str, request: webhook_pb2.DeleteWebhookRequest) -> None:
        """Delete a webhook and its deliveries."""
        found = Violations()
        validation.resource_id(found, "webhook_id", request.webhook_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> None:
            await tx.delete_webhook(request.webhook_id)

        await self._store.transaction(tenant, work)

    async def list_deliveries(
        self, tenant: str, request: webhook_pb2.ListWebhookDeliveriesRequest
    ) -> webhook_pb2.ListWebhookDeliveriesResponse:
        """Return one page of deliveries, newest first, of a webhook and/or a run."""
        found = Violations()
        if request.webhook_id:
            validation.resource_id(found, "webhook_id", request.webhook_id)
        if request.run_id:
            validation.resource_id(found, "run_id", request.run_id)
        size, cursor, key = paging.start(
            found,
            request.page_size,
            request.page_token,
            ("deliveries", request.webhook_id, request.run_id),
        )
        found.raise_if_any()
        page = await self._store.list_deliveries(
            tenant,
            DeliveryPageQuery(
                webhook_id=request.webhook_id,
                run_id=request.run_id,
                limit=size,
                after=cursor,
                max_bytes=sizes.REPLY_BYTES,
            ),
        )
        return webhook_pb2.ListWebhookDeliveriesResponse(
            deliveries=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )
