-- 0024: email sync records the messages it could not import, instead of stopping the mailbox at the first one.
--
-- A message whose import fails (a database constraint, xTuple's fetchNextNumber raising, a message that cannot be
-- read) is tried a few times in its run, then recorded here with the reason and passed by, so the rest of the folder
-- is imported. Later runs try it again, once per run, until it has failed in 3 runs; then it is given up and left
-- alone. To have a given-up message tried again, delete its row (or set emlsync_failed_given_up to false).
-- Rows belong to one UIDVALIDITY: after the server renumbers a folder the folder is read again from the start.
-- xtconnect's own table, named so that it cannot hide anything of xTuple's.
CREATE TABLE IF NOT EXISTS xtbatch.xtconnect_emlsync_failed (
  emlsync_failed_mailbox      text NOT NULL,
  emlsync_failed_folder       text NOT NULL,
  emlsync_failed_uidvalidity  bigint NOT NULL,
  emlsync_failed_uid          bigint NOT NULL,
  -- Runs in which the message failed (each run tries it up to 3 times before it counts as failed).
  emlsync_failed_attempts     integer NOT NULL DEFAULT 1 CHECK (emlsync_failed_attempts > 0),
  emlsync_failed_reason       text NOT NULL,
  emlsync_failed_subject      text,
  emlsync_failed_first        timestamptz NOT NULL DEFAULT now(),
  emlsync_failed_last         timestamptz NOT NULL DEFAULT now(),
  emlsync_failed_given_up     boolean NOT NULL DEFAULT false,
  PRIMARY KEY (emlsync_failed_mailbox, emlsync_failed_folder, emlsync_failed_uidvalidity, emlsync_failed_uid)
);
COMMENT ON TABLE xtbatch.xtconnect_emlsync_failed IS
  'xtconnect: IMAP messages email sync could not import (mailbox, folder, UID, reason); retried on later runs until given up';

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.xtconnect_emlsync_failed TO xtrole;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect') THEN
    BEGIN
      GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.xtconnect_emlsync_failed TO xtconnect;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'xtconnect role: could not grant on xtbatch.xtconnect_emlsync_failed (%)', SQLERRM;
    END;
  END IF;
END
$$;
