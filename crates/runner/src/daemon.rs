//! `odoo-sync run`: what the extension's background worker does, from the same engine and the
//! same plan (engine::plan decides what is due: schedules, backoff, hints, re-checks, the
//! outbox's retry); this module executes it over the runner's connection:
//!
//! - every model on `schedule` in committed steps, gold on `gold_schedule`, reconciliation on
//!   `reconcile_schedule`; a failed model is recorded (log row, checkpoint, one alert) and
//!   backed off, the others go on;
//! - the outbox and scout.sync_hints when woken: a second connection LISTENs on
//!   `odoo_sync_wake`, which scout.odoo_push_soon() notifies at commit (the outbox's and the
//!   hints' triggers call it); Odoo's webhooks reach the listener (`webhook_listen`);
//! - scout.runner_state says when the next sync is (scout.sync_status' next_scheduled_run);
//! - SIGTERM or SIGINT: the current step rolls back (committed pages stay) and it exits 0.

use crate::commands::{reconcile_model, sync_model};
use crate::error::{RunnerError, RunnerResult};
use crate::host;
use crate::install;
use crate::log;
use crate::session::Session;
use engine::outbox::Wait;
use engine::plan::{Job, Plan, Schedules, Tick, OUTBOX};
use engine::store::{LockWait, RunMode};
use engine::{ModelSpec, SyncError};
use odoo_webhook::{Hints, Listener};
use postgres::fallible_iterator::FallibleIterator;
use schedule::Schedule;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an unattended step waits for the silver lock another session holds (a user's open
/// transaction) before the model is skipped for the round: the worker's figure.
const SILVER_LOCK_WAIT: Duration = Duration::from_secs(10);
/// The longest sleep: the heartbeat in scout.runner_state is written at least this often.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// How often a sleep looks at the signal and webhook flags.
const POLL: Duration = Duration::from_millis(50);
/// How often `run` tries to connect again after losing the database.
const RECONNECT_EVERY: Duration = Duration::from_secs(5);
/// The channel scout.odoo_push_soon() notifies (sql/runner/library.sql).
const WAKE_CHANNEL: &str = "odoo_sync_wake";

/// Set by the webhook listener's thread when a model is newly hinted.
static WEBHOOK_WOKE: AtomicBool = AtomicBool::new(false);

fn webhook_wake() {
    WEBHOOK_WOKE.store(true, Ordering::SeqCst);
}

fn wall() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

struct Daemon {
    session: Session,
    plan: Plan,
    started: Instant,
    hints: Arc<Hints>,
    /// The connection that LISTENs (None while it is being reopened).
    listen: Option<postgres::Client>,
    /// The "not syncing" line last logged, so that it is logged once per change.
    not_syncing: Option<String>,
    /// What scout.runner_state was last told, and when (None: not yet, or no such table).
    reported: Option<(Instant, Option<i64>)>,
    /// This runner, as scout.runner_state names it (host name and pid).
    whoami: String,
}

pub fn run(mut session: Session) -> RunnerResult<()> {
    install::set_timezone(&mut session.db, session.config.timezone.as_deref())?;
    let parse = |text: &str| Schedule::parse(text).ok();
    let c = &session.config;
    let mut schedules = Schedules::new(
        parse(&c.sync_schedule),
        parse(&c.gold_schedule),
        c.reconcile_schedule.as_deref().and_then(parse),
        wall(),
    );
    let hints = Arc::new(Hints::default());
    let listener = match &c.webhook_listen {
        None => None,
        Some(addr) => Some(Listener::start(addr, hints.clone(), webhook_wake).map_err(|e| {
            RunnerError::usage(
                format!("odoo-sync run: cannot listen for webhooks on {addr}: {e}"),
                "Fix ODOO_SYNC_WEBHOOK_LISTEN (host:port, a free port), or unset it to run without webhooks.",
            )
        })?),
    };
    log::info(&format!(
        "odoo-sync run started on {}, schedule \"{}\"{}",
        session.target.display,
        c.sync_schedule,
        listener
            .as_ref()
            .map(|l| format!(", listening for Odoo's webhooks on {} (POST /odoo/webhook/<token>)", l.local_addr()))
            .unwrap_or_default()
    ));
    let mut d = Daemon {
        session,
        plan: Plan::default(),
        started: Instant::now(),
        hints,
        listen: None,
        not_syncing: None,
        reported: None,
        whoami: format!("{} pid {}", hostname(), std::process::id()),
    };
    d.take_hints();
    d.drain_outbox();
    while !host::stop_requested() {
        let wait = d.plan.sleep_for(&schedules, wall(), d.tick()).min(HEARTBEAT);
        d.heartbeat(schedules.next_sync());
        d.sleep(wait);
        if host::stop_requested() {
            break;
        }
        // A restarted server or a network cut: connect again, or wait and try again (the
        // schedule's work is done once the database is back).
        if !d.session.reconnect_if_lost() {
            d.sleep(RECONNECT_EVERY);
            continue;
        }
        let due = schedules.due(wall());
        if due.sync {
            d.sync_all();
            schedules.ran(Job::Sync, wall());
        }
        if due.gold {
            d.refresh_gold();
            schedules.ran(Job::Gold, wall());
        }
        d.drain_outbox();
        d.take_hints();
        d.sync_hinted();
        if due.reconcile {
            d.reconcile_all();
            schedules.ran(Job::Reconcile, wall());
        }
    }
    if let Some(l) = listener {
        l.stop();
    }
    log::info("odoo-sync run stopping (SIGTERM or SIGINT); committed pages are kept, the next start resumes");
    Ok(())
}

impl Daemon {
    fn tick(&self) -> Tick {
        self.started.elapsed()
    }

    /// Sleeps until `wait` has passed, a NOTIFY arrives, a webhook hints a model, or a signal.
    fn sleep(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        if self.listen.is_none() {
            match self.session.target.connect().and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {WAKE_CHANNEL}")).map_err(|e| RunnerError::sql("LISTEN", &e))?;
                Ok(c)
            }) {
                Ok(c) => self.listen = Some(c),
                Err(e) => log::warning(&format!("odoo-sync run: cannot listen for wake-ups (retrying): {e}")),
            }
        }
        while Instant::now() < until && !host::stop_requested() {
            if WEBHOOK_WOKE.swap(false, Ordering::SeqCst) {
                return;
            }
            let slice = POLL.min(until.saturating_duration_since(Instant::now()));
            let Some(listen) = self.listen.as_mut() else {
                std::thread::sleep(slice);
                continue;
            };
            let heard = {
                let mut notifications = listen.notifications();
                let heard = notifications.timeout_iter(slice).next().map(|n| n.is_some());
                // Several commits may have notified: one turn serves them all.
                while let Ok(Some(_)) = notifications.iter().next() {}
                heard
            };
            match heard {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    log::warning(&format!("odoo-sync run: the listening connection failed (reopening): {e}"));
                    self.listen = None;
                    return;
                }
            }
        }
    }

    /// scout.runner_state: when the next sync is due, and that this runner is alive. Written
    /// when the next sync moved or HEARTBEAT has passed, not at every wake (a busy outbox wakes
    /// the loop many times a second).
    fn heartbeat(&mut self, next_sync: Option<i64>) {
        if self.reported.is_some_and(|(at, next)| next == next_sync && at.elapsed() < HEARTBEAT / 2) {
            return;
        }
        let r = self.session.db.client.execute(
            "UPDATE scout.runner_state SET next_run = to_timestamp($1), heartbeat_at = now(), runner_host = $2 WHERE id = 1",
            &[&next_sync.map(|t| t as f64), &self.whoami],
        );
        match r {
            Ok(_) => self.reported = Some((Instant::now(), next_sync)),
            // The extension's schema has no runner_state: nothing to report there.
            Err(e) if e.as_db_error().is_some_and(|db| db.code().code() == "42P01") => {
                self.reported = Some((Instant::now(), next_sync))
            }
            Err(e) => log::warning(&format!("odoo-sync run: cannot write scout.runner_state: {e}")),
        }
    }

    fn enabled_models(&mut self) -> Option<Vec<ModelSpec>> {
        match self.session.with_store(|store| store.specs(None)) {
            Ok(specs) => Some(specs),
            Err(e) => {
                log::warning(&format!("odoo-sync run: cannot read the models: {e}"));
                None
            }
        }
    }

    /// Syncs one model; false when the round should end (stopping, not configured).
    fn sync_one(&mut self, spec: &ModelSpec, eager: bool) -> bool {
        match sync_model(&mut self.session, spec, false, RunMode::Worker, LockWait::AtMost(SILVER_LOCK_WAIT), eager) {
            Ok(_) => {
                self.plan.succeeded(&spec.model);
                self.not_syncing = None;
                true
            }
            Err(_) if host::stop_requested() => false,
            Err(SyncError::NotConfigured { setting, env }) => {
                let line = format!("{setting} is not set (nor {env}); not syncing");
                if self.not_syncing.as_ref() != Some(&line) {
                    log::info(&format!("odoo-sync run: {line}"));
                    self.not_syncing = Some(line);
                }
                false
            }
            Err(SyncError::Busy { model, detail }) => {
                log::info(&format!("odoo-sync run: {model} skipped this round: {detail}"));
                true
            }
            Err(e) => {
                // Recorded by sync_model (log row, checkpoint, alert); backed off here.
                let retry = self.plan.failed(&spec.model, self.tick());
                log::warning(&format!("{e} (SQLSTATE {}; retried in {} s)", e.sqlstate(), retry.as_secs()));
                true
            }
        }
    }

    fn sync_all(&mut self) {
        let Some(specs) = self.enabled_models() else { return };
        for spec in &specs {
            if host::stop_requested() {
                return;
            }
            if self.plan.backing_off(&spec.model, self.tick()) {
                continue;
            }
            if !self.sync_one(spec, false) {
                return;
            }
        }
    }

    fn reconcile_all(&mut self) {
        let Some(specs) = self.enabled_models() else { return };
        for spec in &specs {
            if host::stop_requested() {
                return;
            }
            match reconcile_model(&mut self.session, spec, false, LockWait::AtMost(SILVER_LOCK_WAIT)) {
                Ok(r) if r.drift.total() > 0 => log::info(&format!(
                    "odoo-sync run: the reconciliation of {} repaired {} records",
                    r.model,
                    r.drift.total()
                )),
                Ok(_) => {}
                Err(_) if host::stop_requested() => return,
                Err(SyncError::NotConfigured { .. }) => return,
                Err(e) => log::warning(&format!("{e} (SQLSTATE {})", e.sqlstate())),
            }
        }
    }

    fn refresh_gold(&mut self) {
        if let Err(e) = self.session.with_store(|store| store.refresh_gold()) {
            log::warning(&format!("odoo-sync run: refreshing gold failed: {e}"));
        }
    }

    /// Sends pending write-back rows, one batch per transaction, until none is left, another
    /// session is sending, or Odoo is unreachable (then retried with backoff).
    fn drain_outbox(&mut self) {
        let now = self.tick();
        self.plan.outbox_held(false, now);
        if self.plan.backing_off(OUTBOX, now) {
            return;
        }
        while !host::stop_requested() {
            match self.session.push_outbox(Wait::No, 1) {
                Ok(p) if p.transient.is_some() => {
                    let wait = self.plan.failed(OUTBOX, self.tick());
                    log::info(&format!(
                        "odoo-sync run: write-back: {} rows stay pending ({}); next try in {} s",
                        p.left,
                        p.transient.unwrap_or_default(),
                        wait.as_secs()
                    ));
                    return;
                }
                Ok(p) => {
                    self.plan.succeeded(OUTBOX);
                    let now = self.tick();
                    self.plan.outbox_held(p.busy || p.held > 0, now);
                    if p.busy || !p.more {
                        return;
                    }
                }
                Err(e) => {
                    let wait = self.plan.failed(OUTBOX, self.tick());
                    log::warning(&format!("odoo-sync run: write-back failed: {e}; next try in {} s", wait.as_secs()));
                    return;
                }
            }
        }
    }

    /// Takes the hints of scout.sync_hints and of the webhook listener, and gives the listener
    /// the token and the synced models.
    fn take_hints(&mut self) {
        let from_webhooks = self.hints.take();
        match self.session.with_store(|store| store.take_hints(&from_webhooks)) {
            Ok((due, enabled, token)) => {
                if let Some(t) = &token {
                    engine::remember_secret(t);
                }
                self.hints.set_token(token);
                self.hints.set_synced(enabled);
                // Odoo before 19 posts before its commit: a re-check follows (engine::plan).
                let recheck = engine::session::cached_odoo_major().is_none_or(|major| major < 19);
                let now = self.tick();
                self.plan.hint(due, recheck, now);
            }
            Err(e) => log::warning(&format!("odoo-sync run: reading the hints failed: {e}")),
        }
    }

    /// Syncs the hinted models that are due, in dependency order, reading up to Odoo's now.
    fn sync_hinted(&mut self) {
        if !self.plan.hint_due(self.tick()) {
            return;
        }
        let Some(specs) = self.enabled_models() else { return };
        let enabled: Vec<String> = specs.iter().map(|s| s.model.clone()).collect();
        let now = self.tick();
        let due = self.plan.take_hinted(&enabled, now);
        for spec in specs.iter().filter(|s| due.contains(&s.model)) {
            if host::stop_requested() {
                return;
            }
            if !self.sync_one(spec, true) {
                self.plan.drop_hints();
                return;
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "?".into())
}
