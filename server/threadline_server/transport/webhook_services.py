"""gRPC servicer for webhooks: hand each call to the domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf import empty_pb2
from threadline.v1 import webhook_pb2, webhook_pb2_grpc

from threadline_server.domain.webhooks import WebhookHandler
from threadline_server.transport.auth import caller
from threadline_server.transport.errors import unary

if TYPE_CHECKING:
    import grpc

    # grpc's classes are generic only in grpc-stubs, not at run time.
    Context = grpc.aio.ServicerContext[Any, Any]


class WebhookService(webhook_pb2_grpc.WebhookServiceServicer):
    """threadline.v1.WebhookService over a WebhookHandler."""

    def __init__(self, handler: WebhookHandler) -> None:
        self._handler = handler

    @unary
    async def CreateWebhook(  # noqa: N802 - gRPC method names
        self, request: webhook_pb2.CreateWebhookRequest, context: Context
    ) -> webhook_pb2.Webhook:
        """Make a webhook."""
        return await self._handler.create_webhook(caller().tenant, request)

    @unary
    async def GetWebhook(  # noqa: N802
        self, request: webhook_pb2.GetWebhookRequest, context: Context
    ) -> webhook_pb2.Webhook:
        """Read a webhook."""
        return await self._handler.get_webhook(caller().tenant, request)

    @unary
    async def ListWebhooks(  # noqa: N802
        self, request: webhook_pb2.ListWebhooksRequest, context: Context
    ) -> webhook_pb2.ListWebhooksResponse:
        """List webhooks."""
        return await self._handler.list_webhooks(caller().tenant, request)

    @unary
    async def DeleteWebhook(  # noqa: N802
        self, request: webhook_pb2.DeleteWebhookRequest, context: Context
    ) -> empty_pb2.Empty:
        """Delete a webhook."""
        await self._handler.delete_webhook(caller().tenant, request)
        return empty_pb2.Empty()

    @unary
    async def ListWebhookDeliveries(  # noqa: N802
        self, request: webhook_pb2.ListWebhookDeliveriesRequest, context: Context
    ) -> webhook_pb2.ListWebhookDeliveriesResponse:
        """List deliveries."""
        return await self._handler.list_deliveries(caller().tenant, request)
