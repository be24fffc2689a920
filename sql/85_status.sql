-- odoo_sync: "is the sync healthy?" in one query:  SELECT * FROM scout.sync_status;
CREATE VIEW scout.sync_status AS
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
