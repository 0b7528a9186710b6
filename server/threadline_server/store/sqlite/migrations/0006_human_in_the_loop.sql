-- Human in the loop: a run can pause in REQUIRES_ACTION (status 7) for the
-- outputs of client-side tools or a person's answer, and is resumed later.
--
-- client_tools, required_action and action_response are serialized
-- threadline.v1 protos (a Run holding only client_tools; RequiredAction;
-- ActionResponse), NULL when unset. action_expires_at is when a waiting run
-- ends CANCELLED with ACTION_EXPIRED (NULL while not waiting).
ALTER TABLE runs ADD COLUMN client_tools BLOB;
ALTER TABLE runs ADD COLUMN required_action BLOB;
ALTER TABLE runs ADD COLUMN action_response BLOB;
ALTER TABLE runs ADD COLUMN action_expires_at INTEGER;

-- A waiting run is in flight: it holds its thread's queue like a running one.
DROP INDEX runs_in_flight;
CREATE INDEX runs_in_flight ON runs (status, tenant_id, agent_id, pk) WHERE status IN (1, 2, 7);
-- The sweep of waiting runs nobody answered in time.
CREATE INDEX runs_waiting ON runs (action_expires_at) WHERE status = 7;
