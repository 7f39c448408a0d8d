-- 0006: ERP actions as database functions.
--
-- xtbatch.action maps an action name (batch_action) to a function and says how the job's batchparam rows become
-- its arguments. It lives in the database, not in xtconnect's code, so that the ERP side (an administrator, a
-- package's install script) can add actions without a new xtconnect. The daemon's fallback handler reads it
-- for every action no built-in handler names.
--
-- Idempotent: the table is created once; seed rows are inserted only when missing, so a mapping the ERP side
-- has changed is never overwritten, and running this file again changes nothing.

CREATE TABLE IF NOT EXISTS xtbatch.action (
  action_name             text PRIMARY KEY CHECK (action_name <> '' AND action_name <> '*'),
  -- The function is named by schema and name exactly as the catalog spells them (unquoted names are folded to
  -- lower case when created: updateReorderLevel is stored as updatereorderlevel). The daemon finds it with
  -- to_regprocedure from these and the argument types below, and quotes both: nothing here is pasted into SQL.
  action_schema           text NOT NULL DEFAULT 'public'
                          -- Built-in functions (pg_terminate_backend, lo_export, ...) are no ERP action.
                          CHECK (action_schema <> '' AND action_schema NOT IN ('pg_catalog', 'information_schema')),
  action_function         text NOT NULL CHECK (action_function <> ''),
  -- The arguments in call order: [{"param": "<batchparam_name>", "type": "<SQL type>", "required": bool,
  -- "default": "<text>" | null}, ...]. Each argument is the job's batchparam row of that name (matched by name,
  -- not by position), cast to the type (integer, boolean, date, text, numeric, integer[], ...; an array takes
  -- "1,2,3" or "{1,2,3}"). A missing parameter takes the default; a missing required one fails the job.
  action_args             jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(action_args) = 'array'),
  -- Statement timeout for the call; NULL uses the job's timeout (batch_timeout_seconds, daemon.actionTimeoutSeconds,
  -- daemon.jobTimeoutSeconds). The job's timeout still applies: raise both for a longer action.
  action_timeout_seconds  integer CHECK (action_timeout_seconds > 0),
  action_enabled          boolean NOT NULL DEFAULT true,
  action_descrip          text,
  action_created          timestamptz NOT NULL DEFAULT now(),
  action_created_by       text NOT NULL DEFAULT CURRENT_USER
);

COMMENT ON TABLE xtbatch.action IS
  'xtconnect: ERP actions (batch_action) run as calls of database functions; the ERP side may add rows';

-- The seed: the actions of xTuple's client (see the reference's "Action names seen in xTuple's client") that are
-- one call of an xTuple 4.x function, with the parameter names xTuple's screens put in batchparam. A row goes in
-- only when its function exists in this database with exactly these argument types, so a plain PostgreSQL
-- database gets none and an xTuple database gets the ones its version has. Actions xTuple's batch manager
-- computed itself rather than by one function (RunMRP, UpdateLateCustCreditStatus, UpdateActualCost, ...) are
-- not seeded: the ERP side adds a row for each, pointing at a function that does the work.
--
-- UpdateReorderLevel and UpdateOUTLevel map to xTuple's per-item-site functions (item site, days, periods).
-- xTuple's screens submit these actions for a whole warehouse or planner code instead; such jobs name no
-- itemsite_id and fail with a message saying so until the ERP side maps the action to a function that loops.
DO $$
DECLARE
  s record;
BEGIN
  FOR s IN
    SELECT * FROM (VALUES
      ('PostInvoices', 'postinvoices', 'boolean',
       '[{"param": "postUnprinted", "type": "boolean", "required": false, "default": "false"}]',
       'Post every unposted invoice (printed ones only unless postUnprinted); returns xTuple''s result code'),
      ('PostGLSeries', 'postglseries', 'integer',
       '[{"param": "glseries_sequence", "type": "integer", "required": true, "default": null}]',
       'Post one G/L series'),
      ('CreateRecurringInvoices', 'createrecurringitems', 'integer, text',
       '[{"param": "parent_id", "type": "integer", "required": false, "default": null},
         {"param": "type", "type": "text", "required": false, "default": "I"}]',
       'Create the due occurrences of recurring invoices'),
      ('CreateRecurringVouchers', 'createrecurringitems', 'integer, text',
       '[{"param": "parent_id", "type": "integer", "required": false, "default": null},
         {"param": "type", "type": "text", "required": false, "default": "V"}]',
       'Create the due occurrences of recurring vouchers'),
      ('CreateRecurringIncidents', 'createrecurringitems', 'integer, text',
       '[{"param": "parent_id", "type": "integer", "required": false, "default": null},
         {"param": "type", "type": "text", "required": false, "default": "INCDT"}]',
       'Create the due occurrences of recurring incidents'),
      ('CreateRecurringProjects', 'createrecurringitems', 'integer, text',
       '[{"param": "parent_id", "type": "integer", "required": false, "default": null},
         {"param": "type", "type": "text", "required": false, "default": "J"}]',
       'Create the due occurrences of recurring projects'),
      ('CreateRecurringTodos', 'createrecurringitems', 'integer, text',
       '[{"param": "parent_id", "type": "integer", "required": false, "default": null},
         {"param": "type", "type": "text", "required": false, "default": "TODO"}]',
       'Create the due occurrences of recurring to-do items'),
      ('UpdateReorderLevel', 'updatereorderlevel', 'integer, integer, integer[]',
       '[{"param": "itemsite_id", "type": "integer", "required": true, "default": null},
         {"param": "fixedlookahead", "type": "integer", "required": true, "default": null},
         {"param": "period_id_list", "type": "integer[]", "required": true, "default": null}]',
       'Set one item site''s reorder level from its usage over the given periods'),
      ('UpdateOUTLevel', 'updateoutlevel', 'integer, integer, integer[]',
       '[{"param": "itemsite_id", "type": "integer", "required": true, "default": null},
         {"param": "fixedlookahead", "type": "integer", "required": true, "default": null},
         {"param": "period_id_list", "type": "integer[]", "required": true, "default": null}]',
       'Set one item site''s order-up-to level from its usage over the given periods')
    ) AS seed(action, fn, argtypes, args, descrip)
  LOOP
    IF to_regprocedure(format('public.%I(%s)', s.fn, s.argtypes)) IS NOT NULL THEN
      INSERT INTO xtbatch.action (action_name, action_schema, action_function, action_args, action_descrip)
      VALUES (s.action, 'public', s.fn, s.args::jsonb, s.descrip)
      ON CONFLICT (action_name) DO NOTHING;
    END IF;
  END LOOP;
END
$$;

-- ERP users (xtrole) may read the mapping, so the ERP's screens can list the actions, but not change it: a job
-- runs its action's function with the daemon's rights, so whoever can write this table can make the daemon call
-- any function it may execute. 0004 granted xtrole every table of xtbatch that existed then (and a later
-- "GRANT ... ON ALL TABLES" would include this one), so writing is revoked here explicitly. Grant INSERT,
-- UPDATE, DELETE on xtbatch.action to an administrator role only.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'xtrole') THEN
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON xtbatch.action FROM xtrole;
    GRANT SELECT ON xtbatch.action TO xtrole;
  END IF;
END
$$;
