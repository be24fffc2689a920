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
    /// written while Odoo's clock was ahead); it then becomes the high-water mark.
    pub end: i64,
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
/// When Odoo's clock is behind the high-water mark H (it was stepped back: NTP, a restored VM),
/// records written since carry write_dates below H: the window starts at `end - lookback`
/// instead, `clock_behind` says by how much, and the run moves H back to its end
/// ([`high_water_after`]), so that the next windows follow Odoo's clock again.
pub fn new_window(cp: &Checkpoint, full: bool, odoo_now: i64, lookback: i64, safety_lag: i64) -> PlannedWindow {
    let end = odoo_now - safety_lag;
    match if full { None } else { cp.high_water } {
        None => PlannedWindow { window: Window { start: None, end, full: true, last_id: 0 }, clock_behind: None },
        Some(h) if end < h => PlannedWindow {
            window: Window { start: Some(end - lookback), end, full: false, last_id: 0 },
            clock_behind: Some(h - end),
        },
        Some(h) => PlannedWindow {
            window: Window { start: Some(h - lookback), end, full: false, last_id: 0 },
            clock_behind: None,
        },
    }
}

/// The high-water mark once `planned`'s window is exhausted: its end, never backwards, except
/// for a run that found Odoo's clock behind the mark (then it follows Odoo's clock back).
pub fn high_water_after(high_water: Option<i64>, planned: &PlannedWindow) -> i64 {
    match (high_water, planned.clock_behind) {
        (Some(h), None) => h.max(planned.window.end),
        _ => planned.window.end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKBACK: i64 = 600;
    const LAG: i64 = 5;

    fn cp(high_water: Option<i64>, open: Option<Window>) -> Checkpoint {
        Checkpoint { high_water, open_window: open, selection: None }
    }

    #[test]
    fn a_first_or_full_sync_has_no_lower_bound() {
        let p = new_window(&cp(None, None), false, 10_000, LOOKBACK, LAG);
        assert_eq!(p.window, Window { start: None, end: 9_995, full: true, last_id: 0 });
        let p = new_window(&cp(Some(9_000), None), true, 10_000, LOOKBACK, LAG);
        assert!(p.window.full && p.window.start.is_none());
        assert_eq!(high_water_after(Some(9_000), &p), 9_995);
    }

    #[test]
    fn an_incremental_window_starts_a_look_back_before_the_mark_and_ends_the_lag_before_now() {
        let p = new_window(&cp(Some(9_000), None), false, 10_000, LOOKBACK, LAG);
        assert_eq!(p.window, Window { start: Some(8_400), end: 9_995, full: false, last_id: 0 });
        assert_eq!(p.clock_behind, None);
        // The invariant: the end is at least Odoo's clock at the run's start - lag - 1 s.
        assert!(p.window.end >= 10_000 - LAG - 1);
        assert_eq!(high_water_after(Some(9_000), &p), 9_995);
    }

    #[test]
    fn the_mark_never_moves_backwards_unless_odoos_clock_went_back() {
        // A window that ends before the mark (resumed from before a later run's mark, say).
        let ahead =
            PlannedWindow { window: Window { start: Some(1), end: 500, full: false, last_id: 0 }, clock_behind: None };
        assert_eq!(high_water_after(Some(900), &ahead), 900);
        // Odoo's clock stepped back 30 minutes: read from its now - lag - lookback, and follow it.
        let p = new_window(&cp(Some(10_000), None), false, 10_000 - 1_800, LOOKBACK, LAG);
        assert_eq!(p.clock_behind, Some(1_805));
        assert_eq!(p.window.start, Some(10_000 - 1_800 - LAG - LOOKBACK));
        assert_eq!(high_water_after(Some(10_000), &p), 10_000 - 1_800 - LAG);
    }

    #[test]
    fn an_interrupted_window_is_resumed_unless_a_full_run_meets_an_incremental_one() {
        let open = Window { start: Some(100), end: 200, full: false, last_id: 42 };
        assert_eq!(resumable(&cp(Some(150), Some(open)), false), Some(open));
        assert_eq!(resumable(&cp(Some(150), Some(open)), true), None, "a full run starts its own");
        let full = Window { start: None, end: 200, full: true, last_id: 7 };
        assert_eq!(resumable(&cp(None, Some(full)), true), Some(full));
        assert_eq!(resumable(&cp(None, Some(full)), false), Some(full), "an incremental call finishes a full load");
        assert_eq!(resumable(&cp(Some(150), None), false), None);
    }
}
