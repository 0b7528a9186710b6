-- Tenants and API keys, as in the SQLite store's 0004. Keys are stored as
-- digests only (HMAC-SHA256 with a secret kept outside the database).
UPDATE threads SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE messages SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE runs SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE events SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE request_ids SET tenant_id = 'default' WHERE tenant_id = '';

CREATE TABLE keys (
    key_id     text   NOT NULL PRIMARY KEY,
    tenant_id  text   NOT NULL,
    scope      text   NOT NULL,
    digest     bytea  NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint,
    note       text   NOT NULL DEFAULT ''
);

DROP INDEX runs_in_flight;
CREATE INDEX runs_in_flight ON runs (status, tenant_id, agent_id, pk) WHERE status IN (1, 2);
