"""Message rules: what a valid request is, and what each call does to the store."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import message_pb2, run_pb2

from threadline_server import ids
from threadline_server.domain import (
    event_types,
    fieldmask,
    idempotency,
    paging,
    sizes,
    validation,
)
from threadline_server.domain.threads import activity
from threadline_server.errors import Violations, request_fields
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import MessagePageQuery, ThreadRef

UPDATABLE_MESSAGE_FIELDS = frozenset({"metadata"})

_MESSAGE_ORDERS = {"": False, "created_at": False, "created_at asc": False, "created_at desc": True}


def message_events(
    message: message_pb2.Message, now: int, *, streamed: bool = False
) -> list[run_pb2.RunEvent]:
    """Return the events a new message makes: message.created, then message.completed.

    An agent's streamed message was announced by message.created before its
    deltas, so it gets only message.completed when it is stored.
    """
    types = (
        (event_types.MESSAGE_COMPLETED,)
        if streamed
        else (event_types.MESSAGE_CREATED, event_types.MESSAGE_COMPLETED)
    )
    events = [run_pb2.RunEvent(run_id=message.run_id, type=kind, message=message) for kind in types]
    for event in events:
        event.created_at.FromMicroseconds(now)
    return events


def new_message(
    fields: message_pb2.Message, thread_id: str, run_id: str, now: int
) -> message_pb2.Message:
    """Return a message as it is stored at `now`, under a fresh id."""
    message = message_pb2.Message()
    message.CopyFrom(fields)
    message.message_id = ids.new_message_id()
    message.thread_id = thread_id
    message.run_id = run_id
    message.metadata.SetInParent()
    message.created_at.FromMicroseconds(now)
    message.updated_at.FromMicroseconds(now)
    return message


async def add_messages(
    tx: StoreTransaction,
    ref: ThreadRef,
    messages: Sequence[message_pb2.Message],
    *,
    streamed: bool = False,
) -> list[message_pb2.Message]:
    """Append messages to a thread with their events and the thread's activity."""
    if not messages:
        return []
    stored = await tx.insert_messages(ref, messages)
    await tx.append_events(
        ref, [e for m in stored for e in message_events(m, tx.now, streamed=streamed)]
    )
    await tx.touch_thread(ref, activity(ref, tx.now, len(stored)))
    return stored


class MessageHandler:
    """Carries out MessageService calls against a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_message(
        self, tenant: str, request: message_pb2.CreateMessageRequest
    ) -> message_pb2.Message:
        """Validate and append a message written by a client."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        if not request.HasField("message"):
            found.add("message", "is required")
        else:
            validation.message_fields(found, "message", request.message)
        once = idempotency.attempt(found, "CreateMessage", request)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> message_pb2.Message:
            ref = await tx.thread(request.thread_id)
            earlier = await idempotency.earlier(tx, once)
            if earlier is not None:
                with request_fields(message="request_id"):
                    return await tx.message(ref, earlier.resource_id)
            message = new_message(request.message, request.thread_id, "", tx.now)
            (stored,) = await add_messages(tx, ref, [message])
            await idempotency.remember(
                tx, once, thread_id=request.thread_id, resource_id=stored.message_id
            )
            return stored

        return await self._store.transaction(tenant, work)

    async def get_message(
        self, tenant: str, request: message_pb2.GetMessageRequest
    ) -> message_pb2.Message:
        """Return one message."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.resource_id(found, "message_id", request.message_id)
        found.raise_if_any()
        return await self._store.get_message(tenant, request.thread_id, request.message_id)

    async def list_messages(
        self, tenant: str, request: message_pb2.ListMessagesRequest
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
            tenant,
            MessagePageQuery(
                thread_id=request.thread_id,
                descending=bool(descending),
                limit=size,
                after=cursor,
                max_bytes=sizes.REPLY_BYTES,
            ),
        )
        return message_pb2.ListMessagesResponse(
            messages=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )

    async def update_message(
        self, tenant: str, request: message_pb2.UpdateMessageRequest
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

        async def work(tx: StoreTransaction) -> message_pb2.Message:
            ref = await tx.thread(request.message.thread_id)
            message = await tx.message(ref, request.message.message_id)
            fieldmask.apply(message, request.message, paths)
            # Keys set one by one add up: the result is held to the limits.
            merged = Violations()
            validation.struct(merged, "message.metadata", message.metadata)
            validation.message_size(merged, "message.metadata", message)
            merged.raise_if_any()
            message.updated_at.FromMicroseconds(tx.now)
            stored = await tx.update_message(ref, message)
            await tx.touch_thread(ref, activity(ref, tx.now))
            return stored

        with request_fields(thread="message.thread_id", message="message.message_id"):
            return await self._store.transaction(tenant, work)

    async def delete_message(self, tenant: str, request: message_pb2.DeleteMessageRequest) -> None:
        """Delete one message."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.resource_id(found, "message_id", request.message_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> None:
            ref = await tx.thread(request.thread_id)
            await tx.delete_message(ref, request.message_id)
            await tx.touch_thread(ref, activity(ref, tx.now, -1))

        await self._store.transaction(tenant, work)
