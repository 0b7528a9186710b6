-- Webhooks and their outbox of deliveries, as in the SQLite store's 0009.
--
-- A webhook made by CreateWebhook has run_id '' and no thread; one made for
-- a run's own webhook_url has that run's id and thread, and goes with the
-- thread. event_types is a JSON array ('[]': every type a webhook sends).
-- The secret is kept as given (it signs every delivery, so it cannot be a
-- digest).
CREATE TABLE webhooks (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text    NOT NULL,
    webhook_id  text    NOT NULL,
    run_id      text    NOT NULL DEFAULT '',
    thread_pk   bigint REFERENCES threads (pk) ON DELETE CASCADE,
    url         text    NOT NULL,
    event_types text    NOT NULL,
    secret      text    NOT NULL,
    description text    NOT NULL DEFAULT '',
    created_at  bigint NOT NULL,
    UNIQUE (tenant_id, webhook_id)
);

-- A tenant's webhooks for every run (run_id '') and a run's own, by pk.
CREATE INDEX webhooks_by_run ON webhooks (tenant_id, run_id, pk);
-- For the cascade when a thread is deleted.
CREATE INDEX webhooks_by_thread ON webhooks (thread_pk) WHERE thread_pk IS NOT NULL;

-- The outbox: one row per event and webhook, written in the transaction of
-- the event, and deleted with the event's thread (or the webhook). body is
-- the JSON sent (the same for every attempt), emptied once the delivery is
-- done, so no content outlives the attempts; record is the WebhookDelivery
-- as the API shows it (attempts and all). status and
-- next_attempt_at repeat what the dispatcher looks for: next_attempt_at is
-- NULL once a delivery succeeded or failed for good, and is moved forward
-- (a lease) while an attempt is under way, so a crash mid-attempt only
-- delays it.
CREATE TABLE webhook_deliveries (
    pk              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       text    NOT NULL,
    delivery_id     text    NOT NULL,
    webhook_pk      bigint NOT NULL REFERENCES webhooks (pk) ON DELETE CASCADE,
    thread_pk       bigint NOT NULL REFERENCES threads (pk) ON DELETE CASCADE,
    run_id          text    NOT NULL,
    status          bigint NOT NULL,
    next_attempt_at bigint,
    body            bytea    NOT NULL,
    record          bytea    NOT NULL,
    created_at      bigint NOT NULL,
    UNIQUE (tenant_id, delivery_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_pk, pk);
CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (tenant_id, run_id, pk);
CREATE INDEX webhook_deliveries_by_tenant ON webhook_deliveries (tenant_id, pk);
CREATE INDEX webhook_deliveries_by_thread ON webhook_deliveries (thread_pk);
-- Deliveries done (succeeded or failed for good), oldest first, for the sweep.
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (created_at)
    WHERE next_attempt_at IS NULL;

-- A run's own webhook: the URL as given, and the webhook made for it.
ALTER TABLE runs ADD COLUMN webhook_url text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN webhook_id text NOT NULL DEFAULT '';
