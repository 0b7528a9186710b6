"""The one way a run's state changes: the recorder's changes, written in a store transaction.

One rule holds the run machinery together: a run's state only changes inside
a store transaction that first checks the run is still in flight (and, for
a worker, that its lease is current), and every change appends its events
in that same transaction. So the final event of a run is written exactly
once, whoever ends it (the agent, a client's cancel, a later run, a
timeout, an expired lease, or recovery after a restart), and a stream that
replays the log sees exactly what happened.

What the recorder needs between transactions (RunProgress: the message
being streamed, the tool calls begun) follows from the run's events, so it
is kept current from committed events only (an event listener): a rolled
back transaction leaves nothing behind. After a restart it is rebuilt by
replaying the run's log.
"""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import run_pb2, thread_pb2

from threadline_server.domain import event_types, recorder, sizes, state, webhook_outbox
from threadline_server.domain.recorder import Finish, RunChanges, RunProgress, Step
from threadline_server.domain.run_end import ends_run, has_started, thread_status
from threadline_server.domain.threads import activity
from threadline_server.errors import NotFoundError
from threadline_server.store.base import Store, StoreTransaction
from threadline_server.store.records import RunRecord

# Events read at a time when a run's log is replayed.
_LOG_READ_BATCH = 500


class RunEndedError(Exception):
    """The run is no longer in flight (or the caller's lease is stale): stop working on it."""

    def __init__(self, record: RunRecord | None) -> None:
        super().__init__(
            "the run has ended" if record is None else f"run {record.run.run_id} has ended"
        )
        self.record = record


class RunLog:
    """Writes runs' changes, and keeps each running run's progress between transactions."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # By (tenant, run id).
        self._progress: dict[tuple[str, str], RunProgress] = {}
        # With a shared store, the id of the last event each progress has
        # seen: another process may have recorded more of the run since (a
        # worker's reports can reach any process), read before it is used.
        self._shared = store.shared
        self._seen: dict[tuple[str, str], int] = {}
        store.add_event_listener(self._follow)

    def _follow(self, tenant: str, events: list[run_pb2.RunEvent]) -> None:
        """Keep progress current from committed events (a store listener)."""
        for event in events:
            key = (tenant, event.run_id)
            if event.type == event_types.THREAD_DELETED:
                for gone in [
                    run
                    for run, progress in self._progress.items()
                    if run[0] == tenant and progress.thread_id == event.thread_id
                ]:
                    del self._progress[gone]
                    self._seen.pop(gone, None)
            elif ends_run(event):
                self._progress.pop(key, None)
                self._seen.pop(key, None)
            elif event.type == event_types.RUN_STARTED:
                self._progress[key] = RunProgress(event.thread_id)
                self._seen[key] = event.event_id
            else:
                progress = self._progress.get(key)
                if progress is not None and event.event_id > self._seen.get(key, 0):
                    recorder.advance(progress, event)
                    self._seen[key] = event.event_id

    async def _progress_of(self, record: RunRecord) -> RunProgress:
        """Return a running run's progress, replaying its log when this process lacks it.

        With a shared store, the events another process recorded since are
        read first (one indexed read, usually empty).
        """
        key = (record.thread.tenant, record.run.run_id)
        progress = self._progress.get(key)
        if progress is None:
            progress = RunProgress(record.thread.thread_id)
            after = 0
        elif self._shared:
            after = self._seen.get(key, 0)
        else:
            return progress
        while events := await self._store.read_events(
            record.thread.tenant,
            run_id=record.run.run_id,
            after=after,
            limit=_LOG_READ_BATCH,
            max_bytes=sizes.READ_BATCH_BYTES,
        ):
            for event in events:
                recorder.advance(progress, event)
            after = events[-1].event_id
        # What the log holds is committed: this transaction's own events
        # reach the progress through _follow once it commits.
        self._progress[key] = progress
        self._seen[key] = after
        return progress

    async def _write(self, tx: StoreTransaction, changes: RunChanges) -> None:
        """Write a run's changes; when they end it, settle its thread's status."""
        record = changes.record
        if changes.messages:
            await tx.insert_messages(record.thread, changes.messages)
        # After the messages: a checkpoint notes where they stood.
        await state.write(tx, record.thread, changes.checkpoints)
        if changes.events:
            stored = await tx.append_events(record.thread, changes.events)
            # The deliveries of webhook events, in the same transaction.
            await webhook_outbox.enqueue(tx, record.thread, stored)
        if changes.messages:
            await tx.touch_thread(
                record.thread, activity(record.thread, tx.now, len(changes.messages))
            )
        if changes.save_run:
            await tx.save_run(record)
        if changes.paused:
            await tx.set_thread_status(record.thread, thread_pb2.THREAD_STATUS_INTERRUPTED)
        elif changes.ended:
            in_flight = await tx.runs_in_flight(record.thread)
            await tx.set_thread_status(
                record.thread,
                thread_status(
                    run_in_flight=bool(in_flight),
                    last_ended=record.run.status,
                    waiting=any(
                        r.run.status == run_pb2.RUN_STATUS_REQUIRES_ACTION for r in in_flight
                    ),
                ),
            )

    async def start(
        self,
        tx: StoreTransaction,
        record: RunRecord,
        *,
        lease_id: str | None = None,
        lease_duration_us: int | None = None,
        worker_id: str = "",
    ) -> RunRecord:
        """Start a queued run in a transaction; return it RUNNING."""
        changes = recorder.start(
            record,
            tx.now,
            lease_id=lease_id,
            lease_duration_us=lease_duration_us,
            worker_id=worker_id,
        )
        await self._write(tx, changes)
        await tx.set_thread_status(record.thread, thread_pb2.THREAD_STATUS_BUSY)
        return changes.record

    async def end(self, tx: StoreTransaction, record: RunRecord, finish: Finish) -> RunRecord:
        """End a run in flight in a transaction; return it ended.

        Whoever ends it (its agent, a cancel, a later run, a timeout, a lost
        lease, recovery) comes through here, once: the caller checked it was
        in flight. After a restart the progress is rebuilt from the log, so
        a half-streamed answer is still stored, with its message.completed.
        """
        progress = None
        context = None
        if has_started(record.run.status):
            progress = await self._progress_of(record)
            if finish.status in recorder.RESTORING_STATUSES:
                context = await state.context(tx, record.thread, run_id=record.run.run_id)
        changes = recorder.end(record, progress, finish, tx.now, state_context=context)
        await self._write(tx, changes)
        return changes.record

    async def resume(
        self, tx: StoreTransaction, record: RunRecord, response: run_pb2.ActionResponse
    ) -> RunRecord:
        """Resume a run waiting in REQUIRES_ACTION (the caller checked); return it QUEUED."""
        progress = await self._progress_of(record)
        changes = recorder.resume(record, progress, response, tx.now)
        await self._write(tx, changes)
        await tx.set_thread_status(record.thread, thread_pb2.THREAD_STATUS_BUSY)
        return changes.record

    async def record(
        self, tenant: str, run_id: str, steps: Sequence[Step], *, lease_id: str | None = None
    ) -> RunRecord:
        """Apply an agent's steps to a run in one transaction; return the run after them.

        Raises RunEndedError when the run is no longer in flight or the lease
        is stale; nothing is written then.
        """

        async def work(tx: StoreTransaction) -> RunRecord:
            try:
                record = await tx.run(run_id)
            except NotFoundError:  # its thread was deleted
                raise RunEndedError(None) from None
            if record.run.status != run_pb2.RUN_STATUS_RUNNING or (
                lease_id is not None
                and (record.lease_id != lease_id or (record.lease_expires_at or 0) <= tx.now)
            ):
                raise RunEndedError(record)
            progress = await self._progress_of(record)
            context = None
            if recorder.needs_state(steps):
                context = await state.context(tx, record.thread, run_id=run_id)
            changes = recorder.apply_steps(record, progress, steps, tx.now, state_context=context)
            await self._write(tx, changes)
            return changes.record

        return await self._store.transaction(tenant, work)
