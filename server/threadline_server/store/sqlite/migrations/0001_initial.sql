-- Threads and their messages. Every row carries tenant_id so that tenants can
-- be added without rewriting tables; until then it is ''. Times are integer
-- microseconds since the Unix epoch (UTC). JSON columns hold canonical JSON.
CREATE TABLE threads (
    pk               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT    NOT NULL DEFAULT '',
    thread_id        TEXT    NOT NULL,
    title            TEXT    NOT NULL DEFAULT '',
    metadata         TEXT    NOT NULL DEFAULT '{}',
    agent_id         TEXT    NOT NULL DEFAULT '',
    user_id          TEXT    NOT NULL DEFAULT '',
    external_ref     TEXT    NOT NULL DEFAULT '',
    locale_language  TEXT    NOT NULL DEFAULT '',
    locale_country   TEXT    NOT NULL DEFAULT '',
    locale_time_zone TEXT    NOT NULL DEFAULT '',
    participants     TEXT    NOT NULL DEFAULT '[]',
    ttl_us           INTEGER,
    status           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    expire_at        INTEGER,
    message_count    INTEGER NOT NULL DEFAULT 0,
    version          INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, thread_id)
) STRICT;

CREATE INDEX threads_by_created ON threads (tenant_id, created_at, pk);
CREATE INDEX threads_by_updated ON threads (tenant_id, updated_at, pk);
CREATE INDEX threads_by_user ON threads (tenant_id, user_id, created_at, pk);
CREATE INDEX threads_by_agent ON threads (tenant_id, agent_id, created_at, pk);
CREATE INDEX threads_by_external_ref ON threads (tenant_id, external_ref);
CREATE INDEX threads_by_expiry ON threads (expire_at) WHERE expire_at IS NOT NULL;

-- pk only grows (AUTOINCREMENT never reuses a key), so it orders a thread's
-- messages and serves as the keyset cursor for paging.
CREATE TABLE messages (
    pk         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT    NOT NULL DEFAULT '',
    thread_pk  INTEGER NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    message_id TEXT    NOT NULL,
    role       INTEGER NOT NULL,
    parts      TEXT    NOT NULL,
    metadata   TEXT    NOT NULL DEFAULT '{}',
    run_id     TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, message_id)
) STRICT;

CREATE INDEX messages_by_thread ON messages (thread_pk, pk);
