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
-- Silver tables
-- ------------------------------------------------------------------------------------------

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

CREATE TABLE scout.categories (
    id           bigint PRIMARY KEY,            -- product.category id
    name         text,
    path         text,                          -- complete_name, e.g. 'All / Snacks / Chips'
    parent_id    bigint,
    write_date   timestamptz,
    run_id       bigint,                        -- the sync run that last changed the row
    synced_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz                    -- set when the record no longer exists in Odoo
);
COMMENT ON TABLE scout.categories IS 'odoo_sync silver: product categories (product.category) with parent and full path.';

CREATE TABLE scout.products (
    id              bigint PRIMARY KEY,         -- product.product id
    name            text,
    display_name    text,
    default_code    text,
    barcode         text,
    category_id     bigint,
    category_name   text,
    category_path   text,
    brand_id        bigint,                     -- OCA product_brand's product_brand_id, when Odoo has it
    brand_name      text NOT NULL DEFAULT 'Unknown',
    list_price      numeric,
    standard_price  numeric,
    product_type    text,                       -- consu (goods), service, combo; Odoo 16/17's "product" is consu
    is_storable     boolean,                    -- stock is tracked: Odoo 18+ is_storable, 16/17 type "product"; NULL: Odoo does not say
    active          boolean,                    -- false: archived in Odoo (kept, flagged)
    company_id      bigint,
    product_tmpl_id bigint,
    write_date      timestamptz,
    run_id          bigint,
    synced_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
CREATE INDEX products_category ON scout.products (category_id);
COMMENT ON TABLE scout.products IS 'odoo_sync silver: products (product.product) with category and brand (''Unknown'' without OCA product_brand).';

CREATE TABLE scout.customers (
    id             bigint PRIMARY KEY,          -- res.partner id
    name           text,
    display_name   text,
    partner_type   text,                        -- contact, invoice, delivery, other
    is_company     boolean,
    parent_id      bigint,
    street         text,
    street2        text,
    city           text,
    zip            text,
    state_id       bigint,
    state_name     text,
    country_id     bigint,
    country_name   text,
    region_code    text,                        -- custom x_region_code, when Odoo has it
    email          text,
    phone          text,
    mobile         text,                        -- Odoo 16-18 (19 removed the field: NULL)
    active         boolean,
    company_id     bigint,
    customer_rank  integer,
    write_date     timestamptz,
    run_id         bigint,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    tag_ids        bigint[]                     -- (0.2.0) partner tags (res.partner.category ids); NULL: not read yet
);
COMMENT ON TABLE scout.customers IS 'odoo_sync silver: contacts (res.partner), people and companies, with address and region code.';

CREATE TABLE scout.stores (
    id                 bigint PRIMARY KEY,      -- pos.config id (= transactions.store_id)
    name               text,
    company_id         bigint,
    company_name       text,
    currency           text,
    active             boolean,
    -- Odoo CE's pos.config has no address. A store's address comes from the res.partner that
    -- has the same name as the POS (case-insensitive; a company contact wins, then the lowest
    -- id). Without one, the address and region are NULL rather than guessed.
    address_partner_id bigint,
    street             text,
    street2            text,
    city               text,
    zip                text,
    state_name         text,
    country_name       text,
    region_code        text,
    -- The store's IANA time zone when Odoo gives one (the address partner's tz, if that field
    -- is synced); gold falls back to the odoo_sync.timezone setting, then UTC.
    timezone           text,
    write_date         timestamptz,
    run_id             bigint,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
COMMENT ON TABLE scout.stores IS 'odoo_sync silver: one store per POS (pos.config), with address and region where Odoo knows them.';

CREATE TABLE scout.payment_methods (
    id             bigint PRIMARY KEY,          -- pos.payment.method id
    name           text,
    odoo_type      text,                        -- cash, bank, pay_later
    is_cash_count  boolean,
    category       text NOT NULL CHECK (category IN ('cash', 'card', 'e-wallet', 'other')),
    company_id     bigint,
    active         boolean,
    write_date     timestamptz,
    run_id         bigint,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
COMMENT ON TABLE scout.payment_methods IS 'odoo_sync silver: POS payment methods and their category (cash, card, e-wallet, other).';

CREATE TABLE scout.payments (
    id                 bigint PRIMARY KEY,      -- pos.payment id
    order_id           bigint NOT NULL,         -- pos.order id (= transactions.source_id)
    payment_method_id  bigint NOT NULL,
    method_name        text,
    payment_method     text,                    -- the method's category
    amount             numeric,                 -- negative for change given and for refunds
    is_change          boolean,
    payment_date       timestamptz,
    session_id         bigint,
    company_id         bigint,
    write_date         timestamptz,
    run_id             bigint,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz
);
CREATE INDEX payments_order ON scout.payments (order_id);
COMMENT ON TABLE scout.payments IS 'odoo_sync silver: POS payments (pos.payment); change given is a negative payment with is_change.';

CREATE TABLE scout.transactions (
    source_id         bigint PRIMARY KEY,       -- pos.order id
    id                text GENERATED ALWAYS AS ('TX-' || source_id::text) STORED UNIQUE, -- the reference's TX-<id>
    transaction_code  text,                     -- pos.order.name ('<shop> - 000123', '... REFUND')
    pos_reference     text,                     -- receipt number
    "timestamp"       timestamptz,              -- date_order
    store_id          bigint,                   -- pos.config id (scout.stores)
    session_id        bigint,
    customer_id       bigint,                   -- res.partner id (scout.customers), NULL: walk-in
    company_id        bigint,
    user_id           bigint,
    currency          text,
    gross_amount      numeric,                  -- amount_total (tax included; negative for refunds)
    tax_amount        numeric,                  -- amount_tax
    net_amount        numeric,                  -- amount_paid (the reference's mapping)
    change_amount     numeric,                  -- amount_return
    status            text NOT NULL CHECK (status IN ('pending', 'completed', 'cancelled', 'unknown')),
    odoo_state        text,                     -- draft, paid, done, invoiced, cancel
    is_refund         boolean NOT NULL,
    payment_method    text CHECK (payment_method IN ('cash', 'card', 'e-wallet', 'other', 'split')),
    quantity          numeric NOT NULL DEFAULT 0,  -- sum of its lines' qty
    line_count        integer NOT NULL DEFAULT 0,
    brand_name        text NOT NULL DEFAULT 'Unknown',   -- the first line's (reference transformPosOrder)
    product_category  text NOT NULL DEFAULT 'Unknown',   -- the first line's
    complete          boolean NOT NULL DEFAULT false,    -- all the lines and payments Odoo lists are synced
    write_date        timestamptz,
    run_id            bigint,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE INDEX transactions_timestamp ON scout.transactions ("timestamp");
CREATE INDEX transactions_store ON scout.transactions (store_id, "timestamp");
COMMENT ON TABLE scout.transactions IS 'odoo_sync silver: POS orders (pos.order), one row per order; refunds are orders with negative amounts.';

CREATE TABLE scout.transaction_items (
    source_id         bigint PRIMARY KEY,       -- pos.order.line id
    order_id          bigint NOT NULL,          -- pos.order id (= transactions.source_id)
    transaction_id    text GENERATED ALWAYS AS ('TX-' || order_id::text) STORED, -- = transactions.id
    product_id        bigint NOT NULL,
    product_name      text,                     -- full_product_name as sold
    category_id       bigint,
    product_category  text NOT NULL DEFAULT 'Unknown',   -- the category's name
    category_path     text,                     -- 'All / Snacks / Chips'
    brand_id          bigint,
    brand_name        text NOT NULL DEFAULT 'Unknown',
    quantity          numeric,                  -- qty (negative on refunds)
    unit_price        numeric,                  -- price_unit
    discount_percent  numeric,                  -- discount
    line_total        numeric,                  -- price_subtotal (tax excluded)
    line_total_incl   numeric,                  -- price_subtotal_incl (tax included)
    company_id        bigint,
    write_date        timestamptz,
    run_id            bigint,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE INDEX transaction_items_order ON scout.transaction_items (order_id);
CREATE INDEX transaction_items_product ON scout.transaction_items (product_id);
COMMENT ON TABLE scout.transaction_items IS 'odoo_sync silver: POS order lines (pos.order.line) with product category and brand.';

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

-- Silver holds user data: keep it in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('scout.companies', '');
SELECT pg_catalog.pg_extension_config_dump('scout.brands', '');
SELECT pg_catalog.pg_extension_config_dump('scout.categories', '');
SELECT pg_catalog.pg_extension_config_dump('scout.products', '');
SELECT pg_catalog.pg_extension_config_dump('scout.customers', '');
SELECT pg_catalog.pg_extension_config_dump('scout.stores', '');
SELECT pg_catalog.pg_extension_config_dump('scout.payment_methods', '');
SELECT pg_catalog.pg_extension_config_dump('scout.payments', '');
SELECT pg_catalog.pg_extension_config_dump('scout.transactions', '');
SELECT pg_catalog.pg_extension_config_dump('scout.transaction_items', '');
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

-- product.category -> scout.categories. No rules. changed: categories whose name, path or
-- liveness changed (their products carry them).
CREATE FUNCTION scout._silver_categories(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id,
           scout.odoo_text(b.payload -> 'name') AS name,
           coalesce(scout.odoo_text(b.payload -> 'complete_name'), scout.odoo_text(b.payload -> 'name')) AS path,
           scout.odoo_m2o(b.payload -> 'parent_id') AS parent_id,
           b.write_date, b.deleted_at
    FROM scout.bronze_product_category b
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.categories AS s (id, name, path, parent_id, write_date, run_id, synced_at, deleted_at)
    SELECT id, name, path, parent_id, write_date, p_run, now(), deleted_at FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, path = EXCLUDED.path, parent_id = EXCLUDED.parent_id,
           write_date = EXCLUDED.write_date, run_id = coalesce(EXCLUDED.run_id, s.run_id),
           synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.path, s.parent_id, s.write_date, s.deleted_at)
           IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.path, EXCLUDED.parent_id, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(src.id) FROM src
                 LEFT JOIN scout.categories o ON o.id = src.id   -- the row before this statement
                 WHERE o.id IS NULL
                    OR (o.name, o.path, o.deleted_at IS NULL) IS DISTINCT FROM (src.name, src.path, src.deleted_at IS NULL)),
                '{}'),
       0::bigint;
$$;

-- product.product -> scout.products. Rule: missing_category. changed: products whose category,
-- brand, liveness or validity changed (their order lines carry category and brand).
CREATE FUNCTION scout._silver_products(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
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

-- res.partner -> scout.customers. No rules.
CREATE FUNCTION scout._silver_customers(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
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

-- A time zone name PostgreSQL knows, or NULL (Odoo's tz values are IANA names; an unknown one
-- must not break a refresh).
CREATE FUNCTION scout.known_timezone(tz text) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT name FROM pg_catalog.pg_timezone_names WHERE name = tz LIMIT 1 $$;

-- pos.config (+ its address partner) -> scout.stores. No rules.
CREATE FUNCTION scout._silver_stores(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
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

-- pos.payment.method -> scout.payment_methods. No rules. changed: methods whose name,
-- category or liveness changed (their payments carry them).
CREATE FUNCTION scout._silver_payment_methods(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT b.id, b.write_date, b.deleted_at,
           scout.odoo_text(b.payload -> 'name') AS name,
           scout.odoo_text(b.payload -> 'type') AS odoo_type,
           scout.odoo_bool(b.payload -> 'is_cash_count') AS is_cash_count,
           scout.payment_category(scout.odoo_text(b.payload -> 'name'), scout.odoo_text(b.payload -> 'type'),
                                  scout.odoo_bool(b.payload -> 'is_cash_count')) AS category,
           scout.odoo_m2o(b.payload -> 'company_id') AS company_id,
           scout.odoo_bool(b.payload -> 'active') AS active
    FROM scout.bronze_pos_payment_method b
    WHERE b.id = ANY (p_ids)
), up AS (
    INSERT INTO scout.payment_methods AS s (id, name, odoo_type, is_cash_count, category, company_id, active,
        write_date, run_id, synced_at, deleted_at)
    SELECT id, name, odoo_type, is_cash_count, category, company_id, active, write_date, p_run, now(), deleted_at
    FROM src ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET name = EXCLUDED.name, odoo_type = EXCLUDED.odoo_type, is_cash_count = EXCLUDED.is_cash_count,
           category = EXCLUDED.category, company_id = EXCLUDED.company_id, active = EXCLUDED.active,
           write_date = EXCLUDED.write_date, run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(),
           deleted_at = EXCLUDED.deleted_at
     WHERE (s.name, s.odoo_type, s.is_cash_count, s.category, s.company_id, s.active, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.name, EXCLUDED.odoo_type, EXCLUDED.is_cash_count, EXCLUDED.category, EXCLUDED.company_id,
            EXCLUDED.active, EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id
)
SELECT coalesce((SELECT array_agg(src.id) FROM src
                 LEFT JOIN scout.payment_methods o ON o.id = src.id
                 WHERE o.id IS NULL
                    OR (o.name, o.category, o.deleted_at IS NULL) IS DISTINCT FROM (src.name, src.category, src.deleted_at IS NULL)),
                '{}'),
       0::bigint;
$$;

-- pos.order.line -> scout.transaction_items. Rules: missing_order, missing_product,
-- line_total_mismatch, negative_qty_not_refund. A line of a soft-deleted order is soft-deleted
-- with it (Odoo deletes an order's lines with it). changed: the orders whose items changed.
CREATE FUNCTION scout._silver_items(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
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

-- pos.payment -> scout.payments. Rules: missing_order, missing_payment_method. A payment of a
-- soft-deleted order is soft-deleted with it. changed: the orders whose payments changed.
CREATE FUNCTION scout._silver_payments(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT p.id, p.write_date,
           coalesce(p.deleted_at, o.deleted_at) AS deleted_at,
           scout.odoo_m2o(p.payload -> 'pos_order_id') AS order_id,
           scout.odoo_m2o(p.payload -> 'payment_method_id') AS payment_method_id,
           o.id IS NOT NULL AS order_present,
           m.id IS NOT NULL AND m.deleted_at IS NULL AS method_live,
           m.name AS method_name,
           m.category AS payment_method,
           scout.odoo_num(p.payload -> 'amount') AS amount,
           coalesce(scout.odoo_bool(p.payload -> 'is_change'), false) AS is_change,
           scout.odoo_datetime(p.payload -> 'payment_date') AS payment_date,
           scout.odoo_m2o(p.payload -> 'session_id') AS session_id,
           scout.odoo_m2o(p.payload -> 'company_id') AS company_id
    FROM scout.bronze_pos_payment p
    LEFT JOIN scout.bronze_pos_order o ON o.id = scout.odoo_m2o(p.payload -> 'pos_order_id')
    LEFT JOIN scout.payment_methods m ON m.id = scout.odoo_m2o(p.payload -> 'payment_method_id')
    WHERE p.id = ANY (p_ids)
), failing AS (
    SELECT s.id, v.rule,
           CASE v.rule
             WHEN 'missing_order' THEN
               CASE WHEN s.order_id IS NULL THEN 'the payment has no order'
                    ELSE format('pos.order %s is not in bronze (not synced yet, or deleted in Odoo)', s.order_id) END
             WHEN 'missing_payment_method' THEN
               CASE WHEN s.payment_method_id IS NULL THEN 'the payment has no payment method'
                    ELSE format('pos.payment.method %s is not in bronze (not synced yet, or deleted in Odoo)', s.payment_method_id) END
           END AS reason,
           v.ref_model, v.ref_id
    FROM src s
    CROSS JOIN LATERAL (VALUES
        ('missing_order', 'pos.order', s.order_id, NOT s.order_present),
        ('missing_payment_method', 'pos.payment.method', s.payment_method_id, NOT s.method_live)
    ) AS v(rule, ref_model, ref_id, fails)
    WHERE s.deleted_at IS NULL AND v.fails
), old AS (
    SELECT y.id, y.order_id FROM scout.payments y WHERE y.id = ANY (p_ids)
), removed AS (
    DELETE FROM scout.payments s WHERE s.id IN (SELECT id FROM failing) RETURNING s.id, s.order_id
), up AS (
    INSERT INTO scout.payments AS s (id, order_id, payment_method_id, method_name, payment_method, amount,
        is_change, payment_date, session_id, company_id, write_date, run_id, synced_at, deleted_at)
    SELECT id, order_id, payment_method_id, method_name, payment_method, amount, is_change, payment_date,
           session_id, company_id, write_date, p_run, now(), deleted_at
    FROM src
    WHERE id NOT IN (SELECT id FROM failing) AND order_id IS NOT NULL AND payment_method_id IS NOT NULL
    ORDER BY id
    ON CONFLICT (id) DO UPDATE
       SET order_id = EXCLUDED.order_id, payment_method_id = EXCLUDED.payment_method_id,
           method_name = EXCLUDED.method_name, payment_method = EXCLUDED.payment_method, amount = EXCLUDED.amount,
           is_change = EXCLUDED.is_change, payment_date = EXCLUDED.payment_date, session_id = EXCLUDED.session_id,
           company_id = EXCLUDED.company_id, write_date = EXCLUDED.write_date,
           run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(), deleted_at = EXCLUDED.deleted_at
     WHERE (s.order_id, s.payment_method_id, s.method_name, s.payment_method, s.amount, s.is_change,
            s.payment_date, s.session_id, s.company_id, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.order_id, EXCLUDED.payment_method_id, EXCLUDED.method_name, EXCLUDED.payment_method,
            EXCLUDED.amount, EXCLUDED.is_change, EXCLUDED.payment_date, EXCLUDED.session_id, EXCLUDED.company_id,
            EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.id, s.order_id
)
SELECT coalesce((SELECT array_agg(DISTINCT x.order_id) FROM (
                    SELECT order_id FROM up
                    UNION ALL SELECT order_id FROM removed
                    UNION ALL SELECT old.order_id FROM old WHERE old.id IN (SELECT id FROM up)) x
                 WHERE x.order_id IS NOT NULL),
                '{}'),
       scout._silver_record_rejects('pos.payment', p_ids,
           coalesce((SELECT jsonb_agg(to_jsonb(f)) FROM failing f), '[]'), p_run);
$$;

-- pos.order -> scout.transactions, with what its lines and payments give it (quantity, line
-- count, first line's brand and category, payment method). Rules: missing_store,
-- order_without_lines, payments_mismatch. Runs after the items and payments steps of the same
-- call, so it sees their result.
CREATE FUNCTION scout._silver_transactions(p_ids bigint[], p_run bigint, OUT changed bigint[], OUT rejected bigint)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH src AS (
    SELECT o.id, o.write_date, o.deleted_at,
           scout.odoo_text(o.payload -> 'name') AS transaction_code,
           scout.odoo_text(o.payload -> 'pos_reference') AS pos_reference,
           scout.odoo_datetime(o.payload -> 'date_order') AS ts,
           scout.odoo_m2o(o.payload -> 'config_id') AS store_id,
           cfg.id IS NOT NULL AND cfg.deleted_at IS NULL AS store_live,
           scout.odoo_m2o(o.payload -> 'session_id') AS session_id,
           scout.odoo_m2o(o.payload -> 'partner_id') AS customer_id,
           scout.odoo_m2o(o.payload -> 'company_id') AS company_id,
           scout.odoo_m2o(o.payload -> 'user_id') AS user_id,
           scout.odoo_m2o_name(o.payload -> 'currency_id') AS currency,
           scout.odoo_num(o.payload -> 'amount_total') AS gross_amount,
           scout.odoo_num(o.payload -> 'amount_tax') AS tax_amount,
           scout.odoo_num(o.payload -> 'amount_paid') AS net_amount,
           scout.odoo_num(o.payload -> 'amount_return') AS change_amount,
           scout.odoo_text(o.payload -> 'state') AS odoo_state,
           scout.order_status(scout.odoo_text(o.payload -> 'state')) AS status,
           (coalesce(scout.odoo_num(o.payload -> 'amount_total'), 0) < 0
            OR coalesce(scout.odoo_text(o.payload -> 'name'), '') ~* 'refund\s*$') AS is_refund,
           CASE WHEN jsonb_typeof(o.payload -> 'lines') = 'array' THEN o.payload -> 'lines' ELSE '[]' END AS listed_lines,
           CASE WHEN jsonb_typeof(o.payload -> 'payment_ids') = 'array' THEN o.payload -> 'payment_ids' ELSE '[]' END AS listed_payments
    FROM scout.bronze_pos_order o
    LEFT JOIN scout.bronze_pos_config cfg ON cfg.id = scout.odoo_m2o(o.payload -> 'config_id')
    WHERE o.id = ANY (p_ids)
), items AS (      -- from silver: what the order's valid lines give it
    SELECT i.order_id, sum(i.quantity) AS quantity, count(*)::integer AS line_count,
           (array_agg(i.brand_name ORDER BY i.source_id))[1] AS brand_name,
           (array_agg(i.product_category ORDER BY i.source_id))[1] AS product_category
    FROM scout.transaction_items i
    WHERE i.order_id = ANY (p_ids) AND i.deleted_at IS NULL
    GROUP BY i.order_id
), pays AS (       -- from silver: the payment method of the order
    SELECT y.order_id,
           CASE WHEN count(DISTINCT y.payment_method) > 1 THEN 'split' ELSE min(y.payment_method) END AS payment_method
    FROM scout.payments y
    WHERE y.order_id = ANY (p_ids) AND y.deleted_at IS NULL AND NOT y.is_change
    GROUP BY y.order_id
), arrived AS MATERIALIZED (    -- from bronze: have all the lines and payments Odoo lists arrived, and
                                -- what is there (MATERIALIZED: calc reads each column twice)
    SELECT s.id,
           (SELECT count(*) FROM jsonb_array_elements_text(s.listed_lines) AS x(id)
             WHERE NOT EXISTS (SELECT 1 FROM scout.bronze_pos_order_line bl WHERE bl.id = x.id::bigint)) AS lines_missing,
           (SELECT count(*) FROM jsonb_array_elements_text(s.listed_payments) AS x(id)
             WHERE NOT EXISTS (SELECT 1 FROM scout.bronze_pos_payment bp WHERE bp.id = x.id::bigint)) AS payments_missing,
           (SELECT count(*) FROM scout.bronze_pos_order_line bl
             WHERE scout.odoo_m2o(bl.payload -> 'order_id') = s.id AND bl.deleted_at IS NULL) AS lines_present,
           (SELECT coalesce(sum(scout.odoo_num(bp.payload -> 'amount')), 0) FROM scout.bronze_pos_payment bp
             WHERE scout.odoo_m2o(bp.payload -> 'pos_order_id') = s.id AND bp.deleted_at IS NULL) AS payments_sum
    FROM src s
), calc AS (
    SELECT s.*, a.lines_missing = 0 AND a.payments_missing = 0 AS complete,
           a.lines_missing, a.payments_missing, a.lines_present, a.payments_sum,
           coalesce(it.quantity, 0) AS quantity, coalesce(it.line_count, 0) AS line_count,
           coalesce(it.brand_name, 'Unknown') AS brand_name,
           coalesce(it.product_category, 'Unknown') AS product_category,
           py.payment_method
    FROM src s
    JOIN arrived a ON a.id = s.id
    LEFT JOIN items it ON it.order_id = s.id
    LEFT JOIN pays py ON py.order_id = s.id
), failing AS (
    SELECT c.id, v.rule,
           CASE v.rule
             WHEN 'missing_store' THEN
               CASE WHEN c.store_id IS NULL THEN 'the order has no POS (config_id)'
                    ELSE format('pos.config %s is not in bronze (not synced yet, or deleted in Odoo)', c.store_id) END
             WHEN 'order_without_lines' THEN format('%s order without any line', c.odoo_state)
             WHEN 'payments_mismatch' THEN
               format('payments sum to %s but amount_total is %s', c.payments_sum, c.gross_amount)
           END AS reason,
           v.ref_model, v.ref_id
    FROM calc c
    CROSS JOIN LATERAL (VALUES
        ('missing_store', 'pos.config', c.store_id, NOT c.store_live),
        ('order_without_lines', NULL, NULL,
         c.status = 'completed' AND jsonb_array_length(c.listed_lines) = 0 AND c.lines_present = 0),
        ('payments_mismatch', NULL, NULL,
         c.status = 'completed' AND c.payments_missing = 0
         AND abs(c.payments_sum - coalesce(c.gross_amount, 0)) > scout.silver_money_tolerance())
    ) AS v(rule, ref_model, ref_id, fails)
    WHERE c.deleted_at IS NULL AND v.fails
), removed AS (
    DELETE FROM scout.transactions s WHERE s.source_id IN (SELECT id FROM failing) RETURNING s.source_id
), up AS (
    INSERT INTO scout.transactions AS s (source_id, transaction_code, pos_reference, "timestamp", store_id,
        session_id, customer_id, company_id, user_id, currency, gross_amount, tax_amount, net_amount, change_amount,
        status, odoo_state, is_refund, payment_method, quantity, line_count, brand_name, product_category, complete,
        write_date, run_id, synced_at, deleted_at)
    SELECT id, transaction_code, pos_reference, ts, store_id, session_id, customer_id, company_id, user_id, currency,
           gross_amount, tax_amount, net_amount, change_amount, status, odoo_state, is_refund, payment_method,
           quantity, line_count, brand_name, product_category, complete, write_date, p_run, now(), deleted_at
    FROM calc WHERE id NOT IN (SELECT id FROM failing) ORDER BY id
    ON CONFLICT (source_id) DO UPDATE
       SET transaction_code = EXCLUDED.transaction_code, pos_reference = EXCLUDED.pos_reference,
           "timestamp" = EXCLUDED."timestamp", store_id = EXCLUDED.store_id, session_id = EXCLUDED.session_id,
           customer_id = EXCLUDED.customer_id, company_id = EXCLUDED.company_id, user_id = EXCLUDED.user_id,
           currency = EXCLUDED.currency, gross_amount = EXCLUDED.gross_amount, tax_amount = EXCLUDED.tax_amount,
           net_amount = EXCLUDED.net_amount, change_amount = EXCLUDED.change_amount, status = EXCLUDED.status,
           odoo_state = EXCLUDED.odoo_state, is_refund = EXCLUDED.is_refund,
           payment_method = EXCLUDED.payment_method, quantity = EXCLUDED.quantity,
           line_count = EXCLUDED.line_count, brand_name = EXCLUDED.brand_name,
           product_category = EXCLUDED.product_category, complete = EXCLUDED.complete,
           write_date = EXCLUDED.write_date, run_id = coalesce(EXCLUDED.run_id, s.run_id), synced_at = now(),
           deleted_at = EXCLUDED.deleted_at
     WHERE (s.transaction_code, s.pos_reference, s."timestamp", s.store_id, s.session_id, s.customer_id,
            s.company_id, s.user_id, s.currency, s.gross_amount, s.tax_amount, s.net_amount, s.change_amount,
            s.status, s.odoo_state, s.is_refund, s.payment_method, s.quantity, s.line_count, s.brand_name,
            s.product_category, s.complete, s.write_date, s.deleted_at)
           IS DISTINCT FROM
           (EXCLUDED.transaction_code, EXCLUDED.pos_reference, EXCLUDED."timestamp", EXCLUDED.store_id,
            EXCLUDED.session_id, EXCLUDED.customer_id, EXCLUDED.company_id, EXCLUDED.user_id, EXCLUDED.currency,
            EXCLUDED.gross_amount, EXCLUDED.tax_amount, EXCLUDED.net_amount, EXCLUDED.change_amount,
            EXCLUDED.status, EXCLUDED.odoo_state, EXCLUDED.is_refund, EXCLUDED.payment_method, EXCLUDED.quantity,
            EXCLUDED.line_count, EXCLUDED.brand_name, EXCLUDED.product_category, EXCLUDED.complete,
            EXCLUDED.write_date, EXCLUDED.deleted_at)
    RETURNING s.source_id
)
SELECT coalesce((SELECT array_agg(source_id) FROM up), '{}') || coalesce((SELECT array_agg(source_id) FROM removed), '{}'),
       scout._silver_record_rejects('pos.order', p_ids,
           coalesce((SELECT jsonb_agg(to_jsonb(f)) FROM failing f), '[]'), p_run);
$$;

-- ------------------------------------------------------------------------------------------
-- The entry points
-- ------------------------------------------------------------------------------------------

-- Called by the sync engine in the same transaction right after each bronze page, with the
-- Odoo ids of the page's records that were inserted or changed. Re-derives those rows and
-- everything that depends on them (see "Dependencies" at the top), then returns how many of
-- the given records are in quarantine after the call. A fixed sequence of set-based steps:
-- the amount of SQL run does not depend on the number of ids.
CREATE FUNCTION scout.silver_apply(model text, ids bigint[], run_id bigint)
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
COMMENT ON FUNCTION scout.silver_apply(text, bigint[], bigint) IS
  'odoo_sync: re-derives silver for these Odoo ids of a model and what depends on them; returns how many of them are in quarantine.';

-- Soft delete: the engine has set bronze deleted_at for these ids (records Odoo no longer has)
-- and calls this. Silver rows get the same deleted_at (gold ignores them), the records leave
-- quarantine, and what depends on them is re-derived (an order's lines and payments are
-- deleted with it; an order loses a deleted line). Returns how many silver rows are marked.
CREATE FUNCTION scout.silver_mark_deleted(model text, ids bigint[])
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
COMMENT ON FUNCTION scout.silver_mark_deleted(text, bigint[]) IS
  'odoo_sync: propagates bronze soft deletes (deleted_at) of these Odoo ids to silver; returns how many silver rows are marked deleted.';

-- Recomputes all of silver from bronze: empties silver and the quarantine, then derives every
-- table once, in dependency order, in batches of ids (a loop per batch of 50,000 records, not
-- per row). Use it after changing a rule or to repair silver; it runs in one transaction.
CREATE FUNCTION scout.silver_rebuild()
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
COMMENT ON FUNCTION scout.silver_rebuild() IS 'odoo_sync: recomputes all silver tables and the quarantine from bronze.';

-- The planner's statistics of the tables a long load of `model` grows: its bronze table and the
-- silver table derived from it. A first load is one long transaction that autovacuum cannot
-- analyze, and statistics taken of an empty table (after a failed or truncated load) say "no
-- rows": plans made on that belief turn per-order look-ups into scans of the whole table, a
-- load that never ends. The engine calls this as a load grows (10k, 100k, 1M rows...);
-- ANALYZE counts the rows this transaction inserted.
CREATE FUNCTION scout.analyze_for_load(model text) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT format('scout.%I', x.t)
        FROM scout.sync_models m, unnest(ARRAY[m.bronze_table, m.silver_table]) AS x(t)
        WHERE m.model = analyze_for_load.model AND x.t IS NOT NULL
    LOOP
        EXECUTE 'ANALYZE ' || t;
    END LOOP;
END;
$$;

-- These write silver: not for PUBLIC. The sync functions call them as the extension owner.
REVOKE ALL ON FUNCTION scout.silver_apply(text, bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.silver_mark_deleted(text, bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.silver_rebuild() FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.analyze_for_load(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_record_rejects(text, bigint[], jsonb, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_companies(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_brands(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_categories(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_products(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_customers(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_stores(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_payment_methods(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_items(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_payments(bigint[], bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout._silver_transactions(bigint[], bigint) FROM PUBLIC;
