-- 0025: what the console's Daemons page shows of each daemon besides its heartbeat: when its claim loop last
-- made a pass (a daemon whose heartbeat runs but whose loop is stuck shows here), and whether it starts jobs on
-- NOTIFY or only by polling (behind PgBouncer in transaction mode without listenUrl). Written with the heartbeat.
ALTER TABLE xtbatch.daemon ADD COLUMN IF NOT EXISTS daemon_last_poll timestamptz;
ALTER TABLE xtbatch.daemon ADD COLUMN IF NOT EXISTS daemon_listen_mode text;
