//! The background worker (`shared_preload_libraries = 'odoo_sync'`): syncs every enabled model
//! on `odoo_sync.schedule`, committing after every page by default (checkpoint with the rows), and
//! refreshes gold on `odoo_sync.gold_refresh_schedule`. What it does on each kind of error is
//! in the README ("The background worker").
//!
//! - SIGHUP reloads the settings; a new schedule takes effect at once. At the start of every
//!   transaction it applies the database's `ALTER DATABASE ... SET odoo_sync.*` values as a new
//!   session of the database would see them (set and reset ones alike).
//! - SIGTERM (pg_terminate_backend, shutdown) stops it between two pages, in a retry or backoff
//!   wait, or in a wait for the silver lock: at most one HTTP timeout later. It exits with code 1
//!   so that the postmaster starts it again (after RESTART_AFTER) unless the server is shutting
//!   down. The next start resumes the open window.
//! - Any failure of a step, an Odoo failure or a PostgreSQL ERROR alike (a user's trigger, a
//!   lock timeout, a value PostgreSQL refuses), rolls the step back and is recorded (sync_logs,
//!   checkpoint, one alert); the worker goes on with the next model, and the failing model is
//!   retried with an exponential backoff. Only FATAL or a crash restarts the process.
//! - The postmaster's death ends it at once (its waits exit with it; a step stops between pages).
//! - What is due when (schedules, backoff, hints, re-checks, the outbox's retry) is decided by
//!   engine::plan; this module executes it, one transaction per step.

use crate::errors::{described, spi, SyncError, SyncResult};
use crate::host::{push_outbox, with_engine, PgHost};
use crate::interrupts;
use crate::store::SpiStore;
use crate::{activity, models, settings, webhooks};
use engine::outbox::{Pushed, Wait};
use engine::plan::{Job, Plan, Schedules, Tick, OUTBOX};
use engine::reconcile::ReconcileOptions;
use engine::store::{LockWait, RunMode, RunStatus};
use engine::{Failure, RunOptions};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::pg_sys;
use pgrx::prelude::*;
use schedule::Schedule;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RESTART_AFTER: Duration = Duration::from_secs(5);

/// One transaction of the worker holds at most odoo_sync.worker_step_pages pages (default 1),
/// or this much time (then it commits, with the checkpoint, and goes on). SIGTERM stops it
/// between two pages whatever the count. bench/worker_step.sh compares step sizes: with silver
/// on, 50 pages per transaction measured no faster than 1 (within the run-to-run noise).
const STEP_TIME: Duration = Duration::from_secs(1);

/// How long the worker waits for the silver lock that another session holds (a user's
/// transaction left open), before it skips the model for this round.
const SILVER_LOCK_WAIT: Duration = Duration::from_secs(10);

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

/// Runs `f` in its own transaction: committed if it returns Ok, rolled back if it returns Err
/// or raises a PostgreSQL ERROR, which comes back as `SyncError::Postgres` instead of ending
/// the process. (A PostgreSQL ERROR unwinds as a Rust panic through pgrx; PgTryBuilder catches
/// it after pgrx has copied and flushed the error state; AbortCurrentTransaction then releases
/// what the transaction held, as PostgreSQL's own error recovery does.) The commit itself may
/// fail too (a deferred trigger): that is caught the same way.
fn in_transaction<T>(f: impl FnOnce() -> SyncResult<T>) -> SyncResult<T> {
    fn catching<T>(f: impl FnOnce() -> SyncResult<T>) -> SyncResult<T> {
        PgTryBuilder::new(AssertUnwindSafe(f)).catch_others(|caught| Err(described(&caught))).execute()
    }
    // SAFETY: the worker's main thread, outside any transaction (each call ends the one it starts).
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let result = catching(f).and_then(|value| {
        catching(|| {
            // SAFETY: the snapshot pushed above is still the active one when `f` returned Ok.
            unsafe {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Ok(())
        })
        .map(|()| value)
    });
    if result.is_err() {
        // SAFETY: aborting cleans up whatever state the transaction is in (snapshots, SPI,
        // locks, memory), as after an ERROR at top level.
        unsafe { pg_sys::AbortCurrentTransaction() };
    }
    result
}

/// The odoo_sync.* values of postgresql.conf (and ALTER SYSTEM), as the server reads its files:
/// what a setting falls back to when the database has none. Read at start and on SIGHUP.
fn file_settings() -> SyncResult<Vec<(String, String)>> {
    Spi::connect(|client| -> Result<Vec<(String, String)>, pgrx::spi::Error> {
        client
            .select(
                "SELECT DISTINCT ON (name) name, setting FROM pg_file_settings \
                 WHERE name LIKE 'odoo\\_sync.%' AND error IS NULL AND setting IS NOT NULL ORDER BY name, seqno DESC",
                None,
                &[],
            )?
            .map(|row| Ok((row.get(1)?.unwrap_or_default(), row.get(2)?.unwrap_or_default())))
            .collect()
    })
    .map_err(spi)
}

/// Applies the database's `ALTER DATABASE ... SET odoo_sync.*` values for this transaction, so
/// that the worker sees what a new session of the database would see now (PostgreSQL applies
/// them only at connection time): a value set since is applied, and one reset since goes back
/// to what postgresql.conf (or the built-in default) says. Values the worker cannot apply per
/// database (postgresql.conf-only settings such as odoo_sync.schedule, unknown names) are
/// skipped, with one WARNING per value.
fn apply_database_settings(state: &mut Settled) -> SyncResult<()> {
    // One statement per transaction (the worker runs one per page): it applies what it can and
    // returns the database's values it cannot apply.
    let sql = "WITH db AS ( \
           SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS value \
           FROM pg_db_role_setting s, unnest(s.setconfig) AS c \
           WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND s.setrole = 0 AND c LIKE 'odoo\\_sync.%'), \
         file AS (SELECT * FROM unnest($1::text[], $2::text[]) AS f(name, setting)), \
         wanted AS ( \
           SELECT g.name, coalesce(db.value, file.setting, g.boot_val, '') AS value, \
                  g.context IN ('user', 'superuser') AS settable, db.value IS NOT NULL AS from_db \
           FROM pg_settings g LEFT JOIN db USING (name) LEFT JOIN file USING (name) \
           WHERE g.name LIKE 'odoo\\_sync.%' \
           UNION ALL \
           SELECT db.name, db.value, false, true FROM db WHERE NOT EXISTS (SELECT 1 FROM pg_settings g WHERE g.name = db.name)) \
         SELECT (SELECT count(set_config(name, value, true)) FROM wanted WHERE settable), \
                (SELECT coalesce(array_agg(name || '=' || value ORDER BY name), '{}') FROM wanted WHERE NOT settable AND from_db)";
    let names: Vec<String> = state.file.iter().map(|(n, _)| n.clone()).collect();
    let values: Vec<String> = state.file.iter().map(|(_, v)| v.clone()).collect();
    let (_, refused) = Spi::get_two_with_args::<i64, Vec<String>>(sql, &[names.into(), values.into()]).map_err(spi)?;
    for setting in refused.unwrap_or_default() {
        if state.warned.insert(setting.clone()) {
            let name = setting.split('=').next().unwrap_or_default();
            pgrx::warning!(
                "odoo_sync worker: ignoring ALTER DATABASE ... SET {name}: it cannot be set per database \
                 (set it in postgresql.conf; to remove it see the README, \"The background worker\")"
            );
        }
    }
    Ok(())
}

/// What applying the database's settings needs to remember.
#[derive(Default)]
struct Settled {
    /// postgresql.conf's odoo_sync.* values (file_settings).
    file: Vec<(String, String)>,
    /// Values already warned about.
    warned: HashSet<String>,
}

/// The version of the extension's SQL objects in this database (None: not created here).
fn extension_version() -> SyncResult<Option<String>> {
    Spi::get_one::<String>("SELECT extversion::text FROM pg_extension WHERE extname = 'odoo_sync'").map_err(spi)
}

/// This library's version: the SQL objects must be the same release (after installing a new
/// release and restarting, the worker waits for ALTER EXTENSION odoo_sync UPDATE).
const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the worker remembers between rounds.
struct State {
    /// The decisions: backoff, hints, re-checks, the outbox's retry (engine::plan).
    plan: Plan,
    /// The plan's clock: since the worker started.
    started: Instant,
    settled: Settled,
    /// The "not syncing" line last logged (not configured, extension not updated), so that it
    /// is logged once per change.
    not_syncing: Option<String>,
    /// The webhook listener (odoo_sync.webhook_listen).
    receiver: webhooks::Receiver,
    /// The listener's counts as last logged.
    logged_counts: odoo_webhook::Counts,
}

impl State {
    fn new() -> State {
        State {
            plan: Plan::default(),
            started: Instant::now(),
            settled: Settled::default(),
            not_syncing: None,
            receiver: webhooks::Receiver::default(),
            logged_counts: odoo_webhook::Counts::default(),
        }
    }

    /// Now on the plan's clock.
    fn tick(&self) -> Tick {
        self.started.elapsed()
    }

    fn backing_off(&self, key: &str) -> bool {
        self.plan.backing_off(key, self.tick())
    }
}

/// How a model's turn in a round ended.
enum Turn {
    Done,
    /// Nothing can sync (no base URL, no secret): the rest of the round is skipped too.
    NotConfigured(String),
}

/// Syncs one model step by step (odoo_sync.worker_step_pages pages or STEP_TIME, one
/// transaction each), until its window is done, it fails, or the worker is asked to stop.
/// `eager`: a hinted run, whose new window reads up to Odoo's now (RunOptions::eager).
fn sync_model(spec: &models::ModelSpec, state: &mut State, eager: bool) -> Turn {
    let mut run_id = None;
    let (mut steps, mut records) = (0u32, 0i64);
    loop {
        if interrupts::stop_requested() {
            return Turn::Done;
        }
        steps += 1;
        activity::working(&format!("syncing {}, step {steps} ({records} records so far)", spec.model));
        let started = SystemTime::now();
        let settled = &mut state.settled;
        let step = in_transaction(|| {
            apply_database_settings(settled)?;
            let s = settings::current();
            let opts = RunOptions {
                full: false,
                dry_run: false,
                mode: RunMode::Worker,
                max_pages: Some(settings::WORKER_STEP_PAGES.get().max(1) as u32),
                max_time: Some(STEP_TIME),
                stop_requested: Some(interrupts::stop_requested),
                run_id,
                lock_wait: LockWait::AtMost(SILVER_LOCK_WAIT),
                eager,
            };
            with_engine(&s, |store, odoo| engine::run_and_alert(store, &PgHost, spec, opts, &s, odoo))
        });
        match step {
            Ok(summary) => {
                run_id = summary.run_id;
                records += summary.counts.fetched;
                if summary.status != RunStatus::InProgress {
                    state.plan.succeeded(&spec.model);
                    return Turn::Done;
                }
            }
            // Stopped by SIGTERM in a wait: rolled back, and the open window resumes at the
            // next start. Not a failure of the model.
            Err(_) if interrupts::stop_requested() => return Turn::Done,
            Err(SyncError::NotConfigured { setting, env }) => {
                return Turn::NotConfigured(format!("{setting} is not set (nor {env}); not syncing"));
            }
            Err(SyncError::Busy { model, detail }) => {
                pgrx::log!("odoo_sync worker: {model} skipped this round: {detail}");
                return Turn::Done;
            }
            Err(e) => {
                record_failure(state, Failure::new(&spec.model, run_id, RunMode::Worker, started, &e));
                return Turn::Done;
            }
        }
    }
}

/// Records a failed step in a transaction of its own (sync_logs, checkpoint, one alert) and
/// backs the model off.
fn record_failure(state: &mut State, failure: Failure) {
    let retry = state.plan.failed(&failure.model, state.tick());
    pgrx::warning!("{} (SQLSTATE {}; retried in {} s)", failure.message, failure.error_code, retry.as_secs());
    let settled = &mut state.settled;
    let recorded = in_transaction(|| {
        apply_database_settings(settled)?;
        engine::record_failure(&mut SpiStore, &settings::current(), &failure)
    });
    if let Err(e) = recorded {
        pgrx::warning!("odoo_sync worker: could not record the failure: {e}");
    }
}

/// Reconciles every enabled model with Odoo (engine::reconcile), one model per transaction,
/// under the same per-model lock as a sync; a failure is recorded like a sync's.
fn reconcile_all_models(state: &mut State) {
    let Some(specs) = enabled_models(state) else { return };
    for spec in &specs {
        if !reconcile_model(spec, state) {
            return;
        }
    }
}

/// Reconciles one model a listing page per transaction (committed with its cursor, so a kill
/// loses at most one page of work). False when the round should end (stopping, not configured).
fn reconcile_model(spec: &models::ModelSpec, state: &mut State) -> bool {
    let mut pages = 0u32;
    loop {
        if interrupts::stop_requested() {
            return false;
        }
        pages += 1;
        activity::working(&format!("reconciling {}, listing page {pages}", spec.model));
        let started = SystemTime::now();
        let settled = &mut state.settled;
        let step = in_transaction(|| {
            apply_database_settings(settled)?;
            let s = settings::current();
            let opts = ReconcileOptions {
                dry_run: false,
                max_pages: Some(1),
                stop_requested: Some(interrupts::stop_requested),
                lock_wait: LockWait::AtMost(SILVER_LOCK_WAIT),
            };
            with_engine(&s, |store, odoo| engine::reconcile::reconcile_and_alert(store, &PgHost, spec, opts, &s, odoo))
        });
        match step {
            Ok(r) if r.status == RunStatus::InProgress => continue,
            Ok(r) => {
                if r.drift.total() > 0 {
                    pgrx::log!(
                        "odoo_sync worker: the reconciliation of {} repaired {} records",
                        r.model,
                        r.drift.total()
                    );
                }
                return true;
            }
            Err(_) if interrupts::stop_requested() => return false,
            Err(SyncError::NotConfigured { .. }) => return false,
            Err(SyncError::Busy { model, detail }) => {
                pgrx::log!("odoo_sync worker: {model} not reconciled this time: {detail}");
                return true;
            }
            Err(e) => {
                record_failure(state, Failure::new(&spec.model, None, RunMode::Reconcile, started, &e));
                return true;
            }
        }
    }
}

/// The enabled models, when the extension is created here and its SQL objects are this
/// library's version (else None, said once in the log).
fn enabled_models(state: &mut State) -> Option<Vec<models::ModelSpec>> {
    let listed = in_transaction(|| match extension_version()? {
        Some(v) if v == LIBRARY_VERSION => models::enabled().map(Ok),
        Some(v) => Ok(Err(format!(
            "the extension's SQL objects are version {v} and this library is {LIBRARY_VERSION}: \
             not syncing until ALTER EXTENSION odoo_sync UPDATE"
        ))),
        None => Ok(Ok(Vec::new())),
    });
    match listed {
        Ok(Ok(s)) => Some(s),
        Ok(Err(line)) => {
            if state.not_syncing.as_ref() != Some(&line) {
                pgrx::log!("odoo_sync worker: {line}");
                state.not_syncing = Some(line);
            }
            None
        }
        Err(e) => {
            pgrx::warning!("odoo_sync worker: {e}");
            None
        }
    }
}

fn sync_all_models(state: &mut State) {
    let Some(specs) = enabled_models(state) else { return };
    if specs.is_empty() {
        pgrx::log!("odoo_sync worker: no enabled model (is the extension created in odoo_sync.database?)");
    }
    for spec in &specs {
        if interrupts::stop_requested() {
            return;
        }
        if state.backing_off(&spec.model) {
            continue;
        }
        match sync_model(spec, state, false) {
            Turn::Done => {}
            Turn::NotConfigured(line) => {
                if state.not_syncing.as_ref() != Some(&line) {
                    pgrx::log!("odoo_sync worker: {line}");
                    state.not_syncing = Some(line);
                }
                return;
            }
        }
    }
    state.not_syncing = None;
}

/// Sends pending write-back rows, one batch per transaction, until none is left, another
/// session is sending, or Odoo is unreachable (then retried with the models' backoff). Runs
/// after every round and whenever the worker is woken (scout.odoo_push_soon, an outbox insert).
fn drain_outbox(state: &mut State) {
    // This turn is the retry, if one was due: only a new hold below asks for another.
    let now = state.tick();
    state.plan.outbox_held(false, now);
    if state.backing_off(OUTBOX) {
        return;
    }
    loop {
        if interrupts::stop_requested() {
            return;
        }
        activity::working("sending the outbox");
        let settled = &mut state.settled;
        let pushed = in_transaction(|| {
            if extension_version()?.as_deref() != Some(LIBRARY_VERSION) {
                return Ok(Pushed::default());
            }
            apply_database_settings(settled)?;
            push_outbox(&settings::current(), Wait::No, 1)
        });
        match pushed {
            Ok(p) if p.transient.is_some() => {
                let wait = state.plan.failed(OUTBOX, state.tick());
                pgrx::log!(
                    "odoo_sync worker: write-back: {} rows stay pending ({}); next try in {} s",
                    p.left,
                    p.transient.unwrap_or_default(),
                    wait.as_secs()
                );
                return;
            }
            Ok(p) => {
                state.plan.succeeded(OUTBOX);
                // Rows another session is sending or changing: tried again soon, not at the
                // next scheduled round.
                let now = state.tick();
                state.plan.outbox_held(p.busy || p.held > 0, now);
                if p.busy || !p.more {
                    return;
                }
            }
            Err(e) => {
                let wait = state.plan.failed(OUTBOX, state.tick());
                pgrx::warning!("odoo_sync worker: write-back failed: {e}; next try in {} s", wait.as_secs());
                return;
            }
        }
    }
}

/// Takes the hints of scout.sync_hints and of the webhook listener, with the models Odoo
/// writes with them (sync_models.synced_with); each is due HINT_DEBOUNCE from now, and, with
/// an Odoo before 19, due once more RECHECK_AFTER its last hint. Also gives the listener the
/// token and the synced models, and logs what it refused or ignored since the last time.
fn take_hints(state: &mut State) {
    state.receiver.follow_setting();
    let from_webhooks = state.receiver.hints.take();
    // No setting is read here: the database's settings are applied by the transactions that
    // sync, not by this one, which runs at every wake.
    let taken = in_transaction(|| {
        if extension_version()?.as_deref() != Some(LIBRARY_VERSION) {
            return Ok(None);
        }
        Spi::connect(|client| -> Result<_, pgrx::spi::Error> {
            let row = client.select(store_sql::TAKE_HINTS, Some(1), &[from_webhooks.clone().into()])?.first();
            let due: Vec<String> = row.get(1)?.unwrap_or_default();
            let enabled: Vec<String> = row.get(2)?.unwrap_or_default();
            let token: Option<String> = row.get(3)?;
            Ok(Some((due, enabled, token)))
        })
        .map_err(spi)
    });
    match taken {
        Ok(Some((due, enabled, token))) => {
            if let Some(t) = &token {
                crate::errors::remember_secret(t);
            }
            state.receiver.hints.set_token(token);
            state.receiver.hints.set_synced(enabled);
            // Odoo before 19 posts before its commit: a re-check follows (engine::plan).
            let recheck = engine::session::cached_odoo_major().is_none_or(|major| major < 19);
            let now = state.tick();
            state.plan.hint(due, recheck, now);
        }
        Ok(None) => {}
        Err(e) => pgrx::warning!("odoo_sync worker: reading the hints failed: {e}"),
    }
    log_webhook_counts(state);
}

/// One LOG line when the listener refused or ignored requests since the last line.
fn log_webhook_counts(state: &mut State) {
    let c = state.receiver.hints.counts();
    let last = state.logged_counts;
    if (c.not_found, c.refused, c.ignored) == (last.not_found, last.refused, last.ignored) {
        return;
    }
    let ignored: Vec<String> = state.receiver.hints.ignored_models().iter().map(|(m, n)| format!("{m}: {n}")).collect();
    pgrx::log!(
        "odoo_sync worker: webhooks since the listener started: {} accepted, {} ignored (models not synced{}), \
         {} answered 404 (wrong token or path), {} refused (not an Odoo webhook, or too large)",
        c.accepted,
        c.ignored,
        if ignored.is_empty() { String::new() } else { format!(": {}", ignored.join(", ")) },
        c.not_found,
        c.refused
    );
    state.logged_counts = c;
}

/// Syncs the hinted models that are due (first hints and re-checks, engine::plan), in
/// dependency order: a run of the normal kind, except that its new window reads up to Odoo's
/// now.
fn sync_hinted(state: &mut State) {
    if !state.plan.hint_due(state.tick()) {
        return;
    }
    let Some(specs) = enabled_models(state) else { return };
    let enabled: Vec<String> = specs.iter().map(|s| s.model.clone()).collect();
    let now = state.tick();
    let due = state.plan.take_hinted(&enabled, now);
    for spec in specs.iter().filter(|s| due.contains(&s.model)) {
        if interrupts::stop_requested() {
            return;
        }
        if let Turn::NotConfigured(line) = sync_model(spec, state, true) {
            if state.not_syncing.as_ref() != Some(&line) {
                pgrx::log!("odoo_sync worker: {line}");
                state.not_syncing = Some(line);
            }
            state.plan.drop_hints();
            return;
        }
    }
}

fn read_file_settings() -> Vec<(String, String)> {
    in_transaction(file_settings).unwrap_or_else(|e| {
        pgrx::warning!("odoo_sync worker: cannot read postgresql.conf's odoo_sync settings: {e}");
        Vec::new()
    })
}

fn refresh_gold(state: &mut State) {
    activity::working("refreshing gold");
    let settled = &mut state.settled;
    let r = in_transaction(|| {
        // The database's settings (odoo_sync.timezone) as a new session would see them.
        apply_database_settings(settled)?;
        Spi::run(store_sql::REFRESH_GOLD).map_err(spi)
    });
    if let Err(e) = r {
        pgrx::warning!("odoo_sync worker: refreshing gold failed: {e}");
    }
}

/// The schedules as the settings say now (a bad one is off, with a WARNING).
fn load_schedules() -> Schedules {
    let parse = |text: String, what: &str| match Schedule::parse(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            pgrx::warning!("odoo_sync worker: {what} \"{text}\": {e}");
            None
        }
    };
    let sync = parse(settings::sync_schedule(), "odoo_sync.schedule");
    let gold = parse(settings::gold_schedule(), "odoo_sync.gold_refresh_schedule");
    let reconcile = settings::reconcile_schedule().and_then(|text| parse(text, "odoo_sync.reconcile_schedule"));
    Schedules::new(sync, gold, reconcile, now())
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn odoo_sync_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let db = settings::worker_database();
    BackgroundWorker::connect_worker_to_spi(Some(&db), None);
    pgrx::log!("odoo_sync worker started on database \"{db}\", schedule \"{}\"", settings::sync_schedule());
    let mut schedules = load_schedules();
    let mut state = State::new();
    state.settled.file = read_file_settings();
    // Starts the webhook listener (odoo_sync.webhook_listen) and gives it the token now, not at
    // the first wake.
    if settings::WORKER_ENABLED.get() {
        take_hints(&mut state);
    }
    while !interrupts::stop_requested() {
        let wait = state.plan.sleep_for(&schedules, now(), state.tick());
        activity::idle_until(wait);
        // Exits at once if the postmaster dies (pgrx's wait_latch only reports it).
        interrupts::wait_on_latch(wait);
        if interrupts::stop_requested() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: outside any transaction on the worker's main thread, as PostgreSQL's own
            // processes reload their configuration.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            schedules = load_schedules();
            state.settled.file = read_file_settings();
            pgrx::log!("odoo_sync worker: settings reloaded, schedule \"{}\"", settings::sync_schedule());
        }
        let enabled = settings::WORKER_ENABLED.get();
        let due = schedules.due(now());
        if due.sync {
            if enabled {
                sync_all_models(&mut state);
            }
            schedules.ran(Job::Sync, now());
        }
        if due.gold {
            if enabled {
                refresh_gold(&mut state);
            }
            schedules.ran(Job::Gold, now());
        }
        // After a round, and whenever something woke the worker: the outbox, then the hints.
        if enabled {
            drain_outbox(&mut state);
            take_hints(&mut state);
            sync_hinted(&mut state);
        }
        // Between rounds: a reconciliation due now runs after this round's sync.
        if due.reconcile {
            if enabled {
                reconcile_all_models(&mut state);
            }
            schedules.ran(Job::Reconcile, now());
        }
    }
    pgrx::log!("odoo_sync worker stopping");
    // Exit code 1: the postmaster restarts us (after RESTART_AFTER) unless it is shutting down.
    // SAFETY: outside any transaction; proc_exit runs PostgreSQL's exit callbacks and never returns.
    unsafe { pg_sys::proc_exit(1) };
}

/// When the worker will next sync, for scout.sync_status: NULL without the worker.
#[pg_extern(name = "odoo_sync_next_run", stable, parallel_safe)]
fn odoo_sync_next_run() -> Option<pgrx::datum::TimestampWithTimeZone> {
    if !PRELOADED.load(std::sync::atomic::Ordering::Relaxed) || !settings::WORKER_ENABLED.get() {
        return None;
    }
    let next = Schedule::parse(&settings::sync_schedule()).ok()?.next_after(now())?;
    crate::api::timestamptz(next)
}
