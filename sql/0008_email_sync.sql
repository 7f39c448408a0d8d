-- 0008: email sync (the EmailSync action) and the record of mail the daemon sends.
--
-- xtbatch.eml, emladdr and emlassc are xTuple's tables, with xTuple's columns and checks: the commercial xTuple
-- Connect package creates them, and ERP screens read them. Where they already exist nothing here alters them
-- (IF NOT EXISTS throughout); only indexes the import needs are added. Ours: the progress table emlsync_folder and
-- the import function emlsync_import. eml_date is a timestamp with time zone here
-- (xTuple's own table has a date): a new install keeps the time of day, and the daemon writes both the same way.

-- Whether the table is ours to tune: remembered before CREATE ... IF NOT EXISTS decides.
SELECT set_config('xtconnect.eml_is_ours', (to_regclass('xtbatch.eml') IS NULL)::text, true);

CREATE TABLE IF NOT EXISTS xtbatch.eml (
  eml_id      serial PRIMARY KEY,
  -- SHA-1 of the raw message: the same message fetched twice (another folder, a UIDVALIDITY reset) is one row.
  eml_hash    bytea NOT NULL UNIQUE,
  eml_date    timestamp with time zone NOT NULL,
  eml_subj    text NOT NULL,
  eml_body    text NOT NULL,
  eml_msg     bytea NOT NULL,
  eml_status  character(1) NOT NULL CHECK (eml_status IN ('I', 'O', 'C'))
);
COMMENT ON TABLE xtbatch.eml IS 'E-mail Repository';

-- Raw messages are mostly base64 attachments: pglz spends more time failing to compress them than the rest of the
-- import takes (the bench halves its time per large message with lz4). Only on a table made here, and only where
-- the server has lz4 (PostgreSQL 14+ built with it); elsewhere the default stays.
DO $$
BEGIN
  IF current_setting('xtconnect.eml_is_ours', true) = 'true' AND current_setting('server_version_num')::integer >= 140000 THEN
    BEGIN
      EXECUTE 'ALTER TABLE xtbatch.eml ALTER COLUMN eml_msg SET COMPRESSION lz4';
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'xtbatch.eml.eml_msg keeps the default compression: %', SQLERRM;
    END;
  END IF;
END
$$;
COMMENT ON COLUMN xtbatch.eml.eml_hash IS 'SHA-1 hash of the raw message, for de-duplication';
COMMENT ON COLUMN xtbatch.eml.eml_status IS 'Processing status I=In-process, O=open, C=complete';

CREATE TABLE IF NOT EXISTS xtbatch.emladdr (
  emladdr_id      serial,
  emladdr_eml_id  integer NOT NULL REFERENCES xtbatch.eml (eml_id),
  emladdr_type    text NOT NULL CHECK (emladdr_type IN ('FROM', 'TO', 'CC', 'BCC')),
  emladdr_addr    text NOT NULL,
  emladdr_name    text NOT NULL
);
COMMENT ON TABLE xtbatch.emladdr IS 'E-mail addresses';

CREATE TABLE IF NOT EXISTS xtbatch.emlassc (
  emlassc_id       serial PRIMARY KEY,
  emlassc_eml_id   integer NOT NULL REFERENCES xtbatch.eml (eml_id) ON DELETE CASCADE,
  emlassc_type     text NOT NULL CHECK (emlassc_type IN ('CRMA', 'T', 'C', 'EMP', 'INCDT', 'OPP', 'P', 'Q', 'S', 'TD', 'TO', 'V', 'RA', 'J')),
  emlassc_assc_id  integer
);
COMMENT ON TABLE xtbatch.emlassc IS 'E-mail Associations';

CREATE INDEX IF NOT EXISTS emladdr_eml_id_idx ON xtbatch.emladdr (emladdr_eml_id);
-- "All mail from/to this address" (contact screens) compares addresses without case.
CREATE INDEX IF NOT EXISTS emladdr_addr_lower_idx ON xtbatch.emladdr (lower(emladdr_addr));
CREATE INDEX IF NOT EXISTS emlassc_eml_id_idx ON xtbatch.emlassc (emlassc_eml_id);
CREATE INDEX IF NOT EXISTS emlassc_target_idx ON xtbatch.emlassc (emlassc_type, emlassc_assc_id);

-- Ours: how far each (mailbox, folder) has been imported. last_uid is written in the same transaction as the
-- message it belongs to, so a restart resumes after the last committed message: nothing twice, nothing skipped.
-- A different UIDVALIDITY from the server means the UIDs were renumbered: the folder is read again from the start
-- and the hash keeps the messages already imported from being imported twice.
CREATE TABLE IF NOT EXISTS xtbatch.emlsync_folder (
  emlsync_folder_mailbox      text NOT NULL,
  emlsync_folder_folder       text NOT NULL,
  emlsync_folder_uidvalidity  bigint NOT NULL,
  emlsync_folder_last_uid     bigint NOT NULL DEFAULT 0,
  emlsync_folder_updated      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (emlsync_folder_mailbox, emlsync_folder_folder)
);
COMMENT ON TABLE xtbatch.emlsync_folder IS 'xtconnect: last imported IMAP UID per mailbox and folder';

-- One message imported the way xTuple's client did it, as ONE call (the import is round-trip bound at thousands of
-- messages): skip it when its hash is known, else insert eml (status I) and one emladdr per address, link each
-- address to its contacts (type T), creating a contact where the caller allows it, link the documents the caller
-- resolved, set status O, and record the folder progress (when p_mailbox is given) in the same transaction.
-- Contact arguments are NULL on a database without xTuple's contact tables; static statements on public.cntct
-- are only reached when they are given. p_durable false commits without waiting for the WAL flush: the progress
-- vanishes with the message if PostgreSQL crashes, so both are fetched again (the caller flushes before it tells
-- the IMAP server anything).
CREATE OR REPLACE FUNCTION xtbatch.emlsync_import(
  p_hash bytea, p_date timestamptz, p_subj text, p_body text, p_msg bytea,
  p_addr_types text[], p_addrs text[], p_names text[],
  p_contact_addrs text[], p_contact_create boolean[], p_contact_first text[], p_contact_last text[], p_contact_opts jsonb,
  p_doc_types text[], p_doc_ids integer[],
  p_mailbox text, p_folder text, p_uidvalidity bigint, p_last_uid bigint,
  p_durable boolean
) RETURNS TABLE (o_eml_id integer, o_contacts_linked integer, o_contacts_created text[], o_docs_linked integer)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id integer;
  v_ids integer[] := '{}';
  v_found integer[];
  v_new integer;
  v_created text[] := '{}';
  v_cols text;
  v_vals text;
BEGIN
  IF NOT p_durable THEN
    PERFORM set_config('synchronous_commit', 'off', true);
  END IF;
  -- ON CONFLICT: a concurrent job that inserted the same message first wins; this one becomes a duplicate.
  INSERT INTO xtbatch.eml (eml_hash, eml_date, eml_subj, eml_body, eml_msg, eml_status)
  VALUES (p_hash, p_date, p_subj, p_body, p_msg, 'I')
  ON CONFLICT (eml_hash) DO NOTHING
  RETURNING eml_id INTO v_id;

  IF v_id IS NOT NULL THEN
    INSERT INTO xtbatch.emladdr (emladdr_eml_id, emladdr_type, emladdr_addr, emladdr_name)
    SELECT v_id, x.t, x.a, x.n FROM unnest(p_addr_types, p_addrs, p_names) WITH ORDINALITY AS x (t, a, n, o) ORDER BY x.o;

    FOR i IN 1 .. coalesce(array_length(p_contact_addrs, 1), 0) LOOP
      SELECT array_agg(DISTINCT c.cntct_id) INTO v_found
        FROM public.cntcteml e JOIN public.cntct c ON c.cntct_id = e.cntcteml_cntct_id
       WHERE lower(e.cntcteml_email) = p_contact_addrs[i] AND c.cntct_active IS NOT FALSE;
      IF v_found IS NULL AND p_contact_create[i] THEN
        -- Two jobs importing mail from the same new sender must not make two contacts: the second waits here, and
        -- its next statement (a new snapshot) finds the first one's contact.
        PERFORM pg_advisory_xact_lock(hashtext('xtconnect.contact'), hashtext(p_contact_addrs[i]));
        SELECT array_agg(DISTINCT c.cntct_id) INTO v_found
          FROM public.cntcteml e JOIN public.cntct c ON c.cntct_id = e.cntcteml_cntct_id
         WHERE lower(e.cntcteml_email) = p_contact_addrs[i] AND c.cntct_active IS NOT FALSE;
        IF v_found IS NULL THEN
          -- Columns vary between xTuple releases; the caller read the catalog. Names here are fixed text.
          v_cols := 'cntct_first_name, cntct_last_name, cntct_active';
          v_vals := '$1, $2, true';
          IF (p_contact_opts ->> 'email_column')::boolean THEN
            v_cols := v_cols || ', cntct_email';
            v_vals := v_vals || ', $3';
          END IF;
          IF (p_contact_opts ->> 'notes_column')::boolean THEN
            v_cols := v_cols || ', cntct_notes';
            v_vals := v_vals || ', $4';
          END IF;
          IF (p_contact_opts ->> 'numbered')::boolean THEN
            v_cols := v_cols || ', cntct_number';
            v_vals := v_vals || ', public.fetchnextnumber(''ContactNumber'')';
          END IF;
          EXECUTE format('INSERT INTO public.cntct (%s) VALUES (%s) RETURNING cntct_id', v_cols, v_vals)
             INTO v_new
            USING p_contact_first[i], p_contact_last[i], p_contact_addrs[i],
                  'Created by xtconnect email sync from a message of ' || p_contact_addrs[i];
          -- xTuple's own trigger has copied cntct_email into cntcteml already; elsewhere this adds it.
          INSERT INTO public.cntcteml (cntcteml_cntct_id, cntcteml_primary, cntcteml_email)
          SELECT v_new, true, p_contact_addrs[i]
           WHERE NOT EXISTS (SELECT 1 FROM public.cntcteml
                              WHERE cntcteml_cntct_id = v_new AND lower(cntcteml_email) = p_contact_addrs[i]);
          v_found := ARRAY[v_new];
          v_created := v_created || p_contact_addrs[i];
        END IF;
      END IF;
      v_ids := v_ids || coalesce(v_found, '{}');
    END LOOP;

    INSERT INTO xtbatch.emlassc (emlassc_eml_id, emlassc_type, emlassc_assc_id)
    SELECT DISTINCT v_id, l.t, l.i
      FROM (SELECT 'T'::text AS t, x AS i FROM unnest(v_ids) AS x
            UNION ALL
            SELECT d.t, d.i FROM unnest(p_doc_types, p_doc_ids) AS d (t, i)) AS l;

    UPDATE xtbatch.eml SET eml_status = 'O' WHERE eml_id = v_id;
  END IF;

  IF p_mailbox IS NOT NULL THEN
    INSERT INTO xtbatch.emlsync_folder AS f
           (emlsync_folder_mailbox, emlsync_folder_folder, emlsync_folder_uidvalidity, emlsync_folder_last_uid)
    VALUES (p_mailbox, p_folder, p_uidvalidity, p_last_uid)
    ON CONFLICT (emlsync_folder_mailbox, emlsync_folder_folder) DO UPDATE
       SET emlsync_folder_last_uid = CASE WHEN f.emlsync_folder_uidvalidity = EXCLUDED.emlsync_folder_uidvalidity
                                          THEN greatest(f.emlsync_folder_last_uid, EXCLUDED.emlsync_folder_last_uid)
                                          ELSE EXCLUDED.emlsync_folder_last_uid END,
           emlsync_folder_uidvalidity = EXCLUDED.emlsync_folder_uidvalidity,
           emlsync_folder_updated = now();
  END IF;

  RETURN QUERY SELECT v_id,
    (SELECT count(DISTINCT x)::integer FROM unnest(v_ids) AS x),
    v_created,
    CASE WHEN v_id IS NULL THEN 0
         ELSE (SELECT count(*)::integer FROM (SELECT DISTINCT d.t, d.i FROM unnest(p_doc_types, p_doc_ids) AS d (t, i)) AS dd) END;
END
$fn$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.eml, xtbatch.emladdr, xtbatch.emlassc, xtbatch.emlsync_folder TO xtrole;
    GRANT USAGE, SELECT, UPDATE ON SEQUENCE xtbatch.eml_eml_id_seq, xtbatch.emladdr_emladdr_id_seq,
      xtbatch.emlassc_emlassc_id_seq TO xtrole;
  END IF;
END
$$;
