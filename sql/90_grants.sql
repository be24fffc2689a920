-- odoo_sync: privileges, applied last in CREATE EXTENSION.
--
-- Syncing sends the Odoo password to odoo_sync.base_url and writes the scout tables, so it is
-- not for PUBLIC: a superuser grants EXECUTE to the roles that should run syncs, e.g.
--   GRANT USAGE ON SCHEMA scout TO etl;
--   GRANT EXECUTE ON FUNCTION scout.odoo_sync(text, boolean, boolean), scout.odoo_sync_all(boolean) TO etl;
--   -- and for long loads (the procedure calls the two functions):
--   GRANT EXECUTE ON PROCEDURE scout.odoo_sync_run(text, boolean, integer) TO etl;
--   GRANT EXECUTE ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer),
--                             scout.odoo_sync_record_failure() TO etl;
-- The sync functions run as the extension owner (SECURITY DEFINER) so that they can read the
-- secret, which the calling role itself cannot.

-- Stores the Odoo password and/or API key (an API key is used when both are set).
-- Superuser only. The values given as literals travel in the SQL text: a server with
-- log_statement = 'all' logs them, an error logs the statement, and pg_monitor members read it
-- in pg_stat_activity while the session is idle. Ways that keep them out of SQL text:
--   SELECT scout.odoo_set_secret(file => '/etc/odoo_sync/secret');   -- a file of the server's
--       (lines "password = ...", "api_key = ...", "smtp_password = ..."; readable by the server's
--       user only)
--   odoo-sync-set-secret (crates/set-secret): reads the value from standard input and sends it
--       as a bound parameter, with its own session's statement logging off;
--   the server's environment: ODOO_API_KEY / ODOO_PASSWORD.
CREATE FUNCTION scout.odoo_set_secret(password text DEFAULT NULL, api_key text DEFAULT NULL, file text DEFAULT NULL,
                                      smtp_password text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  line text;
  k text;
  v text;
  n int := 0;
BEGIN
  IF file IS NOT NULL THEN
    IF password IS NOT NULL OR api_key IS NOT NULL OR smtp_password IS NOT NULL THEN
      RAISE EXCEPTION 'odoo_sync: pass either file or password/api_key/smtp_password, not both'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Errors name the file and the line number, never a line's content.
    FOR line IN SELECT btrim(l, E' \t\r') FROM regexp_split_to_table(pg_read_file(file), E'\n') AS l LOOP
      n := n + 1;
      CONTINUE WHEN line = '' OR line LIKE '#%';
      k := btrim(split_part(line, '=', 1));
      IF strpos(line, '=') = 0 OR k NOT IN ('password', 'api_key', 'smtp_password') THEN
        RAISE EXCEPTION 'odoo_sync: line % of % is not "password = ...", "api_key = ..." or "smtp_password = ..."', n, file
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'One setting per line; blank lines and lines starting with # are ignored.';
      END IF;
      v := btrim(substr(line, strpos(line, '=') + 1));
      CASE k
        WHEN 'password' THEN password := v;
        WHEN 'api_key' THEN api_key := v;
        ELSE smtp_password := v;
      END CASE;
    END LOOP;
    IF password IS NULL AND api_key IS NULL AND smtp_password IS NULL THEN
      RAISE EXCEPTION 'odoo_sync: % sets neither password, api_key nor smtp_password', file
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  -- The Odoo credentials are replaced together (an API key wins when both are set); the SMTP
  -- password only when one is given, so that setting one never clears the other.
  IF password IS NOT NULL OR api_key IS NOT NULL OR smtp_password IS NULL THEN
    INSERT INTO scout.sync_secret (id, password, api_key, updated_at)
    VALUES (1, password, api_key, now())
    ON CONFLICT (id) DO UPDATE SET password = EXCLUDED.password, api_key = EXCLUDED.api_key, updated_at = now();
  END IF;
  IF smtp_password IS NOT NULL THEN
    INSERT INTO scout.sync_secret (id, smtp_password, updated_at)
    VALUES (1, smtp_password, now())
    ON CONFLICT (id) DO UPDATE SET smtp_password = EXCLUDED.smtp_password, updated_at = now();
  END IF;
END
$$;

ALTER FUNCTION scout.odoo_sync(text, boolean, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_all(boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_reconcile(text, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_reconcile_step(text, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_record_failure() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION scout.odoo_sync(text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_all(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_reconcile(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_reconcile_step(text, integer) FROM PUBLIC;
REVOKE ALL ON PROCEDURE scout.odoo_reconcile_run(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_set_secret(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_record_failure() FROM PUBLIC;
REVOKE ALL ON PROCEDURE scout.odoo_sync_run(text, boolean, integer) FROM PUBLIC;

-- Write-back (sql/40_writeback.sql). odoo_push sends with the Odoo secret, as the owner. The
-- role that may write back is granted explicitly (README, "Write-back"), e.g.
--   GRANT USAGE ON SCHEMA scout TO analytics;
--   GRANT SELECT, INSERT (model, external_key, odoo_id, op, "values"), UPDATE ("values", op)
--     ON scout.odoo_outbox TO analytics;
--   GRANT USAGE ON SEQUENCE scout.odoo_outbox_id_seq TO analytics;
--   GRANT SELECT ON scout.customers, scout.outbox_status TO analytics;
--   GRANT EXECUTE ON FUNCTION scout.tag_customers(text, bigint[], boolean), scout.odoo_push(),
--                             scout.odoo_push_soon() TO analytics;
-- scout.writeback_fields stays the owner's: only a superuser changes what may be written.
ALTER FUNCTION scout.odoo_push() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_push() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_push_soon() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.tag_customers(text, bigint[], boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._outbox_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._outbox_wake() FROM PUBLIC;

-- Hints (sql/50_hints.sql): granted to whoever may say "this model changed", e.g.
--   GRANT EXECUTE ON FUNCTION scout.odoo_sync_soon(text) TO authenticator;
REVOKE ALL ON FUNCTION scout.odoo_sync_soon(text) FROM PUBLIC;
-- The webhook URL carries its token: superuser only, like the Odoo secret.
REVOKE ALL ON FUNCTION scout.odoo_webhook_url() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_webhook_rotate() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._new_webhook_token() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_install_webhooks(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_remove_webhooks() FROM PUBLIC;
-- Realtime (sql/60_realtime.sql): publications are a superuser's business.
REVOKE ALL ON FUNCTION scout.enable_realtime() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.disable_realtime() FROM PUBLIC;
