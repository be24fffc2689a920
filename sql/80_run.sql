-- odoo_sync: long loads that commit after every page.
--
--   CALL scout.odoo_sync_run('pos.order.line', "full" => true);
--
-- A 10-million-row first sync never needs one giant transaction: every page is committed with
-- its checkpoint, so a run that is cancelled, crashes or meets an Odoo outage resumes from its
-- last committed page the next time (by CALL, by the worker or by scout.odoo_sync()).
-- Call it at top level (not inside BEGIN ... COMMIT): a procedure can only commit there.
-- Not SECURITY DEFINER (PostgreSQL forbids COMMIT there); the step and failure functions it
-- calls are.
CREATE PROCEDURE scout.odoo_sync_run(model text, "full" boolean DEFAULT false, pages_per_commit integer DEFAULT 1)
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
