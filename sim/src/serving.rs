//! Serving like a real Odoo when asked: `--serve-cost real` makes each API call take about as
//! long as a real Odoo 19 takes for it, and `--workers N` serves at most N calls at once (the
//! others wait for a free worker, like Odoo's prefork workers). Both wait rather than compute,
//! so that a 2-core machine can play an Odoo of 8 workers. Without the flags nothing waits.
//!
//! Calibration (docs/odoo-facts.md, "Serving rates"; measured on a real Odoo 19 with POS data,
//! one client on the same host): a trivial call takes 14 ms; `search_read` of pos.order.line
//! with 11 fields in pages of 500 takes 50-100 ms a page (5,000-9,900 rows/s); asking for only
//! `id, write_date` is about 4 x faster, all fields about 3 x slower. The model: a call costs
//! 14 ms plus 11 us per value rendered (record x field; a `search` renders one value per id).
//! 500 records x 11 fields: 14 + 60.5 = 74.5 ms (6,700 rows/s, the middle of the measured
//! range); x 2 fields: 25 ms (3 x faster; measured about 4 x). odoo_sync asks for 13 fields of
//! pos.order.line: 85.5 ms a page, 5,850 rows/s per stream. The simulator's models have fewer
//! fields than Odoo's (pos.order.line about 16), so "all fields" costs less here than there.
//! Other points of docs/odoo-facts.md fit less well: pages of 100 give 3,800 rows/s here
//! (2,200 measured), pages of 2,000 7,800 (11,000 measured): a real Odoo pays more per call and
//! less per value than this straight line. The time the simulator really spent counts towards
//! the cost.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long calls take.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum ServeCost {
    /// As fast as the simulator can answer (the default).
    #[default]
    None,
    /// Like a real Odoo (the calibration above).
    Real,
}

impl ServeCost {
    pub fn parse(s: &str) -> Result<ServeCost, String> {
        match s {
            "none" => Ok(ServeCost::None),
            "real" => Ok(ServeCost::Real),
            other => Err(format!("--serve-cost: {other:?} is not one of none, real")),
        }
    }

    /// The time a call that rendered `values` values should take.
    pub fn of(self, values: u64) -> Duration {
        match self {
            ServeCost::None => Duration::ZERO,
            ServeCost::Real => PER_CALL + PER_VALUE * values as u32,
        }
    }
}

const PER_CALL: Duration = Duration::from_millis(14);
const PER_VALUE: Duration = Duration::from_micros(11);

thread_local! {
    /// Values rendered by the call this thread is serving (one thread per connection, one
    /// call at a time on it).
    static RENDERED: Cell<u64> = const { Cell::new(0) };
}

/// Counts values rendered by the current call (records x fields).
pub fn rendered(values: u64) {
    RENDERED.with(|r| r.set(r.get() + values));
}

/// At most `limit` calls served at once, like Odoo's workers; the rest wait their turn.
pub struct Workers {
    limit: Option<usize>,
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Workers {
    pub fn new(limit: Option<usize>) -> Workers {
        Workers { limit, busy: Mutex::new(0), freed: Condvar::new() }
    }

    /// Serves one API call: waits for a free worker, runs `call`, then waits until the call
    /// has taken what `cost` says it costs (while still holding the worker, as a busy Odoo
    /// worker would).
    pub fn serve<T>(&self, cost: ServeCost, call: impl FnOnce() -> T) -> T {
        if let Some(limit) = self.limit {
            let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
            while *busy >= limit {
                busy = self.freed.wait(busy).unwrap_or_else(|e| e.into_inner());
            }
            *busy += 1;
        }
        let started = Instant::now();
        RENDERED.with(|r| r.set(0));
        let out = call();
        let target = cost.of(RENDERED.with(|r| r.get()));
        if let Some(rest) = target.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
        if self.limit.is_some() {
            *self.busy.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
            self.freed.notify_one();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_real_cost_matches_the_calibration() {
        assert_eq!(ServeCost::Real.of(0), Duration::from_millis(14));
        assert_eq!(ServeCost::Real.of(500 * 11), Duration::from_micros(74_500));
        assert_eq!(ServeCost::None.of(1_000_000), Duration::ZERO);
        assert!(ServeCost::parse("fast").is_err());
    }

    #[test]
    fn calls_take_their_cost_and_no_more_than_the_workers_run_at_once() {
        let workers = Arc::new(Workers::new(Some(2)));
        let started = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let w = Arc::clone(&workers);
                std::thread::spawn(move || w.serve(ServeCost::Real, || rendered(3636)))
                // 14 + 40 ms
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // Four 54 ms calls on two workers: two rounds, at least 108 ms (54 had they not waited).
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(108), "{took:?}");
    }
}
