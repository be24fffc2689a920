//! Parallel fetching (`odoo_sync.fetch_streams`): slices of a window, each a page of ids
//! listed beforehand, are fetched by several threads at once, each with a connection of its
//! own (`Client::fork`), and handed to this thread in slice order, where they are loaded. The
//! slices come from a [`Feed`]: the first listing's, made on this thread, and those a listing
//! thread adds while the streams fetch, so that Odoo lists and serves at once and the streams
//! never wait for a listing between two runs of slices. Only this thread ever calls into
//! PostgreSQL; the rules are prefetch.rs's:
//!
//! - A fetching or listing thread's client has a wait hook that only reads flags: a cancel or
//!   terminate pending for this backend, or this thread having stopped (an error, a stop
//!   between pages, an ERROR unwinding). Each stops its retries (OdooError::Interrupted) and
//!   takes no new work; this thread waits for them (at most one HTTP call each: the client's
//!   timeouts bound it) before it returns or the unwinding goes on.
//! - Those threads block every signal, so that PostgreSQL's handlers only run on this thread.
//! - Memory is bounded: no thread starts a slice more than 2 x streams ahead of the one this
//!   thread loads next, so at most that many pages exist at once, whatever the window (the
//!   listed ids are 16 bytes a page).
//! - If no fetching thread can be started (a process limit), the caller's sequential path does
//!   the work; if the listing thread cannot be, the slices listed so far are all there is.

use crate::error::{SyncError, SyncResult};
use crate::host::Host;
use crate::prefetch::AbandonOnUnwind;
use odoo_client::{CallStats, Client};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

/// A slice: the ids in (lo, hi].
pub type Slice = (i64, i64);

/// Lists more of the window into the feed, from a thread of its own (see `in_order`).
pub type Lister<'a> = &'a (dyn Fn(&mut Client, &Feed) -> SyncResult<()> + Sync);

/// What happened to a run of slices.
pub enum Outcome {
    /// `load` took every slice.
    Done,
    /// `load` asked to stop after the slice it was given (a step's page budget, a stop request).
    Stopped,
    /// No fetching thread could be started: nothing was fetched.
    NoThreads,
}

/// The slices of a window, in id order, as they are listed; closed when the listing is done
/// (or failed, with its error).
pub struct Feed {
    state: Mutex<FeedState>,
    grown: Condvar,
}

struct FeedState {
    slices: Vec<Slice>,
    /// None while more slices may come.
    end: Option<SyncResult<()>>,
}

impl Feed {
    /// A feed with these slices, open for more.
    pub fn open(slices: Vec<Slice>) -> Feed {
        Feed { state: Mutex::new(FeedState { slices, end: None }), grown: Condvar::new() }
    }

    /// Appends slices (the next listing's, continuing the last one's ids).
    pub fn extend(&self, more: impl IntoIterator<Item = Slice>) {
        self.lock().slices.extend(more);
        self.grown.notify_all();
    }

    /// No more slices: the listing is done, or failed with this error (reported by `in_order`
    /// after the slices before it are loaded).
    fn close(&self, end: SyncResult<()>) {
        let mut st = self.lock();
        if st.end.is_none() {
            st.end = Some(end);
        }
        drop(st);
        self.grown.notify_all();
    }

    /// Whether no more slices are wanted: the listing is done, or the run stopped taking them
    /// (a listing thread asks before each call).
    pub fn is_closed(&self) -> bool {
        self.lock().end.is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        // A panic while holding it is a bug that join() surfaces; the data stays consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Slice `i`, waiting until it is listed; None when the feed closed before it or `stop`.
    fn wait_for(&self, i: usize, stop: &AtomicBool) -> Option<Slice> {
        let mut st = self.lock();
        loop {
            if let Some(s) = st.slices.get(i) {
                return Some(*s);
            }
            if st.end.is_some() || stop.load(Ordering::Relaxed) {
                return None;
            }
            st = self.grown.wait_timeout(st, Duration::from_millis(50)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// Whether slice `i` will never come, and how the listing ended then (its error is taken:
    /// the caller reports it and stops).
    fn ended_before(&self, i: usize) -> Option<SyncResult<()>> {
        let mut st = self.lock();
        if i < st.slices.len() {
            return None;
        }
        st.end.as_mut().map(|end| std::mem::replace(end, Ok(())))
    }
}

/// Closes the feed with an error if the listing thread ends without closing it (a bug).
struct CloseOnDrop<'a>(&'a Feed);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close(Err(SyncError::Internal("the listing thread ended without finishing its listing".into())));
    }
}

/// Fetches the feed's slices with `fetch(client, slice)` on `streams` threads and calls
/// `load(index, fetched)` for each, in order, on this thread; `load` returns false to stop.
/// With `lister`, a thread of its own (on another connection) runs it to add slices to the
/// feed and close it; without, the feed must be closed already. The other clients' call
/// counters are added to `client.stats`.
pub fn in_order<F: Send>(
    client: &mut Client,
    host: &dyn Host,
    streams: usize,
    feed: &Feed,
    lister: Option<Lister>,
    fetch: impl Fn(&mut Client, Slice) -> SyncResult<F> + Sync,
    mut load: impl FnMut(usize, F) -> SyncResult<bool>,
) -> SyncResult<Outcome> {
    let stop = Arc::new(AtomicBool::new(false));
    let next = AtomicUsize::new(0);
    // The slice this thread loads next: fetching threads stay within AHEAD of it.
    let loading = AtomicUsize::new(0);
    let ahead = 2 * streams;
    let stop_or_cancel = host.stop_flag();
    let fork = |client: &Client| -> SyncResult<Client> {
        let mut c = client.fork().map_err(|e| SyncError::Odoo { model: None, error: e })?;
        let flag = stop.clone();
        c.set_wait_hook(move || !flag.load(Ordering::Relaxed) && !stop_or_cancel());
        Ok(c)
    };
    let mut forks = Vec::with_capacity(streams);
    for _ in 0..streams.max(1) {
        forks.push(fork(client)?);
    }
    let mut list_client = match lister {
        Some(_) => Some(fork(client)?),
        None => None,
    };
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
                        let Some(slice) = feed.wait_for(i, &stop) else { break };
                        while i >= loading.load(Ordering::Relaxed) + ahead && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = fetch(&mut c, slice);
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
        let listing = match (lister, list_client.as_mut()) {
            (Some(list), Some(c)) if !handles.is_empty() => {
                let spawned = odoo_client::with_signals_blocked(|| {
                    std::thread::Builder::new().name("odoo_sync lister".into()).spawn_scoped(scope, move || {
                        let _close = CloseOnDrop(feed);
                        feed.close(list(c, feed));
                    })
                });
                // Without a listing thread, the slices listed so far are all this run takes.
                spawned.inspect_err(|_| feed.close(Ok(()))).ok()
            }
            _ => {
                feed.close(Ok(()));
                None
            }
        };
        if handles.is_empty() {
            return Ok((Outcome::NoThreads, Vec::new()));
        }
        let mut waiting: BTreeMap<usize, SyncResult<F>> = BTreeMap::new();
        let mut outcome = Ok(Outcome::Done);
        'slices: for want in 0.. {
            let fetched = loop {
                if let Some(r) = waiting.remove(&want) {
                    break r;
                }
                if let Err(e) = host.check_interrupts() {
                    outcome = Err(e);
                    break 'slices;
                }
                if let Some(end) = feed.ended_before(want) {
                    outcome = end.map(|()| Outcome::Done);
                    break 'slices;
                }
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok((i, r)) => {
                        waiting.insert(i, r);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        // The listing may have ended since the check above.
                        if let Some(end) = feed.ended_before(want) {
                            outcome = end.map(|()| Outcome::Done);
                            break 'slices;
                        }
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
        feed.close(Ok(())); // the listing thread asks for no more
        drop(rx); // a thread blocked handing over a slice gives up
                  // The fetches only run our own Rust code; a panic there is a bug: surface it here, on
                  // the thread that may report errors.
        let stats: Vec<CallStats> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect();
        if let Some(h) = listing {
            h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
        outcome.map(|o| (o, stats))
    });
    let (outcome, stats) = result?;
    for s in &stats {
        client.stats.add(s);
    }
    if let Some(c) = &list_client {
        client.stats.add(&c.stats);
    }
    Ok(outcome)
}
