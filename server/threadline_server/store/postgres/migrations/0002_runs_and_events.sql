-- Runs of agents on threads, and the event log of every thread.
CREATE TABLE runs (
    pk                 bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          text    NOT NULL DEFAULT '',
    run_id             text    NOT NULL,
    thread_pk          bigint  NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    agent_id           text    NOT NULL,
    status             integer NOT NULL,
    multitask_strategy integer NOT NULL,
    max_iterations     integer NOT NULL,
    tools              text    NOT NULL DEFAULT '[]',
    context            text    NOT NULL DEFAULT '{}',
    metadata           text    NOT NULL DEFAULT '{}',
    response           text    NOT NULL DEFAULT '',
    tool_calls         text    NOT NULL DEFAULT '[]',
    iterations         integer NOT NULL DEFAULT 0,
    prompt_tokens      bigint  NOT NULL DEFAULT 0,
    completion_tokens  bigint  NOT NULL DEFAULT 0,
    error_code         text    NOT NULL DEFAULT '',
    error_message      text    NOT NULL DEFAULT '',
    -- The lease of whoever executes the run: a worker, or (on PostgreSQL,
    -- where several servers share the database) the server process itself.
    lease_id           text,
    lease_expires_at   bigint,
    lease_duration_us  bigint,
    worker_id          text    NOT NULL DEFAULT '',
    created_at         bigint  NOT NULL,
    started_at         bigint,
    ended_at           bigint,
    UNIQUE (tenant_id, run_id)
);

CREATE INDEX runs_by_thread ON runs (thread_pk, pk);
CREATE INDEX runs_in_flight ON runs (status, agent_id, pk) WHERE status IN (1, 2);

-- The event order readers resume by is per thread: event_seq is the last
-- event id a thread handed out, incremented in the writing transaction under
-- the thread's row lock, so ids are assigned in commit order within the
-- thread (a sequence would hand them out in INSERT order, and a reader that
-- saw id 12 could miss an id 11 committed a moment later). payload is a
-- serialized threadline.v1.RunEvent without its event_id.
ALTER TABLE threads ADD COLUMN event_seq bigint NOT NULL DEFAULT 0;

CREATE TABLE events (
    thread_pk  bigint  NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    event_id   bigint  NOT NULL,
    tenant_id  text    NOT NULL DEFAULT '',
    run_id     text    NOT NULL DEFAULT '',
    type       text    NOT NULL,
    payload    bytea   NOT NULL,
    created_at bigint  NOT NULL,
    PRIMARY KEY (thread_pk, event_id)
);

CREATE INDEX events_by_run ON events (run_id, event_id) WHERE run_id <> '';
CREATE INDEX messages_by_run ON messages (run_id) WHERE run_id <> '';
