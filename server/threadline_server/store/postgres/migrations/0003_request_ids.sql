-- Creation calls remembered by the client's request_id (AIP-155), as in the
-- SQLite store's 0003: a fingerprint and the ids of what the call made.
CREATE TABLE request_ids (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text   NOT NULL DEFAULT '',
    method      text   NOT NULL,
    request_id  text   NOT NULL,
    fingerprint bytea  NOT NULL,
    thread_id   text   NOT NULL,
    resource_id text   NOT NULL,
    created_at  bigint NOT NULL,
    UNIQUE (tenant_id, method, request_id)
);

CREATE INDEX request_ids_by_age ON request_ids (created_at);
