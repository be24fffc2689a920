//! The one-shot commands: `sync`, `reconcile`, `status` and `webhooks`. Each model runs in
//! committed steps (a page, or `step_seconds` of pages, with its silver and checkpoint per
//! transaction), so that a stopped or killed run keeps every committed page and the next run
//! resumes there; a failed model is recorded (log row, checkpoint, alert) like the worker's,
//! and the others still run.

use crate::error::{exit, RunnerError, RunnerResult};
use crate::host::{self, RunnerHost};
use crate::report;
use crate::session::Session;
use engine::reconcile::{ReconcileOptions, ReconcileSummary};
use engine::store::{LockWait, RunMode, RunStatus};
use engine::{Failure, ModelSpec, RunOptions, RunSummary, SyncError, SyncResult};
use std::time::{Duration, Instant, SystemTime};

/// The models named, or every enabled one in sync order.
pub fn models(session: &mut Session, names: &[String]) -> RunnerResult<Vec<ModelSpec>> {
    Ok(session.with_store(|store| {
        if names.is_empty() {
            store.specs(None)
        } else {
            names.iter().map(|m| store.find(m)).collect()
        }
    })?)
}

/// Syncs one model to the end of its window in committed steps; a failure is recorded in a
/// transaction of its own and returned.
pub fn sync_model(
    session: &mut Session,
    spec: &ModelSpec,
    full: bool,
    mode: RunMode,
    lock_wait: LockWait,
    eager: bool,
) -> SyncResult<RunSummary> {
    let began = Instant::now();
    let mut total = RunSummary::new(&spec.model, None);
    loop {
        if host::stop_requested() {
            return Err(host::stopped());
        }
        let started = SystemTime::now();
        let opts = RunOptions {
            full,
            dry_run: false,
            mode,
            max_pages: session.config.step_pages,
            max_time: Some(Duration::from_secs(session.config.step_seconds)),
            stop_requested: Some(host::stop_requested),
            run_id: total.run_id,
            lock_wait,
            eager,
        };
        let step = session.with_engine(|store, odoo, s| engine::run_and_alert(store, &RunnerHost, spec, opts, s, odoo));
        match step {
            Ok(s) => {
                let c = &mut total.counts;
                c.fetched += s.counts.fetched;
                c.inserted += s.counts.inserted;
                c.updated += s.counts.updated;
                c.rejected += s.counts.rejected;
                c.deleted += s.counts.deleted;
                total.run_id = s.run_id.or(total.run_id);
                total.checkpoint = s.checkpoint;
                total.status = s.status;
                total.message = s.message.or(total.message);
                if s.status != RunStatus::InProgress {
                    total.duration = began.elapsed();
                    return Ok(total);
                }
            }
            // Not a failure of the model: a stop, or a lock another session holds (skipped).
            Err(e) if host::stop_requested() || matches!(e, SyncError::Busy { .. }) => return Err(e),
            Err(e) => {
                let failure = Failure::new(&spec.model, total.run_id, mode, started, &e);
                record_failure(session, &failure);
                return Err(e);
            }
        }
    }
}

/// Records a failed step (log row, checkpoint, the alert) in a transaction of its own.
pub fn record_failure(session: &mut Session, failure: &Failure) {
    let settings = &session.config.settings;
    if let Err(e) = session.db.transaction(|store| engine::record_failure(store, settings, failure)) {
        crate::log::warning(&format!("odoo-sync: could not record the failure of {}: {e}", failure.model));
    }
}

/// Runs `one` for each model, in order, and prints a row each under `headers` (a failed model's
/// row says why); the first failure is returned after the table, and a stop request ends the
/// loop. The models after a failed one still run: each is its own run.
fn each_model(
    session: &mut Session,
    specs: &[ModelSpec],
    headers: &[&str],
    mut one: impl FnMut(&mut Session, &ModelSpec) -> SyncResult<Vec<String>>,
) -> RunnerResult<()> {
    let mut rows = Vec::new();
    let mut first_error: Option<RunnerError> = None;
    for spec in specs {
        match one(session, spec) {
            Ok(row) => rows.push(row),
            Err(e) => {
                let stopped = host::stop_requested();
                let err = RunnerError::from(e);
                let mut row = vec![spec.model.clone(), "failed".into()];
                row.resize(headers.len() - 1, String::new());
                row.push(err.message.clone());
                rows.push(row);
                first_error.get_or_insert(err);
                if stopped {
                    break;
                }
            }
        }
    }
    report::table(headers, &rows);
    first_error.map_or(Ok(()), Err)
}

/// `odoo-sync sync [MODEL…] [--full] [--dry-run]`.
pub fn sync(session: &mut Session, names: &[String], full: bool, dry_run: bool) -> RunnerResult<()> {
    let specs = models(session, names)?;
    let headers = [
        "model",
        "status",
        "fetched",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "deleted",
        "checkpoint",
        "duration",
        "message",
    ];
    each_model(session, &specs, &headers, |session, spec| {
        let summary = if dry_run {
            let opts = RunOptions {
                full,
                dry_run: true,
                mode: RunMode::Runner,
                max_pages: None,
                max_time: None,
                stop_requested: Some(host::stop_requested),
                run_id: None,
                lock_wait: LockWait::Unbounded,
                eager: false,
            };
            session.with_engine(|store, odoo, s| engine::run_and_alert(store, &RunnerHost, spec, opts, s, odoo))
        } else {
            sync_model(session, spec, full, RunMode::Runner, LockWait::Unbounded, false)
        };
        summary.map(|s| summary_row(&s))
    })
}

fn summary_row(s: &RunSummary) -> Vec<String> {
    let c = &s.counts;
    vec![
        s.model.clone(),
        s.status.as_sql().into(),
        c.fetched.to_string(),
        c.inserted.to_string(),
        c.updated.to_string(),
        c.unchanged().to_string(),
        c.rejected.to_string(),
        c.deleted.to_string(),
        report::time(s.checkpoint),
        report::seconds(s.duration),
        s.message.clone().unwrap_or_default(),
    ]
}

/// Reconciles one model to its end in committed steps (a dry run in one transaction).
pub fn reconcile_model(
    session: &mut Session,
    spec: &ModelSpec,
    dry_run: bool,
    lock_wait: LockWait,
) -> SyncResult<ReconcileSummary> {
    let began = Instant::now();
    loop {
        if host::stop_requested() {
            return Err(host::stopped());
        }
        let started = SystemTime::now();
        let opts = ReconcileOptions {
            dry_run,
            max_pages: (!dry_run).then_some(1),
            stop_requested: Some(host::stop_requested),
            lock_wait,
        };
        let step = session.with_engine(|store, odoo, s| {
            engine::reconcile::reconcile_and_alert(store, &RunnerHost, spec, opts, s, odoo)
        });
        match step {
            Ok(mut s) if s.status != RunStatus::InProgress => {
                s.duration = began.elapsed();
                return Ok(s);
            }
            Ok(_) => {}
            Err(e) if host::stop_requested() => return Err(e),
            Err(e) => {
                let failure = Failure::new(&spec.model, None, RunMode::Reconcile, started, &e);
                record_failure(session, &failure);
                return Err(e);
            }
        }
    }
}

/// `odoo-sync reconcile [MODEL…] [--dry-run]`.
pub fn reconcile(session: &mut Session, names: &[String], dry_run: bool) -> RunnerResult<()> {
    let specs = models(session, names)?;
    let headers = [
        "model",
        "status",
        "odoo_count",
        "bronze_count",
        "missing",
        "stale",
        "deleted",
        "restored",
        "refetched",
        "duration",
        "message",
    ];
    each_model(session, &specs, &headers, |session, spec| {
        let r = reconcile_model(session, spec, dry_run, LockWait::Unbounded)?;
        let d = &r.drift;
        Ok(vec![
            r.model.clone(),
            r.status.as_sql().into(),
            d.odoo_count.to_string(),
            d.bronze_count.to_string(),
            d.missing.to_string(),
            d.stale.to_string(),
            d.deleted.to_string(),
            d.restored.to_string(),
            d.refetched.to_string(),
            report::seconds(r.duration),
            r.message.clone().unwrap_or_default(),
        ])
    })
}

/// `odoo-sync status`: scout.sync_status, as the extension's users read it.
pub fn status(session: &mut Session) -> RunnerResult<()> {
    let sql = "SELECT model, enabled::text, healthy::text, \
                      coalesce(to_char(high_water_mark AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), \
                      coalesce(to_char(last_success_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), \
                      coalesce(records_synced, 0)::text, running::text, \
                      coalesce(to_char(next_scheduled_run AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), \
                      coalesce(to_char(last_reconciled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''), \
                      coalesce(last_drift::text, ''), \
                      coalesce(current_error_code || ': ' || current_error, '') \
               FROM scout.sync_status";
    let rows = session.db.client.query(sql, &[]).map_err(|e| RunnerError::sql("reading scout.sync_status", &e))?;
    let rows: Vec<Vec<String>> = rows.iter().map(|r| (0..11).map(|i| r.get::<_, String>(i)).collect()).collect();
    let unhealthy = rows.iter().any(|r| r[1] == "true" && r[2] != "true");
    report::table(
        &[
            "model",
            "enabled",
            "healthy",
            "high_water_mark (UTC)",
            "last_success (UTC)",
            "records",
            "running",
            "next_run (UTC)",
            "last_reconciled (UTC)",
            "drift",
            "current_error",
        ],
        &rows,
    );
    if unhealthy {
        return Err(RunnerError {
            message: "odoo-sync: some enabled models are not healthy (failing, or never synced)".into(),
            detail: None,
            hint: Some("See current_error above and scout.sync_logs; run odoo-sync sync MODEL to retry.".into()),
            sqlstate: None,
            exit: exit::FAILED,
        });
    }
    Ok(())
}

/// Gives this session the runner's webhook settings, which scout.odoo_webhook_url() and
/// scout.odoo_webhook_rotate() read (as the extension's GUCs).
fn webhook_settings(session: &mut Session) -> RunnerResult<()> {
    let (public, listen) = (session.config.webhook_public_url.clone(), session.config.webhook_listen.clone());
    if public.is_none() && listen.is_none() {
        return Err(RunnerError::usage(
            "odoo-sync: the webhook listener is off (ODOO_SYNC_WEBHOOK_LISTEN is not set)",
            "Set ODOO_SYNC_WEBHOOK_LISTEN (host:port where `odoo-sync run` listens, e.g. 0.0.0.0:8071) and, if \
             Odoo reaches this host by another address, ODOO_SYNC_WEBHOOK_PUBLIC_URL.",
        ));
    }
    let c = &mut session.db.client;
    let err = |e: postgres::Error| RunnerError::sql("applying the webhook settings", &e);
    c.execute("SELECT set_config('odoo_sync.webhook_public_url', $1, false)", &[&public.unwrap_or_default()])
        .map_err(err)?;
    c.execute("SELECT set_config('odoo_sync.webhook_listen', $1, false)", &[&listen.unwrap_or_default()])
        .map_err(err)?;
    Ok(())
}

/// The webhook URL of this runner's listener, with its token (made if need be).
fn webhook_url(session: &mut Session) -> RunnerResult<String> {
    webhook_settings(session)?;
    let url: String = session
        .db
        .client
        .query_one("SELECT scout.odoo_webhook_url()", &[])
        .map_err(|e| RunnerError::sql("building the webhook URL", &e))?
        .get(0);
    engine::remember_secret(&url);
    if let Some(token) = url.rsplit('/').next() {
        engine::remember_secret(token);
    }
    Ok(url)
}

/// `odoo-sync webhooks install [URL] | remove | url | rotate`.
pub fn webhooks(session: &mut Session, action: &str, url: Option<&str>) -> RunnerResult<()> {
    match action {
        "url" => {
            // The one place a secret is printed: asked for by name, to paste into Odoo by hand.
            let url = webhook_url(session)?;
            println!("{url}");
        }
        "rotate" => {
            webhook_settings(session)?;
            let c = &mut session.db.client;
            c.query_one("SELECT scout.odoo_webhook_rotate()", &[])
                .map_err(|e| RunnerError::sql("rotating the token", &e))?;
            println!("The webhook token was replaced: run odoo-sync webhooks install to give Odoo the new URL.");
        }
        "install" => {
            let url = match url {
                Some(u) => u.to_owned(),
                None => webhook_url(session)?,
            };
            engine::remember_secret(&url);
            let specs = models(session, &[])?;
            let rules = session.with_engine(|_, odoo, _| engine::webhooks::install_rules(odoo, &specs, &url))?;
            let rows: Vec<Vec<String>> = rules
                .into_iter()
                .map(|r| vec![r.model, r.trigger, r.rule_id.to_string(), r.action_id.to_string()])
                .collect();
            report::table(&["model", "trigger", "rule_id", "action_id"], &rows);
        }
        "remove" => {
            let n = session.with_engine(|_, odoo, _| engine::webhooks::remove_rules(odoo))?;
            println!("{n} Automation Rules removed from Odoo.");
        }
        other => {
            return Err(RunnerError::usage(
                format!("odoo-sync: webhooks {other}: unknown action"),
                "Use odoo-sync webhooks install [URL] | remove | url | rotate.",
            ))
        }
    }
    Ok(())
}
