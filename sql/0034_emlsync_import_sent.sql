-- 0034: the records of several sent messages through xtbatch.emlsync_import in one statement (issue 17).
-- On a database with xTuple's contact tables each message the daemon sends is recorded by emlsync_import (its
-- addresses linked to existing contacts), one statement each. This calls it once per message inside one
-- statement: the same rows, links and duplicates as the calls one by one, in one round trip and one transaction.
-- Sending never creates contacts, so the contact names are not passed. Messages naming documents ([xtref:...])
-- are not taken here: their references are read by the daemon first and go through emlsync_import one at a time.
--
-- The messages travel as one binary parameter (p_msgs, their bytes one after the other) with their lengths; each
-- address and each contact address carries its message's place (1-based) in p_hashes.
CREATE OR REPLACE FUNCTION xtbatch.emlsync_import_sent(
  p_hashes bytea[], p_dates timestamptz[], p_subjs text[], p_bodies text[], p_lens integer[], p_msgs bytea,
  p_addr_msg integer[], p_addr_types text[], p_addrs text[], p_names text[],
  p_contact_msg integer[], p_contact_addrs text[], p_contact_opts jsonb
) RETURNS TABLE (o_msg integer, o_eml_id integer)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_off integer := 1;
  v_contacts text[];
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_hashes, 1), 0) LOOP
    v_contacts := ARRAY(SELECT p_contact_addrs[k] FROM generate_subscripts(p_contact_msg, 1) AS k WHERE p_contact_msg[k] = i ORDER BY k);
    SELECT r.o_eml_id INTO o_eml_id
      FROM xtbatch.emlsync_import(
        p_hashes[i], p_dates[i], p_subjs[i], p_bodies[i], substring(p_msgs FROM v_off FOR p_lens[i]),
        ARRAY(SELECT p_addr_types[k] FROM generate_subscripts(p_addr_msg, 1) AS k WHERE p_addr_msg[k] = i ORDER BY k),
        ARRAY(SELECT p_addrs[k] FROM generate_subscripts(p_addr_msg, 1) AS k WHERE p_addr_msg[k] = i ORDER BY k),
        ARRAY(SELECT p_names[k] FROM generate_subscripts(p_addr_msg, 1) AS k WHERE p_addr_msg[k] = i ORDER BY k),
        v_contacts,
        array_fill(false, ARRAY[coalesce(array_length(v_contacts, 1), 0)]),
        array_fill(''::text, ARRAY[coalesce(array_length(v_contacts, 1), 0)]),
        array_fill(''::text, ARRAY[coalesce(array_length(v_contacts, 1), 0)]),
        p_contact_opts,
        '{}'::text[], '{}'::integer[],
        NULL, NULL, NULL, NULL,
        false) AS r;
    v_off := v_off + p_lens[i];
    o_msg := i;
    RETURN NEXT;
  END LOOP;
END
$fn$;
