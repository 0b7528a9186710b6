"""StoreTransaction over the writer connection, inside BEGIN IMMEDIATE."""

from __future__ import annotations

from threadline.v1 import message_pb2, thread_pb2

from threadline_server.errors import NotFoundError
from threadline_server.store.records import (
    RunRecord,
    StoredThread,
    ThreadRef,
)
from threadline_server.store.sql import runs as shared_runs
from threadline_server.store.sql.transaction import SqlTransaction
from threadline_server.store.sqlite import events, messages, purge, runs, threads
from threadline_server.store.sqlite.session import Session


class SqliteTransaction(SqlTransaction[Session]):
    """One write transaction of one tenant; collects its events for the listeners after COMMIT."""

    _threads = threads
    _messages = messages
    _events = events

    @property
    def session(self) -> Session:
        """The writer's session (for the store's own upkeep: purges, copies in batches)."""
        return self._session

    # -- threads ----------------------------------------------------------------

    async def thread(self, thread_id: str) -> ThreadRef:
        """Return a live thread."""
        return await threads.live_ref(self._session, thread_id)

    async def get_thread(self, thread_id: str) -> StoredThread:
        """Return a live thread with its API view."""
        return threads.to_stored(await threads.live_row(self._session, thread_id))

    async def insert_thread(self, thread: thread_pb2.Thread) -> StoredThread | None:
        """Insert a thread; None when its id is taken."""
        row = await threads.insert(self._session, thread)
        return None if row is None else threads.to_stored(row)

    async def default_thread(self, agent_id: str, user_id: str) -> StoredThread | None:
        """Return the tenant's default thread of an agent and user, or None."""
        row = await threads.default_row(self._session, agent_id, user_id)
        return None if row is None else threads.to_stored(row)

    async def update_thread(self, ref: ThreadRef, thread: thread_pb2.Thread) -> thread_pb2.Thread:
        """Store a thread's client-settable fields and times."""
        self._own(ref)
        return threads.to_thread(await threads.update(self._session, ref.key, thread))

    async def hide_thread(self, ref: ThreadRef) -> None:
        """Keep a thread inserted here out of sight until publish_thread (purge.hide)."""
        self._own(ref)
        await purge.hide(self._session, ref.key)

    async def publish_thread(self, ref: ThreadRef, expire_at: int | None) -> None:
        """Bring a hidden thread into view, or raise NotFoundError when it was abandoned."""
        self._own(ref)
        if not await purge.publish(self._session, ref.key, expire_at):
            raise NotFoundError("thread", ref.thread_id)

    # -- messages ---------------------------------------------------------------

    async def message(self, ref: ThreadRef, message_id: str) -> message_pb2.Message:
        """Return one message of a thread."""
        self._own(ref)
        row = await messages.row_of(self._session, ref.key, message_id)
        return messages.to_message(row, ref.thread_id)

    # -- runs -------------------------------------------------------------------

    async def run(self, run_id: str) -> RunRecord:
        """Return a run of a live thread."""
        return shared_runs.to_record(await shared_runs.row_of(self._session, run_id))

    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest queued run of an agent that is first in line on its thread."""
        return await runs.claimable(self._session, agent_id)
