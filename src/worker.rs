//! The background worker (`shared_preload_libraries = 'odoo_sync'`): syncs every enabled model
//! on `odoo_sync.schedule`, committing after every page by default (checkpoint with the rows), and
//! refreshes gold on `odoo_sync.gold_refresh_schedule`.
//!
//! - SIGHUP reloads the settings; a new schedule takes effect at once.
//! - SIGTERM (pg_terminate_backend, shutdown) stops it between two pages, at most one HTTP
//!   timeout later; it exits with code 1 so that the postmaster starts it again (after
//!   RESTART_AFTER) unless the server is shutting down. The next start resumes the open window.
//! - An Odoo failure is recorded (sync_logs, checkpoint, one alert) and the worker carries on
//!   with the next model and the next schedule: it never crash-loops on a bad Odoo.

use crate::errors::{SyncError, SyncResult};
use crate::sync::{self, session::with_session, RunOptions};
use crate::{alerts, models, settings};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::pg_sys;
use pgrx::prelude::*;
use schedule::Schedule;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const RESTART_AFTER: Duration = Duration::from_secs(5);

/// One transaction of the worker holds at most odoo_sync.worker_step_pages pages (default 1),
/// or this much time (then it commits, with the checkpoint, and goes on). SIGTERM stops it
/// between two pages whatever the count. bench/worker_step.sh compares step sizes: with silver
/// on, 50 pages per transaction measured no faster than 1 (within the run-to-run noise).
const STEP_TIME: Duration = Duration::from_secs(1);

/// Set in the postmaster when the library is preloaded; backends inherit it through fork.
static PRELOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn register() {
    PRELOADED.store(true, std::sync::atomic::Ordering::Relaxed);
    BackgroundWorkerBuilder::new("odoo_sync worker")
        .set_type("odoo_sync worker")
        .set_function("odoo_sync_worker_main")
        .set_library("odoo_sync")
        .enable_spi_access()
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn stopping() -> bool {
    // SAFETY: a flag set by the SIGTERM handler; read-only here.
    unsafe { std::ptr::read_volatile(&raw const pg_sys::ShutdownRequestPending) != 0 }
}

/// Runs `f` in its own transaction: committed if it returns Ok, rolled back if it returns Err.
fn in_transaction<T>(f: impl FnOnce() -> SyncResult<T>) -> SyncResult<T> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let result = f();
    unsafe {
        pg_sys::PopActiveSnapshot();
        if result.is_ok() {
            pg_sys::CommitTransactionCommand();
        } else {
            pg_sys::AbortCurrentTransaction();
        }
    }
    result
}

/// Applies the database's `ALTER DATABASE ... SET odoo_sync.*` values for this transaction, so
/// that the worker follows changes made after it connected (PostgreSQL applies them only at
/// connection time).
fn apply_database_settings() -> SyncResult<()> {
    Spi::run(
        "SELECT set_config(split_part(c, '=', 1), substr(c, strpos(c, '=') + 1), true) \
         FROM pg_db_role_setting s, unnest(s.setconfig) AS c \
         WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND s.setrole = 0 AND c LIKE 'odoo\\_sync.%' AND c NOT LIKE 'odoo\\_sync.database=%'",
    )?;
    Ok(())
}

fn extension_installed() -> SyncResult<bool> {
    Ok(Spi::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'odoo_sync')")?.unwrap_or(false))
}

/// Syncs one model step by step (odoo_sync.worker_step_pages pages or STEP_TIME, one
/// transaction each), until its window is done.
fn sync_model(spec: &models::ModelSpec) {
    let mut run_id = None;
    loop {
        if stopping() {
            return;
        }
        let step = in_transaction(|| {
            apply_database_settings()?;
            let s = settings::Settings::current();
            let opts = RunOptions {
                full: false,
                dry_run: false,
                mode: "worker",
                max_pages: Some(settings::WORKER_STEP_PAGES.get().max(1) as u32),
                max_time: Some(STEP_TIME),
                stop_requested: Some(stopping),
                run_id,
            };
            let summary = with_session(&s, |odoo| sync::run_model(spec, opts, &s, odoo))?;
            alerts::on_success(&summary);
            Ok(summary)
        });
        match step {
            Ok(summary) => {
                run_id = summary.run_id;
                if summary.status != "in_progress" {
                    return;
                }
            }
            Err(SyncError::NotConfigured { setting, env }) => {
                pgrx::log!("odoo_sync worker: {setting} is not set (nor {env}); not syncing");
                return;
            }
            Err(e) => {
                let message = crate::errors::redact(&e.to_string());
                pgrx::warning!("{message}");
                let code = e.sqlstate_text();
                let recorded = in_transaction(|| {
                    apply_database_settings()?;
                    sync::record_failure(
                        &settings::Settings::current(),
                        &spec.model,
                        run_id,
                        "worker",
                        Some(&code),
                        &message,
                    )
                });
                if let Err(e) = recorded {
                    pgrx::warning!("odoo_sync worker: could not record the failure: {e}");
                }
                return;
            }
        }
    }
}

fn sync_all_models() {
    let specs = match in_transaction(|| if extension_installed()? { models::enabled() } else { Ok(Vec::new()) }) {
        Ok(s) => s,
        Err(e) => {
            pgrx::warning!("odoo_sync worker: {e}");
            return;
        }
    };
    if specs.is_empty() {
        pgrx::log!("odoo_sync worker: no enabled model (is the extension created in odoo_sync.database?)");
    }
    for spec in &specs {
        if stopping() {
            return;
        }
        sync_model(spec);
    }
}

fn refresh_gold() {
    let r = in_transaction(|| {
        let exists =
            Spi::get_one::<bool>("SELECT to_regprocedure('scout.refresh_gold()') IS NOT NULL")?.unwrap_or(false);
        if exists {
            Spi::run("SELECT scout.refresh_gold()")?;
        }
        Ok(())
    });
    if let Err(e) = r {
        pgrx::warning!("odoo_sync worker: refreshing gold failed: {e}");
    }
}

/// The next due times of both schedules, recomputed when the settings change.
struct Plan {
    sync: Option<Schedule>,
    gold: Option<Schedule>,
    next_sync: Option<i64>,
    next_gold: Option<i64>,
}

impl Plan {
    fn load(t: i64) -> Plan {
        let parse = |text: String, what: &str| match Schedule::parse(&text) {
            Ok(s) => Some(s),
            Err(e) => {
                pgrx::warning!("odoo_sync worker: {what} \"{text}\": {e}");
                None
            }
        };
        let sync = parse(settings::sync_schedule(), "odoo_sync.schedule");
        let gold = parse(settings::gold_schedule(), "odoo_sync.gold_refresh_schedule");
        let next_sync = sync.as_ref().and_then(|s| s.next_after(t));
        let next_gold = gold.as_ref().and_then(|s| s.next_after(t));
        Plan { sync, gold, next_sync, next_gold }
    }

    fn sleep_for(&self, t: i64) -> Duration {
        let next = [self.next_sync, self.next_gold].into_iter().flatten().min().unwrap_or(t + 60);
        Duration::from_millis(((next - t).clamp(0, 60) * 1000).max(50) as u64)
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn odoo_sync_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let db = settings::worker_database();
    BackgroundWorker::connect_worker_to_spi(Some(&db), None);
    pgrx::log!("odoo_sync worker started on database \"{db}\", schedule \"{}\"", settings::sync_schedule());
    let mut plan = Plan::load(now());
    while !stopping() {
        BackgroundWorker::wait_latch(Some(plan.sleep_for(now())));
        if stopping() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            plan = Plan::load(now());
            pgrx::log!("odoo_sync worker: settings reloaded, schedule \"{}\"", settings::sync_schedule());
        }
        let t = now();
        if plan.next_sync.is_some_and(|n| t >= n) {
            if settings::WORKER_ENABLED.get() {
                sync_all_models();
            }
            plan.next_sync = plan.sync.as_ref().and_then(|s| s.next_after(now()));
        }
        if plan.next_gold.is_some_and(|n| t >= n) {
            if settings::WORKER_ENABLED.get() {
                refresh_gold();
            }
            plan.next_gold = plan.gold.as_ref().and_then(|s| s.next_after(now()));
        }
    }
    pgrx::log!("odoo_sync worker stopping");
    // Exit code 1: the postmaster restarts us (after RESTART_AFTER) unless it is shutting down.
    unsafe { pg_sys::proc_exit(1) };
}

/// When the worker will next sync, for scout.sync_status: NULL without the worker.
#[pg_extern(name = "odoo_sync_next_run", stable, parallel_safe)]
fn odoo_sync_next_run() -> Option<pgrx::datum::TimestampWithTimeZone> {
    if !PRELOADED.load(std::sync::atomic::Ordering::Relaxed) || !settings::WORKER_ENABLED.get() {
        return None;
    }
    let next = Schedule::parse(&settings::sync_schedule()).ok()?.next_after(now())?;
    pgrx::datum::TimestampWithTimeZone::try_from((next - 946_684_800) * 1_000_000).ok()
}
