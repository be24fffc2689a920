-- What bounds silver's speed: how long PostgreSQL takes to write the silver rows of
-- pos.order.line by themselves, beside what scout._silver_items takes for the same lines, chunked
-- as a first load runs it, in one call, and as one whole-table statement. Run it in a database where
-- odoo_sync has loaded pos.order.line with silver on (bench/run.sh's, or the demo's):
--
--   psql -d mydb -f bench/silver_bound.sql
--
-- Everything happens in one transaction that is rolled back: the database is left as it was.
\set ON_ERROR_STOP on
BEGIN;
SET LOCAL jit = off;
SET LOCAL client_min_messages = notice;
-- One report line: what ran since `since`, in microseconds a line.
CREATE FUNCTION pg_temp.per_line(what text, since timestamptz, n bigint) RETURNS text
LANGUAGE sql AS $f$
    SELECT format(E'\n  %-62s %8s us a line', what, round(extract(epoch FROM clock_timestamp() - since) * 1e6 / n, 1))
$f$;
DO $$
DECLARE
    n bigint := (SELECT count(*) FROM scout.transaction_items);
    t timestamptz;
    cols text := 'source_id, order_id, product_id, product_name, category_id, product_category, category_path, '
                 'brand_id, brand_name, quantity, unit_price, discount_percent, line_total, line_total_incl, '
                 'company_id, write_date, run_id, synced_at, deleted_at';
    chunk bigint[];
    report text := '';
    body text;
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'scout.transaction_items is empty'
            USING HINT = 'Load pos.order and pos.order.line with silver on first (SELECT * FROM scout.odoo_sync_all()).';
    END IF;
    EXECUTE format('CREATE TEMP TABLE silver_rows ON COMMIT DROP AS SELECT %s FROM scout.transaction_items', cols);

    -- 1. The rows alone, their values already computed: the least any derivation can cost.
    TRUNCATE scout.transaction_items;
    t := clock_timestamp();
    EXECUTE format('INSERT INTO scout.transaction_items (%s) SELECT * FROM silver_rows', cols);
    report := report || pg_temp.per_line('INSERT of the computed rows (3 indexes)', t, n);
    TRUNCATE scout.transaction_items;
    t := clock_timestamp();
    EXECUTE format('INSERT INTO scout.transaction_items (%s) SELECT * FROM silver_rows ON CONFLICT (source_id) DO NOTHING', cols);
    report := report || pg_temp.per_line('INSERT ... ON CONFLICT of the computed rows (an upsert)', t, n);

    -- 2. _silver_items as a first load runs it: chunks of 10,000 ids (loader::apply_silver_to_all).
    TRUNCATE scout.transaction_items;
    t := clock_timestamp();
    FOR chunk IN
        SELECT array_agg(id ORDER BY id) FROM (
            SELECT id, (row_number() OVER (ORDER BY id) - 1) / 10000 AS k FROM scout.bronze_pos_order_line) x
        GROUP BY k ORDER BY k
    LOOP
        PERFORM scout._silver_items(chunk, NULL);
    END LOOP;
    report := report || pg_temp.per_line('scout._silver_items, chunks of 10,000 ids (as shipped)', t, n);

    -- 3. The same in one call for every line.
    TRUNCATE scout.transaction_items;
    t := clock_timestamp();
    PERFORM scout._silver_items((SELECT array_agg(id ORDER BY id) FROM scout.bronze_pos_order_line), NULL);
    report := report || pg_temp.per_line('scout._silver_items, one call for all ids', t, n);

    -- 4. One whole-table statement: _silver_items' own text with its id filters taken out, so
    --    that PostgreSQL plans it knowing it reads every line (hash joins, sequential scans).
    TRUNCATE scout.transaction_items;
    body := replace(replace(replace(replace(
                (SELECT prosrc FROM pg_proc WHERE oid = 'scout._silver_items(bigint[],bigint)'::regprocedure),
                'l.id = ANY (p_ids)', 'true'), 'i.source_id = ANY (p_ids)', 'false'),
                'p_ids', '''{}''::bigint[]'), 'p_run', 'NULL::bigint');
    t := clock_timestamp();
    EXECUTE body;
    report := report || pg_temp.per_line('the same as one whole-table statement (no ids to look up)', t, n);
    IF (SELECT count(*) FROM scout.transaction_items) <> n THEN
        RAISE EXCEPTION 'the whole-table statement wrote % rows, not %', (SELECT count(*) FROM scout.transaction_items), n;
    END IF;

    RAISE NOTICE 'silver bound: % pos.order.line rows of scout.transaction_items%', n, report;
END $$;
ROLLBACK;
