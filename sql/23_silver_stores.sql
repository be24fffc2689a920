-- odoo_sync silver: stores and payment methods (one of the sql/2x_silver_*.sql files; the rules, the helpers
-- and the quarantine are in sql/20_silver.sql, which explains the layer).

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

-- Silver holds user data: keep it in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('scout.stores', '');
SELECT pg_catalog.pg_extension_config_dump('scout.payment_methods', '');

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
