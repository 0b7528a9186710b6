-- Tenants arrive: the rows written before them belong to the tenant a server
-- without keys serves, 'default'. API keys are stored as digests only.
UPDATE threads SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE messages SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE runs SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE events SET tenant_id = 'default' WHERE tenant_id = '';
UPDATE request_ids SET tenant_id = 'default' WHERE tenant_id = '';

-- digest is HMAC-SHA256(secret, key) with a secret kept outside the database.
-- Revoked keys stay (revoked_at set), so `threadline keys list` can show them.
CREATE TABLE keys (
    key_id     TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    digest     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    note       TEXT    NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

-- Runs in flight, by tenant: a worker claims its own tenant's runs only, and a
-- tenant's runs in flight are counted against its cap. Stale runs are looked
-- for across tenants by status alone.
DROP INDEX runs_in_flight;
CREATE INDEX runs_in_flight ON runs (status, tenant_id, agent_id, pk) WHERE status IN (1, 2);
