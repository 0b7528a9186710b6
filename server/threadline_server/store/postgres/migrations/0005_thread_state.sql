-- Thread state and its checkpoints, and default threads, as in the SQLite
-- store's 0005. pk comes from a sequence under the thread's row lock, so it
-- orders a thread's checkpoints; message_pk is the pk of the thread's newest
-- message when the checkpoint was made (0: none).
CREATE TABLE checkpoints (
    pk                   bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id            text    NOT NULL,
    thread_pk            bigint  NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    checkpoint_id        text    NOT NULL,
    parent_checkpoint_id text    NOT NULL DEFAULT '',
    run_id               text    NOT NULL DEFAULT '',
    source               integer NOT NULL,
    state                text    NOT NULL,
    last_message_id      text    NOT NULL DEFAULT '',
    message_pk           bigint  NOT NULL DEFAULT 0,
    created_at           bigint  NOT NULL,
    UNIQUE (tenant_id, checkpoint_id)
);

CREATE INDEX checkpoints_by_thread ON checkpoints (thread_pk, pk);
CREATE INDEX checkpoints_by_run ON checkpoints (thread_pk, run_id, pk);

-- At most one default thread per tenant, agent and user: the database decides.
ALTER TABLE threads ADD COLUMN is_default integer NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX threads_default ON threads (tenant_id, agent_id, user_id) WHERE is_default = 1;
