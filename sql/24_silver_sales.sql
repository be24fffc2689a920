-- odoo_sync silver: payments, transactions, transaction items (one of the sql/2x_silver_*.sql files; the rules, the helpers
-- and the quarantine are in sql/20_silver.sql, which explains the layer).

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

-- Silver holds user data: keep it in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('scout.payments', '');
SELECT pg_catalog.pg_extension_config_dump('scout.transactions', '');
SELECT pg_catalog.pg_extension_config_dump('scout.transaction_items', '');

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
