//! The sync window on Odoo's clock, as pure functions: which records a run reads, and where
//! the high-water mark goes afterwards. The engine (src/sync/) reads the checkpoint and Odoo's
//! clock and applies these; docs/DESIGN.md, "The sync algorithm", explains why.
//!
//! Times are Unix seconds on Odoo's clock (the HTTP `Date` header: whole seconds).

pub mod query;

/// The open part of a sync: what is left to read of a window [start, end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Lower bound L (inclusive); None for a full sync or a first sync.
    pub start: Option<i64>,
    /// Upper bound U (exclusive) on Odoo's clock. A full window reads past it too (records
    /// written while Odoo's clock was ahead).
    pub end: i64,
    /// Where the high-water mark goes once the window is exhausted: `end`, except for an eager
    /// window (a hinted run reading up to Odoo's now), whose mark stays `safety_lag` behind
    /// Odoo's clock, so that the next window still covers transactions that commit late.
    pub mark: i64,
    pub full: bool,
    /// Highest id already loaded inside this window (0: none yet).
    pub last_id: i64,
}

/// A model's checkpoint, as far as planning needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// High-water mark H; None when the model was never synced to completion.
    pub high_water: Option<i64>,
    /// An unfinished window left by an interrupted run.
    pub open_window: Option<Window>,
    /// What the last completed window selected (company filter, extra fields); None before any.
    pub selection: Option<String>,
}

/// A window a run is about to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedWindow {
    pub window: Window,
    /// Seconds by which Odoo's clock (less the safety lag) was behind the high-water mark.
    pub clock_behind: Option<i64>,
}

/// The open window of an interrupted run, if this run should resume it (a full run does not
/// resume an incremental window).
pub fn resumable(cp: &Checkpoint, full: bool) -> Option<Window> {
    cp.open_window.filter(|open| !full || open.full)
}

/// A new window on Odoo's clock `odoo_now`, as read by a request of this run (never an earlier
/// answer). [H - lookback, now - safety lag), or no lower bound for a full or first sync. The
/// invariant, for every run: `end >= Odoo's clock at the run's start - safety_lag - 1 s` (the
/// `Date` header is whole seconds).
///
/// An `eager` window (a run for a webhook's hint: the change is committed, and should reach
/// silver now) reads up to Odoo's now instead, `now + 1 s` because the `Date` header drops
/// the fraction of the current second, while its mark stays at `now - safety_lag`: the next
/// window starts `lookback` before that mark, exactly as if the eager run had not happened,
/// so a transaction that commits late is read by it as it would have been anyway.
///
/// When Odoo's clock is behind the high-water mark H (it was stepped back: NTP, a restored VM),
/// records written since carry write_dates below H: the window starts at `end - lookback`
/// instead, `clock_behind` says by how much, and the run moves H back to its end
/// ([`high_water_after`]), so that the next windows follow Odoo's clock again.
pub fn new_window(cp: &Checkpoint, full: bool, odoo_now: i64, limits: Limits) -> PlannedWindow {
    let mark = odoo_now - limits.safety_lag;
    let end = if limits.eager { odoo_now + 1 } else { mark };
    let window = |start| Window { start, end, mark, full: start.is_none(), last_id: 0 };
    match if full { None } else { cp.high_water } {
        None => PlannedWindow { window: window(None), clock_behind: None },
        Some(h) if mark < h => {
            PlannedWindow { window: window(Some(mark - limits.lookback)), clock_behind: Some(h - mark) }
        }
        Some(h) => PlannedWindow { window: window(Some(h - limits.lookback)), clock_behind: None },
    }
}

/// What bounds a new window besides the checkpoint and Odoo's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Seconds re-read before the high-water mark.
    pub lookback: i64,
    /// Seconds behind Odoo's clock that the high-water mark stays (late commits).
    pub safety_lag: i64,
    /// Read up to Odoo's now (a hinted run); the mark still stays `safety_lag` behind.
    pub eager: bool,
}

/// The high-water mark once `planned`'s window is exhausted: its mark, never backwards, except
/// for a run that found Odoo's clock behind the mark (then it follows Odoo's clock back).
pub fn high_water_after(high_water: Option<i64>, planned: &PlannedWindow) -> i64 {
    match (high_water, planned.clock_behind) {
        (Some(h), None) => h.max(planned.window.mark),
        _ => planned.window.mark,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKBACK: i64 = 600;
    const LAG: i64 = 5;
    const LIMITS: Limits = Limits { lookback: LOOKBACK, safety_lag: LAG, eager: false };

    fn cp(high_water: Option<i64>, open: Option<Window>) -> Checkpoint {
        Checkpoint { high_water, open_window: open, selection: None }
    }

    #[test]
    fn a_first_or_full_sync_has_no_lower_bound() {
        let p = new_window(&cp(None, None), false, 10_000, LIMITS);
        assert_eq!(p.window, Window { start: None, end: 9_995, mark: 9_995, full: true, last_id: 0 });
        let p = new_window(&cp(Some(9_000), None), true, 10_000, LIMITS);
        assert!(p.window.full && p.window.start.is_none());
        assert_eq!(high_water_after(Some(9_000), &p), 9_995);
    }

    #[test]
    fn an_incremental_window_starts_a_look_back_before_the_mark_and_ends_the_lag_before_now() {
        let p = new_window(&cp(Some(9_000), None), false, 10_000, LIMITS);
        assert_eq!(p.window, Window { start: Some(8_400), end: 9_995, mark: 9_995, full: false, last_id: 0 });
        assert_eq!(p.clock_behind, None);
        // The invariant: the end is at least Odoo's clock at the run's start - lag - 1 s.
        assert!(p.window.end >= 10_000 - LAG - 1);
        assert_eq!(high_water_after(Some(9_000), &p), 9_995);
    }

    #[test]
    fn the_mark_never_moves_backwards_unless_odoos_clock_went_back() {
        // A window that ends before the mark (resumed from before a later run's mark, say).
        let ahead = PlannedWindow {
            window: Window { start: Some(1), end: 500, mark: 500, full: false, last_id: 0 },
            clock_behind: None,
        };
        assert_eq!(high_water_after(Some(900), &ahead), 900);
        // Odoo's clock stepped back 30 minutes: read from its now - lag - lookback, and follow it.
        let p = new_window(&cp(Some(10_000), None), false, 10_000 - 1_800, LIMITS);
        assert_eq!(p.clock_behind, Some(1_805));
        assert_eq!(p.window.start, Some(10_000 - 1_800 - LAG - LOOKBACK));
        assert_eq!(high_water_after(Some(10_000), &p), 10_000 - 1_800 - LAG);
    }

    #[test]
    fn an_interrupted_window_is_resumed_unless_a_full_run_meets_an_incremental_one() {
        let open = Window { start: Some(100), end: 200, mark: 200, full: false, last_id: 42 };
        assert_eq!(resumable(&cp(Some(150), Some(open)), false), Some(open));
        assert_eq!(resumable(&cp(Some(150), Some(open)), true), None, "a full run starts its own");
        let full = Window { start: None, end: 200, mark: 200, full: true, last_id: 7 };
        assert_eq!(resumable(&cp(None, Some(full)), true), Some(full));
        assert_eq!(resumable(&cp(None, Some(full)), false), Some(full), "an incremental call finishes a full load");
        assert_eq!(resumable(&cp(Some(150), None), false), None);
    }

    #[test]
    fn an_eager_window_reads_up_to_odoos_now_but_its_mark_stays_the_lag_behind() {
        let eager = Limits { eager: true, ..LIMITS };
        let p = new_window(&cp(Some(9_000), None), false, 10_000, eager);
        // The Date header says 10,000 for any instant of that second: read all of it.
        assert_eq!(p.window, Window { start: Some(8_400), end: 10_001, mark: 9_995, full: false, last_id: 0 });
        assert_eq!(high_water_after(Some(9_000), &p), 9_995);
        // The next (normal) window starts where it would have without the eager run, so a
        // transaction that commits late, with a write_date before the eager run's end, is read.
        let next = new_window(&cp(Some(9_995), None), false, 10_060, LIMITS);
        assert_eq!(next.window.start, Some(9_995 - LOOKBACK));
        assert!(next.window.start.unwrap() < 9_995 && next.window.end == 10_055);
        // Odoo's clock behind the mark: the comparison is with the mark, not the eager end.
        let back = new_window(&cp(Some(10_000), None), false, 10_003, eager);
        assert_eq!(back.clock_behind, Some(2));
        assert_eq!(high_water_after(Some(10_000), &back), 9_998);
    }
}
