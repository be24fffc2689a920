-- odoo_sync silver: customers (one of the sql/2x_silver_*.sql files; the rules, the helpers
-- and the quarantine are in sql/20_silver.sql, which explains the layer).

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

-- Silver holds user data: keep it in pg_dump output.
SELECT pg_catalog.pg_extension_config_dump('scout.customers', '');

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
