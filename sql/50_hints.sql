-- odoo_sync: hints (0.2.0). A hint says "model M changed in Odoo", never what changed: the
-- worker then runs M's normal incremental sync (window on Odoo's clock, page checks, the same
-- transaction rules), and that of the models Odoo writes with it (sync_models.synced_with), so
-- that the change reaches silver without waiting for the next scheduled round. Completeness
-- still rests on the window, the look-back and reconciliation.

-- Hints not yet taken by the worker, one row per model however many arrive (a POS session close
-- fires thousands): the worker takes them all at once. Unlogged: a hint lost in a crash costs
-- only the wait for the next round.
CREATE UNLOGGED TABLE scout.sync_hints (
    model     text PRIMARY KEY REFERENCES scout.sync_models (model) ON DELETE CASCADE,
    hints     bigint NOT NULL DEFAULT 1,             -- how many arrived since the worker last took them
    first_at  timestamptz NOT NULL DEFAULT now()     -- when the first of them arrived
);
COMMENT ON TABLE scout.sync_hints IS 'odoo_sync: models hinted as changed in Odoo (scout.odoo_sync_soon), until the worker syncs them.';

-- "This model changed in Odoo": the worker syncs it soon after the calling transaction commits
-- (an Edge Function through PostgREST, pg_net, a trigger). Returns at once.
CREATE FUNCTION scout.odoo_sync_soon(model text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM scout.sync_models m WHERE m.model = odoo_sync_soon.model) THEN
    RAISE EXCEPTION 'odoo_sync: unknown model "%"', left(coalesce(model, 'NULL'), 100)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Models: ' || (SELECT string_agg(m.model, ', ' ORDER BY m.sync_order) FROM scout.sync_models m) || '.';
  END IF;
  INSERT INTO scout.sync_hints AS h (model) VALUES (odoo_sync_soon.model)
  ON CONFLICT ON CONSTRAINT sync_hints_pkey DO UPDATE SET hints = h.hints + 1;
  PERFORM scout.odoo_push_soon();   -- wakes the worker once this transaction commits
END
$$;

-- Odoo's webhooks (Automation Rules, Odoo 17+): the background worker listens on
-- odoo_sync.webhook_listen for POST /odoo/webhook/<token>. Odoo signs nothing and sends no
-- custom header, so the token in the path is the secret: stored beside the Odoo secret in
-- scout.sync_secret (owner only), compared in constant time by the listener, never logged.

-- The URL to paste into Odoo (or that scout.odoo_install_webhooks() installs), creating the
-- token on first use. Superuser only (no grant): the URL is the secret.
CREATE FUNCTION scout.odoo_webhook_url() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  base text := nullif(current_setting('odoo_sync.webhook_public_url', true), '');
  listen text := nullif(current_setting('odoo_sync.webhook_listen', true), '');
  token text;
BEGIN
  IF base IS NULL AND listen IS NULL THEN
    RAISE EXCEPTION 'odoo_sync: the webhook listener is off (odoo_sync.webhook_listen is empty)'
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Set odoo_sync.webhook_listen = ''0.0.0.0:8071'' in postgresql.conf (and '
                   'odoo_sync.webhook_public_url if Odoo reaches this server by another address), then SELECT pg_reload_conf().';
  END IF;
  SELECT s.webhook_token INTO token FROM scout.sync_secret s WHERE s.id = 1;
  IF token IS NULL THEN
    token := scout._new_webhook_token();
  END IF;
  RETURN rtrim(coalesce(base, 'http://' || listen), '/') || '/odoo/webhook/' || token;
END
$$;

-- Replaces the token: the old URL is answered 404 from the worker's next wake on, and the new
-- one is returned (paste it into Odoo, or run scout.odoo_install_webhooks() again).
CREATE FUNCTION scout.odoo_webhook_rotate() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM scout._new_webhook_token();
  RETURN scout.odoo_webhook_url();
END
$$;

-- 64 hex digits from two v4 UUIDs (pg_strong_random: 244 random bits), stored; wakes the
-- worker so that its listener takes the new token at once.
CREATE FUNCTION scout._new_webhook_token() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  token text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
BEGIN
  INSERT INTO scout.sync_secret AS s (id, webhook_token, updated_at) VALUES (1, token, now())
  ON CONFLICT (id) DO UPDATE SET webhook_token = EXCLUDED.webhook_token, updated_at = now();
  PERFORM scout.odoo_push_soon();
  RETURN token;
END
$$;
