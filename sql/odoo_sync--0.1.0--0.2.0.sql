-- odoo_sync 0.1.0 -> 0.2.0, in place: ALTER EXTENSION odoo_sync UPDATE TO '0.2.0';
--
-- Tables that hold data (bronze, silver, checkpoints, logs, quarantine, the secret) are altered,
-- never dropped. Functions whose signature changed are dropped and created anew; the others are
-- replaced. scripts/upgrade_test.sh checks that the result equals a fresh CREATE EXTENSION of
-- 0.2.0, object for object (pg_dump --schema-only of both).

-- Field names in scout.sync_models must be identifiers ('a,b' reached Odoo as two fields).
CREATE FUNCTION scout.are_field_names(names text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(bool_and(f ~ '^[A-Za-z_][A-Za-z0-9_]*$'), true) FROM unnest(names) AS f $$;
ALTER TABLE scout.sync_models ADD CONSTRAINT fields_are_odoo_field_names
  CHECK (scout.are_field_names(fields) AND scout.are_field_names(optional_fields) AND scout.are_field_names(extra_fields));

-- What a window selects (company filter, extra fields), kept with the checkpoint: a change makes
-- the next run re-read the model. Existing checkpoints start without one (no forced re-read).
ALTER TABLE scout.sync_checkpoints ADD COLUMN selection text;
-- An unfinished reconciliation's log row and cursor (resumed after a kill).
ALTER TABLE scout.sync_checkpoints ADD COLUMN reconcile_run_id bigint;
ALTER TABLE scout.sync_checkpoints ADD COLUMN reconcile_last_id bigint;

-- Gold's fallback time zone is read by a C function (a placeholder SET cannot move it).
CREATE OR REPLACE FUNCTION scout.business_timezone() RETURNS text
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'business_timezone_wrapper';

-- A step no longer takes a mode (it is always the procedure's); recording a failure takes no
-- arguments (it records the session's own failed step).
DROP FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer, text);
CREATE FUNCTION scout.odoo_sync_step(
	"model" TEXT,
	"full" bool DEFAULT false,
	"run_id" bigint DEFAULT NULL,
	"max_pages" INT DEFAULT 1
) RETURNS scout.sync_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_sync_step_wrapper';

DROP FUNCTION scout.odoo_sync_record_failure(text, bigint, text, text, text);
CREATE FUNCTION scout.odoo_sync_record_failure() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_sync_record_failure_wrapper';

CREATE OR REPLACE PROCEDURE scout.odoo_sync_run(model text, "full" boolean DEFAULT false, pages_per_commit integer DEFAULT 1)
LANGUAGE plpgsql
AS $$
DECLARE
  r scout.sync_result;
  run bigint;
  err_state text;
  err_msg text;
  err_detail text;
  err_hint text;
  fetched bigint := 0;
  inserted bigint := 0;
  updated bigint := 0;
  unchanged bigint := 0;
  started timestamptz := clock_timestamp();
BEGIN
  LOOP
    BEGIN
      r := scout.odoo_sync_step(model, "full", run, pages_per_commit);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                              err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
    END;
    IF err_state IS NOT NULL THEN
      -- The failed page was rolled back; what was committed before it stays. Record the
      -- failure (the step remembered it: model, run, SQLSTATE and text are not ours to choose)
      -- in its own transaction so that it survives, then raise it unchanged.
      BEGIN
        PERFORM scout.odoo_sync_record_failure();
      EXCEPTION WHEN OTHERS THEN
        -- Never let the bookkeeping hide the real error.
        RAISE WARNING 'odoo_sync: could not record the failure: %', SQLERRM;
      END;
      COMMIT;
      RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg,
                            DETAIL = coalesce(err_detail, ''), HINT = coalesce(err_hint, '');
    END IF;
    run := r.run_id;
    fetched := fetched + r.fetched;
    inserted := inserted + r.inserted;
    updated := updated + r.updated;
    unchanged := unchanged + r.unchanged;
    COMMIT;
    EXIT WHEN r.status IS DISTINCT FROM 'in_progress';
  END LOOP;
  -- The whole run's figures, not its last step's.
  RAISE NOTICE 'odoo_sync: % %: % fetched, % inserted, % updated, % unchanged in %',
    model, r.status, fetched, inserted, updated, unchanged, clock_timestamp() - started;
END
$$;

-- The secret can come from a server file (odoo_set_secret(file => ...)).
DROP FUNCTION scout.odoo_set_secret(text, text);
CREATE FUNCTION scout.odoo_set_secret(password text DEFAULT NULL, api_key text DEFAULT NULL, file text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  line text;
  k text;
  n int := 0;
BEGIN
  IF file IS NOT NULL THEN
    IF password IS NOT NULL OR api_key IS NOT NULL THEN
      RAISE EXCEPTION 'odoo_sync: pass either file or password/api_key, not both'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Errors name the file and the line number, never a line's content.
    FOR line IN SELECT btrim(l, E' \t\r') FROM regexp_split_to_table(pg_read_file(file), E'\n') AS l LOOP
      n := n + 1;
      CONTINUE WHEN line = '' OR line LIKE '#%';
      k := btrim(split_part(line, '=', 1));
      IF strpos(line, '=') = 0 OR k NOT IN ('password', 'api_key') THEN
        RAISE EXCEPTION 'odoo_sync: line % of % is not "password = ..." or "api_key = ..."', n, file
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'One setting per line; blank lines and lines starting with # are ignored.';
      END IF;
      IF k = 'password' THEN
        password := btrim(substr(line, strpos(line, '=') + 1));
      ELSE
        api_key := btrim(substr(line, strpos(line, '=') + 1));
      END IF;
    END LOOP;
    IF password IS NULL AND api_key IS NULL THEN
      RAISE EXCEPTION 'odoo_sync: % sets neither password nor api_key', file
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  INSERT INTO scout.sync_secret (id, password, api_key, updated_at)
  VALUES (1, password, api_key, now())
  ON CONFLICT (id) DO UPDATE SET password = EXCLUDED.password, api_key = EXCLUDED.api_key, updated_at = now();
END
$$;

-- Reconciliation: its findings in the log, its result type, the function, and sync_status's
-- last_reconciled_at and last_drift (new columns at the end of the view).
ALTER TABLE scout.sync_logs ADD COLUMN missing bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN stale bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN restored bigint NOT NULL DEFAULT 0;
ALTER TABLE scout.sync_logs ADD COLUMN odoo_count bigint;
CREATE TYPE scout.reconcile_result AS (
    model        text,
    odoo_count   bigint,
    bronze_count bigint,
    missing      bigint,
    stale        bigint,
    deleted      bigint,
    restored     bigint,
    refetched    bigint,
    duration     interval,
    status       text,
    run_id       bigint
);
CREATE FUNCTION scout.odoo_reconcile(
	"model" TEXT DEFAULT NULL,
	"dry_run" bool DEFAULT false
) RETURNS SETOF scout.reconcile_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_reconcile_wrapper';
-- odoo_sync: "is the sync healthy?" in one query:  SELECT * FROM scout.sync_status;
CREATE FUNCTION scout.odoo_reconcile_step(
	"model" TEXT,
	"max_pages" INT DEFAULT 1
) RETURNS scout.reconcile_result
VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'odoo_reconcile_step_wrapper';

-- Long reconciliations that commit after every listing page (5,000 records compared, and their
-- drift repaired), with a cursor in the checkpoint: killed half-way, the next reconciliation
-- (CALL, the worker, or scout.odoo_reconcile()) resumes where it stopped.
--   CALL scout.odoo_reconcile_run();                    -- every enabled model
--   CALL scout.odoo_reconcile_run('pos.order.line');
CREATE PROCEDURE scout.odoo_reconcile_run(model text DEFAULT NULL, pages_per_commit integer DEFAULT 1)
LANGUAGE plpgsql
AS $$
DECLARE
  models text[];
  m text;
  r scout.reconcile_result;
  err_state text;
  err_msg text;
  err_detail text;
  err_hint text;
BEGIN
  models := CASE WHEN odoo_reconcile_run.model IS NULL
                 THEN ARRAY(SELECT s.model FROM scout.sync_models s WHERE s.enabled ORDER BY s.sync_order)
                 ELSE ARRAY[odoo_reconcile_run.model] END;
  FOREACH m IN ARRAY models LOOP
    LOOP
      BEGIN
        r := scout.odoo_reconcile_step(m, pages_per_commit);
      EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_msg = MESSAGE_TEXT,
                                err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
      END;
      IF err_state IS NOT NULL THEN
        BEGIN
          PERFORM scout.odoo_sync_record_failure();
        EXCEPTION WHEN OTHERS THEN
          RAISE WARNING 'odoo_sync: could not record the failure: %', SQLERRM;
        END;
        COMMIT;
        RAISE EXCEPTION USING ERRCODE = err_state, MESSAGE = err_msg,
                              DETAIL = coalesce(err_detail, ''), HINT = coalesce(err_hint, '');
      END IF;
      COMMIT;
      EXIT WHEN r.status IS DISTINCT FROM 'in_progress';
    END LOOP;
    RAISE NOTICE 'odoo_sync: % reconciled (%): % missing, % stale, % deleted, % restored, % re-fetched',
      m, r.status, r.missing, r.stale, r.deleted, r.restored, r.refetched;
  END LOOP;
END
$$;

CREATE OR REPLACE VIEW scout.sync_status AS
SELECT m.model,
       m.enabled,
       c.last_sync_at                              AS high_water_mark,
       CASE WHEN isfinite(c.last_sync_at) THEN now() - c.last_sync_at END AS lag,
       ok.completed_at                             AS last_success_at,
       bad.completed_at                            AS last_error_at,
       CASE WHEN c.status = 'failed' THEN c.error_message END AS current_error,
       CASE WHEN c.status = 'failed' THEN bad.error_code END  AS current_error_code,  -- its SQLSTATE
       coalesce(c.records_synced, 0)               AS records_synced,
       lock.pid IS NOT NULL                        AS running,
       lock.pid                                    AS running_pid,
       -- Progress of an open committing run (procedure or worker: committed page by page).
       CASE WHEN lock.pid IS NOT NULL THEN cur.fetched END  AS running_fetched,
       CASE WHEN lock.pid IS NOT NULL THEN cur.estimated_total END AS running_estimate,
       c.window_end IS NOT NULL                    AS window_open,
       scout.odoo_sync_next_run()                  AS next_scheduled_run,
       (m.enabled AND c.status IS DISTINCT FROM 'failed' AND ok.completed_at IS NOT NULL) AS healthy,
       -- The last reconciliation (scout.odoo_reconcile, the worker's odoo_sync.reconcile_schedule)
       -- and what it repaired: missing + stale + deleted + restored.
       rec.completed_at                            AS last_reconciled_at,
       rec.drift                                   AS last_drift
FROM scout.sync_models m
LEFT JOIN scout.sync_checkpoints c
       ON c.id = coalesce(nullif(current_setting('odoo_sync.checkpoint_key', true), ''), 'odoo_sync_checkpoint') || ':' || m.model
LEFT JOIN LATERAL (SELECT l.completed_at FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'success' ORDER BY l.id DESC LIMIT 1) ok ON true
LEFT JOIN LATERAL (SELECT l.completed_at, l.error_code FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'failed' ORDER BY l.id DESC LIMIT 1) bad ON true
LEFT JOIN LATERAL (SELECT l.completed_at, l.missing + l.stale + l.deleted + l.restored AS drift FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.run_mode = 'reconcile' AND l.status = 'success'
                   ORDER BY l.id DESC LIMIT 1) rec ON true
LEFT JOIN LATERAL (SELECT l.fetched, l.estimated_total FROM scout.sync_logs l
                   WHERE l.model = m.model AND l.status = 'running' ORDER BY l.id DESC LIMIT 1) cur ON true
LEFT JOIN LATERAL (SELECT k.pid FROM pg_catalog.pg_locks k
                   WHERE k.locktype = 'advisory' AND k.granted
                     AND k.classid = hashtext('odoo_sync')::oid AND k.objid = hashtext(c.id)::oid LIMIT 1) lock ON true
ORDER BY m.sync_order;
COMMENT ON VIEW scout.sync_status IS 'odoo_sync: per model, last success, last error, lag, progress, next run.';

-- Privileges, as 90_grants.sql gives them in a fresh install.
ALTER FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION scout.odoo_sync_record_failure() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_set_secret(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_step(text, boolean, bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION scout.odoo_sync_record_failure() FROM PUBLIC;
ALTER FUNCTION scout.odoo_reconcile(text, boolean) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_reconcile(text, boolean) FROM PUBLIC;
ALTER FUNCTION scout.odoo_reconcile_step(text, integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION scout.odoo_reconcile_step(text, integer) FROM PUBLIC;
REVOKE ALL ON PROCEDURE scout.odoo_reconcile_run(text, integer) FROM PUBLIC;
