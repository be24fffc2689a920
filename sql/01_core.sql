-- odoo_sync: core schema. Runs first (bootstrap) in CREATE EXTENSION, in schema scout.
--
-- What lives here: the table-driven description of every Odoo model we sync (sync_models),
-- the checkpoints and run logs of the reference design, the secret store, and one bronze table
-- per model. Everything is created from sync_models so that adding a model is adding a row.

-- Odoo field names are identifiers (letters, digits, underscores): a list element such as
-- 'a,b' or 'name desc' would reach Odoo as something else than one field.
CREATE FUNCTION scout.are_field_names(names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(bool_and(f ~ '^[A-Za-z_][A-Za-z0-9_]*$'), true) FROM unnest(names) AS f $$;

-- Which Odoo models are synced, in which order, and which fields are asked for.
-- Asking only for the fields we need is several times faster than fields: [] (docs/odoo-facts.md).
CREATE TABLE scout.sync_models (
    model           text PRIMARY KEY,
    bronze_table    text NOT NULL UNIQUE CHECK (bronze_table ~ '^bronze_[a-z0-9_]+$'),
    sync_order      int  NOT NULL UNIQUE,
    fields          text[] NOT NULL,
    -- Fields only some Odoo databases have (OCA modules, custom fields, fields of some Odoo
    -- versions: detailed_type on 16/17, is_storable on 18+, res.partner mobile before 19):
    -- asked for only when fields_get says they exist; otherwise they are absent from the
    -- payload (silver reads NULL or 'Unknown') and named in sync_logs.missing_fields.
    optional_fields text[] NOT NULL DEFAULT '{}',
    -- Your own extra fields (x_loyalty_tier, ...): asked for if they exist, like optional ones.
    extra_fields    text[] NOT NULL DEFAULT '{}',
    CONSTRAINT fields_are_odoo_field_names
      CHECK (scout.are_field_names(fields) AND scout.are_field_names(optional_fields) AND scout.are_field_names(extra_fields)),
    enabled         boolean NOT NULL DEFAULT true,
    -- The silver table derived from this model's bronze (set by sql/20_silver.sql; NULL: bronze only).
    silver_table    text CHECK (silver_table ~ '^[a-z_]+$'),
    -- (0.2.0) The Odoo module that provides the model when not every Odoo database has it
    -- (product.brand: OCA's product_brand). A run first asks Odoo's ir.model whether the model
    -- exists; without it the run succeeds with nothing to sync and says so in its message.
    -- NULL: every Odoo has the model, and its absence is an error.
    odoo_module     text,
    -- (0.2.0) The models Odoo writes in the same transaction as this one (a POS order with its
    -- lines and payments): a hint for this model (scout.odoo_sync_soon) syncs them too.
    synced_with     text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE scout.sync_models IS
  'odoo_sync: the Odoo models to sync, their bronze tables, fields and dependency order. Disable a model with UPDATE ... SET enabled = false.';

INSERT INTO scout.sync_models (model, bronze_table, sync_order, fields, optional_fields, odoo_module) VALUES
  -- Named records first: silver takes company and brand names from their own rows.
  ('res.company',        'bronze_res_company',         5,
     '{id,name,currency_id,write_date,create_date}', '{}', NULL),
  ('product.brand',      'bronze_product_brand',      15,
     '{id,name,write_date,create_date}', '{}', 'product_brand');
INSERT INTO scout.sync_models (model, bronze_table, sync_order, fields, optional_fields) VALUES
  ('product.category',   'bronze_product_category',   10,
     '{id,name,complete_name,parent_id,write_date,create_date}', '{}'),
  ('product.product',    'bronze_product_product',    20,
     '{id,name,display_name,default_code,barcode,categ_id,list_price,lst_price,standard_price,active,type,taxes_id,company_id,product_tmpl_id,write_date,create_date}',
     '{product_brand_id,detailed_type,is_storable}'),
  ('res.partner',        'bronze_res_partner',        30,
     '{id,name,display_name,type,is_company,parent_id,street,street2,city,zip,state_id,country_id,email,phone,active,company_id,customer_rank,write_date,create_date,category_id}',
     '{x_region_code,mobile}'),
  ('pos.config',         'bronze_pos_config',         40,
     '{id,name,company_id,currency_id,active,write_date,create_date}', '{}'),
  ('pos.session',        'bronze_pos_session',        50,
     '{id,name,config_id,state,start_at,stop_at,user_id,write_date,create_date}', '{}'),
  ('pos.payment.method', 'bronze_pos_payment_method', 60,
     '{id,name,type,is_cash_count,company_id,active,write_date,create_date}', '{}'),
  ('pos.order',          'bronze_pos_order',          70,
     '{id,name,pos_reference,date_order,partner_id,session_id,config_id,company_id,currency_id,user_id,amount_total,amount_tax,amount_paid,amount_return,state,lines,payment_ids,write_date,create_date}',
     '{}'),
  ('pos.order.line',     'bronze_pos_order_line',     80,
     '{id,order_id,product_id,full_product_name,qty,price_unit,discount,price_subtotal,price_subtotal_incl,tax_ids,company_id,write_date,create_date}',
     '{}'),
  ('pos.payment',        'bronze_pos_payment',        90,
     '{id,pos_order_id,payment_method_id,amount,payment_date,session_id,is_change,company_id,write_date,create_date}',
     '{}');

UPDATE scout.sync_models SET synced_with = '{pos.order.line,pos.payment}' WHERE model = 'pos.order';

-- The reference's checkpoint table, plus the state of an unfinished window so that a run that
-- stopped half-way (crash, cancel, Odoo down) resumes exactly where it stopped.
CREATE TABLE scout.sync_checkpoints (
    id              text PRIMARY KEY,              -- '<odoo_sync.checkpoint_key>:<model>'
    last_sync_at    timestamptz NOT NULL,          -- high-water mark H (Odoo's clock, whole seconds)
    last_record_id  bigint,                        -- last id loaded of the unfinished window
    records_synced  bigint DEFAULT 0,
    status          text DEFAULT 'success',
    error_message   text,
    created_at      timestamptz DEFAULT now(),
    model           text NOT NULL,
    window_start    timestamptz,                   -- L of the unfinished window (NULL: no lower bound)
    window_end      timestamptz,                   -- U of the unfinished window (NULL: none open)
    window_full     boolean NOT NULL DEFAULT false, -- the unfinished window belongs to a full sync
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- (0.2.0) Which records a window selects (odoo_sync.company_ids, extra_fields) as of the
    -- last completed window: when it changes, the next run re-reads every record, so that
    -- records the old selection left out (or read without a new field) are not stranded.
    selection       text,
    -- (0.2.0) An unfinished reconciliation (scout.odoo_reconcile_run, the worker): its log row
    -- and the last id it compared; the next reconciliation resumes there.
    reconcile_run_id  bigint,
    reconcile_last_id bigint,
    -- (0.2.0) Where the high-water mark goes when the unfinished window is done (NULL: its
    -- window_end). Earlier than window_end for a hinted run, which reads up to Odoo's now while
    -- the mark stays odoo_sync.safety_lag behind (late commits are still re-read).
    window_mark       timestamptz
);
COMMENT ON TABLE scout.sync_checkpoints IS
  'odoo_sync: per-model high-water mark on Odoo''s clock, advanced in the same transaction as the rows.';

-- One row per model per run.
CREATE TABLE scout.sync_logs (
    id                bigserial PRIMARY KEY,       -- the run id
    checkpoint_id     text NOT NULL,
    model             text NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at      timestamptz,
    records_processed bigint NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'success', 'failed', 'skipped')),
    error_count       int NOT NULL DEFAULT 0,
    fetched           bigint NOT NULL DEFAULT 0,
    inserted          bigint NOT NULL DEFAULT 0,
    updated           bigint NOT NULL DEFAULT 0,
    unchanged         bigint NOT NULL DEFAULT 0,
    rejected          bigint NOT NULL DEFAULT 0,
    deleted           bigint NOT NULL DEFAULT 0,
    full_sync         boolean NOT NULL DEFAULT false,
    run_mode          text NOT NULL DEFAULT 'function',
    window_start      timestamptz,
    window_end        timestamptz,
    odoo_version      text,
    transport         text,
    http_calls        bigint NOT NULL DEFAULT 0,
    http_retries      bigint NOT NULL DEFAULT 0,
    estimated_total   bigint,                      -- Odoo's count for the window (committing runs)
    missing_fields    text[],                      -- requested fields this Odoo does not have (synced without)
    backend_pid       int NOT NULL DEFAULT pg_backend_pid(),  -- who runs it (to spot runs cut off by a crash)
    message           text,                        -- a note on a run that did not fail (skipped: why; fields synced without)
    error_code        text,                        -- a failed run's SQLSTATE (as the ERROR a function call raises)
    error_message     text,                        -- a failed run's error
    -- (0.2.0) A reconciliation's findings (run_mode 'reconcile'; `deleted` is above): records in
    -- Odoo and not in bronze, with another write_date, back in Odoo after a soft delete, and how
    -- many Odoo has (of what the sync selects).
    missing           bigint NOT NULL DEFAULT 0,
    stale             bigint NOT NULL DEFAULT 0,
    restored          bigint NOT NULL DEFAULT 0,
    odoo_count        bigint
);
CREATE INDEX sync_logs_model_started ON scout.sync_logs (model, started_at DESC);
COMMENT ON TABLE scout.sync_logs IS 'odoo_sync: one row per model per run.';

-- The Odoo password or API key. Only the extension's owner (the superuser who ran CREATE
-- EXTENSION) can read it: no grants, row level security on with no policy, and the sync
-- functions read it as SECURITY DEFINER. Written through scout.odoo_set_secret().
CREATE TABLE scout.sync_secret (
    id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    password    text,
    api_key     text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- (0.2.0) The secret in the webhook listener's path (scout.odoo_webhook_url()).
    webhook_token text,
    -- (0.2.0) The SMTP password of email alerts (odoo_sync.alert_smtp_user).
    smtp_password text
);
ALTER TABLE scout.sync_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE scout.sync_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY sync_secret_owner_only ON scout.sync_secret USING (false);
REVOKE ALL ON scout.sync_secret FROM PUBLIC;
COMMENT ON TABLE scout.sync_secret IS 'odoo_sync: Odoo password/API key, the webhook token and the SMTP password. Readable by the extension owner only.';

-- What every sync function returns: one row per model per run.
CREATE TYPE scout.sync_result AS (
    run_id     bigint,       -- scout.sync_logs.id (NULL for a dry run, which logs nothing)
    model      text,
    fetched    bigint,       -- records read from Odoo
    inserted   bigint,       -- new in bronze
    updated    bigint,       -- changed in bronze
    unchanged  bigint,       -- re-read but identical (look-back overlap, full re-sync)
    rejected   bigint,       -- quarantined by data-quality rules
    deleted    bigint,       -- gone from Odoo (found by a full sync), soft-deleted here
    checkpoint timestamptz,  -- the high-water mark after the run, on Odoo's clock
    duration   interval,
    status     text,         -- success | skipped | in_progress (a step with more to do)
    message    text
);

-- (0.2.0) One row per model of scout.odoo_reconcile(): what it found and repaired.
CREATE TYPE scout.reconcile_result AS (
    model        text,
    odoo_count   bigint,     -- records in Odoo (archived included; of the companies synced)
    bronze_count bigint,     -- live records in bronze before the repair
    missing      bigint,     -- in Odoo, not in bronze: re-fetched
    stale        bigint,     -- bronze's write_date differs from Odoo's: re-fetched
    deleted      bigint,     -- live in bronze, gone from Odoo: soft-deleted
    restored     bigint,     -- soft-deleted in bronze, back in Odoo: re-fetched
    refetched    bigint,     -- records re-fetched and loaded (0 in a dry run)
    duration     interval,
    status       text,       -- success | skipped
    run_id       bigint      -- scout.sync_logs.id (run_mode 'reconcile'; NULL for a dry run)
);

-- Odoo renders datetimes as naive UTC text and empty values as false.
-- STABLE, like the text -> timestamp cast inside it: PostgreSQL then inlines it into the
-- bronze upsert instead of calling it once per row (+10 % load rate, measured by bench/run.sh).
CREATE FUNCTION scout.odoo_datetime(v jsonb) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN (v #>> '{}')::timestamp AT TIME ZONE 'UTC' END $$;

-- One bronze table per model: the raw record as Odoo sent it, keyed by Odoo id.
DO $$
DECLARE m record;
BEGIN
  FOR m IN SELECT bronze_table, model FROM scout.sync_models LOOP
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
END $$;

-- Keep our data in pg_dump output: these are user data, not extension definitions.
SELECT pg_catalog.pg_extension_config_dump('scout.sync_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('scout.sync_logs', '');
SELECT pg_catalog.pg_extension_config_dump('scout.sync_secret', '');
