-- Human in the loop, as in the SQLite store's 0006: a run can pause in
-- REQUIRES_ACTION (status 7) for client-side tools or a person's answer.
-- client_tools, required_action and action_response are serialized
-- threadline.v1 protos, NULL when unset; action_expires_at is when a waiting
-- run ends CANCELLED with ACTION_EXPIRED (NULL while not waiting).
--
-- (SQLite's 0008, thread phases, has no counterpart here: PostgreSQL deletes
-- and copies a thread in one transaction, which holds that thread's row lock
-- only, while readers go on reading their snapshot.)
ALTER TABLE runs ADD COLUMN client_tools bytea;
ALTER TABLE runs ADD COLUMN required_action bytea;
ALTER TABLE runs ADD COLUMN action_response bytea;
ALTER TABLE runs ADD COLUMN action_expires_at bigint;

-- A waiting run is in flight: it holds its thread's queue like a running one.
DROP INDEX runs_in_flight;
CREATE INDEX runs_in_flight ON runs (status, tenant_id, agent_id, pk) WHERE status IN (1, 2, 7);
CREATE INDEX runs_waiting ON runs (action_expires_at) WHERE status = 7;
