-- Thread state and its checkpoints, and default threads.
--
-- Every change of a thread's state appends a checkpoint holding the whole
-- state (canonical JSON); the thread's state is its newest checkpoint, so
-- nothing else points at it. pk only grows (AUTOINCREMENT), so it orders a
-- thread's checkpoints and is their keyset cursor. message_pk is the pk of
-- the thread's newest message when the checkpoint was made (0: none): a fork
-- at the checkpoint copies the messages up to it, even once that message
-- itself is gone.
CREATE TABLE checkpoints (
    pk                   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id            TEXT    NOT NULL,
    thread_pk            INTEGER NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    checkpoint_id        TEXT    NOT NULL,
    parent_checkpoint_id TEXT    NOT NULL DEFAULT '',
    run_id               TEXT    NOT NULL DEFAULT '',
    source               INTEGER NOT NULL,
    state                TEXT    NOT NULL,
    last_message_id      TEXT    NOT NULL DEFAULT '',
    message_pk           INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    UNIQUE (tenant_id, checkpoint_id)
) STRICT;

CREATE INDEX checkpoints_by_thread ON checkpoints (thread_pk, pk);
-- A run's first checkpoint, which says what a failed run restores.
CREATE INDEX checkpoints_by_run ON checkpoints (thread_pk, run_id, pk);

-- At most one default thread per tenant, agent and user: the database, not
-- the server, decides which of two concurrent first calls made it. A default
-- thread's agent_id and user_id never change.
ALTER TABLE threads ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX threads_default ON threads (tenant_id, agent_id, user_id) WHERE is_default = 1;
