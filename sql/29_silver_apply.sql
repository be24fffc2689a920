-- odoo_sync silver: silver_apply and what joins the entities (one of the sql/2x_silver_*.sql files; the rules, the helpers
-- and the quarantine are in sql/20_silver.sql, which explains the layer).

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
