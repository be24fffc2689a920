//! The host: what the process the engine runs in gives it. In the extension, PostgreSQL's
//! interrupts (a cancel raises), the background worker's SIGTERM and the postmaster's death,
//! and NOTICE/WARNING; in the runner, its own signal flags and its log.

/// What the engine asks of its process. Sync: the threads that fetch pages hold a reference
/// (they call only `stop_flag`'s function).
pub trait Host: Sync {
    /// Returns (or, in the extension, raises) when the caller was cancelled. Called between
    /// pages and in every wait of this thread.
    fn check_interrupts(&self) -> crate::error::SyncResult<()>;
    /// Whether an unattended run should stop between two pages (SIGTERM, a dead postmaster).
    fn stop_requested(&self) -> bool;
    /// A flag reader safe on any thread: a cancel or stop is pending. Given to the threads that
    /// fetch pages, which never call into the host otherwise.
    fn stop_flag(&self) -> fn() -> bool;
    /// The wait hook of the session's own client (runs on this thread, between retries and in
    /// backoff sleeps): false abandons the call.
    fn odoo_wait_hook(&self) -> odoo_client::WaitHook;
    /// Something a person running the call should see (a NOTICE).
    fn notice(&self, text: &str);
    /// Something that went wrong without failing the call (a WARNING).
    fn warning(&self, text: &str);
}
