-- odoo_sync silver: companies, brands, categories, products (one of the sql/2x_silver_*.sql files; the rules, the helpers
-- and the quarantine are in sql/20_silver.sql, which explains the layer).

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

-- Silver holds user data: keep it in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('scout.companies', '');
SELECT pg_catalog.pg_extension_config_dump('scout.brands', '');
SELECT pg_catalog.pg_extension_config_dump('scout.categories', '');
SELECT pg_catalog.pg_extension_config_dump('scout.products', '');

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
