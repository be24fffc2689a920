-- odoo_sync: gold layer. Runs in CREATE EXTENSION after the silver files (sql/2x_silver_*.sql), in schema scout.
--
-- Gold is dashboard-ready aggregates of silver, as materialized views (scout.gold_*) refreshed
-- by scout.refresh_gold() (hourly by the worker, or pg_cron), CONCURRENTLY so that dashboards
-- keep reading while it runs: each view has a unique index on its grain. Two plain views,
-- scout.v_tx_trends and scout.v_product_mix, sit on top for the dashboards.
--
-- What counts (one place; README "Silver and gold" repeats it):
--   * only completed orders (status 'completed': Odoo paid, done or invoiced); draft (pending)
--     and cancelled orders are not revenue;
--   * refunds are completed orders with negative amounts: they reduce revenue, quantities and
--     product/category/brand figures of the day they happen;
--   * soft-deleted rows (deleted_at set) and rows in quarantine (not in silver) are ignored;
--   * revenue is the order's amount_total (tax included) in the order's currency; line-level
--     figures (product, category, brand mix) are price_subtotal (tax excluded) and
--     price_subtotal_incl;
--   * multi-company: every order keeps its Odoo company (company_id); gold_daily_sales carries
--     it, and gold_company_daily_sales sums each company's stores per business day;
--   * the business day and hour are in the store's time zone: the store's tz from Odoo when
--     known (scout.stores.timezone), else the odoo_sync.timezone setting (superuser-only), else
--     UTC. The setting is read when the views are refreshed.

-- scout.business_timezone(): the time zone of business days when Odoo gives none for a store,
-- odoo_sync.timezone or UTC, is a C function (src/api.rs): calling it loads the library, so a
-- value that a role SET as a placeholder in a session without the library is discarded and
-- never moves everyone's business days.

-- The orders that count, with their store's business day and hour. The fallback time zone is an
-- uncorrelated scalar subquery: evaluated once per query, not per row.
CREATE VIEW scout.v_revenue_transactions AS
SELECT t.source_id, t.id, t.transaction_code, t."timestamp",
       t.store_id, coalesce(s.name, 'POS ' || t.store_id::text) AS store_name,
       z.tz AS timezone,
       (t."timestamp" AT TIME ZONE z.tz)::date AS business_date,
       extract(hour FROM t."timestamp" AT TIME ZONE z.tz)::integer AS business_hour,
       t.customer_id, t.company_id,
       CASE WHEN s.company_id = t.company_id THEN s.company_name END AS company_name,  -- NULL: not known here
       t.currency, t.is_refund, t.payment_method,
       t.gross_amount, t.tax_amount, t.net_amount, t.quantity, t.line_count
FROM scout.transactions t
LEFT JOIN scout.stores s ON s.id = t.store_id
CROSS JOIN LATERAL (SELECT coalesce(s.timezone, (SELECT scout.business_timezone())) AS tz) z
WHERE t.status = 'completed' AND t.deleted_at IS NULL;
COMMENT ON VIEW scout.v_revenue_transactions IS
  'odoo_sync gold base: completed, live orders with their store''s business date and hour (what gold counts).';

-- Their live lines.
CREATE VIEW scout.v_revenue_items AS
SELECT i.source_id, i.order_id, r.store_id, r.store_name, r.business_date, r.business_hour, r.is_refund,
       i.product_id, coalesce(p.name, i.product_name) AS product_name, i.category_id, i.product_category,
       i.category_path, i.brand_name, i.quantity, i.unit_price, i.discount_percent, i.line_total,
       i.line_total_incl
FROM scout.transaction_items i
JOIN scout.v_revenue_transactions r ON r.source_id = i.order_id
LEFT JOIN scout.products p ON p.id = i.product_id
WHERE i.deleted_at IS NULL;
COMMENT ON VIEW scout.v_revenue_items IS 'odoo_sync gold base: the live lines of the orders gold counts.';

-- Daily sales per store (and the company the orders belong to: one per store in practice).
CREATE MATERIALIZED VIEW scout.gold_daily_sales AS
SELECT store_id, min(store_name) AS store_name, business_date, min(timezone) AS timezone,
       company_id, coalesce(min(company_name), 'Company ' || company_id::text) AS company_name,
       count(*)                                                 AS transaction_count,
       count(*) FILTER (WHERE NOT is_refund)                    AS sales_count,
       count(*) FILTER (WHERE is_refund)                        AS refund_count,
       sum(gross_amount)                                        AS revenue,           -- refunds subtracted
       coalesce(sum(gross_amount) FILTER (WHERE NOT is_refund), 0)  AS gross_sales,
       coalesce(-sum(gross_amount) FILTER (WHERE is_refund), 0)     AS refunds,       -- positive amount
       sum(tax_amount)                                          AS tax,
       sum(gross_amount - tax_amount)                           AS revenue_excl_tax,
       sum(quantity)                                            AS items_sold,
       round(avg(gross_amount) FILTER (WHERE NOT is_refund), 2) AS avg_ticket
FROM scout.v_revenue_transactions
GROUP BY store_id, business_date, company_id;
CREATE UNIQUE INDEX gold_daily_sales_key ON scout.gold_daily_sales (store_id, business_date, company_id);
CREATE INDEX gold_daily_sales_company ON scout.gold_daily_sales (company_id, business_date);
COMMENT ON MATERIALIZED VIEW scout.gold_daily_sales IS 'odoo_sync gold: revenue, tax, refunds and counts per store per business day.';

-- Daily sales per company (Odoo multi-company): its stores' business days added up.
CREATE MATERIALIZED VIEW scout.gold_company_daily_sales AS
SELECT company_id, coalesce(min(company_name), 'Company ' || company_id::text) AS company_name, business_date,
       count(DISTINCT store_id)                                 AS store_count,
       count(*)                                                 AS transaction_count,
       count(*) FILTER (WHERE NOT is_refund)                    AS sales_count,
       count(*) FILTER (WHERE is_refund)                        AS refund_count,
       sum(gross_amount)                                        AS revenue,           -- refunds subtracted
       coalesce(sum(gross_amount) FILTER (WHERE NOT is_refund), 0)  AS gross_sales,
       coalesce(-sum(gross_amount) FILTER (WHERE is_refund), 0)     AS refunds,
       sum(tax_amount)                                          AS tax,
       sum(gross_amount - tax_amount)                           AS revenue_excl_tax,
       sum(quantity)                                            AS items_sold,
       round(avg(gross_amount) FILTER (WHERE NOT is_refund), 2) AS avg_ticket
FROM scout.v_revenue_transactions
GROUP BY company_id, business_date;
CREATE UNIQUE INDEX gold_company_daily_sales_key ON scout.gold_company_daily_sales (company_id, business_date);
COMMENT ON MATERIALIZED VIEW scout.gold_company_daily_sales IS 'odoo_sync gold: revenue, tax, refunds and counts per Odoo company per business day (of its stores).';

-- Transactions per store, business day and hour of day.
CREATE MATERIALIZED VIEW scout.gold_hourly_transactions AS
SELECT store_id, min(store_name) AS store_name, business_date, business_hour,
       count(*)                              AS transaction_count,
       count(*) FILTER (WHERE NOT is_refund) AS sales_count,
       count(*) FILTER (WHERE is_refund)     AS refund_count,
       sum(gross_amount)                     AS revenue
FROM scout.v_revenue_transactions
GROUP BY store_id, business_date, business_hour;
CREATE UNIQUE INDEX gold_hourly_transactions_key ON scout.gold_hourly_transactions (store_id, business_date, business_hour);
COMMENT ON MATERIALIZED VIEW scout.gold_hourly_transactions IS 'odoo_sync gold: transaction counts and revenue per store, business day and hour.';

-- Product mix per store and business day.
CREATE MATERIALIZED VIEW scout.gold_product_mix AS
SELECT store_id, business_date, product_id,
       min(product_name) AS product_name, min(product_category) AS product_category,
       min(category_path) AS category_path, min(brand_name) AS brand_name,
       sum(quantity)                AS quantity,
       sum(line_total)              AS revenue,          -- tax excluded
       sum(line_total_incl)         AS revenue_incl_tax,
       count(*)                     AS line_count,
       count(DISTINCT order_id)     AS transaction_count
FROM scout.v_revenue_items
GROUP BY store_id, business_date, product_id;
CREATE UNIQUE INDEX gold_product_mix_key ON scout.gold_product_mix (store_id, business_date, product_id);
COMMENT ON MATERIALIZED VIEW scout.gold_product_mix IS 'odoo_sync gold: quantity and revenue per product, store and business day.';

-- Category mix per store and business day, with each category's share of the day's line revenue.
CREATE MATERIALIZED VIEW scout.gold_category_mix AS
SELECT g.*, round(g.revenue / nullif(sum(g.revenue) OVER (PARTITION BY g.store_id, g.business_date), 0), 6) AS revenue_share
FROM (
    SELECT store_id, business_date, coalesce(category_id, 0) AS category_id,
           min(product_category) AS product_category, min(category_path) AS category_path,
           sum(quantity)            AS quantity,
           sum(line_total)          AS revenue,
           sum(line_total_incl)     AS revenue_incl_tax,
           count(*)                 AS line_count,
           count(DISTINCT order_id) AS transaction_count
    FROM scout.v_revenue_items
    GROUP BY store_id, business_date, coalesce(category_id, 0)) g;
CREATE UNIQUE INDEX gold_category_mix_key ON scout.gold_category_mix (store_id, business_date, category_id);
COMMENT ON MATERIALIZED VIEW scout.gold_category_mix IS 'odoo_sync gold: quantity, revenue and revenue share per product category, store and business day.';

-- Brand mix per store and business day ('Unknown' without OCA product_brand or without a brand).
CREATE MATERIALIZED VIEW scout.gold_brand_mix AS
SELECT g.*, round(g.revenue / nullif(sum(g.revenue) OVER (PARTITION BY g.store_id, g.business_date), 0), 6) AS revenue_share
FROM (
    SELECT store_id, business_date, brand_name,
           sum(quantity)            AS quantity,
           sum(line_total)          AS revenue,
           sum(line_total_incl)     AS revenue_incl_tax,
           count(*)                 AS line_count,
           count(DISTINCT order_id) AS transaction_count
    FROM scout.v_revenue_items
    GROUP BY store_id, business_date, brand_name) g;
CREATE UNIQUE INDEX gold_brand_mix_key ON scout.gold_brand_mix (store_id, business_date, brand_name);
COMMENT ON MATERIALIZED VIEW scout.gold_brand_mix IS 'odoo_sync gold: quantity, revenue and revenue share per brand, store and business day.';

-- Payment-method mix per store and business day: orders by their payment method (cash, card,
-- e-wallet, other, split; 'none' for an order without payments).
CREATE MATERIALIZED VIEW scout.gold_payment_mix AS
SELECT g.*,
       round(g.transaction_count::numeric / sum(g.transaction_count) OVER (PARTITION BY g.store_id, g.business_date), 6) AS transaction_share,
       round(g.revenue / nullif(sum(g.revenue) OVER (PARTITION BY g.store_id, g.business_date), 0), 6) AS revenue_share
FROM (
    SELECT store_id, business_date, coalesce(payment_method, 'none') AS payment_method,
           count(*)          AS transaction_count,
           sum(gross_amount) AS revenue
    FROM scout.v_revenue_transactions
    GROUP BY store_id, business_date, coalesce(payment_method, 'none')) g;
CREATE UNIQUE INDEX gold_payment_mix_key ON scout.gold_payment_mix (store_id, business_date, payment_method);
COMMENT ON MATERIALIZED VIEW scout.gold_payment_mix IS 'odoo_sync gold: orders and revenue per payment method, store and business day.';

-- Basket size per store and business day: sales only (a refund is not a basket).
CREATE MATERIALIZED VIEW scout.gold_basket_size AS
SELECT store_id, business_date,
       count(*)                                                    AS basket_count,
       sum(quantity)                                               AS items_total,
       round(avg(quantity), 3)                                     AS avg_items,
       round(avg(line_count), 3)                                   AS avg_lines,
       round(avg(gross_amount), 2)                                 AS avg_basket_value,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY quantity)       AS median_items,
       max(quantity)                                               AS max_items,
       count(*) FILTER (WHERE quantity <= 1)                       AS baskets_1_item,
       count(*) FILTER (WHERE quantity > 1 AND quantity <= 5)      AS baskets_2_5_items,
       count(*) FILTER (WHERE quantity > 5 AND quantity <= 10)     AS baskets_6_10_items,
       count(*) FILTER (WHERE quantity > 10)                       AS baskets_over_10_items
FROM scout.v_revenue_transactions
WHERE NOT is_refund
GROUP BY store_id, business_date;
CREATE UNIQUE INDEX gold_basket_size_key ON scout.gold_basket_size (store_id, business_date);
COMMENT ON MATERIALIZED VIEW scout.gold_basket_size IS 'odoo_sync gold: basket size (items, lines, value) per store and business day, sales only.';

-- Dashboard: daily trends per store, and for all stores together (store_id NULL), with a
-- 7-day moving average and the change from the previous day.
CREATE VIEW scout.v_tx_trends AS
WITH daily AS (
    SELECT business_date, store_id,
           CASE WHEN GROUPING(store_id) = 1 THEN 'All stores' ELSE min(store_name) END AS store_name,
           sum(transaction_count) AS transaction_count, sum(sales_count) AS sales_count,
           sum(refund_count) AS refund_count, sum(revenue) AS revenue, sum(refunds) AS refunds,
           sum(items_sold) AS items_sold
    FROM scout.gold_daily_sales
    GROUP BY GROUPING SETS ((business_date, store_id), (business_date))
)
SELECT business_date, store_id, store_name,
       transaction_count, sales_count, refund_count, revenue, refunds, items_sold,
       round(revenue / nullif(transaction_count, 0), 2) AS avg_transaction_value,
       round(avg(revenue) OVER w7, 2) AS revenue_7d_avg,
       round(avg(transaction_count) OVER w7, 2) AS transactions_7d_avg,
       revenue - lag(revenue) OVER w AS revenue_change
FROM daily
WINDOW w AS (PARTITION BY store_id ORDER BY business_date),
       w7 AS (PARTITION BY store_id ORDER BY business_date RANGE BETWEEN '6 days' PRECEDING AND CURRENT ROW);
COMMENT ON VIEW scout.v_tx_trends IS 'odoo_sync dashboard: daily transactions and revenue per store and for all stores (store_id NULL), with 7-day averages.';

-- Dashboard: product mix over the whole history, with each product's share of revenue and rank.
CREATE VIEW scout.v_product_mix AS
SELECT product_id, min(product_name) AS product_name, min(product_category) AS product_category,
       min(category_path) AS category_path, min(brand_name) AS brand_name,
       sum(quantity) AS quantity, sum(revenue) AS revenue, sum(revenue_incl_tax) AS revenue_incl_tax,
       sum(transaction_count) AS transaction_count,
       round(sum(revenue) / nullif(sum(sum(revenue)) OVER (), 0), 6) AS revenue_share,
       rank() OVER (ORDER BY sum(revenue) DESC) AS revenue_rank
FROM scout.gold_product_mix
GROUP BY product_id;
COMMENT ON VIEW scout.v_product_mix IS 'odoo_sync dashboard: quantity, revenue, share and rank per product over the whole history.';

-- Refreshes every gold view: CONCURRENTLY (readers are not blocked) when the view has data,
-- a plain refresh when it was never populated (CONCURRENTLY refuses those).
CREATE FUNCTION scout.refresh_gold() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
BEGIN
    FOR v IN
        SELECT c.oid::regclass AS rel, c.relispopulated AS populated
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN unnest(ARRAY['gold_daily_sales', 'gold_company_daily_sales', 'gold_hourly_transactions', 'gold_product_mix', 'gold_category_mix',
                          'gold_brand_mix', 'gold_payment_mix', 'gold_basket_size']) WITH ORDINALITY AS g(name, ord)
          ON g.name = c.relname
        WHERE n.nspname = 'scout' AND c.relkind = 'm'
        ORDER BY g.ord
    LOOP
        IF v.populated THEN
            EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %s', v.rel);
        ELSE
            EXECUTE format('REFRESH MATERIALIZED VIEW %s', v.rel);
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION scout.refresh_gold() IS 'odoo_sync: refreshes every scout.gold_* materialized view (concurrently when populated).';
REVOKE ALL ON FUNCTION scout.refresh_gold() FROM PUBLIC;
