//! Parallel fetching (`odoo_sync.fetch_streams`): slices of a window, each a page of ids
//! listed beforehand, are fetched by several threads at once, each with a connection of its
//! own (`Client::fork`), and handed to this thread in slice order, where they are loaded. Only
//! this thread ever calls into PostgreSQL; the rules are prefetch.rs's:
//!
//! - A fetching thread's client has a wait hook that only reads flags: a cancel or terminate
//!   pending for this backend, or this thread having stopped (an error, a stop between pages,
//!   an ERROR unwinding). Each stops its retries (OdooError::Interrupted) and takes no new
//!   slice; this thread waits for them (at most one HTTP call each: the client's timeouts bound
//!   it) before it returns or the unwinding goes on.
//! - Fetching threads block every signal, so that PostgreSQL's handlers only run on this thread.
//! - Memory is bounded: no thread starts a slice more than 2 x streams ahead of the one this
//!   thread loads next, so at most that many pages exist at once, whatever the window.
//! - If no thread can be started (a process limit), the caller's sequential path does the work.

use super::prefetch::AbandonOnUnwind;
use crate::errors::{SyncError, SyncResult};
use crate::interrupts;
use odoo_client::{CallStats, Client};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// What happened to a run of slices.
pub enum Outcome {
    /// `load` took every slice.
    Done,
    /// `load` asked to stop after the slice it was given (a step's page budget, a stop request).
    Stopped,
    /// No fetching thread could be started: nothing was fetched.
    NoThreads,
}

/// Fetches `count` slices with `fetch(client, index)` on `streams` threads and calls
/// `load(index, fetched)` for each, in index order, on this thread; `load` returns false to stop.
/// The fetching clients' call counters are added to `client.stats`.
pub fn in_order<F: Send>(
    client: &mut Client,
    streams: usize,
    count: usize,
    fetch: impl Fn(&mut Client, usize) -> SyncResult<F> + Sync,
    mut load: impl FnMut(usize, F) -> SyncResult<bool>,
) -> SyncResult<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let next = AtomicUsize::new(0);
    // The slice this thread loads next: fetching threads stay within AHEAD of it.
    let loading = AtomicUsize::new(0);
    let ahead = 2 * streams;
    let mut forks = Vec::with_capacity(streams);
    for _ in 0..streams.min(count) {
        let mut c = client.fork().map_err(|e| SyncError::Odoo { model: None, error: e })?;
        let flag = stop.clone();
        c.set_wait_hook(move || !flag.load(Ordering::Relaxed) && !interrupts::stop_or_cancel_pending());
        forks.push(c);
    }
    let (tx, rx) = mpsc::sync_channel::<(usize, SyncResult<F>)>(streams);
    let (fetch, next, loading) = (&fetch, &next, &loading);
    let result = std::thread::scope(|scope| {
        let _guard = AbandonOnUnwind(stop.clone());
        let mut handles = Vec::new();
        for mut c in forks {
            let (tx, stop) = (tx.clone(), stop.clone());
            // Spawned with every signal blocked, so that PostgreSQL's handlers never run on it.
            let spawned = odoo_client::with_signals_blocked(|| {
                std::thread::Builder::new().name("odoo_sync stream".into()).spawn_scoped(scope, move || {
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        while i >= loading.load(Ordering::Relaxed) + ahead && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = fetch(&mut c, i);
                        let failed = r.is_err();
                        if tx.send((i, r)).is_err() || failed {
                            break; // this thread stopped listening, or the slice failed: no more
                        }
                    }
                    c.stats
                })
            });
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => break,
            }
        }
        drop(tx);
        if handles.is_empty() {
            return Ok((Outcome::NoThreads, Vec::new()));
        }
        let mut waiting: BTreeMap<usize, SyncResult<F>> = BTreeMap::new();
        let mut outcome = Ok(Outcome::Done);
        'slices: for want in 0..count {
            let fetched = loop {
                if let Some(r) = waiting.remove(&want) {
                    break r;
                }
                pgrx::check_for_interrupts!();
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok((i, r)) => {
                        waiting.insert(i, r);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        // Every thread ended without this slice: one failed before it (its
                        // error is waiting), or threads could not all be kept.
                        match waiting.into_iter().find(|(_, r)| r.is_err()) {
                            Some((_, Err(e))) => outcome = Err(e),
                            _ => outcome = Err(SyncError::Internal(format!("slice {want} was never fetched"))),
                        }
                        break 'slices;
                    }
                }
            };
            loading.store(want + 1, Ordering::Relaxed);
            match fetched.and_then(|f| load(want, f)) {
                Ok(true) => {}
                Ok(false) => {
                    outcome = Ok(Outcome::Stopped);
                    break;
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(rx); // a thread blocked handing over a slice gives up
                  // The fetches only run our own Rust code; a panic there is a bug: surface it here, on
                  // the thread that may report errors.
        let stats: Vec<CallStats> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        outcome.map(|o| (o, stats))
    });
    let (outcome, stats) = result?;
    for s in &stats {
        client.stats.add(s);
    }
    Ok(outcome)
}
