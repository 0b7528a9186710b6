"""StoreTransaction over the writer connection, inside BEGIN IMMEDIATE."""

from __future__ import annotations

from collections.abc import Sequence

from threadline.v1 import message_pb2, run_pb2

from threadline_server.store.base import RunRecord, StoreTransaction, ThreadRef
from threadline_server.store.sqlite import events, messages, runs, threads
from threadline_server.store.sqlite.session import Session


class SqliteTransaction(StoreTransaction):
    """One write transaction; collects its events for the listeners after COMMIT."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.now = session.now
        # Stored and announced events, handed to listeners after the commit.
        self.events: list[run_pb2.RunEvent] = []

    def announce(self, events_: Sequence[run_pb2.RunEvent]) -> None:
        """Queue events that are not stored for the listeners (a deleted thread, say)."""
        self.events.extend(events_)

    async def thread(self, thread_id: str, *, field: str = "thread_id") -> ThreadRef:
        """Return a live thread."""
        row = await threads.live_row(self.session, thread_id, field=field)
        return ThreadRef(row["pk"], row["thread_id"])

    async def run(self, run_id: str, *, field: str = "run_id") -> RunRecord:
        """Return a run of a live thread."""
        return runs.to_record(await runs.row_of(self.session, run_id, field=field))

    async def runs_in_flight(self, thread: ThreadRef) -> list[RunRecord]:
        """Return the thread's queued and running runs, oldest first."""
        return await runs.in_flight(self.session, thread)

    async def insert_run(self, thread: ThreadRef, run: run_pb2.Run) -> RunRecord:
        """Insert a run."""
        return await runs.insert(self.session, thread, run)

    async def save_run(self, record: RunRecord) -> None:
        """Write a run's mutable fields."""
        await runs.save(self.session, record)

    async def insert_message(
        self, thread: ThreadRef, message: message_pb2.Message, *, announced: bool = False
    ) -> message_pb2.Message:
        """Append a message, touch the thread, and record its events.

        A message an agent streamed was announced by message.created before its
        deltas; any other message gets message.created here, then every message
        gets message.completed.
        """
        stored = messages.to_message(await messages.insert(self.session, thread.pk, message))
        for event_type in (
            ("message.completed",) if announced else ("message.created", "message.completed")
        ):
            await self.append_event(
                thread, run_pb2.RunEvent(run_id=message.run_id, type=event_type, message=stored)
            )
        return stored

    async def delete_run_messages(self, thread: ThreadRef, run_ids: Sequence[str]) -> int:
        """Delete what the runs wrote."""
        return await messages.delete_of_runs(self.session, thread.pk, run_ids)

    async def thread_messages(self, thread: ThreadRef, limit: int) -> list[message_pb2.Message]:
        """Return the latest messages, oldest first."""
        return await messages.latest(self.session, thread.pk, limit)

    async def append_event(self, thread: ThreadRef, event: run_pb2.RunEvent) -> run_pb2.RunEvent:
        """Store an event and queue it for the listeners after commit."""
        stored = await events.append(self.session, thread, event)
        self.events.append(stored)
        return stored

    async def refresh_thread_status(self, thread: ThreadRef) -> None:
        """BUSY with a run in flight; else ERROR when the latest run failed; else IDLE."""
        await threads.refresh_status(self.session, thread.pk)

    async def next_queued_run(self, thread: ThreadRef) -> RunRecord | None:
        """Return the oldest queued run of a thread with nothing running."""
        return await runs.next_queued(self.session, thread)

    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest queued run of an agent that is first in line on its thread."""
        return await runs.claimable(self.session, agent_id)

    async def runs_to_recover(self, now: int) -> list[RunRecord]:
        """Return running runs whose worker lease ran out, or that ran in-process."""
        return await runs.to_recover(self.session)

    async def threads_with_queued_runs(self) -> list[ThreadRef]:
        """Threads that have queued runs."""
        return await runs.threads_with_queued(self.session)
