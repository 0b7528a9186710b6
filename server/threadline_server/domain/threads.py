"""Thread rules: what a valid request is, and what each call does to the store."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Literal

from google.protobuf import duration_pb2, timestamp_pb2
from threadline.v1 import run_pb2, thread_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import (
    event_types,
    fieldmask,
    idempotency,
    paging,
    sizes,
    state,
    validation,
)
from threadline_server.errors import (
    AlreadyExistsError,
    EtagMismatchError,
    FailedPreconditionError,
    NotFoundError,
    Violations,
    request_fields,
)
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import (
    StoredCheckpoint,
    StoredThread,
    ThreadActivity,
    ThreadFilter,
    ThreadOrder,
    ThreadPageQuery,
    ThreadRef,
)

# The most recent messages GetThread returns in the FULL view.
FULL_VIEW_MESSAGE_LIMIT = 1000
# ListThreadsResponse.total_size is an int32 (AIP-132).
MAX_TOTAL_SIZE = 2**31 - 1

UPDATABLE_THREAD_FIELDS = frozenset(
    {"title", "metadata", "agent_id", "user_id", "external_ref", "locale", "participants", "ttl"}
)
# What makes a default thread the one of its agent and user, for ever.
FIXED_ON_DEFAULT_THREADS = frozenset({"agent_id", "user_id", "ttl"})
_IF_EXISTS = frozenset(thread_pb2.IfExists.values())

_THREAD_ORDERS = {
    "": (ThreadOrder.CREATED_AT, True),
    "created_at desc": (ThreadOrder.CREATED_AT, True),
    "created_at": (ThreadOrder.CREATED_AT, False),
    "created_at asc": (ThreadOrder.CREATED_AT, False),
    "updated_at desc": (ThreadOrder.UPDATED_AT, True),
    "updated_at": (ThreadOrder.UPDATED_AT, False),
    "updated_at asc": (ThreadOrder.UPDATED_AT, False),
}


@dataclass(frozen=True)
class _CopyStart:
    """What CopyThread's first transaction decided: the threads, the checkpoint, the expiry."""

    source: ThreadRef
    target: ThreadRef
    at: StoredCheckpoint | None
    expire_at: int | None
    # When the copy was made: its created, updated and activity times.
    made_at: int


TimeBound = Literal["created_after", "created_before", "updated_after", "updated_before"]


def _time_bound(
    found: Violations, path: str, request_filter: thread_pb2.ThreadFilter, name: TimeBound
) -> int | None:
    """Return a filter's time bound in microseconds; None when unset or invalid (recorded)."""
    if not request_filter.HasField(name):
        return None
    value: timestamp_pb2.Timestamp = getattr(request_filter, name)
    if not validation.timestamp(found, f"{path}.{name}", value):
        return None
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
        created_after=_time_bound(found, path, request_filter, "created_after"),
        created_before=_time_bound(found, path, request_filter, "created_before"),
        updated_after=_time_bound(found, path, request_filter, "updated_after"),
        updated_before=_time_bound(found, path, request_filter, "updated_before"),
        metadata=jsonvalue.struct_to_python(request_filter.metadata)
        if not jsonvalue.problem(request_filter.metadata)
        else {},
    )


def expire_at(ttl_us: int | None, now: int) -> int | None:
    """Return when a thread with this ttl expires if it is active now (None: never)."""
    return None if ttl_us is None else now + ttl_us


def activity(ref: ThreadRef, now: int, message_count_change: int = 0) -> ThreadActivity:
    """Return what a write at `now` does to its thread: activity, a new expiry, a count."""
    return ThreadActivity(now, expire_at(ref.ttl_us, now), message_count_change)


def _stamp(thread: thread_pb2.Thread, now: int) -> None:
    """Set a thread's times for a write at `now`: updated, active, and when it expires."""
    thread.updated_at.FromMicroseconds(now)
    thread.last_activity_at.FromMicroseconds(now)
    expires = expire_at(thread.ttl.ToMicroseconds() if thread.HasField("ttl") else None, now)
    if expires is None:
        thread.ClearField("expire_time")
    else:
        thread.expire_time.FromMicroseconds(expires)


def _new_thread(fields: thread_pb2.Thread, thread_id: str, now: int) -> thread_pb2.Thread:
    """Return a thread as it is created at `now`: IDLE, with the client-settable fields given."""
    thread = thread_pb2.Thread(thread_id=thread_id, status=thread_pb2.THREAD_STATUS_IDLE)
    fieldmask.apply(thread, fields, sorted(UPDATABLE_THREAD_FIELDS))
    thread.created_at.FromMicroseconds(now)
    _stamp(thread, now)
    return thread


def _check_etag(stored: StoredThread, etag: str, *, field: str) -> None:
    if etag and etag != stored.thread.etag:
        raise EtagMismatchError("thread", stored.thread.thread_id, field=field)


def check_ttl_cap(
    found: Violations, path: str, ttl: duration_pb2.Duration | None, max_ttl_us: int | None
) -> None:
    """Refuse a ttl over the server's --max-thread-ttl (it is refused, never shortened)."""
    if ttl is None or max_ttl_us is None or ttl.ToMicroseconds() <= max_ttl_us:
        return
    found.add(
        path,
        f"must be at most {max_ttl_us / 1e6:g}s, this server's --max-thread-ttl "
        f"(got {ttl.ToMicroseconds() / 1e6:g}s)",
    )


def _default_thread_error(thread_id: str, what: str, field: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        "DEFAULT_THREAD",
        f"thread {thread_id!r} is a default thread (GetDefaultThread): {what}",
        metadata={"thread_id": thread_id, "field": field},
    )


async def _busy_check(tx: StoreTransaction, ref: ThreadRef) -> None:
    """Refuse a change that cannot happen under a run in flight."""
    in_flight = await tx.runs_in_flight(ref)
    if in_flight:
        raise FailedPreconditionError(
            "THREAD_BUSY",
            f"thread {ref.thread_id!r} has runs in flight "
            f"({', '.join(r.run.run_id for r in in_flight)}); wait for them to end or "
            "cancel them",
            metadata={"thread_id": ref.thread_id},
        )


async def create_thread(
    tx: StoreTransaction,
    fields: thread_pb2.Thread,
    thread_id: str,
    *,
    reuse_existing: bool,
    fresh_id: bool = False,
) -> thread_pb2.Thread:
    """Create a thread with the client's fields; with reuse_existing, a taken id returns it.

    fresh_id says the server just made the id (ids.new_thread_id): no thread,
    expired or not, has it, so there is nothing to free (one statement less).
    """
    if not fresh_id:
        await _free_if_expired(tx, thread_id)
    created = await tx.insert_thread(_new_thread(fields, thread_id, tx.now))
    if created is not None:
        return created.thread
    if not reuse_existing:
        raise AlreadyExistsError("thread", thread_id, field="thread_id")
    return (await tx.get_thread(thread_id)).thread


async def _still_there(tx: StoreTransaction, ref: ThreadRef) -> None:
    """Raise NotFoundError unless the thread is still the live one of its id.

    A source deleted while it was copied may have lost rows to the purge: no
    copy then, as if the delete had come first.
    """
    if (await tx.thread(ref.thread_id)).key != ref.key:
        raise NotFoundError("thread", ref.thread_id)


async def _free_if_expired(tx: StoreTransaction, thread_id: str) -> None:
    """Delete the thread if it expired: the sweeper may not have reached it, and its id is free."""
    await tx.delete_expired_threads([thread_id])


def announce_deleted(tx: StoreTransaction, thread_ids: list[str]) -> None:
    """Tell listeners, after the commit, that these threads are gone.

    A thread.deleted event is never stored (its thread is gone); it wakes
    whoever waits on the thread, so they find out at once.
    """
    tx.announce(
        [
            run_pb2.RunEvent(thread_id=thread_id, type=event_types.THREAD_DELETED)
            for thread_id in thread_ids
        ]
    )


class ThreadHandler:
    """Carries out ThreadService calls against a store (the state's: domain.state)."""

    def __init__(self, store: Store, *, max_ttl_us: int | None = None) -> None:
        self._store = store
        # The longest ttl a request may give (--max-thread-ttl); None: no cap.
        self.max_ttl_us = max_ttl_us

    def _ttl_of(self, thread: thread_pb2.Thread) -> duration_pb2.Duration | None:
        return thread.ttl if thread.HasField("ttl") else None

    async def create_thread(
        self, tenant: str, request: thread_pb2.CreateThreadRequest
    ) -> thread_pb2.Thread:
        """Validate and create a thread, or return the existing one for DO_NOTHING."""
        found = Violations()
        validation.client_chosen_id(found, "thread_id", request.thread_id)
        if request.if_exists not in _IF_EXISTS:
            found.add("if_exists", "must be RAISE or DO_NOTHING")
        validation.thread_fields(found, "thread", request.thread)
        check_ttl_cap(found, "thread.ttl", self._ttl_of(request.thread), self.max_ttl_us)
        once = idempotency.attempt(found, "CreateThread", request)
        found.raise_if_any()
        fresh_id = not request.thread_id
        thread_id = request.thread_id or ids.new_thread_id()
        reuse = request.if_exists == thread_pb2.IF_EXISTS_DO_NOTHING

        async def work(tx: StoreTransaction) -> thread_pb2.Thread:
            earlier = await idempotency.earlier(tx, once)
            if earlier is not None:
                with request_fields(thread="request_id"):
                    return (await tx.get_thread(earlier.thread_id)).thread
            thread = await create_thread(
                tx, request.thread, thread_id, reuse_existing=reuse, fresh_id=fresh_id
            )
            await idempotency.remember(
                tx, once, thread_id=thread.thread_id, resource_id=thread.thread_id
            )
            return thread

        return await self._store.transaction(tenant, work)

    async def get_thread(
        self, tenant: str, request: thread_pb2.GetThreadRequest
    ) -> thread_pb2.Thread:
        """Return a thread, with messages for the FULL view."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        if request.view not in thread_pb2.ThreadView.values():
            found.add("view", "must be BASIC or FULL")
        found.raise_if_any()
        limit = FULL_VIEW_MESSAGE_LIMIT if request.view == thread_pb2.THREAD_VIEW_FULL else 0
        return await self._store.get_thread(
            tenant, request.thread_id, message_limit=limit, max_bytes=sizes.REPLY_BYTES
        )

    async def list_threads(
        self, tenant: str, request: thread_pb2.ListThreadsRequest
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
            tenant,
            ThreadPageQuery(
                filter=thread_filter,
                order=order[0],
                descending=order[1],
                limit=size,
                after=cursor,
                max_bytes=sizes.REPLY_BYTES,
            ),
        )
        response = thread_pb2.ListThreadsResponse(
            threads=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )
        if request.include_total_size:
            # A read of its own (AIP-132 allows an estimate): counting in the
            # page's snapshot would make every store hold one across both.
            total = await self._store.count_threads(tenant, thread_filter)
            response.total_size = min(total, MAX_TOTAL_SIZE)
        return response

    async def count_threads(
        self, tenant: str, request: thread_pb2.CountThreadsRequest
    ) -> thread_pb2.CountThreadsResponse:
        """Count the threads that match a filter."""
        found = Violations()
        thread_filter = _thread_filter(found, "filter", request.filter)
        found.raise_if_any()
        return thread_pb2.CountThreadsResponse(
            count=await self._store.count_threads(tenant, thread_filter)
        )

    async def update_thread(
        self, tenant: str, request: thread_pb2.UpdateThreadRequest
    ) -> thread_pb2.Thread:
        """Apply the fields named by the update mask, when the etag (if given) is current."""
        found = Violations()
        validation.resource_id(found, "thread.thread_id", request.thread.thread_id)
        paths = fieldmask.check(
            found, "update_mask", list(request.update_mask.paths), UPDATABLE_THREAD_FIELDS
        )
        validation.thread_fields(found, "thread", request.thread)
        if "ttl" in paths:
            check_ttl_cap(found, "thread.ttl", self._ttl_of(request.thread), self.max_ttl_us)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> thread_pb2.Thread:
            stored = await tx.get_thread(request.thread.thread_id)
            _check_etag(stored, request.thread.etag, field="thread.etag")
            fixed = sorted(FIXED_ON_DEFAULT_THREADS.intersection(paths))
            if stored.thread.is_default and fixed:
                raise _default_thread_error(
                    stored.thread.thread_id,
                    f"its {', '.join(fixed)} cannot change",
                    "update_mask",
                )
            merged = stored.thread
            fieldmask.apply(merged, request.thread, paths)
            if fieldmask.touches_json(paths, "metadata"):
                # Keys set one by one add up: the result is held to the limits.
                merged_found = Violations()
                validation.struct(merged_found, "thread.metadata", merged.metadata)
                merged_found.raise_if_any()
            _stamp(merged, tx.now)
            return await tx.update_thread(stored.ref, merged)

        with request_fields(thread="thread.thread_id"):
            return await self._store.transaction(tenant, work)

    async def delete_thread(self, tenant: str, request: thread_pb2.DeleteThreadRequest) -> None:
        """Delete a thread and everything under it, when the etag (if given) is current."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> None:
            stored = await tx.get_thread(request.thread_id)
            _check_etag(stored, request.etag, field="etag")
            if stored.thread.is_default:
                raise _default_thread_error(
                    request.thread_id, "it cannot be deleted (ClearThread empties it)", "thread_id"
                )
            await tx.delete_thread(stored.ref)
            announce_deleted(tx, [request.thread_id])

        await self._store.transaction(tenant, work)

    async def copy_thread(
        self, tenant: str, request: thread_pb2.CopyThreadRequest
    ) -> thread_pb2.Thread:
        """Copy a thread with its messages (new ids, same order and times) and its state.

        With a checkpoint, a fork: the messages up to it, and its state.
        """
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        validation.client_chosen_id(found, "new_thread_id", request.new_thread_id)
        if request.checkpoint_id:
            validation.resource_id(found, "checkpoint_id", request.checkpoint_id)
        found.raise_if_any()
        new_thread_id = request.new_thread_id or ids.new_thread_id()

        async def start(tx: StoreTransaction) -> _CopyStart:
            source = await tx.get_thread(request.thread_id)
            at = (
                await tx.checkpoint(source.ref, request.checkpoint_id)
                if request.checkpoint_id
                else await tx.newest_checkpoint(source.ref)
            )
            await _free_if_expired(tx, new_thread_id)
            copy = _new_thread(source.thread, new_thread_id, tx.now)
            created = await tx.insert_thread(copy)
            if created is None:
                raise AlreadyExistsError("thread", new_thread_id, field="new_thread_id")
            await tx.hide_thread(created.ref)
            expire_at = copy.expire_time.ToMicroseconds() if copy.HasField("expire_time") else None
            return _CopyStart(source.ref, created.ref, at, expire_at, tx.now)

        with request_fields(checkpoint="checkpoint_id"):
            begun = await self._store.transaction(tenant, start)
        try:
            # The messages go over in batches of their own transactions, out of
            # sight; the copy appears, whole, in the last one. A client that
            # leaves (its deadline passed) stops the copy between two batches.
            copied = await self._store.copy_messages_in_batches(
                tenant,
                begun.source,
                begun.target,
                ids.new_message_id,
                through=(
                    begun.at.message_key if request.checkpoint_id and begun.at is not None else None
                ),
            )

            async def finish(tx: StoreTransaction) -> thread_pb2.Thread:
                await _still_there(tx, begun.source)
                await tx.publish_thread(begun.target, begun.expire_at)
                await state.copy_to(tx, begun.target, begun.at)
                if copied:
                    # The count as copied; not activity: the copy was made just now.
                    await tx.touch_thread(
                        begun.target, activity(begun.target, begun.made_at, copied)
                    )
                return (await tx.get_thread(new_thread_id)).thread

            return await self._store.transaction(tenant, finish)
        except BaseException:
            # Shielded: a copy cut short is deleted even when its caller left.
            # If even that fails, the next start-up deletes it.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._abandon_copy(tenant, begun.target))
            raise

    async def _abandon_copy(self, tenant: str, target: ThreadRef) -> None:
        """Delete a copy that was not finished (its rows go in the background)."""

        async def work(tx: StoreTransaction) -> None:
            await tx.delete_thread(target)

        await self._store.transaction(tenant, work)

    async def get_default_thread(
        self, tenant: str, request: thread_pb2.GetDefaultThreadRequest
    ) -> thread_pb2.Thread:
        """Return the default thread of an agent and user, making it on the first call.

        The store's unique index decides between concurrent first calls: an
        insert that another call beat returns None, and the winner's thread
        is read in the same transaction.
        """
        found = Violations()
        validation.reference(found, "agent_id", request.agent_id)
        validation.reference(found, "user_id", request.user_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> thread_pb2.Thread:
            existing = await tx.default_thread(request.agent_id, request.user_id)
            if existing is not None:
                return existing.thread
            fields = thread_pb2.Thread(agent_id=request.agent_id, user_id=request.user_id)
            thread = _new_thread(fields, ids.new_thread_id(), tx.now)
            thread.is_default = True
            created = await tx.insert_thread(thread)
            if created is None:
                created = await tx.default_thread(request.agent_id, request.user_id)
            if created is None:  # pragma: no cover - the unique index makes one of the two
                raise RuntimeError("no default thread was made or found")
            return created.thread

        return await self._store.transaction(tenant, work)

    async def clear_thread(
        self, tenant: str, request: thread_pb2.ClearThreadRequest
    ) -> thread_pb2.Thread:
        """Delete every message of a thread, when no run is in flight and the etag is current."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> thread_pb2.Thread:
            stored = await tx.get_thread(request.thread_id)
            _check_etag(stored, request.etag, field="etag")
            await _busy_check(tx, stored.ref)
            deleted = await tx.delete_all_messages(stored.ref)
            await tx.touch_thread(stored.ref, activity(stored.ref, tx.now, -deleted))
            cleared = run_pb2.RunEvent(type=event_types.THREAD_CLEARED)
            cleared.created_at.FromMicroseconds(tx.now)
            await tx.append_events(stored.ref, [cleared])
            return (await tx.get_thread(request.thread_id)).thread

        return await self._store.transaction(tenant, work)

    async def delete_expired(self, *, limit: int) -> int:
        """Delete up to limit threads whose time ran out, in each one's tenant; return how many."""
        by_tenant: dict[str, list[str]] = {}
        for ref in await self._store.expired_threads(limit):
            by_tenant.setdefault(ref.tenant, []).append(ref.thread_id)
        deleted = 0
        for tenant, thread_ids in by_tenant.items():

            async def work(tx: StoreTransaction, thread_ids: list[str] = thread_ids) -> int:
                gone = await tx.delete_expired_threads(thread_ids)
                announce_deleted(tx, gone)
                return len(gone)

            deleted += await self._store.transaction(tenant, work)
        return deleted
