//! The unattended loop's decisions, pure: which schedules are due, how long to sleep, which
//! failing model (or the outbox) is backing off and until when, and when a hinted model is due
//! (debounce, minimum interval, the re-check Odoo 17 and 18 need). The extension's background
//! worker and the runner's `run` execute it; neither decides anything of this itself.
//!
//! Time comes in from the caller: `now` is a monotonic [`Tick`] (the caller's clock since it
//! started; a simulated one in the tests) and `wall` the Unix time the cron schedules use.

use schedule::Schedule;
use std::collections::HashMap;
use std::time::Duration;

/// A point on the caller's monotonic clock.
pub type Tick = Duration;

/// The shortest sleep between two turns of the loop.
pub const MIN_SLEEP: Duration = Duration::from_millis(50);

/// A hinted model is synced this long after its hint, so that a burst of hints (a POS session
/// closing fires thousands) is one run.
pub const HINT_DEBOUNCE: Duration = Duration::from_millis(100);

/// A model's hinted runs start at least this far apart: a steady stream of hints (10,000 in
/// two seconds) makes a run a second, not one per HINT_DEBOUNCE.
pub const HINT_MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Odoo 17 and 18 post a webhook inside the writing transaction, before the commit: the run a
/// hint starts may not see the change yet. The model is synced once more this long after its
/// last hint (Odoo waits at most 1 s for each webhook it sends, then commits).
pub const RECHECK_AFTER: Duration = Duration::from_secs(2);

/// A model that keeps failing is retried after 5 s, 10 s, 20 s, ... at most every 10 minutes,
/// and at once after a success.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(5);
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

/// How soon the outbox is tried again when another session held it or its rows.
pub const OUTBOX_RETRY: Duration = Duration::from_secs(1);

/// The backoff key of write-back (beside the models' keys).
pub const OUTBOX: &str = "scout.odoo_outbox";

/// What is due at a turn of the loop.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub sync: bool,
    pub gold: bool,
    pub reconcile: bool,
}

/// A scheduled job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    Sync,
    Gold,
    Reconcile,
}

/// The three schedules and when each is next due (Unix seconds).
#[derive(Debug)]
pub struct Schedules {
    sync: Option<Schedule>,
    gold: Option<Schedule>,
    reconcile: Option<Schedule>,
    next_sync: Option<i64>,
    next_gold: Option<i64>,
    next_reconcile: Option<i64>,
}

impl Schedules {
    /// From the parsed schedules (None: off), counting from `wall`.
    pub fn new(sync: Option<Schedule>, gold: Option<Schedule>, reconcile: Option<Schedule>, wall: i64) -> Schedules {
        let next = |s: &Option<Schedule>| s.as_ref().and_then(|s| s.next_after(wall));
        Schedules {
            next_sync: next(&sync),
            next_gold: next(&gold),
            next_reconcile: next(&reconcile),
            sync,
            gold,
            reconcile,
        }
    }

    /// What is due at `wall`.
    pub fn due(&self, wall: i64) -> Due {
        let at = |next: Option<i64>| next.is_some_and(|n| wall >= n);
        Due { sync: at(self.next_sync), gold: at(self.next_gold), reconcile: at(self.next_reconcile) }
    }

    /// `job` ran (or was skipped) and finished at `wall`: it is next due after then, so that a
    /// round longer than the schedule's interval skips the times it missed instead of running
    /// again at once.
    pub fn ran(&mut self, job: Job, wall: i64) {
        let (next, s) = match job {
            Job::Sync => (&mut self.next_sync, &self.sync),
            Job::Gold => (&mut self.next_gold, &self.gold),
            Job::Reconcile => (&mut self.next_reconcile, &self.reconcile),
        };
        *next = s.as_ref().and_then(|s| s.next_after(wall));
    }

    /// When the sync schedule is next due (for scout.sync_status).
    pub fn next_sync(&self) -> Option<i64> {
        self.next_sync
    }

    /// How long until the next schedule is due, at most a minute (a reload or a clock change
    /// is noticed within it).
    fn until_next(&self, wall: i64) -> Duration {
        let next = [self.next_sync, self.next_gold, self.next_reconcile].into_iter().flatten().min();
        Duration::from_secs(next.map_or(60, |n| (n - wall).clamp(0, 60)) as u64)
    }
}

/// The loop's memory between turns: backoff, hints, re-checks and the outbox's retry.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per failing model (and the outbox): consecutive failures and when it may be tried again.
    backoff: HashMap<String, (u32, Tick)>,
    /// Hinted models and when their run is due.
    hinted: HashMap<String, Tick>,
    /// Hinted models to sync once more (Odoo before 19: RECHECK_AFTER), and when.
    rechecks: HashMap<String, Tick>,
    /// When each model's last hinted run started (HINT_MIN_INTERVAL).
    last_hinted_run: HashMap<String, Tick>,
    /// When to try the outbox again after another session held it.
    outbox_retry: Option<Tick>,
}

impl Plan {
    /// A failure of `key` (a model, or OUTBOX): how long it now backs off.
    pub fn failed(&mut self, key: &str, now: Tick) -> Duration {
        let n = self.backoff.get(key).map_or(0, |(n, _)| *n);
        let wait = BACKOFF_FIRST.saturating_mul(1 << n.min(16)).min(BACKOFF_MAX);
        self.backoff.insert(key.to_owned(), (n + 1, now + wait));
        wait
    }

    /// A success of `key`: no more backoff.
    pub fn succeeded(&mut self, key: &str) {
        self.backoff.remove(key);
    }

    pub fn backing_off(&self, key: &str, now: Tick) -> bool {
        self.backoff.get(key).is_some_and(|(_, until)| now < *until)
    }

    /// Hints for these models (with the models Odoo writes with them, already added by the
    /// caller); each is due HINT_DEBOUNCE from now, or HINT_MIN_INTERVAL after its last hinted
    /// run; with `recheck` (an Odoo before 19, or one not known yet), due once more
    /// RECHECK_AFTER its last hint.
    pub fn hint(&mut self, models: impl IntoIterator<Item = String>, recheck: bool, now: Tick) {
        for model in models {
            let after_last = self.last_hinted_run.get(&model).map(|t| *t + HINT_MIN_INTERVAL);
            let due = after_last.map_or(now + HINT_DEBOUNCE, |t| t.max(now + HINT_DEBOUNCE));
            self.hinted.entry(model.clone()).or_insert(due);
            if recheck {
                self.rechecks.insert(model, now + RECHECK_AFTER);
            }
        }
    }

    /// The hinted models due now, in the order of `enabled` (dependency order), each taken (its
    /// run is about to start). A model backing off keeps its hint until its backoff ends: the
    /// hint is not lost, and hints do not retry a failing Odoo faster than the schedule. Hints
    /// for models no longer enabled are dropped.
    pub fn take_hinted(&mut self, enabled: &[String], now: Tick) -> Vec<String> {
        self.hinted.retain(|m, _| enabled.contains(m));
        self.rechecks.retain(|m, _| enabled.contains(m));
        let is_due = |m: &HashMap<String, Tick>, model: &String| m.get(model).is_some_and(|due| *due <= now);
        let mut due = Vec::new();
        for model in enabled {
            if !is_due(&self.hinted, model) && !is_due(&self.rechecks, model) {
                continue;
            }
            if let Some(&(_, until)) = self.backoff.get(model).filter(|(_, until)| *until > now) {
                self.hinted.insert(model.clone(), until);
                self.rechecks.remove(model);
                continue;
            }
            self.hinted.remove(model);
            self.rechecks.retain(|m, at| m != model || *at > now);
            self.last_hinted_run.insert(model.clone(), now);
            due.push(model.clone());
        }
        due
    }

    /// Forgets every waiting hint (nothing can sync: not configured).
    pub fn drop_hints(&mut self) {
        self.hinted.clear();
        self.rechecks.clear();
    }

    /// Whether any hint is due now (the loop then lists the enabled models).
    pub fn hint_due(&self, now: Tick) -> bool {
        self.hinted.values().chain(self.rechecks.values()).any(|due| *due <= now)
    }

    /// The outbox was held by another session (or some of its rows were): try again soon.
    /// `held`: false clears it.
    pub fn outbox_held(&mut self, held: bool, now: Tick) {
        self.outbox_retry = held.then_some(now + OUTBOX_RETRY);
    }

    /// How long to sleep: until the next schedule, hint, re-check, outbox retry or the end of
    /// the outbox's backoff (its rows are tried again then, not at the next round), at least
    /// MIN_SLEEP.
    pub fn sleep_for(&self, schedules: &Schedules, wall: i64, now: Tick) -> Duration {
        let outbox_backoff = self.backoff.get(OUTBOX).map(|(_, until)| until);
        let soonest = self
            .hinted
            .values()
            .chain(self.rechecks.values())
            .chain(self.outbox_retry.iter())
            .chain(outbox_backoff)
            .min();
        let until = soonest.map(|t| t.saturating_sub(now));
        until.into_iter().fold(schedules.until_next(wall), |w, d| w.min(d)).max(MIN_SLEEP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Tick {
        Duration::from_millis(n)
    }

    fn models(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_failing_model_backs_off_doubling_to_ten_minutes_and_at_once_after_a_success() {
        let mut p = Plan::default();
        let waits: Vec<u64> = (0..10).map(|_| p.failed("pos.order", ms(0)).as_secs()).collect();
        assert_eq!(waits, vec![5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
        assert!(p.backing_off("pos.order", ms(599_000)));
        assert!(!p.backing_off("pos.order", ms(600_000)));
        assert!(!p.backing_off("res.partner", ms(0)), "per model");
        p.succeeded("pos.order");
        assert!(!p.backing_off("pos.order", ms(1)));
        assert_eq!(p.failed("pos.order", ms(1)).as_secs(), 5, "starts over");
    }

    #[test]
    fn a_burst_of_hints_is_one_run_and_a_stream_of_hints_one_run_a_second() {
        let enabled = models(&["pos.order", "pos.order.line"]);
        let mut p = Plan::default();
        let mut runs = Vec::new();
        // 10,000 hints over two simulated seconds, the loop turning every 10 ms.
        for t in (0..2_000).step_by(10) {
            for _ in 0..50 {
                p.hint(models(&["pos.order"]), false, ms(t));
            }
            for m in p.take_hinted(&enabled, ms(t)) {
                runs.push((t, m));
            }
        }
        for t in (2_000..4_000).step_by(10) {
            for m in p.take_hinted(&enabled, ms(t)) {
                runs.push((t, m));
            }
        }
        let times: Vec<u64> = runs.iter().map(|(t, _)| *t).collect();
        assert_eq!(times.first(), Some(&100), "the first run HINT_DEBOUNCE after the first hint");
        assert!(times.windows(2).all(|w| w[1] - w[0] >= 1_000), "a second apart: {times:?}");
        assert!((2..=3).contains(&times.len()), "{times:?}");
        assert!(!p.hint_due(ms(10_000)), "nothing left");
    }

    #[test]
    fn odoo_before_19_gets_a_recheck_and_a_failing_model_keeps_its_hint_until_its_backoff_ends() {
        let enabled = models(&["pos.order"]);
        let mut p = Plan::default();
        p.hint(models(&["pos.order"]), true, ms(0));
        assert_eq!(p.take_hinted(&enabled, ms(100)), enabled);
        assert!(p.take_hinted(&enabled, ms(1_999)).is_empty());
        assert_eq!(p.take_hinted(&enabled, ms(2_000)), enabled, "the re-check");
        assert!(!p.hint_due(ms(60_000)));
        // Failing: the hint waits for the backoff.
        p.failed("pos.order", ms(3_000));
        p.hint(models(&["pos.order"]), false, ms(3_000));
        assert!(p.take_hinted(&enabled, ms(3_100)).is_empty(), "backing off");
        assert!(p.hint_due(ms(8_000)), "kept");
        assert_eq!(p.take_hinted(&enabled, ms(8_000)), enabled, "when the backoff ends");
        // Hints for a model no longer enabled go.
        p.hint(models(&["pos.payment"]), false, ms(9_000));
        assert!(p.take_hinted(&enabled, ms(9_200)).is_empty());
        assert!(!p.hint_due(ms(9_300)));
    }

    #[test]
    fn schedules_fire_once_each_and_the_sleep_is_until_the_soonest_thing() {
        let every_15 = Schedule::parse("*/15 * * * *").ok();
        let hourly = Schedule::parse("0 * * * *").ok();
        let t0 = 1_796_688_000; // 2026-12-08 00:00:00 UTC, on both schedules
        let mut s = Schedules::new(every_15, hourly, None, t0);
        assert_eq!(s.due(t0 + 899), Due::default());
        assert_eq!(s.due(t0 + 900), Due { sync: true, gold: false, reconcile: false });
        s.ran(Job::Sync, t0 + 901);
        assert_eq!(s.due(t0 + 901), Due::default(), "once");
        // A round that took 20 minutes skips the time it missed.
        assert_eq!(s.due(t0 + 1800), Due { sync: true, gold: false, reconcile: false });
        s.ran(Job::Sync, t0 + 3000);
        assert_eq!(s.next_sync(), Some(t0 + 3600));
        assert_eq!(s.due(t0 + 3600), Due { sync: true, gold: true, reconcile: false });
        s.ran(Job::Sync, t0 + 3600);
        s.ran(Job::Gold, t0 + 3600);
        let mut p = Plan::default();
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(0)), Duration::from_secs(60), "at most a minute");
        p.outbox_held(true, ms(0));
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(0)), OUTBOX_RETRY);
        p.outbox_held(false, ms(0));
        p.hint(models(&["pos.order"]), false, ms(0));
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(0)), HINT_DEBOUNCE);
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(500)), MIN_SLEEP, "never zero");
        // A failed send of the outbox is tried again when its backoff ends, not at the round.
        let mut p = Plan::default();
        let wait = p.failed(OUTBOX, ms(0));
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(0)), wait);
        p.failed("pos.order", ms(0));
        p.failed("pos.order", ms(0));
        assert_eq!(p.sleep_for(&s, t0 + 3600, ms(0)), wait, "a model's backoff waits for its round");
    }
}
