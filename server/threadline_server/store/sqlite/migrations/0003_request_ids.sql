-- Creation calls remembered by the client's request_id (AIP-155), so that a
-- retry returns what the first call made and writes nothing. A row holds a
-- fingerprint of the request and the ids of what it made (the retry reads
-- the resource as it is now), never content: deleting a thread or a message
-- leaves nothing of it here. Rows older than the domain's retention (24 h)
-- are swept.
CREATE TABLE request_ids (
    pk          INTEGER PRIMARY KEY,
    tenant_id   TEXT    NOT NULL DEFAULT '',
    method      TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    thread_id   TEXT    NOT NULL,
    resource_id TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, method, request_id)
) STRICT;

CREATE INDEX request_ids_by_age ON request_ids (created_at);
