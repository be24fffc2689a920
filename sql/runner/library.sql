-- odoo_sync without its library: what the extension's shared library gives the SQL layer,
-- in plain SQL, for databases that cannot load an extension (hosted Supabase, RDS, Cloud SQL,
-- Azure, Neon). `odoo-sync install` (crates/runner) runs this file after sql/01_core.sql and
-- before the other sql/ files, then again (CREATE OR REPLACE) after every upgrade.
-- The extension never runs it: there, these names are C functions.

-- The runner's own state: the release its schema is at, the business time zone it was given
-- (gold), and what `odoo-sync run` last said of itself (sync_status' next run).
CREATE TABLE IF NOT EXISTS scout.runner_state (
    id                int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    release           text NOT NULL,
    installed_at      timestamptz NOT NULL DEFAULT now(),
    upgraded_at       timestamptz,
    business_timezone text NOT NULL DEFAULT 'UTC',
    next_run          timestamptz,        -- written by `odoo-sync run` at every turn
    heartbeat_at      timestamptz,        -- idem: a next_run older than a few turns is stale
    runner_host       text                -- where the last `odoo-sync run` ran (hostname, pid)
);
COMMENT ON TABLE scout.runner_state IS
  'odoo_sync runner mode: the schema''s release and what odoo-sync run last said (one row).';

-- The secret table is the owner's only (sql/01_core.sql: no grant, a policy that shows no row).
-- There the owner is the superuser who created the extension; here it is the runner's role,
-- which reads the webhook token as its owner: RLS is not forced on it. Other roles still get
-- no grant and no row.
ALTER TABLE scout.sync_secret NO FORCE ROW LEVEL SECURITY;

-- The time zone of business days when Odoo gives none for a store (sql/30_gold.sql): the
-- runner writes ODOO_SYNC_TIMEZONE here at every start, after checking it.
CREATE OR REPLACE FUNCTION scout.business_timezone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce((SELECT business_timezone FROM scout.runner_state WHERE id = 1), 'UTC') $$;

-- Wakes `odoo-sync run` once the calling transaction commits: it LISTENs on this channel
-- (NOTIFY is delivered at commit, and not at all on rollback).
CREATE OR REPLACE FUNCTION scout.odoo_push_soon() RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_notify('odoo_sync_wake', '') $$;

-- When `odoo-sync run` will next sync (scout.sync_status): NULL when no runner has reported
-- in the last five minutes (a schedule nobody keeps is not a next run).
CREATE OR REPLACE FUNCTION scout.odoo_sync_next_run() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT next_run FROM scout.runner_state WHERE id = 1 AND heartbeat_at > now() - interval '5 minutes' $$;

-- The extension's sync functions, here as names that say where syncing happens instead.
CREATE OR REPLACE FUNCTION scout._runner_only(what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RAISE EXCEPTION 'odoo_sync: % is not available: this database is synced by the odoo-sync runner', what
    USING ERRCODE = 'feature_not_supported',
          DETAIL = 'The extension''s library is not installed here (runner mode): syncing runs beside the database.',
          HINT = 'Run the runner''s command instead: odoo-sync sync [MODEL...] [--full], odoo-sync reconcile, '
                 'odoo-sync webhooks install; the outbox is sent by odoo-sync run.';
END
$$;

CREATE OR REPLACE FUNCTION scout.odoo_sync(model text, "full" boolean DEFAULT false, dry_run boolean DEFAULT false)
RETURNS scout.sync_result LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_sync()'); RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION scout.odoo_sync_all("full" boolean DEFAULT false)
RETURNS SETOF scout.sync_result LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_sync_all()'); END $$;
CREATE OR REPLACE FUNCTION scout.odoo_sync_step(model text, "full" boolean DEFAULT false, run_id bigint DEFAULT NULL,
                                                max_pages integer DEFAULT 1)
RETURNS scout.sync_result LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_sync_run()'); RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION scout.odoo_sync_record_failure()
RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_sync_record_failure()'); END $$;
CREATE OR REPLACE FUNCTION scout.odoo_reconcile(model text DEFAULT NULL, dry_run boolean DEFAULT false)
RETURNS SETOF scout.reconcile_result LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_reconcile()'); END $$;
CREATE OR REPLACE FUNCTION scout.odoo_reconcile_step(model text, max_pages integer DEFAULT 1)
RETURNS scout.reconcile_result LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_reconcile_run()'); RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION scout.odoo_push(OUT sent bigint, OUT failed bigint, OUT pending bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_push()'); END $$;
CREATE OR REPLACE FUNCTION scout.odoo_install_webhooks(receiver_url text DEFAULT NULL,
    OUT model text, OUT "trigger" text, OUT rule_id bigint, OUT action_id bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_install_webhooks()'); END $$;
CREATE OR REPLACE FUNCTION scout.odoo_remove_webhooks()
RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN PERFORM scout._runner_only('scout.odoo_remove_webhooks()'); RETURN NULL; END $$;
