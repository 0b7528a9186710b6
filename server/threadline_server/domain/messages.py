"""Message rules: what a valid request is, and what each call does to the store."""

from __future__ import annotations

from threadline.v1 import message_pb2

from threadline_server import ids
from threadline_server.domain import fieldmask, paging, validation
from threadline_server.errors import Violations
from threadline_server.store.base import MessagePageQuery, Store

UPDATABLE_MESSAGE_FIELDS = frozenset({"metadata"})

_MESSAGE_ORDERS = {"": False, "created_at": False, "created_at asc": False, "created_at desc": True}


class MessageHandler:
    """Carries out MessageService calls against a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_message(
        self, request: message_pb2.CreateMessageRequest
    ) -> message_pb2.Message:
        """Validate and append a message written by a client."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        if not request.HasField("message"):
            found.add("message", "is required")
        else:
            validation.message_fields(found, "message", request.message)
        found.raise_if_any()
        message = message_pb2.Message()
        message.CopyFrom(request.message)
        message.message_id = ids.new_message_id()
        message.thread_id = request.thread_id
        message.run_id = ""
        return await self._store.create_message(request.thread_id, message)

    async def get_message(self, request: message_pb2.GetMessageRequest) -> message_pb2.Message:
        """Return one message."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.resource_id(found, "message_id", request.message_id)
        found.raise_if_any()
        return await self._store.get_message(request.thread_id, request.message_id)

    async def list_messages(
        self, request: message_pb2.ListMessagesRequest
    ) -> message_pb2.ListMessagesResponse:
        """Return one page of a thread's messages."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        descending = paging.order(
            found,
            request.order_by,
            _MESSAGE_ORDERS,
            "must be 'created_at' (oldest first) or 'created_at desc'",
        )
        size, cursor, key = paging.start(
            found,
            request.page_size,
            request.page_token,
            None if descending is None else ("messages", request.thread_id, descending),
        )
        found.raise_if_any()
        page = await self._store.list_messages(
            MessagePageQuery(
                thread_id=request.thread_id,
                descending=bool(descending),
                limit=size,
                after=cursor,
            )
        )
        return message_pb2.ListMessagesResponse(
            messages=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )

    async def update_message(
        self, request: message_pb2.UpdateMessageRequest
    ) -> message_pb2.Message:
        """Change a message's metadata."""
        found = Violations()
        validation.resource_id(found, "message.thread_id", request.message.thread_id)
        validation.resource_id(found, "message.message_id", request.message.message_id)
        paths = fieldmask.check(
            found, "update_mask", list(request.update_mask.paths), UPDATABLE_MESSAGE_FIELDS
        )
        validation.struct(found, "message.metadata", request.message.metadata)
        found.raise_if_any()
        return await self._store.update_message(
            request.message.thread_id,
            request.message.message_id,
            lambda stored: fieldmask.apply(stored, request.message, paths),
        )

    async def delete_message(self, request: message_pb2.DeleteMessageRequest) -> None:
        """Delete one message."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.resource_id(found, "message_id", request.message_id)
        found.raise_if_any()
        await self._store.delete_message(request.thread_id, request.message_id)
