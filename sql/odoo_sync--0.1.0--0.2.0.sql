-- odoo_sync 0.1.0 -> 0.2.0, in place: ALTER EXTENSION odoo_sync UPDATE TO '0.2.0';
--
-- Tables that hold data (bronze, silver, checkpoints, logs, quarantine, the secret) are altered,
-- never dropped. Functions whose signature changed are dropped and created anew; the others are
-- replaced. scripts/upgrade_test.sh checks that the result equals a fresh CREATE EXTENSION of
-- 0.2.0, object for object (pg_dump --schema-only of both).

-- Field names in scout.sync_models must be identifiers ('a,b' reached Odoo as two fields).
CREATE FUNCTION scout.are_field_names(names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(bool_and(f ~ '^[A-Za-z_][A-Za-z0-9_]*$'), true) FROM unnest(names) AS f $$;
ALTER TABLE scout.sync_models ADD CONSTRAINT fields_are_odoo_field_names
  CHECK (scout.are_field_names(fields) AND scout.are_field_names(optional_fields) AND scout.are_field_names(extra_fields));

-- What a window selects (company filter, extra fields), kept with the checkpoint: a change makes
-- the next run re-read the model. Existing checkpoints start without one (no forced re-read).
ALTER TABLE scout.sync_checkpoints ADD COLUMN selection text;
-- An unfinished reconciliation's log row and cursor (resumed after a kill).
ALTER TABLE scout.sync_checkpoints ADD COLUMN reconcile_run_id bigint;
ALTER TABLE scout.sync_checkpoints ADD COLUMN reconcile_last_id bigint;
ALTER TABLE scout.sync_checkpoints ADD COLUMN window_mark timestamptz;

-- Gold's fallback time zone is read by a C function (a placeholder SET cannot move it).
CREATE OR REPLACE FUNCTION scout.business_timezone() RETURNS text
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'business_timezone_wrapper';

-- A step no longer takes a mode (it is always the procedure's); recording a failure takes no
-- arguments (it records the session's own failed step).
DROP FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer, text);
CREATE FUNCTION scout.odoo_sync_step(
	"model" TEXT,
	"full" bool DEFAULT false,
	"run_id" bigint DEFAULT NULL,
	"max_pages" INT DEFAULT 1
) RETURNS scout.sync_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_sync_step_wrapper';

DROP FUNCTION scout.odoo_sync_record_failure(text, bigint, text, text, text);
CREATE FUNCTION scout.odoo_sync_record_failure() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_sync_record_failure_wrapper';

CREATE OR REPLACE PROCEDURE scout.odoo_sync_run(model text, "full" boolean DEFAULT false, pages_per_commit integer DEFAULT 1)
LANGUAGE plpgsql
AS $$
DECLARE
  r scout.sync_result;
  run bigint;
  err_state text;
  err_msg text;
  err_detail text;
  err_hint text;
  fetched bigint := 0;
  inserted bigint := 0;
  updated bigint := 0;
  unchanged bigint := 0;
  started timestamptz := clock_timestamp();
BEGIN
  LOOP
    BEGIN
      r := scout.odoo_sync_step(model, "full", run, pages_per_commit);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                              err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
    END;
    IF err_state IS NOT NULL THEN
      -- The failed page was rolled back; what was committed before it stays. Record the
      -- failure (the step remembered it: model, run, SQLSTATE and text are not ours to choose)
      -- in its own transaction so that it survives, then raise it unchanged.
      BEGIN
        PERFORM scout.odoo_sync_record_failure();
      EXCEPTION WHEN OTHERS THEN
        -- Never let the bookkeeping hide the real error.
        RAISE WARNING 'odoo_sync: could not record the failure: %', SQLERRM;
      END;
      COMMIT;
      RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg,
                            DETAIL = coalesce(err_detail, ''), HINT = coalesce(err_hint, '');
    END IF;
    run := r.run_id;
    fetched := fetched + r.fetched;
    inserted := inserted + r.inserted;
    updated := updated + r.updated;
    unchanged := unchanged + r.unchanged;
    COMMIT;
    EXIT WHEN r.status IS DISTINCT FROM 'in_progress';
  END LOOP;
  -- The whole run's figures, not its last step's.
  RAISE NOTICE 'odoo_sync: % %: % fetched, % inserted, % updated, % unchanged in %',
    model, r.status, fetched, inserted, updated, unchanged, clock_timestamp() - started;
END
$$;

-- The secret can come from a server file (odoo_set_secret(file => ...)).
DROP FUNCTION scout.odoo_set_secret(text, text);
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

-- Reconciliation: its findings in the log, its result type, the function, and sync_status's
-- last_reconciled_at and last_drift (new columns at the end of the view).
ALTER TABLE scout.sync_logs ADD COLUMN missing bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN stale bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN restored bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN odoo_count bigint;
CREATE TYPE scout.reconcile_result AS (
    model        text,
    odoo_count   bigint,
    bronze_count bigint,
    missing      bigint,
    stale        bigint,
    deleted      bigint,
    restored     bigint,
    refetched    bigint,
    duration     interval,
    status       text,
    run_id       bigint
);
CREATE FUNCTION scout.odoo_reconcile(
	"model" TEXT DEFAULT NULL,
	"dry_run" bool DEFAULT false
) RETURNS SETOF scout.reconcile_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_reconcile_wrapper';
-- odoo_sync: "is the sync healthy?" in one query:  SELECT * FROM scout.sync_status;
CREATE FUNCTION scout.odoo_reconcile_step(
	"model" TEXT,
	"max_pages" INT DEFAULT 1
) RETURNS scout.reconcile_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_reconcile_step_wrapper';

-- Long reconciliations that commit after every listing page (5,000 records compared, and their
-- drift repaired), with a cursor in the checkpoint: killed half-way, the next reconciliation
-- (CALL, the worker, or scout.odoo_reconcile()) resumes where it stopped.
--   CALL scout.odoo_reconcile_run();                    -- every enabled model
--   CALL scout.odoo_reconcile_run('pos.order.line');
CREATE PROCEDURE scout.odoo_reconcile_run(model text DEFAULT NULL, pages_per_commit integer DEFAULT 1)
LANGUAGE plpgsql
AS $$
DECLARE
  models text[];
  m text;
  r scout.reconcile_result;
  err_state text;
  err_msg text;
  err_detail text;
  err_hint text;
BEGIN
  models := CASE WHEN odoo_reconcile_run.model IS NULL
                 THEN ARRAY(SELECT s.model FROM scout.sync_models s WHERE s.enabled ORDER BY s.sync_order)
                 ELSE ARRAY[odoo_reconcile_run.model] END;
  FOREACH m IN ARRAY models LOOP
    LOOP
      BEGIN
        r := scout.odoo_reconcile_step(m, pages_per_commit);
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
      END;
      IF err_state IS NOT NULL THEN
        BEGIN
          PERFORM scout.odoo_sync_record_failure();
        EXCEPTION WHEN OTHERS THEN
          RAISE WARNING 'odoo_sync: could not record the failure: %', SQLERRM;
        END;
        COMMIT;
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg,
                              DETAIL = coalesce(err_detail, ''), HINT = coalesce(err_hint, '');
      END IF;
      COMMIT;
      EXIT WHEN r.status IS DISTINCT FROM 'in_progress';
    END LOOP;
    RAISE NOTICE 'odoo_sync: % reconciled (%): % missing, % stale, % deleted, % restored, % re-fetched',
      m, r.status, r.missing, r.stale, r.deleted, r.restored, r.refetched;
  END LOOP;
END
$$;

CREATE OR REPLACE VIEW scout.sync_status AS
SELECT m.model,
       m.enabled,
       c.last_sync_at                              AS high_water_mark,
       CASE WHEN isfinite(c.last_sync_at) THEN now() - c.last_sync_at END AS lag,
       ok.completed_at                             AS last_success_at,
       bad.completed_at                            AS last_error_at,
       CASE WHEN c.status = 'failed' THEN c.error_message END AS current_error,
       CASE WHEN c.status = 'failed' THEN bad.error_code END  AS current_error_code,  -- its SQLSTATE
       coalesce(c.records_synced, 0)               AS records_synced,
       lock.pid IS NOT NULL                        AS running,
       lock.pid                                    AS running_pid,
       -- Progress of an open committing run (procedure or worker: committed page by page).
       CASE WHEN lock.pid IS NOT NULL THEN cur.fetched END  AS running_fetched,
       CASE WHEN lock.pid IS NOT NULL THEN cur.estimated_total END AS running_estimate,
       c.window_end IS NOT NULL                    AS window_open,
       scout.odoo_sync_next_run()                  AS next_scheduled_run,
       (m.enabled AND c.status IS DISTINCT FROM 'failed' AND ok.completed_at IS NOT NULL) AS healthy,
       -- The last reconciliation (scout.odoo_reconcile, the worker's odoo_sync.reconcile_schedule)
       -- and what it repaired: missing + stale + deleted + restored.
       rec.completed_at                            AS last_reconciled_at,
       rec.drift                                   AS last_drift
FROM scout.sync_models m
LEFT JOIN scout.sync_checkpoints c
       ON c.id = coalesce(nullif(current_setting('odoo_sync.checkpoint_key', true), ''), 'odoo_sync_checkpoint') || ':' || m.model
LEFT JOIN LATERAL (SELECT l.completed_at FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'success' ORDER BY l.id DESC LIMIT 1) ok ON true
LEFT JOIN LATERAL (SELECT l.completed_at, l.error_code FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'failed' ORDER BY l.id DESC LIMIT 1) bad ON true
LEFT JOIN LATERAL (SELECT l.completed_at, l.missing + l.stale + l.deleted + l.restored AS drift FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.run_mode = 'reconcile' AND l.status = 'success'
                   ORDER BY l.id DESC LIMIT 1) rec ON true
LEFT JOIN LATERAL (SELECT l.fetched, l.estimated_total FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'running' ORDER BY l.id DESC LIMIT 1) cur ON true
LEFT JOIN LATERAL (SELECT k.pid FROM pg_catalog.pg_locks k
                   WHERE k.locktype = 'advisory' AND k.granted
                     AND k.classid = hashtext('odoo_sync')::oid AND k.objid = hashtext(c.id)::oid LIMIT 1) lock ON true
ORDER BY m.sync_order;
COMMENT ON VIEW scout.sync_status IS 'odoo_sync: per model, last success, last error, lag, progress, next run.';

-- Privileges, as 90_grants.sql gives them in a fresh install.
ALTER FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_record_failure() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_set_secret(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_record_failure() FROM PUBLIC;
ALTER FUNCTION scout.odoo_reconcile(text, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_reconcile(text, boolean) FROM PUBLIC;
ALTER FUNCTION scout.odoo_reconcile_step(text, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_reconcile_step(text, integer) FROM PUBLIC;
REVOKE ALL ON PROCEDURE scout.odoo_reconcile_run(text, integer) FROM PUBLIC;

-- Renames reach silver and gold (issue: "bronze equals Odoo", renames): res.company and
-- product.brand (OCA product_brand; a model only some Odoo databases have, scout.sync_models.
-- odoo_module) are synced like the other models, and stores and products take company and
-- brand names from those rows instead of the display name embedded in their own payload.
ALTER TABLE scout.sync_models ADD COLUMN odoo_module text;
INSERT INTO scout.sync_models (model, bronze_table, sync_order, fields, optional_fields, odoo_module) VALUES
  ('res.company',        'bronze_res_company',         5,
     '{id,name,currency_id,write_date,create_date}', '{}', NULL),
  ('product.brand',      'bronze_product_brand',      15,
     '{id,name,write_date,create_date}', '{}', 'product_brand');
DO $$
DECLARE m record;
BEGIN
  FOR m IN SELECT bronze_table, model FROM scout.sync_models WHERE model IN ('res.company', 'product.brand') LOOP
    EXECUTE format($f$
      CREATE TABLE scout.%1$I (
          id          bigint PRIMARY KEY,
          write_date  timestamptz,
          payload     jsonb NOT NULL,
          run_id      bigint,
          synced_at   timestamptz NOT NULL DEFAULT now(),
          deleted_at  timestamptz
      )$f$, m.bronze_table);
    EXECUTE format('COMMENT ON TABLE scout.%I IS %L', m.bronze_table,
                   'odoo_sync bronze: raw ' || m.model || ' records as Odoo sent them');
    EXECUTE format('CREATE INDEX %I ON scout.%I (write_date)', m.bronze_table || '_write_date', m.bronze_table);
    PERFORM pg_catalog.pg_extension_config_dump(format('scout.%I', m.bronze_table)::regclass, '');
  END LOOP;
END
$$;
UPDATE scout.sync_models SET silver_table = 'companies' WHERE model = 'res.company';
UPDATE scout.sync_models SET silver_table = 'brands' WHERE model = 'product.brand';
CREATE INDEX bronze_product_product_by_brand  ON scout.bronze_product_product ((scout.odoo_m2o(payload -> 'product_brand_id')));
CREATE INDEX bronze_pos_config_by_company     ON scout.bronze_pos_config ((scout.odoo_m2o(payload -> 'company_id')));

CREATE TABLE scout.companies (
    id           bigint PRIMARY KEY,            -- res.company id (= stores.company_id)
    name         text,
    currency     text,
    write_date   timestamptz,
    run_id       bigint,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
COMMENT ON TABLE scout.companies IS 'odoo_sync silver: companies (res.company); stores and gold take company names from here.';

CREATE TABLE scout.brands (
    id           bigint PRIMARY KEY,            -- product.brand id (OCA product_brand)
    name         text,
    write_date   timestamptz,
    run_id       bigint,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
COMMENT ON TABLE scout.brands IS 'odoo_sync silver: product brands (product.brand, OCA product_brand; empty without it); products take brand names from here.';

SELECT pg_catalog.pg_extension_config_dump('scout.companies', '');
SELECT pg_catalog.pg_extension_config_dump('scout.brands', '');

-- res.company -> scout.companies. No rules. changed: companies whose name or liveness changed
-- (their stores carry the name).
CREATE FUNCTION scout._silver_companies(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id,
           scout.odoo_text(b.payload -> 'name') AS name,
           scout.odoo_m2o_name(b.payload -> 'currency_id') AS currency,
           b.write_date, b.deleted_at
    FROM scout.bronze_res_company b
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.companies AS s (id, name, currency, write_date, run_id, synced_at, deleted_at)
    SELECT id, name, currency, write_date, p_run, now(), deleted_at FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, currency = EXCLUDED.currency, write_date = EXCLUDED.write_date,
           run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.currency, s.write_date, s.deleted_at)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.currency, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(src.id) FROM src
                 LEFT JOIN scout.companies o ON o.id = src.id   -- the row before this statement
                 WHERE o.id IS NULL
                    OR (o.name, o.deleted_at IS NULL) IS DISTINCT FROM (src.name, src.deleted_at IS NULL)),
                '{}'),
       0::bigint;
$$;

-- product.brand -> scout.brands. No rules. changed: brands whose name or liveness changed
-- (their products carry the name).
CREATE FUNCTION scout._silver_brands(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id, scout.odoo_text(b.payload -> 'name') AS name, b.write_date, b.deleted_at
    FROM scout.bronze_product_brand b
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.brands AS s (id, name, write_date, run_id, synced_at, deleted_at)
    SELECT id, name, write_date, p_run, now(), deleted_at FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, write_date = EXCLUDED.write_date,
           run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.write_date, s.deleted_at) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(src.id) FROM src
                 LEFT JOIN scout.brands o ON o.id = src.id   -- the row before this statement
                 WHERE o.id IS NULL
                    OR (o.name, o.deleted_at IS NULL) IS DISTINCT FROM (src.name, src.deleted_at IS NULL)),
                '{}'),
       0::bigint;
$$;

-- product.product -> scout.products. Rule: missing_category. changed: products whose category,
-- brand, liveness or validity changed (their order lines carry category and brand).
CREATE OR REPLACE FUNCTION scout._silver_products(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id, b.write_date, b.deleted_at,
           scout.odoo_text(b.payload -> 'name') AS name,
           scout.odoo_text(b.payload -> 'display_name') AS display_name,
           scout.odoo_text(b.payload -> 'default_code') AS default_code,
           scout.odoo_text(b.payload -> 'barcode') AS barcode,
           scout.odoo_m2o(b.payload -> 'categ_id') AS category_id,
           c.name AS category_name, c.path AS category_path,
           c.id IS NOT NULL AND c.deleted_at IS NULL AS category_live,
           scout.odoo_m2o(b.payload -> 'product_brand_id') AS brand_id,
           -- The brand's own row (a rename reaches products with the brand's sync); the name
           -- embedded in the product only until product.brand is synced; none for a deleted brand.
           coalesce(CASE WHEN br.id IS NULL THEN scout.odoo_m2o_name(b.payload -> 'product_brand_id')
                         WHEN br.deleted_at IS NULL THEN br.name END, 'Unknown') AS brand_name,
           scout.odoo_num(b.payload -> 'list_price') AS list_price,
           scout.odoo_num(b.payload -> 'standard_price') AS standard_price,
           -- Odoo 16/17 call storable goods type "product"; 18 made them "consu" with is_storable
           -- (its own migration does exactly this), so silver reads the same on every version.
           CASE scout.odoo_text(b.payload -> 'type') WHEN 'product' THEN 'consu'
                ELSE scout.odoo_text(b.payload -> 'type') END AS product_type,
           CASE WHEN b.payload ? 'is_storable' THEN scout.odoo_bool(b.payload -> 'is_storable')
                WHEN b.payload ? 'detailed_type' THEN scout.odoo_text(b.payload -> 'type') = 'product'
           END AS is_storable,
           scout.odoo_bool(b.payload -> 'active') AS active,
           scout.odoo_m2o(b.payload -> 'company_id') AS company_id,
           scout.odoo_m2o(b.payload -> 'product_tmpl_id') AS product_tmpl_id
    FROM scout.bronze_product_product b
    LEFT JOIN scout.categories c ON c.id = scout.odoo_m2o(b.payload -> 'categ_id')
    LEFT JOIN scout.brands br ON br.id = scout.odoo_m2o(b.payload -> 'product_brand_id')
    WHERE b.id = ANY (p_ids)
), failing AS (
    SELECT id, 'missing_category' AS rule,
           CASE WHEN category_id IS NULL THEN 'the product has no category'
                ELSE format('product.category %s is not in bronze (not synced yet, or deleted in Odoo)', category_id) END AS reason,
           'product.category' AS ref_model, category_id AS ref_id
    FROM src WHERE deleted_at IS NULL AND NOT category_live
), removed AS (
    DELETE FROM scout.products s WHERE s.id IN (SELECT id FROM failing) RETURNING s.id
), up AS (
    INSERT INTO scout.products AS s (id, name, display_name, default_code, barcode, category_id, category_name,
        category_path, brand_id, brand_name, list_price, standard_price, product_type, is_storable, active, company_id,
        product_tmpl_id, write_date, run_id, synced_at, deleted_at)
    SELECT id, name, display_name, default_code, barcode, category_id, category_name, category_path, brand_id,
           brand_name, list_price, standard_price, product_type, is_storable, active, company_id, product_tmpl_id, write_date,
           p_run, now(), deleted_at
    FROM src WHERE id NOT IN (SELECT id FROM failing) ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, display_name = EXCLUDED.display_name, default_code = EXCLUDED.default_code,
           barcode = EXCLUDED.barcode, category_id = EXCLUDED.category_id, category_name = EXCLUDED.category_name,
           category_path = EXCLUDED.category_path, brand_id = EXCLUDED.brand_id, brand_name = EXCLUDED.brand_name,
           list_price = EXCLUDED.list_price, standard_price = EXCLUDED.standard_price,
           product_type = EXCLUDED.product_type, is_storable = EXCLUDED.is_storable, active = EXCLUDED.active,
           company_id = EXCLUDED.company_id,
           product_tmpl_id = EXCLUDED.product_tmpl_id, write_date = EXCLUDED.write_date,
           run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.display_name, s.default_code, s.barcode, s.category_id, s.category_name, s.category_path,
            s.brand_id, s.brand_name, s.list_price, s.standard_price, s.product_type, s.is_storable, s.active, s.company_id,
            s.product_tmpl_id, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.display_name, EXCLUDED.default_code, EXCLUDED.barcode, EXCLUDED.category_id,
            EXCLUDED.category_name, EXCLUDED.category_path, EXCLUDED.brand_id, EXCLUDED.brand_name,
            EXCLUDED.list_price, EXCLUDED.standard_price, EXCLUDED.product_type, EXCLUDED.is_storable, EXCLUDED.active,
            EXCLUDED.company_id, EXCLUDED.product_tmpl_id, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(src.id) FROM src
                 LEFT JOIN scout.products o ON o.id = src.id   -- the row before this statement
                 WHERE o.id IS NULL
                    OR src.id IN (SELECT id FROM failing)
                    OR (o.category_id, o.category_name, o.category_path, o.brand_id, o.brand_name, o.deleted_at IS NULL)
                       IS DISTINCT FROM
                       (src.category_id, src.category_name, src.category_path, src.brand_id, src.brand_name, src.deleted_at IS NULL)),
                '{}'),
       scout._silver_record_rejects('product.product', p_ids,
           coalesce((SELECT jsonb_agg(to_jsonb(f)) FROM failing f), '[]'), p_run);
$$;

-- pos.config (+ its address partner) -> scout.stores. No rules.
CREATE OR REPLACE FUNCTION scout._silver_stores(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id, b.write_date, b.deleted_at,
           scout.odoo_text(b.payload -> 'name') AS name,
           scout.odoo_m2o(b.payload -> 'company_id') AS company_id,
           -- The company's own row (a rename reaches stores with the company's sync); the
           -- name embedded in the POS only until res.company is synced.
           coalesce(co.name, scout.odoo_m2o_name(b.payload -> 'company_id')) AS company_name,
           scout.odoo_m2o_name(b.payload -> 'currency_id') AS currency,
           scout.odoo_bool(b.payload -> 'active') AS active,
           p.id AS address_partner_id,
           scout.odoo_text(p.payload -> 'street') AS street,
           scout.odoo_text(p.payload -> 'street2') AS street2,
           scout.odoo_text(p.payload -> 'city') AS city,
           scout.odoo_text(p.payload -> 'zip') AS zip,
           scout.odoo_m2o_name(p.payload -> 'state_id') AS state_name,
           scout.odoo_m2o_name(p.payload -> 'country_id') AS country_name,
           scout.odoo_text(p.payload -> 'x_region_code') AS region_code,
           scout.known_timezone(scout.odoo_text(p.payload -> 'tz')) AS timezone
    FROM scout.bronze_pos_config b
    LEFT JOIN scout.companies co ON co.id = scout.odoo_m2o(b.payload -> 'company_id')
    LEFT JOIN LATERAL (
        SELECT rp.id, rp.payload FROM scout.bronze_res_partner rp
        WHERE lower(scout.odoo_text(rp.payload -> 'name')) = lower(scout.odoo_text(b.payload -> 'name'))
          AND rp.deleted_at IS NULL
        ORDER BY coalesce(scout.odoo_bool(rp.payload -> 'is_company'), false) DESC, rp.id
        LIMIT 1) p ON true
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.stores AS s (id, name, company_id, company_name, currency, active, address_partner_id, street,
        street2, city, zip, state_name, country_name, region_code, timezone, write_date, run_id, synced_at, deleted_at)
    SELECT id, name, company_id, company_name, currency, active, address_partner_id, street, street2, city, zip,
           state_name, country_name, region_code, timezone, write_date, p_run, now(), deleted_at
    FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, company_id = EXCLUDED.company_id, company_name = EXCLUDED.company_name,
           currency = EXCLUDED.currency, active = EXCLUDED.active, address_partner_id = EXCLUDED.address_partner_id,
           street = EXCLUDED.street, street2 = EXCLUDED.street2, city = EXCLUDED.city, zip = EXCLUDED.zip,
           state_name = EXCLUDED.state_name, country_name = EXCLUDED.country_name,
           region_code = EXCLUDED.region_code, timezone = EXCLUDED.timezone, write_date = EXCLUDED.write_date,
           run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.company_id, s.company_name, s.currency, s.active, s.address_partner_id, s.street, s.street2,
            s.city, s.zip, s.state_name, s.country_name, s.region_code, s.timezone, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.company_id, EXCLUDED.company_name, EXCLUDED.currency, EXCLUDED.active,
            EXCLUDED.address_partner_id, EXCLUDED.street, EXCLUDED.street2, EXCLUDED.city, EXCLUDED.zip,
            EXCLUDED.state_name, EXCLUDED.country_name, EXCLUDED.region_code, EXCLUDED.timezone,
            EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(id) FROM up), '{}'), 0::bigint;
$$;

-- pos.order.line -> scout.transaction_items. Rules: missing_order, missing_product,
-- line_total_mismatch, negative_qty_not_refund. A line of a soft-deleted order is soft-deleted
-- with it (Odoo deletes an order's lines with it). changed: the orders whose items changed.
CREATE OR REPLACE FUNCTION scout._silver_items(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
-- MATERIALIZED: each order once (a page has several lines per order; its payload is large),
-- looked up by id. Inlined, the planner probed the lines of each order and filtered them
-- against p_ids, which is quadratic in the number of ids (a 40,000-id call took a minute).
WITH orders AS MATERIALIZED (
    SELECT o.id, o.deleted_at,
           -- A refund order: negative total, or Odoo's "<order name> REFUND" naming.
           (coalesce(scout.odoo_num(o.payload -> 'amount_total'), 0) < 0
            OR coalesce(scout.odoo_text(o.payload -> 'name'), '') ~* 'refund\s*$') AS is_refund
    FROM (SELECT DISTINCT scout.odoo_m2o(l.payload -> 'order_id') AS id
          FROM scout.bronze_pos_order_line l WHERE l.id = ANY (p_ids)) wanted
    JOIN scout.bronze_pos_order o ON o.id = wanted.id
), src AS (
    SELECT l.id, l.write_date,
           coalesce(l.deleted_at, o.deleted_at) AS deleted_at,
           scout.odoo_m2o(l.payload -> 'order_id') AS order_id,
           scout.odoo_m2o(l.payload -> 'product_id') AS product_id,
           o.id IS NOT NULL AS order_present,
           pr.id IS NOT NULL AND pr.deleted_at IS NULL AS product_live,
           scout.odoo_text(l.payload -> 'full_product_name') AS product_name,
           scout.odoo_m2o(pr.payload -> 'categ_id') AS category_id,
           coalesce(c.name, 'Unknown') AS product_category,
           c.path AS category_path,
           scout.odoo_m2o(pr.payload -> 'product_brand_id') AS brand_id,
           coalesce(CASE WHEN br.id IS NULL THEN scout.odoo_m2o_name(pr.payload -> 'product_brand_id')
                         WHEN br.deleted_at IS NULL THEN br.name END, 'Unknown') AS brand_name,
           scout.odoo_num(l.payload -> 'qty') AS quantity,
           scout.odoo_num(l.payload -> 'price_unit') AS unit_price,
           scout.odoo_num(l.payload -> 'discount') AS discount_percent,
           scout.odoo_num(l.payload -> 'price_subtotal') AS line_total,
           scout.odoo_num(l.payload -> 'price_subtotal_incl') AS line_total_incl,
           scout.odoo_m2o(l.payload -> 'company_id') AS company_id,
           coalesce(o.is_refund, false) AS order_is_refund,
           scout.odoo_m2o(l.payload -> 'refunded_orderline_id') IS NOT NULL AS refunds_a_line
    FROM scout.bronze_pos_order_line l
    LEFT JOIN orders o ON o.id = scout.odoo_m2o(l.payload -> 'order_id')
    LEFT JOIN scout.bronze_product_product pr ON pr.id = scout.odoo_m2o(l.payload -> 'product_id')
    LEFT JOIN scout.categories c ON c.id = scout.odoo_m2o(pr.payload -> 'categ_id')
    LEFT JOIN scout.brands br ON br.id = scout.odoo_m2o(pr.payload -> 'product_brand_id')
    WHERE l.id = ANY (p_ids)
), calc AS (
    SELECT s.*,
           coalesce(s.quantity, 0) * coalesce(s.unit_price, 0) * (1 - coalesce(s.discount_percent, 0) / 100) AS expected_total
    FROM src s
), failing AS (   -- one row per failed rule; the reason is only built for those
    SELECT c.id, v.rule,
           CASE v.rule
             WHEN 'missing_order' THEN
               CASE WHEN c.order_id IS NULL THEN 'the line has no order'
                    ELSE format('pos.order %s is not in bronze (not synced yet, or deleted in Odoo)', c.order_id) END
             WHEN 'missing_product' THEN
               CASE WHEN c.product_id IS NULL THEN 'the line has no product'
                    ELSE format('product.product %s is not in bronze (not synced yet, or deleted in Odoo)', c.product_id) END
             WHEN 'line_total_mismatch' THEN
               format('price_subtotal %s (incl. tax %s) but qty %s x price_unit %s x (1 - discount %s%%) = %s',
                      c.line_total, c.line_total_incl, c.quantity, c.unit_price, c.discount_percent,
                      round(c.expected_total, 6))
             WHEN 'negative_qty_not_refund' THEN
               format('qty %s on order %s, which is not a refund', c.quantity, c.order_id)
           END AS reason,
           v.ref_model, v.ref_id
    FROM calc c
    CROSS JOIN LATERAL (VALUES
        ('missing_order', 'pos.order', c.order_id, NOT c.order_present),
        ('missing_product', 'product.product', c.product_id, NOT c.product_live),
        ('line_total_mismatch', NULL, NULL,
         abs(coalesce(c.line_total, 0) - c.expected_total) > scout.silver_money_tolerance()
         AND abs(coalesce(c.line_total_incl, 0) - c.expected_total) > scout.silver_money_tolerance()),
        ('negative_qty_not_refund', NULL, NULL,
         c.order_present AND coalesce(c.quantity, 0) < 0 AND NOT c.order_is_refund AND NOT c.refunds_a_line)
    ) AS v(rule, ref_model, ref_id, fails)
    WHERE c.deleted_at IS NULL AND v.fails
), old AS (
    SELECT i.source_id, i.order_id FROM scout.transaction_items i WHERE i.source_id = ANY (p_ids)
), removed AS (
    DELETE FROM scout.transaction_items s WHERE s.source_id IN (SELECT id FROM failing)
    RETURNING s.source_id, s.order_id
), up AS (
    INSERT INTO scout.transaction_items AS s (source_id, order_id, product_id, product_name, category_id,
        product_category, category_path, brand_id, brand_name, quantity, unit_price, discount_percent, line_total,
        line_total_incl, company_id, write_date, run_id, synced_at, deleted_at)
    SELECT id, order_id, product_id, product_name, category_id, product_category, category_path, brand_id,
           brand_name, quantity, unit_price, discount_percent, line_total, line_total_incl, company_id, write_date,
           p_run, now(), deleted_at
    FROM calc
    -- A deleted line without order or product cannot be stored (NOT NULL keys) and is gone anyway.
    WHERE id NOT IN (SELECT id FROM failing) AND order_id IS NOT NULL AND product_id IS NOT NULL
    ORDER BY id
    ON CONFLICT (source_id) DO UPDATE
       SET order_id = EXCLUDED.order_id, product_id = EXCLUDED.product_id, product_name = EXCLUDED.product_name,
           category_id = EXCLUDED.category_id, product_category = EXCLUDED.product_category,
           category_path = EXCLUDED.category_path, brand_id = EXCLUDED.brand_id, brand_name = EXCLUDED.brand_name,
           quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price,
           discount_percent = EXCLUDED.discount_percent, line_total = EXCLUDED.line_total,
           line_total_incl = EXCLUDED.line_total_incl, company_id = EXCLUDED.company_id,
           write_date = EXCLUDED.write_date, run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(),
           deleted_at = EXCLUDED.deleted_at
     WHERE (s.order_id, s.product_id, s.product_name, s.category_id, s.product_category, s.category_path,
            s.brand_id, s.brand_name, s.quantity, s.unit_price, s.discount_percent, s.line_total,
            s.line_total_incl, s.company_id, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.order_id, EXCLUDED.product_id, EXCLUDED.product_name, EXCLUDED.category_id,
            EXCLUDED.product_category, EXCLUDED.category_path, EXCLUDED.brand_id, EXCLUDED.brand_name,
            EXCLUDED.quantity, EXCLUDED.unit_price, EXCLUDED.discount_percent, EXCLUDED.line_total,
            EXCLUDED.line_total_incl, EXCLUDED.company_id, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.source_id, s.order_id
)
SELECT coalesce((SELECT array_agg(DISTINCT x.order_id) FROM (
                    SELECT order_id FROM up
                    UNION ALL SELECT order_id FROM removed
                    UNION ALL SELECT old.order_id FROM old WHERE old.source_id IN (SELECT source_id FROM up)) x
                 WHERE x.order_id IS NOT NULL),
                '{}'),
       scout._silver_record_rejects('pos.order.line', p_ids,
           coalesce((SELECT jsonb_agg(to_jsonb(f)) FROM failing f), '[]'), p_run);
$$;

-- Called by the sync engine in the same transaction right after each bronze page, with the
-- Odoo ids of the page's records that were inserted or changed. Re-derives those rows and
-- everything that depends on them (see "Dependencies" at the top), then returns how many of
-- the given records are in quarantine after the call. A fixed sequence of set-based steps:
-- the amount of SQL run does not depend on the number of ids.
CREATE OR REPLACE FUNCTION scout.silver_apply(model text, ids bigint[], run_id bigint)
RETURNS bigint LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    m        text := silver_apply.model;
    run      bigint := silver_apply.run_id;
    comps    bigint[] := '{}';
    brands   bigint[] := '{}';
    cats     bigint[] := '{}';
    prods    bigint[] := '{}';
    partners bigint[] := '{}';
    configs  bigint[] := '{}';
    methods  bigint[] := '{}';
    lines    bigint[] := '{}';
    pays     bigint[] := '{}';
    orders   bigint[] := '{}';
    changed  bigint[];
    rej      bigint;
    result   bigint := 0;
BEGIN
    -- Models without a silver table (pos.session, or one a user added to scout.sync_models)
    -- stay in bronze only; records waiting for them are still released below.
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;

    -- Records in quarantine waiting for what just arrived (missing_* rules) are re-derived.
    SELECT coalesce(array_agg(r.source_id) FILTER (WHERE r.model = 'product.product'), '{}'),
           coalesce(array_agg(r.source_id) FILTER (WHERE r.model = 'pos.order.line'), '{}'),
           coalesce(array_agg(r.source_id) FILTER (WHERE r.model = 'pos.payment'), '{}'),
           coalesce(array_agg(r.source_id) FILTER (WHERE r.model = 'pos.order'), '{}')
      INTO prods, lines, pays, orders
      FROM scout.silver_rejects r
     WHERE r.ref_model = m AND r.ref_id = ANY (ids);

    CASE m
        WHEN 'res.company'        THEN comps := ids;
        WHEN 'product.brand'      THEN brands := ids;
        WHEN 'product.category'   THEN cats := ids;
        WHEN 'product.product'    THEN prods := prods || ids;
        WHEN 'res.partner'        THEN partners := ids;
        WHEN 'pos.config'         THEN configs := ids;
        WHEN 'pos.payment.method' THEN methods := ids;
        WHEN 'pos.order.line'     THEN
            lines := lines || ids;
            -- The orders of these lines (now and before) get their quantity, first line and
            -- completeness re-derived, whether or not the line itself passes the rules.
            orders := orders
                || ARRAY(SELECT scout.odoo_m2o(b.payload -> 'order_id') FROM scout.bronze_pos_order_line b
                         WHERE b.id = ANY (ids) AND scout.odoo_m2o(b.payload -> 'order_id') IS NOT NULL)
                || ARRAY(SELECT i.order_id FROM scout.transaction_items i WHERE i.source_id = ANY (ids));
        WHEN 'pos.payment'        THEN
            pays := pays || ids;
            orders := orders
                || ARRAY(SELECT scout.odoo_m2o(b.payload -> 'pos_order_id') FROM scout.bronze_pos_payment b
                         WHERE b.id = ANY (ids) AND scout.odoo_m2o(b.payload -> 'pos_order_id') IS NOT NULL)
                || ARRAY(SELECT y.order_id FROM scout.payments y WHERE y.id = ANY (ids));
        WHEN 'pos.order'          THEN
            orders := orders || ids;
            -- Its lines and payments: their rules look at the order (existence, refund), and
            -- a soft-deleted order soft-deletes them.
            lines := lines || ARRAY(SELECT b.id FROM scout.bronze_pos_order_line b
                                    WHERE scout.odoo_m2o(b.payload -> 'order_id') = ANY (ids));
            pays := pays || ARRAY(SELECT b.id FROM scout.bronze_pos_payment b
                                  WHERE scout.odoo_m2o(b.payload -> 'pos_order_id') = ANY (ids));
        ELSE NULL;  -- bronze only
    END CASE;

    -- 0. companies -> stores of the changed ones; brands -> products of the changed ones
    IF cardinality(comps) > 0 THEN
        SELECT s.changed INTO changed FROM scout._silver_companies(comps, run) s;
        IF cardinality(changed) > 0 THEN
            configs := configs || ARRAY(SELECT b.id FROM scout.bronze_pos_config b
                                        WHERE scout.odoo_m2o(b.payload -> 'company_id') = ANY (changed));
        END IF;
    END IF;
    IF cardinality(brands) > 0 THEN
        SELECT s.changed INTO changed FROM scout._silver_brands(brands, run) s;
        IF cardinality(changed) > 0 THEN
            prods := prods || ARRAY(SELECT b.id FROM scout.bronze_product_product b
                                    WHERE scout.odoo_m2o(b.payload -> 'product_brand_id') = ANY (changed));
        END IF;
    END IF;
    -- 1. categories -> products of the changed ones
    IF cardinality(cats) > 0 THEN
        SELECT s.changed INTO changed FROM scout._silver_categories(cats, run) s;
        IF cardinality(changed) > 0 THEN
            prods := prods || ARRAY(SELECT b.id FROM scout.bronze_product_product b
                                    WHERE scout.odoo_m2o(b.payload -> 'categ_id') = ANY (changed));
        END IF;
    END IF;
    -- 2. products -> lines of the changed ones
    IF cardinality(prods) > 0 THEN
        SELECT s.changed, s.rejected INTO changed, rej FROM scout._silver_products(ARRAY(SELECT DISTINCT unnest(prods)), run) s;
        IF m = 'product.product' THEN result := rej; END IF;
        IF cardinality(changed) > 0 THEN
            lines := lines || ARRAY(SELECT b.id FROM scout.bronze_pos_order_line b
                                    WHERE scout.odoo_m2o(b.payload -> 'product_id') = ANY (changed));
        END IF;
    END IF;
    -- 3. customers -> stores whose address partner they are (by name), now or before
    IF cardinality(partners) > 0 THEN
        PERFORM scout._silver_customers(partners, run);
        configs := configs
            || ARRAY(SELECT c.id FROM scout.bronze_pos_config c
                     WHERE lower(scout.odoo_text(c.payload -> 'name')) IN (
                           SELECT lower(scout.odoo_text(p.payload -> 'name')) FROM scout.bronze_res_partner p
                           WHERE p.id = ANY (partners)))
            || ARRAY(SELECT s.id FROM scout.stores s WHERE s.address_partner_id = ANY (partners));
    END IF;
    -- 4. stores
    IF cardinality(configs) > 0 THEN
        PERFORM scout._silver_stores(ARRAY(SELECT DISTINCT unnest(configs)), run);
    END IF;
    -- 5. payment methods -> payments of the changed ones
    IF cardinality(methods) > 0 THEN
        SELECT s.changed INTO changed FROM scout._silver_payment_methods(methods, run) s;
        IF cardinality(changed) > 0 THEN
            pays := pays || ARRAY(SELECT b.id FROM scout.bronze_pos_payment b
                                  WHERE scout.odoo_m2o(b.payload -> 'payment_method_id') = ANY (changed));
        END IF;
    END IF;
    -- 6. order lines -> their orders, when an item really changed
    IF cardinality(lines) > 0 THEN
        SELECT s.changed, s.rejected INTO changed, rej FROM scout._silver_items(ARRAY(SELECT DISTINCT unnest(lines)), run) s;
        IF m = 'pos.order.line' THEN result := rej; END IF;
        orders := orders || changed;
    END IF;
    -- 7. payments -> their orders, when a payment really changed
    IF cardinality(pays) > 0 THEN
        SELECT s.changed, s.rejected INTO changed, rej FROM scout._silver_payments(ARRAY(SELECT DISTINCT unnest(pays)), run) s;
        IF m = 'pos.payment' THEN result := rej; END IF;
        orders := orders || changed;
    END IF;
    -- 8. orders, last: they aggregate their items and payments
    IF cardinality(orders) > 0 THEN
        SELECT s.rejected INTO rej FROM scout._silver_transactions(ARRAY(SELECT DISTINCT unnest(orders)), run) s;
        IF m = 'pos.order' THEN result := rej; END IF;
    END IF;
    RETURN result;
END;
$$;

-- Soft delete: the engine has set bronze deleted_at for these ids (records Odoo no longer has)
-- and calls this. Silver rows get the same deleted_at (gold ignores them), the records leave
-- quarantine, and what depends on them is re-derived (an order's lines and payments are
-- deleted with it; an order loses a deleted line). Returns how many silver rows are marked.
CREATE OR REPLACE FUNCTION scout.silver_mark_deleted(model text, ids bigint[])
RETURNS bigint LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    m text := silver_mark_deleted.model;
    n bigint := 0;
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM scout.silver_apply(m, ids, NULL);
    n := CASE m
        WHEN 'res.company'        THEN (SELECT count(*) FROM scout.companies s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'product.brand'      THEN (SELECT count(*) FROM scout.brands s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'product.category'   THEN (SELECT count(*) FROM scout.categories s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'product.product'    THEN (SELECT count(*) FROM scout.products s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'res.partner'        THEN (SELECT count(*) FROM scout.customers s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'pos.config'         THEN (SELECT count(*) FROM scout.stores s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'pos.payment.method' THEN (SELECT count(*) FROM scout.payment_methods s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'pos.order'          THEN (SELECT count(*) FROM scout.transactions s WHERE s.source_id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'pos.order.line'     THEN (SELECT count(*) FROM scout.transaction_items s WHERE s.source_id = ANY (ids) AND s.deleted_at IS NOT NULL)
        WHEN 'pos.payment'        THEN (SELECT count(*) FROM scout.payments s WHERE s.id = ANY (ids) AND s.deleted_at IS NOT NULL)
        ELSE 0 END;
    RETURN n;
END;
$$;

-- Recomputes all of silver from bronze: empties silver and the quarantine, then derives every
-- table once, in dependency order, in batches of ids (a loop per batch of 50,000 records, not
-- per row). Use it after changing a rule or to repair silver; it runs in one transaction.
CREATE OR REPLACE FUNCTION scout.silver_rebuild()
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
    step  record;
    batch bigint[];
BEGIN
    -- Serialize with concurrent syncs (they derive silver too) but let readers go on reading
    -- the old rows until this commits: EXCLUSIVE + DELETE rather than TRUNCATE.
    LOCK TABLE scout.companies, scout.brands, scout.categories, scout.products, scout.customers, scout.stores, scout.payment_methods,
               scout.payments, scout.transaction_items, scout.transactions, scout.silver_rejects
          IN EXCLUSIVE MODE;
    DELETE FROM scout.silver_rejects;
    DELETE FROM scout.transactions;
    DELETE FROM scout.transaction_items;
    DELETE FROM scout.payments;
    DELETE FROM scout.payment_methods;
    DELETE FROM scout.stores;
    DELETE FROM scout.customers;
    DELETE FROM scout.products;
    DELETE FROM scout.categories;
    DELETE FROM scout.brands;
    DELETE FROM scout.companies;
    FOR step IN
        SELECT * FROM (VALUES
            (0, 'bronze_res_company',        '_silver_companies'),
            (0, 'bronze_product_brand',      '_silver_brands'),
            (1, 'bronze_product_category',   '_silver_categories'),
            (2, 'bronze_product_product',    '_silver_products'),
            (3, 'bronze_res_partner',        '_silver_customers'),
            (4, 'bronze_pos_config',         '_silver_stores'),
            (5, 'bronze_pos_payment_method', '_silver_payment_methods'),
            (6, 'bronze_pos_order_line',     '_silver_items'),
            (7, 'bronze_pos_payment',        '_silver_payments'),
            (8, 'bronze_pos_order',          '_silver_transactions')) AS s(n, bronze, fn)
        ORDER BY n
    LOOP
        FOR batch IN EXECUTE format(
            'SELECT array_agg(id ORDER BY id) FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / 50000 AS g
               FROM scout.%I) t GROUP BY g ORDER BY g', step.bronze)
        LOOP
            EXECUTE format('SELECT 1 FROM scout.%I($1, NULL)', step.fn) USING batch;
        END LOOP;
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION scout._silver_companies(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_brands(bigint[], bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Write-back into Odoo (sql/40_writeback.sql), and partner tags in silver.

-- res.partner's tags are read (category_id, for scout.customers.tag_ids). The checkpoint's
-- selection marks what was read before, so that the next run re-reads every partner once and
-- silver learns the tags partners already have.
UPDATE scout.sync_models SET fields = array_append(fields, 'category_id')
 WHERE model = 'res.partner' AND NOT 'category_id' = ANY (fields);
UPDATE scout.sync_checkpoints SET selection = 'before 0.2.0 (res.partner read without category_id)'
 WHERE model = 'res.partner' AND selection IS NULL;

-- (0.2.0) many2many [id, ...] -> bigint[] (NULL when the field was not read)
CREATE FUNCTION scout.odoo_ids(v jsonb) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN ARRAY(SELECT e::bigint FROM jsonb_array_elements_text(v) AS e) END $$;

ALTER TABLE scout.customers ADD COLUMN tag_ids bigint[];

CREATE OR REPLACE FUNCTION scout._silver_customers(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id, b.write_date, b.deleted_at,
           scout.odoo_text(b.payload -> 'name') AS name,
           scout.odoo_text(b.payload -> 'display_name') AS display_name,
           scout.odoo_text(b.payload -> 'type') AS partner_type,
           scout.odoo_bool(b.payload -> 'is_company') AS is_company,
           scout.odoo_m2o(b.payload -> 'parent_id') AS parent_id,
           scout.odoo_text(b.payload -> 'street') AS street,
           scout.odoo_text(b.payload -> 'street2') AS street2,
           scout.odoo_text(b.payload -> 'city') AS city,
           scout.odoo_text(b.payload -> 'zip') AS zip,
           scout.odoo_m2o(b.payload -> 'state_id') AS state_id,
           scout.odoo_m2o_name(b.payload -> 'state_id') AS state_name,
           scout.odoo_m2o(b.payload -> 'country_id') AS country_id,
           scout.odoo_m2o_name(b.payload -> 'country_id') AS country_name,
           scout.odoo_text(b.payload -> 'x_region_code') AS region_code,
           scout.odoo_text(b.payload -> 'email') AS email,
           scout.odoo_text(b.payload -> 'phone') AS phone,
           scout.odoo_text(b.payload -> 'mobile') AS mobile,
           scout.odoo_bool(b.payload -> 'active') AS active,
           scout.odoo_m2o(b.payload -> 'company_id') AS company_id,
           scout.odoo_num(b.payload -> 'customer_rank')::integer AS customer_rank,
           scout.odoo_ids(b.payload -> 'category_id') AS tag_ids
    FROM scout.bronze_res_partner b
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.customers AS s (id, name, display_name, partner_type, is_company, parent_id, street, street2,
        city, zip, state_id, state_name, country_id, country_name, region_code, email, phone, mobile, active, company_id,
        customer_rank, write_date, run_id, synced_at, deleted_at, tag_ids)
    SELECT id, name, display_name, partner_type, is_company, parent_id, street, street2, city, zip, state_id,
           state_name, country_id, country_name, region_code, email, phone, mobile, active, company_id, customer_rank,
           write_date, p_run, now(), deleted_at, tag_ids
    FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, display_name = EXCLUDED.display_name, partner_type = EXCLUDED.partner_type,
           is_company = EXCLUDED.is_company, parent_id = EXCLUDED.parent_id, street = EXCLUDED.street,
           street2 = EXCLUDED.street2, city = EXCLUDED.city, zip = EXCLUDED.zip, state_id = EXCLUDED.state_id,
           state_name = EXCLUDED.state_name, country_id = EXCLUDED.country_id, country_name = EXCLUDED.country_name,
           region_code = EXCLUDED.region_code, email = EXCLUDED.email, phone = EXCLUDED.phone,
           mobile = EXCLUDED.mobile, active = EXCLUDED.active, company_id = EXCLUDED.company_id, customer_rank = EXCLUDED.customer_rank,
           write_date = EXCLUDED.write_date, run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(),
           deleted_at = EXCLUDED.deleted_at, tag_ids = EXCLUDED.tag_ids
     WHERE (s.name, s.display_name, s.partner_type, s.is_company, s.parent_id, s.street, s.street2, s.city, s.zip,
            s.state_id, s.state_name, s.country_id, s.country_name, s.region_code, s.email, s.phone, s.mobile, s.active,
            s.company_id, s.customer_rank, s.write_date, s.deleted_at, s.tag_ids)
           IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.display_name, EXCLUDED.partner_type, EXCLUDED.is_company, EXCLUDED.parent_id,
            EXCLUDED.street, EXCLUDED.street2, EXCLUDED.city, EXCLUDED.zip, EXCLUDED.state_id, EXCLUDED.state_name,
            EXCLUDED.country_id, EXCLUDED.country_name, EXCLUDED.region_code, EXCLUDED.email, EXCLUDED.phone, EXCLUDED.mobile,
            EXCLUDED.active, EXCLUDED.company_id, EXCLUDED.customer_rank, EXCLUDED.write_date, EXCLUDED.deleted_at,
            EXCLUDED.tag_ids)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(id) FROM up), '{}'), 0::bigint;
$$;

-- sql/40_writeback.sql, as a fresh install creates it:
-- odoo_sync: write-back into Odoo (0.2.0). The outbox pattern: a role inserts rows into
-- scout.odoo_outbox in its own transaction, so nothing is sent unless that transaction commits;
-- the worker (after each round, and when woken by scout.odoo_push_soon()) or scout.odoo_push()
-- sends them with idempotent calls (crates/writeback), so that a crash or a lost answer between
-- Odoo's commit and ours re-sends the same change and never duplicates or drops it.
-- docs/DESIGN.md, "Write-back", has the whole story; README, "Write-back", the tags example.

-- What may be written, as (model, field) pairs. Checked when a row is inserted or changed, and
-- again when it is sent. Only the extension's owner (a superuser) changes it; nothing else in
-- Odoo can be written through odoo_sync, whatever a user puts in the outbox.
CREATE TABLE scout.writeback_fields (
    model text NOT NULL CHECK (model ~ '^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$'),
    field text NOT NULL CHECK (field ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    PRIMARY KEY (model, field)
);
COMMENT ON TABLE scout.writeback_fields IS
  'odoo_sync: the Odoo fields write-back may write (model, field). Superuser only; archive needs (model, active).';
-- Partner tags: a tag's name, colour, parent and archiving; a partner's tags (link/unlink only).
INSERT INTO scout.writeback_fields (model, field) VALUES
  ('res.partner.category', 'name'),
  ('res.partner.category', 'color'),
  ('res.partner.category', 'parent_id'),
  ('res.partner.category', 'active'),
  ('res.partner', 'category_id');
-- Rows a superuser adds are kept by pg_dump; the defaults come with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('scout.writeback_fields',
  $$WHERE (model, field) NOT IN (('res.partner.category', 'name'), ('res.partner.category', 'color'),
    ('res.partner.category', 'parent_id'), ('res.partner.category', 'active'), ('res.partner', 'category_id'))$$);

CREATE TABLE scout.odoo_outbox (
    id            bigserial PRIMARY KEY,            -- rows of one record are sent in id order
    model         text NOT NULL,                    -- the Odoo model: res.partner.category
    -- Which record: our stable key for a record we own (created in Odoo under the external id
    -- odoo_sync.<model with _>__<key>), or the Odoo id of a record Odoo owns (a partner).
    external_key  text CHECK (external_key ~ '^[A-Za-z0-9_.-]{1,200}$'),
    odoo_id       bigint CHECK (odoo_id > 0),       -- given: Odoo's record; for ours, set once sent
    op            text NOT NULL DEFAULT 'upsert' CHECK (op IN ('upsert', 'archive')),
    -- field -> value: plain values; a many2one as an Odoo id or our key; a many2many as
    -- {"add": [...], "remove": [...]} (ids or keys), never the whole set.
    "values"      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof("values") = 'object'),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      int NOT NULL DEFAULT 0,           -- sends tried (a transient failure leaves it pending)
    last_error    text,                             -- Odoo's message (failed) or why it is still pending
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    CONSTRAINT odoo_outbox_names_a_record CHECK (external_key IS NOT NULL OR odoo_id IS NOT NULL)
);
CREATE INDEX odoo_outbox_pending ON scout.odoo_outbox (id) WHERE state = 'pending';
-- The Odoo id of a record of ours, from its last sent row (many2many commands by key).
CREATE INDEX odoo_outbox_sent_keys ON scout.odoo_outbox (model, external_key, id DESC)
  WHERE state = 'sent' AND external_key IS NOT NULL;
COMMENT ON TABLE scout.odoo_outbox IS
  'odoo_sync: changes to write back into Odoo, sent once their transaction commits (state pending -> sent | failed).';
SELECT pg_catalog.pg_extension_config_dump('scout.odoo_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('scout.odoo_outbox_id_seq', '');

-- The allow-list as text, for error details.
CREATE FUNCTION scout._writeback_allowed_text() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(string_agg(model || ' (' || fields || ')', ', ' ORDER BY model), 'nothing')
  FROM (SELECT model, string_agg(field, ', ' ORDER BY field) AS fields FROM scout.writeback_fields GROUP BY model) m
$$;

-- Checks a row when it is inserted or its change is edited, and makes it pending again: a
-- failed row is retried once it is changed. The sender's own updates (state, attempts, ...)
-- leave the change alone and pass unchecked.
CREATE FUNCTION scout._outbox_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  f text;
  v jsonb;
  verb text;
  r jsonb;
BEGIN
  IF TG_OP = 'UPDATE' AND (NEW.model, NEW.external_key, NEW.op, NEW."values")
                          IS NOT DISTINCT FROM (OLD.model, OLD.external_key, OLD.op, OLD."values")
     AND (NEW.external_key IS NOT NULL OR NEW.odoo_id IS NOT DISTINCT FROM OLD.odoo_id) THEN
    RETURN NEW;
  END IF;
  IF NEW.external_key IS NOT NULL AND NEW.odoo_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.odoo_id IS DISTINCT FROM OLD.odoo_id) THEN
    RAISE EXCEPTION 'odoo_sync: an outbox row names its record by external_key or by odoo_id, not both'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('model %s, external_key %s, odoo_id %s', NEW.model, NEW.external_key, NEW.odoo_id),
            HINT = 'external_key: a record odoo_sync creates and owns (a tag); odoo_id: a record Odoo owns (a partner).';
  END IF;
  FOR f IN SELECT jsonb_object_keys(NEW."values")
           UNION ALL SELECT 'active' WHERE NEW.op = 'archive' LOOP
    IF NOT EXISTS (SELECT 1 FROM scout.writeback_fields w WHERE w.model = NEW.model AND w.field = f) THEN
      RAISE EXCEPTION 'odoo_sync: writing %.% back to Odoo is not allowed', NEW.model, f
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'scout.writeback_fields allows: ' || scout._writeback_allowed_text() || '.'
                       || CASE WHEN f = 'active' AND NEW.op = 'archive' THEN ' Archiving writes active.' ELSE '' END,
              HINT = format('A superuser allows it with: INSERT INTO scout.writeback_fields (model, field) VALUES (%L, %L);',
                            NEW.model, f);
    END IF;
    v := NEW."values" -> f;
    IF jsonb_typeof(v) = 'array' THEN
      RAISE EXCEPTION 'odoo_sync: %.% is given a list; a many2many change is {"add": [...], "remove": [...]}', NEW.model, f
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Write-back never replaces a whole set: it links and unlinks the records named.';
    ELSIF jsonb_typeof(v) = 'object' THEN
      FOR verb IN SELECT jsonb_object_keys(v) LOOP
        IF verb NOT IN ('add', 'remove') OR jsonb_typeof(v -> verb) <> 'array' THEN
          RAISE EXCEPTION 'odoo_sync: %.% has "%"; a many2many change is {"add": [...], "remove": [...]}', NEW.model, f, verb
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR r IN SELECT jsonb_array_elements(v -> verb) LOOP
          IF NOT ((jsonb_typeof(r) = 'number' AND r::text ~ '^[1-9][0-9]*$')
                  OR (jsonb_typeof(r) = 'string' AND r #>> '{}' ~ '^[A-Za-z0-9_.-]{1,200}$')) THEN
            RAISE EXCEPTION 'odoo_sync: %.% %: % is neither an Odoo id nor one of our keys', NEW.model, f, verb, r
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'An Odoo id is a positive integer; a key is what the related record''s outbox rows call external_key.';
          END IF;
        END LOOP;
      END LOOP;
    END IF;
  END LOOP;
  -- A row with nothing to write still needs its model allowed (it would be "sent" as nothing).
  IF NOT EXISTS (SELECT 1 FROM scout.writeback_fields w WHERE w.model = NEW.model) THEN
    RAISE EXCEPTION 'odoo_sync: writing % back to Odoo is not allowed: no field of it is on scout.writeback_fields', NEW.model
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'scout.writeback_fields allows: ' || scout._writeback_allowed_text() || '.',
            HINT = 'A superuser allows a field with: INSERT INTO scout.writeback_fields (model, field) VALUES (...);';
  END IF;
  NEW.state := 'pending';
  NEW.attempts := 0;
  NEW.last_error := NULL;
  NEW.sent_at := NULL;
  IF NEW.external_key IS NOT NULL THEN
    NEW.odoo_id := NULL;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER odoo_outbox_check BEFORE INSERT OR UPDATE ON scout.odoo_outbox
  FOR EACH ROW EXECUTE FUNCTION scout._outbox_check();

-- New rows wake the worker once their transaction commits (scout.odoo_push_soon()).
CREATE FUNCTION scout._outbox_wake() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM scout.odoo_push_soon();
  RETURN NULL;
END
$$;
CREATE TRIGGER odoo_outbox_wake AFTER INSERT OR UPDATE OF "values", op ON scout.odoo_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION scout._outbox_wake();

-- Our key of a partner tag: 'VIP Customers' -> 'vip_customers_' || 12 hex digits of the
-- name's md5. The readable part helps a person reading Odoo's external ids; the digest makes
-- two names a user sees as different two keys ('Promo A', 'promo-a' and 'PROMO_A!' are three
-- tags), and gives any Unicode name ('顧客') a key. NULL for a name that is empty once trimmed.
CREATE FUNCTION scout.tag_key(tag text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN btrim(tag) <> '' THEN
    coalesce(nullif(left(btrim(regexp_replace(lower(btrim(tag)), '[^a-z0-9]+', '_', 'g'), '_'), 60), '') || '_', 'tag_')
    || left(md5(btrim(tag)), 12) END
$$;

-- The key of the tag our outbox last named `tag` (trimmed), if any: a tag made before keys had
-- a digest keeps its key, and a tag renamed by write-back is found under its new name.
-- SECURITY DEFINER, and executable by tag_customers' callers: they need not read the outbox;
-- it tells no more than the key of a tag name the caller already knows.
CREATE FUNCTION scout._tag_key_in_use(tag text) RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.external_key FROM (
    SELECT DISTINCT ON (o.external_key) o.external_key, o."values" ->> 'name' AS name
    FROM scout.odoo_outbox o
    WHERE o.model = 'res.partner.category' AND o.external_key IS NOT NULL AND o."values" ? 'name'
    ORDER BY o.external_key, o.id DESC) t
  WHERE t.name = btrim(tag)
  ORDER BY t.external_key LIMIT 1
$$;

-- Makes the tag if needed and adds it to those partners (with "replace", the tag's members
-- become exactly those: it is also removed from the partners silver shows with it), as outbox
-- rows; returns the number of rows queued. The caller needs INSERT on scout.odoo_outbox (and
-- SELECT on scout.customers and scout.odoo_outbox for "replace"): README, "Write-back".
CREATE FUNCTION scout.tag_customers(tag text, customer_ids bigint[], "replace" boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text := coalesce(scout._tag_key_in_use(tag), scout.tag_key(tag));
  n bigint;
  removed bigint := 0;
  tag_id bigint;
BEGIN
  IF k IS NULL THEN
    RAISE EXCEPTION 'odoo_sync: tag_customers needs a tag name that is not empty, got %', coalesce(quote_literal(tag), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF customer_ids IS NULL OR EXISTS (SELECT 1 FROM unnest(customer_ids) c WHERE c IS NULL OR c <= 0) THEN
    RAISE EXCEPTION 'odoo_sync: tag_customers takes Odoo partner ids (scout.customers.id), positive and not NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO scout.odoo_outbox (model, external_key, "values")
  VALUES ('res.partner.category', k, jsonb_build_object('name', btrim(tag)));
  INSERT INTO scout.odoo_outbox (model, odoo_id, "values")
  SELECT 'res.partner', c, jsonb_build_object('category_id', jsonb_build_object('add', jsonb_build_array(k)))
  FROM (SELECT DISTINCT c FROM unnest(customer_ids) c) u ORDER BY c;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF "replace" THEN
    SELECT o.odoo_id INTO tag_id FROM scout.odoo_outbox o
    WHERE o.model = 'res.partner.category' AND o.external_key = k AND o.state = 'sent' AND o.odoo_id IS NOT NULL
    ORDER BY o.id DESC LIMIT 1;
    IF tag_id IS NOT NULL THEN
      INSERT INTO scout.odoo_outbox (model, odoo_id, "values")
      SELECT 'res.partner', c.id, jsonb_build_object('category_id', jsonb_build_object('remove', jsonb_build_array(k)))
      FROM scout.customers c
      WHERE c.deleted_at IS NULL AND tag_id = ANY (c.tag_ids) AND c.id <> ALL (customer_ids)
      ORDER BY c.id;
      GET DIAGNOSTICS removed = ROW_COUNT;
    END IF;
  END IF;
  RETURN 1 + n + removed;
END
$$;

-- The outbox at a glance (a sibling of scout.sync_status).
CREATE VIEW scout.outbox_status AS
SELECT count(*) FILTER (WHERE state = 'pending')        AS pending,
       count(*) FILTER (WHERE state = 'failed')         AS failed,
       count(*) FILTER (WHERE state = 'sent')           AS sent,
       min(created_at) FILTER (WHERE state = 'pending') AS oldest_pending,
       max(sent_at)                                     AS last_sent_at,
       (SELECT o.last_error FROM scout.odoo_outbox o
        WHERE o.state <> 'sent' AND o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT 1) AS last_error
FROM scout.odoo_outbox;
COMMENT ON VIEW scout.outbox_status IS 'odoo_sync: write-back rows pending, failed and sent, the oldest pending, the last error.';

-- The SQL functions of src/api.rs (odoo_push, odoo_push_soon):
CREATE FUNCTION scout.odoo_push() RETURNS TABLE (
	"sent" bigint,  /* i64 */
	"failed" bigint,  /* i64 */
	"pending" bigint  /* i64 */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_push_wrapper';
CREATE FUNCTION scout.odoo_push_soon() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_push_soon_wrapper';

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

-- ---------------------------------------------------------------------------------------------
-- Hints (sql/50_hints.sql): the models Odoo writes together, and scout.odoo_sync_soon().
ALTER TABLE scout.sync_models ADD COLUMN synced_with text[] NOT NULL DEFAULT '{}';
UPDATE scout.sync_models SET synced_with = '{pos.order.line,pos.payment}' WHERE model = 'pos.order';

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

REVOKE ALL ON FUNCTION scout.odoo_sync_soon(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Webhooks (sql/50_hints.sql): the token beside the Odoo secret, its URL, and the rules
-- installed in Odoo (src/webhooks.rs).
ALTER TABLE scout.sync_secret ADD COLUMN webhook_token text;
-- The SMTP password of email alerts, beside the Odoo secret.
ALTER TABLE scout.sync_secret ADD COLUMN smtp_password text;
COMMENT ON TABLE scout.sync_secret IS 'odoo_sync: Odoo password/API key, the webhook token and the SMTP password. Readable by the extension owner only.';

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

-- The SQL functions of src/api.rs (odoo_install_webhooks, odoo_remove_webhooks):
CREATE FUNCTION scout.odoo_install_webhooks(
	"receiver_url" TEXT DEFAULT NULL /* core::option::Option<&str> */
) RETURNS TABLE (
	"model" TEXT,  /* alloc::string::String */
	"trigger" TEXT,  /* alloc::string::String */
	"rule_id" bigint,  /* i64 */
	"action_id" bigint  /* i64 */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_install_webhooks_wrapper';
CREATE FUNCTION scout.odoo_remove_webhooks() RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_remove_webhooks_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Realtime (sql/60_realtime.sql).
-- Adds the silver tables dashboards watch to the publication `supabase_realtime` when it exists
-- (Supabase), else to `odoo_sync_realtime` (created here), with REPLICA IDENTITY FULL so that an
-- update or delete carries the old row (what Realtime needs to apply row level security to it).
-- Idempotent; returns the publication's name. Superuser only (no grant). Logical decoding
-- needs wal_level = logical: a WARNING says so when it is not.
CREATE FUNCTION scout.enable_realtime() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pub text := CASE WHEN EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime')
                   THEN 'supabase_realtime' ELSE 'odoo_sync_realtime' END;
  t text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = pub) THEN
    EXECUTE format('CREATE PUBLICATION %I', pub);
  END IF;
  FOREACH t IN ARRAY scout._realtime_tables() LOOP
    EXECUTE format('ALTER TABLE scout.%I REPLICA IDENTITY FULL', t);
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.pubname = pub AND p.schemaname = 'scout' AND p.tablename = t) THEN
      EXECUTE format('ALTER PUBLICATION %I ADD TABLE scout.%I', pub, t);
    END IF;
  END LOOP;
  IF current_setting('wal_level') <> 'logical' THEN
    RAISE WARNING 'odoo_sync: wal_level is %, so no change reaches publication % yet', current_setting('wal_level'), pub
      USING HINT = 'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (Supabase already runs with it).';
  END IF;
  RETURN pub;
END
$$;

-- Takes the tables out of the publication again (the publication itself stays: Supabase owns
-- supabase_realtime) and puts their replica identity back to the primary key.
CREATE FUNCTION scout.disable_realtime() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pub text;
  t text;
BEGIN
  FOR pub, t IN SELECT p.pubname, p.tablename FROM pg_publication_tables p JOIN pg_publication USING (pubname)
                WHERE NOT puballtables AND p.schemaname = 'scout' AND p.tablename = ANY (scout._realtime_tables()) LOOP
    EXECUTE format('ALTER PUBLICATION %I DROP TABLE scout.%I', pub, t);
  END LOOP;
  FOREACH t IN ARRAY scout._realtime_tables() LOOP
    EXECUTE format('ALTER TABLE scout.%I REPLICA IDENTITY DEFAULT', t);
  END LOOP;
  RETURN 'the realtime tables are out of every publication';
END
$$;

-- The silver tables a dashboard of today's sales watches.
CREATE FUNCTION scout._realtime_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['transactions', 'transaction_items', 'payments'] $$;

REVOKE ALL ON FUNCTION scout.odoo_webhook_url() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_webhook_rotate() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._new_webhook_token() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_install_webhooks(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_remove_webhooks() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.enable_realtime() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.disable_realtime() FROM PUBLIC;
