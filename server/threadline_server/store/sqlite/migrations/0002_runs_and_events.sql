-- Runs of agents on threads, and the event log of every thread.
CREATE TABLE runs (
    pk                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          TEXT    NOT NULL DEFAULT '',
    run_id             TEXT    NOT NULL,
    thread_pk          INTEGER NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    agent_id           TEXT    NOT NULL,
    status             INTEGER NOT NULL,
    multitask_strategy INTEGER NOT NULL,
    max_iterations     INTEGER NOT NULL,
    tools              TEXT    NOT NULL DEFAULT '[]',
    context            TEXT    NOT NULL DEFAULT '{}',
    metadata           TEXT    NOT NULL DEFAULT '{}',
    response           TEXT    NOT NULL DEFAULT '',
    tool_calls         TEXT    NOT NULL DEFAULT '[]',
    iterations         INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    error_code         TEXT    NOT NULL DEFAULT '',
    error_message      TEXT    NOT NULL DEFAULT '',
    -- Set while a worker holds the run; NULL for runs served in-process.
    lease_id           TEXT,
    lease_expires_at   INTEGER,
    lease_duration_us  INTEGER,
    worker_id          TEXT    NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    ended_at           INTEGER,
    UNIQUE (tenant_id, run_id)
) STRICT;

CREATE INDEX runs_by_thread ON runs (thread_pk, pk);
CREATE INDEX runs_in_flight ON runs (status, agent_id, pk) WHERE status IN (1, 2);

-- event_id only grows (AUTOINCREMENT), on every thread at once. payload is a
-- serialized threadline.v1.RunEvent without its event_id.
CREATE TABLE events (
    event_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT    NOT NULL DEFAULT '',
    thread_pk  INTEGER NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    run_id     TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX events_by_thread ON events (thread_pk, event_id);
CREATE INDEX events_by_run ON events (run_id, event_id) WHERE run_id != '';
CREATE INDEX messages_by_run ON messages (run_id) WHERE run_id != '';
