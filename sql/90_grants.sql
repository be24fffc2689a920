-- odoo_sync: privileges, applied last in CREATE EXTENSION.
--
-- Syncing sends the Odoo password to odoo_sync.base_url and writes the scout tables, so it is
-- not for PUBLIC: a superuser grants EXECUTE to the roles that should run syncs, e.g.
--   GRANT USAGE ON SCHEMA scout TO etl;
--   GRANT EXECUTE ON FUNCTION scout.odoo_sync(text, boolean, boolean), scout.odoo_sync_all(boolean) TO etl;
--   -- and for long loads (the procedure calls the two functions):
--   GRANT EXECUTE ON PROCEDURE scout.odoo_sync_run(text, boolean, integer) TO etl;
--   GRANT EXECUTE ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer, text),
--                             scout.odoo_sync_record_failure(text, bigint, text, text, text) TO etl;
-- The sync functions run as the extension owner (SECURITY DEFINER) so that they can read the
-- secret, which the calling role itself cannot.

-- Stores the Odoo password and/or API key (an API key is used when both are set).
-- Superuser only. Avoid logging the call: run it from psql with log_statement off (the default).
CREATE FUNCTION scout.odoo_set_secret(password text DEFAULT NULL, api_key text DEFAULT NULL)
RETURNS void LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO scout.sync_secret (id, password, api_key, updated_at)
  VALUES (1, password, api_key, now())
  ON CONFLICT (id) DO UPDATE SET password = EXCLUDED.password, api_key = EXCLUDED.api_key, updated_at = now();
$$;

ALTER FUNCTION scout.odoo_sync(text, boolean, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_all(boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_record_failure(text, bigint, text, text, text) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION scout.odoo_sync(text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_all(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_set_secret(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_record_failure(text, bigint, text, text, text) FROM PUBLIC;
REVOKE ALL ON PROCEDURE scout.odoo_sync_run(text, boolean, integer) FROM PUBLIC;
