-- Big threads are copied and deleted in batches, each its own short write
-- transaction, so that no other write waits long behind them. phase says
-- where a thread is: 0 live; 1 being built (a copy whose messages are still
-- being copied in); 2 being purged (deleted, or expired, or a copy that was
-- abandoned: its rows go in the background, and the thread row last). A
-- thread in phase 1 or 2 has expire_at 0, so every read already treats it as
-- gone; a purged thread's thread_id is also renamed to '#' and its pk (a name
-- no client id can take), so its id is free again at once.
ALTER TABLE threads ADD COLUMN phase INTEGER NOT NULL DEFAULT 0;
CREATE INDEX threads_in_phase ON threads (phase, pk) WHERE phase != 0;
