-- odoo_sync: Supabase Realtime (0.2.0). Dashboards that watch today's sales subscribe to the
-- silver tables; Realtime (and any logical replication client) reads them from a publication.

-- Adds the silver tables dashboards watch to the publication `supabase_realtime` when it exists
-- (Supabase), else to `odoo_sync_realtime` (created here), with REPLICA IDENTITY FULL so that an
-- update or delete carries the old row (what Realtime needs to apply row level security to it).
-- Idempotent; returns the publication's name. Superuser only (no grant). Logical decoding
-- needs wal_level = logical: a WARNING says so when it is not.
CREATE FUNCTION scout.enable_realtime() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pub text := CASE WHEN EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime')
                   THEN 'supabase_realtime' ELSE 'odoo_sync_realtime' END;
  t text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = pub) THEN
    EXECUTE format('CREATE PUBLICATION %I', pub);
  END IF;
  FOREACH t IN ARRAY scout._realtime_tables() LOOP
    EXECUTE format('ALTER TABLE scout.%I REPLICA IDENTITY FULL', t);
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables p WHERE p.pubname = pub AND p.schemaname = 'scout' AND p.tablename = t) THEN
      EXECUTE format('ALTER PUBLICATION %I ADD TABLE scout.%I', pub, t);
    END IF;
  END LOOP;
  IF current_setting('wal_level') <> 'logical' THEN
    RAISE WARNING 'odoo_sync: wal_level is %, so no change reaches publication % yet', current_setting('wal_level'), pub
      USING HINT = 'ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (Supabase already runs with it).';
  END IF;
  RETURN pub;
END
$$;

-- Takes the tables out of the publication again (the publication itself stays: Supabase owns
-- supabase_realtime) and puts their replica identity back to the primary key.
CREATE FUNCTION scout.disable_realtime() RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pub text;
  t text;
BEGIN
  FOR pub, t IN SELECT p.pubname, p.tablename FROM pg_publication_tables p JOIN pg_publication USING (pubname)
                WHERE NOT puballtables AND p.schemaname = 'scout' AND p.tablename = ANY (scout._realtime_tables()) LOOP
    EXECUTE format('ALTER PUBLICATION %I DROP TABLE scout.%I', pub, t);
  END LOOP;
  FOREACH t IN ARRAY scout._realtime_tables() LOOP
    EXECUTE format('ALTER TABLE scout.%I REPLICA IDENTITY DEFAULT', t);
  END LOOP;
  RETURN 'the realtime tables are out of every publication';
END
$$;

-- The silver tables a dashboard of today's sales watches.
CREATE FUNCTION scout._realtime_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['transactions', 'transaction_items', 'payments'] $$;
