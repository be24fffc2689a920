//! PostgreSQL's signals as this extension reads them, in one place: the background worker's
//! SIGTERM flag, the pending cancel/terminate of an ordinary backend, and a latch wait that a
//! signal cuts short. Everything here is safe to call on the backend's main thread; only
//! `stop_or_cancel_pending` (pure atomic reads) is safe on another thread too.

use pgrx::pg_sys;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// The background worker's SIGTERM (pg_terminate_backend, a fast or smart shutdown): pgrx's
/// handler sets `ShutdownRequestPending`. Always false in ordinary backends, where a terminate
/// is an interrupt (`ProcDiePending`) that check_for_interrupts acts on.
/// Also true once the postmaster is gone (kill -9, the OOM killer): a process of a dead server
/// must not go on holding its shared memory and ports, so everything that stops on SIGTERM stops
/// then too, and the worker exits.
pub fn stop_requested() -> bool {
    // SAFETY: a sig_atomic_t flag that the signal handler sets; read atomically, never written.
    let sigterm =
        unsafe { (*(&raw const pg_sys::ShutdownRequestPending as *const AtomicI32)).load(Ordering::Relaxed) != 0 };
    sigterm || postmaster_died()
}

/// Whether the postmaster has died: this process was re-parented (to init or a subreaper), so
/// its parent is no longer the postmaster. One system call and a read of a value set before the
/// fork: safe on any thread, cheap enough for every wait of a loop.
pub fn postmaster_died() -> bool {
    // SAFETY: getppid(2) cannot fail; PostmasterPid is set by the postmaster before it forks
    // any process and never changes afterwards.
    unsafe { libc::getppid() != pg_sys::PostmasterPid }
}

/// A cancel (pg_cancel_backend, statement_timeout) or terminate is pending, or the worker was
/// asked to stop: whatever waits should give up. Pure atomic reads: safe on any thread.
pub fn stop_or_cancel_pending() -> bool {
    // SAFETY: sig_atomic_t flags that signal handlers set; read atomically, never written here.
    let (cancel, die) = unsafe {
        (
            (*(&raw const pg_sys::QueryCancelPending as *const AtomicI32)).load(Ordering::Relaxed),
            (*(&raw const pg_sys::ProcDiePending as *const AtomicI32)).load(Ordering::Relaxed),
        )
    };
    cancel != 0 || die != 0 || stop_requested()
}

/// Sleeps up to `d`, woken early by the process latch (which signal handlers set). Exits the
/// process (proc_exit(1)) if the postmaster dies meanwhile, as PostgreSQL's own processes do.
pub fn wait_on_latch(d: Duration) {
    let events = (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32;
    // SAFETY: MyLatch is this process's own latch, set up before any of our code runs; WaitLatch
    // and ResetLatch are called on the main thread only.
    unsafe {
        pg_sys::WaitLatch(pg_sys::MyLatch, events, d.as_millis() as _, pg_sys::PG_WAIT_EXTENSION);
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
}
