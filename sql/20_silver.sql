-- odoo_sync: silver layer (typed, deduplicated, validated). Placeholder until the silver
-- layer lands: the engine calls scout.silver_apply() after every bronze page.
CREATE FUNCTION scout.silver_apply(model text, ids bigint[], run_id bigint)
RETURNS bigint LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 0::bigint $$;

CREATE FUNCTION scout.silver_mark_deleted(model text, ids bigint[])
RETURNS bigint LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT 0::bigint $$;
