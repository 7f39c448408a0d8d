-- 0012: xtbatch.ediprofile, which the ERP reads once xtbatch is a registered package.
--
-- xTuple's getEdiProfileId(text) and getEdiProfileName(integer) look for a pkghead row named 'xtbatch' and, when
-- there is one, read xtbatch.ediprofile; xTuple's api.custshipto view calls them for every row. Without the table
-- they raise "relation xtbatch.ediprofile does not exist" where they returned NULL before. The client's CRM
-- configuration and incident category screens list the email profiles from it (ediprofile_id, ediprofile_name
-- WHERE ediprofile_type = 'email'), old deliver* screens read option1..4 and emailhtml, xTuple's web client
-- options 5..7 (from, reply-to, bcc), and FTP profiles keep server, login, password, directory in option1..4
-- (src/transfer/endpoints.ts). Made only on an xTuple database (nothing else reads it), and only when the
-- commercial package has not left one; an existing table and its rows stay as they are.

DO $$
BEGIN
  IF (SELECT is_xtuple FROM xtbatch.xtconnect_install) AND to_regclass('xtbatch.ediprofile') IS NULL THEN
    CREATE TABLE xtbatch.ediprofile (
      ediprofile_id        serial PRIMARY KEY,
      ediprofile_name      text NOT NULL UNIQUE CHECK (ediprofile_name <> ''),
      ediprofile_notes     text,
      ediprofile_type      text NOT NULL CHECK (ediprofile_type IN ('email', 'ftp')),
      ediprofile_option1   text,
      ediprofile_option2   text,
      ediprofile_option3   text,
      ediprofile_option4   text,
      ediprofile_option5   text,
      ediprofile_option6   text,
      ediprofile_option7   text,
      ediprofile_emailhtml boolean NOT NULL DEFAULT false
    );
    COMMENT ON TABLE xtbatch.ediprofile IS
      'EDI profiles: how documents are delivered (email: to, subject, body, cc, from, reply-to, bcc in option1..7; ftp: server, login, password, directory in option1..4)';
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
      GRANT SELECT, INSERT, UPDATE, DELETE ON xtbatch.ediprofile TO xtrole;
      GRANT USAGE, SELECT, UPDATE ON SEQUENCE xtbatch.ediprofile_ediprofile_id_seq TO xtrole;
    END IF;
  END IF;
  IF to_regclass('xtbatch.ediprofile') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtconnect') THEN
    BEGIN
      GRANT SELECT ON xtbatch.ediprofile TO xtconnect;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'xtconnect role: could not grant SELECT on xtbatch.ediprofile (%)', SQLERRM;
    END;
  END IF;
END
$$;
