-- odoo_sync: silver layer. Runs in CREATE EXTENSION after 01_core.sql, in schema scout.
--
-- Silver holds typed, deduplicated, validated rows derived from bronze (the raw Odoo records),
-- one table per business entity, with the reference design's names (scout.transactions,
-- scout.transaction_items, scout.products, scout.categories, scout.customers, scout.stores)
-- plus scout.payment_methods and scout.payments, which the payment-method column and the
-- payment rules need, and scout.companies and scout.brands, whose names stores and products
-- take from the named record's own row: Odoo sends a many2one as [id, "display name"] but does
-- not touch the write_date of records pointing at a renamed one, so a name embedded in another
-- record's payload is a snapshot as of that record's last write, and silver never shows it
-- when the named record itself is synced. Every row keeps its Odoo id, the Odoo write_date, the run that last
-- changed it, and deleted_at (soft delete: the record no longer exists in Odoo).
--
-- Silver is a pure function of bronze. The sync engine calls scout.silver_apply(model, ids,
-- run_id) in the same transaction right after each bronze page, with the ids that page
-- inserted or changed; silver_apply re-derives those rows AND everything derived from them
-- (see "Dependencies" below), set-based: a fixed number of statements per call, whatever the
-- page size. scout.silver_rebuild() re-derives everything; scout.silver_mark_deleted()
-- propagates soft deletes.
--
-- ==========================================================================================
-- DATA-QUALITY RULES (the one place they are defined; README "Silver and gold" lists them too)
-- ==========================================================================================
-- A record that fails a rule is kept out of its silver table and gets one row per failed rule
-- in scout.silver_rejects (model, source_id, rule, reason, run_id, first_seen, last_seen). The
-- rules are re-evaluated every time the record or anything it depends on changes, so a record
-- leaves quarantine by itself when Odoo fixes it (or when what it was waiting for arrives).
-- Soft-deleted records are never in quarantine. Refunds are valid data, not errors.
--
--  rule                     record               fails when
--  -----------------------  -------------------  -----------------------------------------------
--  missing_category         product.product      categ_id is not a live product.category in bronze
--  missing_store            pos.order            config_id is empty or not a live pos.config
--  missing_order            pos.order.line,      order_id / pos_order_id is not a live pos.order
--                           pos.payment
--  missing_product          pos.order.line       product_id is not a live product.product
--  missing_payment_method   pos.payment          payment_method_id is not a live pos.payment.method
--  line_total_mismatch      pos.order.line       qty × price_unit × (1 − discount/100) differs by
--                                                more than 0.01 from price_subtotal (tax-excluded
--                                                prices) AND from price_subtotal_incl (tax-included
--                                                prices)
--  negative_qty_not_refund  pos.order.line       qty < 0, the order is not a refund (amount_total
--                                                >= 0 and its name does not end in "REFUND"), and
--                                                the line names no refunded line
--                                                (refunded_orderline_id, when that field is synced)
--  order_without_lines      pos.order            completed (paid/done/invoiced) but Odoo lists no
--                                                lines and bronze has none for it
--  payments_mismatch        pos.order            completed, all the payments Odoo lists for it are
--                                                synced, and their sum (change included) differs
--                                                from amount_total by more than 0.01
--
-- "Live" means present in bronze and not soft-deleted. A missing_* reject is how a record that
-- arrived before what it refers to (a line before its order, in a race with a POS upload) waits:
-- it names the record it waits for (ref_model, ref_id) and is re-derived the moment that record
-- arrives. An order whose lines or payments have not all been synced yet is not judged by the
-- rules that need them (it is in silver, with complete = false) until they arrive.
--
-- The tolerance (0.01 of the currency) is scout.silver_money_tolerance().
--
-- Dependencies (what silver_apply re-derives besides the rows it is given):
--   res.company        -> its stores (company name)
--   product.brand      -> its products (brand name) -> their order lines -> those orders
--   product.category   -> its products -> their order lines -> those orders
--   product.product    -> its order lines (category, brand) -> those orders (first line's)
--   pos.payment.method -> its payments (category) -> those orders (payment_method)
--   res.partner        -> the stores whose address partner it is (same name as the POS)
--   pos.config         -> orders waiting for it (missing_store)
--   pos.order          -> its lines and payments (existence, refund flag, cascade soft delete)
--   pos.order.line     -> its order (quantity, line count, first line's brand and category)
--   pos.payment        -> its order (payment_method, payments_mismatch)
--   anything           -> records in quarantine waiting for it (missing_* rules)
--
-- Money is numeric exactly as Odoo sent it (bronze keeps the JSON number text; jsonb numbers
-- are numeric), never a float. Times are timestamptz (Odoo sends naive UTC).
-- ==========================================================================================

-- ------------------------------------------------------------------------------------------
-- Small helpers to read Odoo's JSON values. Odoo renders "no value" as false, never null.
-- These are deliberately plain, immutable, one-expression SQL functions WITHOUT a SET clause:
-- PostgreSQL inlines such functions into the calling query (a SET clause would turn every call
-- into a real function call with a GUC save/restore, per row). They only use pg_catalog
-- operators, and the functions that use them run with search_path = pg_catalog, pg_temp.
-- ------------------------------------------------------------------------------------------

-- many2one [id, "display name"] -> id
CREATE FUNCTION scout.odoo_m2o(v jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN (v ->> 0)::bigint END $$;

-- (0.2.0) many2many [id, ...] -> bigint[] (NULL when the field was not read)
CREATE FUNCTION scout.odoo_ids(v jsonb) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN ARRAY(SELECT e::bigint FROM jsonb_array_elements_text(v) AS e) END $$;

-- many2one [id, "display name"] -> display name
CREATE FUNCTION scout.odoo_m2o_name(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' THEN v ->> 1 END $$;

-- char / text / selection -> text (false -> NULL)
CREATE FUNCTION scout.odoo_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END $$;

-- float / monetary / integer -> numeric, exactly (jsonb numbers are numeric)
CREATE FUNCTION scout.odoo_num(v jsonb) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN v::numeric END $$;

-- boolean (a boolean field's false is a real value)
CREATE FUNCTION scout.odoo_bool(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN v::boolean END $$;

-- The data-quality tolerance on money: one cent of the currency (Odoo rounds each line and
-- each total to the currency's precision, so honest data is off by at most half a cent).
CREATE FUNCTION scout.silver_money_tolerance() RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 0.01::numeric $$;

-- pos.order.state -> scout.transactions.status (documented enum, see README).
CREATE FUNCTION scout.order_status(state text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE state
               WHEN 'draft'    THEN 'pending'
               WHEN 'paid'     THEN 'completed'
               WHEN 'done'     THEN 'completed'
               WHEN 'invoiced' THEN 'completed'
               WHEN 'cancel'   THEN 'cancelled'
               ELSE 'unknown' END $$;

-- pos.payment.method -> payment category: cash, card, e-wallet or other (documented in README).
-- Odoo gives every non-cash method the type "bank" (card terminals, e-wallet QR codes and bank
-- transfers alike), so the name decides between them.
CREATE FUNCTION scout.payment_category(name text, odoo_type text, is_cash_count boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE
    WHEN odoo_type = 'cash' OR is_cash_count THEN 'cash'
    WHEN name ~* '(g-?cash|pay ?maya|\mmaya\M|grab ?pay|shopee ?pay|coins\.ph|wallet|alipay|wechat|qr ?ph|\mqr\M|gopay|ovo|dana\M|paypal|venmo|apple ?pay|google ?pay|samsung ?pay)'
         THEN 'e-wallet'
    WHEN odoo_type = 'pay_later'
         OR name ~* '(transfer|cheque|\mcheck\M|voucher|gift|loyalty|customer account|store credit|credit note|\mpoints?\M|coupon)'
         THEN 'other'
    WHEN name ~* '(card|visa|master ?card|amex|american express|\mjcb\M|diners|discover|\mcredit\M|\mdebit\M|bancnet|terminal|eftpos|\mpos\M|stripe|adyen|paymongo|\mbank\M)'
         OR odoo_type = 'bank'
         THEN 'card'
    ELSE 'other' END $$;

-- Which silver table each model's bronze feeds (pos.session feeds none).
UPDATE scout.sync_models m SET silver_table = v.silver_table
FROM (VALUES ('res.company', 'companies'), ('product.category', 'categories'), ('product.brand', 'brands'),
             ('product.product', 'products'), ('res.partner', 'customers'),
             ('pos.config', 'stores'), ('pos.payment.method', 'payment_methods'), ('pos.order', 'transactions'),
             ('pos.order.line', 'transaction_items'), ('pos.payment', 'payments')) AS v(model, silver_table)
WHERE m.model = v.model;

-- ------------------------------------------------------------------------------------------
-- Indexes on bronze for the reverse look-ups the dependencies need (lines of an order, of a
-- product; payments of an order, of a method; products of a category; partners by name).
-- They use the same expressions as the queries below, so the planner can use them.
-- ------------------------------------------------------------------------------------------
CREATE INDEX bronze_pos_order_line_by_order   ON scout.bronze_pos_order_line ((scout.odoo_m2o(payload -> 'order_id')));
CREATE INDEX bronze_pos_order_line_by_product ON scout.bronze_pos_order_line ((scout.odoo_m2o(payload -> 'product_id')));
CREATE INDEX bronze_pos_payment_by_order      ON scout.bronze_pos_payment ((scout.odoo_m2o(payload -> 'pos_order_id')));
CREATE INDEX bronze_pos_payment_by_method     ON scout.bronze_pos_payment ((scout.odoo_m2o(payload -> 'payment_method_id')));
CREATE INDEX bronze_product_product_by_categ  ON scout.bronze_product_product ((scout.odoo_m2o(payload -> 'categ_id')));
CREATE INDEX bronze_product_product_by_brand  ON scout.bronze_product_product ((scout.odoo_m2o(payload -> 'product_brand_id')));
CREATE INDEX bronze_pos_config_by_company     ON scout.bronze_pos_config ((scout.odoo_m2o(payload -> 'company_id')));
CREATE INDEX bronze_res_partner_by_name       ON scout.bronze_res_partner ((lower(scout.odoo_text(payload -> 'name'))));

-- ------------------------------------------------------------------------------------------
-- The quarantine: the one table every entity's rules write to
-- ------------------------------------------------------------------------------------------

-- The quarantine: records kept out of silver by a data-quality rule (see the rules above).
-- One row per record and failed rule; it disappears when the record passes again.
CREATE TABLE scout.silver_rejects (
    model       text   NOT NULL,                -- Odoo model of the rejected record
    source_id   bigint NOT NULL,                -- its Odoo id (bronze has the raw record)
    rule        text   NOT NULL,
    reason      text   NOT NULL,                -- what is wrong, with the values
    ref_model   text,                           -- missing_* rules: the record it waits for
    ref_id      bigint,
    run_id      bigint,                         -- the sync run that last found it failing
    first_run_id bigint,                        -- the sync run that first found it failing
    first_seen  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, source_id, rule)
);
CREATE INDEX silver_rejects_waiting ON scout.silver_rejects (ref_model, ref_id) WHERE ref_model IS NOT NULL;
CREATE INDEX silver_rejects_rule ON scout.silver_rejects (rule);
COMMENT ON TABLE scout.silver_rejects IS 'odoo_sync silver: records in quarantine (failing a data-quality rule), with the rule, the reason and the run id.';

-- Silver holds user data: keep it in pg_dump output (each entity's file does the same for its tables).
SELECT pg_catalog.pg_extension_config_dump('scout.silver_rejects', '');

-- ------------------------------------------------------------------------------------------
-- Derivation steps: one function per silver table. Each takes the Odoo ids to re-derive,
-- recomputes those rows from bronze in ONE statement (data-modifying CTEs: upsert the rows
-- that pass, delete the rows that now fail, record and clear rejects) and reports:
--   changed   ids the next layer must re-derive (what depends on rows that really changed)
--   rejected  how many of the given records are in quarantine after the call
-- Unchanged rows are not rewritten (ON CONFLICT ... WHERE row IS DISTINCT FROM). Rows are
-- written in id order so that two sessions touching the same rows lock them in the same order.
-- Every function runs with jit = off: a first load is one long transaction in which nothing
-- gets analyzed, so the planner's cost estimates pass jit_above_cost and each page paid
-- 0.1-1.2 s of JIT compilation for statements that run in milliseconds.
-- ------------------------------------------------------------------------------------------

-- Records (of one model) in quarantine that fail right now: the rejects bookkeeping shared by
-- every step. `failing` is a jsonb array of {id, rule, reason, ref_model, ref_id}.
CREATE FUNCTION scout._silver_record_rejects(p_model text, p_ids bigint[], failing jsonb, p_run bigint)
RETURNS bigint LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH f AS (
    SELECT (e ->> 'id')::bigint AS source_id, e ->> 'rule' AS rule, e ->> 'reason' AS reason,
           e ->> 'ref_model' AS ref_model, (e ->> 'ref_id')::bigint AS ref_id
    FROM jsonb_array_elements(failing) AS e
), upsert AS (
    INSERT INTO scout.silver_rejects AS r (model, source_id, rule, reason, ref_model, ref_id, run_id, first_run_id)
    SELECT p_model, f.source_id, f.rule, f.reason, f.ref_model, f.ref_id, p_run, p_run
    FROM f ORDER BY f.source_id, f.rule
    ON CONFLICT (model, source_id, rule) DO UPDATE
       SET reason = EXCLUDED.reason, ref_model = EXCLUDED.ref_model, ref_id = EXCLUDED.ref_id,
           run_id = coalesce(EXCLUDED.run_id, r.run_id), last_seen = now()
    RETURNING 1
), cleared AS (
    DELETE FROM scout.silver_rejects r
    WHERE r.model = p_model AND r.source_id = ANY (p_ids)
      AND NOT EXISTS (SELECT 1 FROM f WHERE f.source_id = r.source_id AND f.rule = r.rule)
    RETURNING 1
)
SELECT count(DISTINCT f.source_id) FROM f;
$$;


-- The entities follow, one file each: 21_silver_catalog.sql (companies, brands, categories,
-- products), 22_silver_customers.sql, 23_silver_stores.sql (stores, payment methods),
-- 24_silver_sales.sql (payments, transactions, transaction items); 29_silver_apply.sql joins
-- them (silver_apply, silver_mark_deleted, silver_rebuild, analyze_for_load).
