"""Thread state: the JSON object a thread's agents keep between runs, and its checkpoints.

The state changes three ways: a caller's UpdateThreadState, an in-process
agent's StateUpdate step, and a worker's state_update event. All three follow
the rules here, written once:

- A change is values and a mask of paths into the ThreadState resource.
  ``values`` replaces the whole state; ``values.k`` sets key k (or removes it
  when the values lack it); ``values.a.b`` one object deeper. With no mask,
  the values merge in: objects key by key, every other value replacing what
  was there. That is the mask grpc-gateway infers from a PATCH body (every
  leaf), so gRPC and HTTP callers get the same answer, and for flat state it
  is LangGraph's updateState: keys not given keep their values.
- The state after a change is at most MAX_STATE_BYTES as canonical JSON and
  nests at most jsonvalue.MAX_DEPTH deep.
- Every change appends a checkpoint with the whole new state; the state is
  the newest checkpoint, and its id is the state's etag.
- A run that ends FAILED or CANCELLED after changing the state leaves it as
  it was just before its first change (recorder, with run_log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from threadline.v1 import run_pb2, thread_pb2

from threadline_server import ids, jsonvalue
from threadline_server.domain import event_types, fieldmask, paging, sizes, validation
from threadline_server.errors import EtagMismatchError, Violations, request_fields
from threadline_server.jsonvalue import JsonValue
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import CheckpointPageQuery, StoredCheckpoint, ThreadRef

# The most a state takes as canonical JSON: a few hundred notes of memory,
# not a document store. A checkpoint and its state.updated event carry it
# whole, well within a streamed event's 2.5 MiB.
MAX_STATE_BYTES = 256 * 1024
STATE_PATHS = frozenset({"values"})
# The etag of a state that never changed (no checkpoint yet).
INITIAL_ETAG = "initial"


class StateRefused(Exception):  # noqa: N818 - a refusal of input, not a failure of the server
    """A change would break the state's limits; description says how."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field
        self.description = description


@dataclass(frozen=True)
class StateContext:
    """What a run's changes to the state need to know, read in their transaction.

    values and checkpoint_id are the state now (checkpoint_id '' before the
    first change); last_message_id the thread's newest stored message;
    restore the state a FAILED or CANCELLED end goes back to, or None when
    the run has not changed the state (yet).
    """

    values: struct_pb2.Struct
    checkpoint_id: str
    last_message_id: str
    restore: struct_pb2.Struct | None = None


def etag(checkpoint_id: str) -> str:
    """Return the etag of the state as of a checkpoint ('' : the state never changed)."""
    return checkpoint_id or INITIAL_ETAG


def view(thread_id: str, checkpoint: thread_pb2.ThreadCheckpoint | None) -> thread_pb2.ThreadState:
    """Return the ThreadState a thread has with this newest checkpoint."""
    state = thread_pb2.ThreadState(thread_id=thread_id, etag=etag(""))
    # Always an object, {} before the first change: never null over HTTP.
    state.values.SetInParent()
    if checkpoint is not None:
        state.values.CopyFrom(checkpoint.values)
        state.checkpoint_id = checkpoint.checkpoint_id
        state.updated_at.CopyFrom(checkpoint.created_at)
        state.etag = etag(checkpoint.checkpoint_id)
    return state


def check_change(
    found: Violations,
    values_path: str,
    mask_path: str,
    values: struct_pb2.Struct,
    paths: Sequence[str],
) -> list[str]:
    """Check a change's values and mask; return the mask's paths ([] : merge the values)."""
    problem = jsonvalue.problem(values)
    if problem:
        found.add(values_path, f"is not valid JSON: {problem}")
    if any(p not in fieldmask.IGNORED_PATHS for p in paths):
        return fieldmask.check(found, mask_path, paths, STATE_PATHS)
    if not values.fields:
        found.add(
            values_path,
            "must set at least one key, or update_mask name what to change "
            "(`values` with no values empties the state)",
        )
    return []


def apply(
    current: struct_pb2.Struct, values: struct_pb2.Struct, paths: Sequence[str]
) -> struct_pb2.Struct:
    """Return the state after a checked change (paths from check_change)."""
    if not paths:
        merged = _merge(jsonvalue.struct_to_python(current), jsonvalue.struct_to_python(values))
        result = struct_pb2.Struct()
        result.update(merged)
        return result
    target = thread_pb2.ThreadState()
    target.values.CopyFrom(current)
    source = thread_pb2.ThreadState()
    source.values.CopyFrom(values)
    fieldmask.apply(target, source, paths)
    return target.values


def _merge(stored: dict[str, JsonValue], given: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Merge given into stored: non-empty objects key by key, anything else replacing."""
    merged: dict[str, Any] = dict(stored)
    for key, value in given.items():
        old = merged.get(key)
        if isinstance(value, dict) and value and isinstance(old, dict):
            merged[key] = _merge(old, value)
        else:
            merged[key] = value
    return merged


def check_result(field: str, state: struct_pb2.Struct) -> None:
    """Refuse a state over the limits (a deep key path can nest a value deeper)."""
    problem = jsonvalue.problem(state)
    if problem:
        raise StateRefused(field, f"would make the state invalid: {problem}")
    size = validation.json_size(state)
    if size > MAX_STATE_BYTES:
        raise StateRefused(
            field,
            f"would make the state {size} bytes as JSON; a state is at most "
            f"{MAX_STATE_BYTES} bytes",
        )


def new_checkpoint(
    ref: ThreadRef,
    context: StateContext,
    values: struct_pb2.Struct,
    now: int,
    *,
    source: thread_pb2.CheckpointSource.ValueType,
    run_id: str = "",
    last_message_id: str | None = None,
) -> thread_pb2.ThreadCheckpoint:
    """Return the checkpoint a change at `now` makes, after the context's newest one."""
    checkpoint = thread_pb2.ThreadCheckpoint(
        checkpoint_id=ids.new_checkpoint_id(),
        thread_id=ref.thread_id,
        parent_checkpoint_id=context.checkpoint_id,
        last_message_id=context.last_message_id if last_message_id is None else last_message_id,
        run_id=run_id,
        source=source,
    )
    checkpoint.values.CopyFrom(values)
    checkpoint.created_at.FromMicroseconds(now)
    return checkpoint


def updated_event(checkpoint: thread_pb2.ThreadCheckpoint) -> run_pb2.RunEvent:
    """Return the state.updated event of a checkpoint (stamped with its time)."""
    event = run_pb2.RunEvent(
        run_id=checkpoint.run_id, type=event_types.STATE_UPDATED, checkpoint=checkpoint
    )
    event.created_at.CopyFrom(checkpoint.created_at)
    return event


async def context(tx: StoreTransaction, ref: ThreadRef, *, run_id: str = "") -> StateContext:
    """Read what a change to the state needs; with run_id, also what its failure restores."""
    newest = await tx.newest_checkpoint(ref)
    restore: struct_pb2.Struct | None = None
    if run_id:
        first = await tx.first_checkpoint_of_run(ref, run_id)
        if first is not None:
            parent_id = first.checkpoint.parent_checkpoint_id
            restore = (
                (await tx.checkpoint(ref, parent_id)).checkpoint.values
                if parent_id
                else struct_pb2.Struct()
            )
    return StateContext(
        values=newest.checkpoint.values if newest is not None else struct_pb2.Struct(),
        checkpoint_id=newest.checkpoint.checkpoint_id if newest is not None else "",
        last_message_id=await tx.newest_message_id(ref),
        restore=restore,
    )


async def write(
    tx: StoreTransaction, ref: ThreadRef, checkpoints: Sequence[thread_pb2.ThreadCheckpoint]
) -> None:
    """Store checkpoints (their events are the caller's to append, in order)."""
    if checkpoints:
        await tx.insert_checkpoints(ref, checkpoints)


async def copy_to(tx: StoreTransaction, target: ThreadRef, source: StoredCheckpoint | None) -> None:
    """Give a copied thread its source's state, in a checkpoint of source COPY."""
    if source is None:
        return
    checkpoint = new_checkpoint(
        target,
        StateContext(struct_pb2.Struct(), "", await tx.newest_message_id(target)),
        source.checkpoint.values,
        tx.now,
        source=thread_pb2.CHECKPOINT_SOURCE_COPY,
    )
    await tx.insert_checkpoints(target, [checkpoint])
    await tx.append_events(target, [updated_event(checkpoint)])


class StateHandler:
    """Carries out the state calls of ThreadService: read, change, and the history."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_thread_state(
        self, tenant: str, request: thread_pb2.GetThreadStateRequest
    ) -> thread_pb2.ThreadState:
        """Return a thread's state as of its newest checkpoint."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        found.raise_if_any()
        checkpoint = await self._store.newest_checkpoint(tenant, request.thread_id)
        return view(request.thread_id, checkpoint)

    async def update_thread_state(
        self, tenant: str, request: thread_pb2.UpdateThreadStateRequest
    ) -> thread_pb2.ThreadState:
        """Change a thread's state, when the etag (if given) is current; make a checkpoint."""
        given = request.thread_state
        found = Violations()
        validation.resource_id(found, "thread_state.thread_id", given.thread_id)
        paths = check_change(
            found,
            "thread_state.values",
            "update_mask",
            given.values,
            list(request.update_mask.paths),
        )
        found.raise_if_any()

        async def work(tx: StoreTransaction) -> thread_pb2.ThreadState:
            ref = await tx.thread(given.thread_id)
            now = await context(tx, ref)
            if given.etag and given.etag != etag(now.checkpoint_id):
                raise EtagMismatchError("thread state", given.thread_id, field="thread_state.etag")
            values = apply(now.values, given.values, paths)
            try:
                check_result("thread_state.values", values)
            except StateRefused as refused:
                refusal = Violations()
                refusal.add(refused.field, refused.description)
                refusal.raise_if_any()
            checkpoint = new_checkpoint(
                ref, now, values, tx.now, source=thread_pb2.CHECKPOINT_SOURCE_UPDATE
            )
            await write(tx, ref, [checkpoint])
            await tx.append_events(ref, [updated_event(checkpoint)])
            return view(ref.thread_id, checkpoint)

        with request_fields(thread="thread_state.thread_id"):
            return await self._store.transaction(tenant, work)

    async def list_thread_checkpoints(
        self, tenant: str, request: thread_pb2.ListThreadCheckpointsRequest
    ) -> thread_pb2.ListThreadCheckpointsResponse:
        """Return one page of a thread's checkpoints, newest first."""
        found = Violations()
        validation.resource_id(found, "thread_id", request.thread_id)
        size, cursor, key = paging.start(
            found, request.page_size, request.page_token, ("checkpoints", request.thread_id)
        )
        found.raise_if_any()
        page = await self._store.list_checkpoints(
            tenant,
            CheckpointPageQuery(
                thread_id=request.thread_id,
                limit=size,
                after=cursor,
                max_bytes=sizes.REPLY_BYTES,
            ),
        )
        return thread_pb2.ListThreadCheckpointsResponse(
            checkpoints=page.items, next_page_token=paging.encode(page.next_cursor, key)
        )
