"""StoreTransaction on one pooled PostgreSQL connection, inside one transaction.

Every primitive that finds a thread (or a run, by its thread) locks the
thread's row until the commit: writers of one thread go one at a time,
whichever process they are in, as the SQLite store's single writer makes them.
"""

from __future__ import annotations

import dataclasses

from threadline.v1 import message_pb2, thread_pb2

from threadline_server.store.postgres import events, messages, runs, threads
from threadline_server.store.postgres.session import DictRow, Session, store_now
from threadline_server.store.records import (
    RunRecord,
    StoredThread,
    ThreadRef,
)
from threadline_server.store.sql import runs as shared_runs
from threadline_server.store.sql.transaction import SqlTransaction


class PostgresTransaction(SqlTransaction[Session]):
    """One write transaction of one tenant; collects its events for the listeners after COMMIT."""

    _threads = threads
    _messages = messages
    _events = events

    def _locked(self, row: DictRow) -> DictRow:
        """Move the transaction's time on once it holds a thread's lock.

        The time is read again after the lock was granted (a writer may have
        waited for it), and never earlier than the thread's last change: so
        within a thread, times follow commit order, as message keys and
        event ids do, whichever process or machine wrote them.
        """
        now = max(store_now(), int(row["last_activity_at"]), int(row["updated_at"]))
        if now > self.now:
            self.now = now
            self._session = dataclasses.replace(self._session, now=now)
        return row

    # -- threads ----------------------------------------------------------------

    async def thread(self, thread_id: str) -> ThreadRef:
        """Return a live thread."""
        row = await threads.locked_ref_row(self._session, thread_id)
        return threads.to_ref(self._locked(row))

    async def get_thread(self, thread_id: str) -> StoredThread:
        """Return a live thread with its API view."""
        row = await threads.live_row(self._session, thread_id, lock=True)
        return threads.to_stored(self._locked(row))

    async def insert_thread(self, thread: thread_pb2.Thread) -> StoredThread | None:
        """Insert a thread; None when its id is taken."""
        row = await threads.insert(self._session, thread)
        return None if row is None else threads.to_stored(row)

    async def default_thread(self, agent_id: str, user_id: str) -> StoredThread | None:
        """Return the tenant's default thread of an agent and user, or None."""
        row = await threads.default_row(self._session, agent_id, user_id, lock=True)
        return None if row is None else threads.to_stored(self._locked(row))

    async def update_thread(self, ref: ThreadRef, thread: thread_pb2.Thread) -> thread_pb2.Thread:
        """Store a thread's client-settable fields and times."""
        self._own(ref)
        return threads.to_thread(await threads.update(self._session, ref.key, thread))

    # -- messages ---------------------------------------------------------------

    async def message(self, ref: ThreadRef, message_id: str) -> message_pb2.Message:
        """Return one message of a thread."""
        self._own(ref)
        row = await messages.row_of(self._session, ref.key, message_id)
        return messages.to_message(row, ref.thread_id)

    # -- runs -------------------------------------------------------------------

    async def run(self, run_id: str) -> RunRecord:
        """Return a run of a live thread."""
        row = await runs.locked_row_of(self._session, run_id)
        return shared_runs.to_record(self._locked(row))

    async def claimable_run(self, agent_id: str) -> RunRecord | None:
        """Return the oldest queued run of an agent that is first in line on its thread."""
        return await runs.claimable(self._session, agent_id)
