-- Threads and their messages, as in the SQLite store's 0001: every row carries
-- tenant_id; times are bigint microseconds since the Unix epoch (UTC); JSON
-- columns hold canonical JSON text (compared as jsonb where filtered).
CREATE TABLE threads (
    pk               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        text    NOT NULL DEFAULT '',
    thread_id        text    NOT NULL,
    title            text    NOT NULL DEFAULT '',
    metadata         text    NOT NULL DEFAULT '{}',
    agent_id         text    NOT NULL DEFAULT '',
    user_id          text    NOT NULL DEFAULT '',
    external_ref     text    NOT NULL DEFAULT '',
    locale_language  text    NOT NULL DEFAULT '',
    locale_country   text    NOT NULL DEFAULT '',
    locale_time_zone text    NOT NULL DEFAULT '',
    participants     text    NOT NULL DEFAULT '[]',
    ttl_us           bigint,
    status           integer NOT NULL,
    created_at       bigint  NOT NULL,
    updated_at       bigint  NOT NULL,
    last_activity_at bigint  NOT NULL,
    expire_at        bigint,
    message_count    bigint  NOT NULL DEFAULT 0,
    version          bigint  NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, thread_id)
);

CREATE INDEX threads_by_created ON threads (tenant_id, created_at, pk);
CREATE INDEX threads_by_updated ON threads (tenant_id, updated_at, pk);
CREATE INDEX threads_by_user ON threads (tenant_id, user_id, created_at, pk);
CREATE INDEX threads_by_agent ON threads (tenant_id, agent_id, created_at, pk);
CREATE INDEX threads_by_external_ref ON threads (tenant_id, external_ref);
CREATE INDEX threads_by_expiry ON threads (expire_at) WHERE expire_at IS NOT NULL;

-- pk comes from a sequence, and every write to a thread's messages holds the
-- thread's row lock: within a thread, pk order is commit order, so it orders
-- the thread's messages and is the keyset cursor for paging.
CREATE TABLE messages (
    pk         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text    NOT NULL DEFAULT '',
    thread_pk  bigint  NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    message_id text    NOT NULL,
    role       integer NOT NULL,
    parts      text    NOT NULL,
    metadata   text    NOT NULL DEFAULT '{}',
    run_id     text    NOT NULL DEFAULT '',
    created_at bigint  NOT NULL,
    updated_at bigint  NOT NULL,
    UNIQUE (tenant_id, message_id)
);

CREATE INDEX messages_by_thread ON messages (thread_pk, pk);
