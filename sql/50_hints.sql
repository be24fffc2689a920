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
