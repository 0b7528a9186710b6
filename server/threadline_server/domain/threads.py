"""Thread rules: what a valid request is, and what each call does to the store."""

from __future__ import annotations

from google.protobuf import timestamp_pb2
from threadline.v1 import thread_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import fieldmask, paging, validation
from threadline_server.errors import Violations
from threadline_server.store.base import Store, ThreadFilter, ThreadOrder, ThreadPageQuery

# The most recent messages GetThread returns in the FULL view.
FULL_VIEW_MESSAGE_LIMIT = 1000

UPDATABLE_THREAD_FIELDS = frozenset(
    {"title", "metadata", "agent_id", "user_id", "external_ref", "locale", "participants", "ttl"}
)

_THREAD_ORDERS = {
    "": (ThreadOrder.CREATED_AT, True),
    "created_at desc": (ThreadOrder.CREATED_AT, True),
    "created_at": (ThreadOrder.CREATED_AT, False),
    "created_at asc": (ThreadOrder.CREATED_AT, False),
    "updated_at desc": (ThreadOrder.UPDATED_AT, True),
    "updated_at": (ThreadOrder.UPDATED_AT, False),
    "updated_at asc": (ThreadOrder.UPDATED_AT, False),
}


def _micros(value: timestamp_pb2.Timestamp) -> int:
    return value.ToMicroseconds()


def _thread_filter(
    found: Violations, path: str, request_filter: thread_pb2.ThreadFilter
) -> ThreadFilter:
    validation.reference(found, f"{path}.agent_id", request_filter.agent_id)
    validation.reference(found, f"{path}.user_id", request_filter.user_id)
    validation.reference(
        found,
        f"{path}.external_ref",
        request_filter.external_ref,
        limit=validation.MAX_EXTERNAL_REF,
    )
    for index, status in enumerate(request_filter.statuses):
        if status == thread_pb2.THREAD_STATUS_UNSPECIFIED or (
            status not in thread_pb2.ThreadStatus.values()
        ):
            found.add(f"{path}.statuses[{index}]", "must be IDLE, BUSY, INTERRUPTED or ERROR")
    if len(request_filter.thread_ids) > validation.MAX_FILTER_IDS:
        found.add(f"{path}.thread_ids", f"must have at most {validation.MAX_FILTER_IDS} ids")
    for index, thread_id in enumerate(request_filter.thread_ids):
        validation.resource_id(found, f"{path}.thread_ids[{index}]", thread_id)
    validation.struct(
        found,
        f"{path}.metadata",
        request_filter.metadata,
        max_keys=validation.MAX_FILTER_METADATA_KEYS,
    )
    return ThreadFilter(
        agent_id=request_filter.agent_id,
        user_id=request_filter.user_id,
        external_ref=request_filter.external_ref,
        statuses=tuple(sorted(set(request_filter.statuses))),
        thread_ids=tuple(sorted(set(request_filter.thread_ids))),
        created_after=(
            _micros(request_filter.created_after)
            if request_filter.HasField("created_after")
            else None
        ),
        created_before=(
            _micros(request_filter.created_before)
            if request_filter.HasField("created_before")
            else None
        ),
        updated_after=(
            _micros(request_filter.updated_after)
            if request_filter.HasField("updated_after")
            else None
        ),
        updated_before=(
            _micros(request_filter.updated_before)
            if request_filter.HasField("updated_before")
            else None
        ),
        metadata=jsonvalue.struct_to_python(request_filter.metadata)
        if not jsonvalue.problem(request_filter.metadata)
        else {},
    )


class ThreadHandler:
    """Carries out ThreadService calls against a store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create_thread(self, request: thread_pb2.CreateThreadRequest) -> thread_pb2.Thread:
        """Validate and create a thread, or return the existing one for DO_NOTHING."""
        found = Violations()
        validation.client_chosen_id(found, "thread_id", request.thread_id)
        if request.if_exists not in thread_pb2.IfExists.values():
            found.add("if_exists", "must be RAISE or DO_NOTHING")
        validation.thread_fields(found, "thread", request.thread)
        found.raise_if_any()
        thread = thread_pb2.Thread()
        thread.CopyFrom(request.thread)
        thread.thread_id = request.thread_id or ids.new_thread_id()
        thread.ClearField("messages")
        reuse = request.if_exists == thread_pb2.IF_EXISTS_DO_NOTHING
        stored, _ = await self._store.create_thread(thread, reuse_existing=reuse)
        return stored

    async def get_thread(self, request: thread_pb2.GetThreadRequest) -> thread_pb2.Thread:
        """Return a thread, with messages for the FULL view."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        if request.view not in thread_pb2.ThreadView.values():
            found.add("view", "must be BASIC or FULL")
        found.raise_if_any()
        limit = FULL_VIEW_MESSAGE_LIMIT if request.view == thread_pb2.THREAD_VIEW_FULL else 0
        return await self._store.get_thread(request.thread_id, message_limit=limit)

    async def list_threads(
        self, request: thread_pb2.ListThreadsRequest
    ) -> thread_pb2.ListThreadsResponse:
        """Return one page of threads."""
        found = Violations()
        thread_filter = _thread_filter(found, "filter", request.filter)
        order = paging.order(
            found,
            request.order_by,
            _THREAD_ORDERS,
            "must be one of 'created_at desc', 'created_at', 'updated_at desc', 'updated_at'",
        )
        size, cursor, key = paging.start(
            found,
            request.page_size,
            request.page_token,
            None if order is None else ("threads", thread_filter, order[0].value, order[1]),
        )
        found.raise_if_any()
        assert order is not None  # noqa: S101 - raise_if_any above guarantees it
        page = await self._store.list_threads(
            ThreadPageQuery(
                filter=thread_filter,
                order=order[0],
                descending=order[1],
                limit=size,
                after=cursor,
            )
        )
        return thread_pb2.ListThreadsResponse(
            threads=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )

    async def count_threads(
        self, request: thread_pb2.CountThreadsRequest
    ) -> thread_pb2.CountThreadsResponse:
        """Count the threads that match a filter."""
        found = Violations()
        thread_filter = _thread_filter(found, "filter", request.filter)
        found.raise_if_any()
        return thread_pb2.CountThreadsResponse(count=await self._store.count_threads(thread_filter))

    async def update_thread(self, request: thread_pb2.UpdateThreadRequest) -> thread_pb2.Thread:
        """Apply the fields named by the update mask."""
        found = Violations()
        validation.resource_id(found, "thread.thread_id", request.thread.thread_id)
        paths = fieldmask.check(
            found, "update_mask", list(request.update_mask.paths), UPDATABLE_THREAD_FIELDS
        )
        validation.thread_fields(found, "thread", request.thread)
        found.raise_if_any()
        return await self._store.update_thread(
            request.thread.thread_id,
            lambda stored: fieldmask.apply(stored, request.thread, paths),
            etag=request.thread.etag,
        )

    async def delete_thread(self, request: thread_pb2.DeleteThreadRequest) -> None:
        """Delete a thread and everything under it."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        found.raise_if_any()
        await self._store.delete_thread(request.thread_id, etag=request.etag)

    async def copy_thread(self, request: thread_pb2.CopyThreadRequest) -> thread_pb2.Thread:
        """Copy a thread with all its messages."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.client_chosen_id(found, "new_thread_id", request.new_thread_id)
        found.raise_if_any()
        return await self._store.copy_thread(
            request.thread_id, request.new_thread_id or ids.new_thread_id()
        )
