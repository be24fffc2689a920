//! What every path of a run shares: its options and summary, failures, and the fields to ask
//! for. One model's run is run.rs; a reconciliation reconcile.rs. See docs/DESIGN.md, "The sync
//! algorithm".

use crate::alerts;
use crate::error::{SyncError, SyncResult};
use crate::model::{checkpoint_id, ModelSpec};
use crate::session::OdooSession;
use crate::settings::Settings;
use crate::store::{FailureRecord, LockWait, RunCounts, RunMode, RunStatus, Store};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub full: bool,
    pub dry_run: bool,
    /// How the run was started, for the log.
    pub mode: RunMode,
    /// Stop after this many pages with the window still open (status in_progress), so that
    /// the caller can commit and call again; None reads the whole window.
    pub max_pages: Option<u32>,
    /// Also stop (between two pages) once the call has taken this long.
    pub max_time: Option<Duration>,
    /// Also stop (between two pages) when this says so (the worker's SIGTERM).
    pub stop_requested: Option<fn() -> bool>,
    /// Continue the log row of an earlier step of the same run.
    pub run_id: Option<i64>,
    /// How long writing silver may wait for another session's silver work.
    pub lock_wait: LockWait,
    /// A new window reads up to Odoo's now, its mark staying safety_lag behind (a hinted run:
    /// sync_window::new_window).
    pub eager: bool,
}

#[derive(Clone, Debug)]
pub struct RunSummary {
    pub run_id: Option<i64>,
    pub model: String,
    pub counts: RunCounts,
    /// The high-water mark after the run (Unix seconds on Odoo's clock).
    pub checkpoint: Option<i64>,
    pub duration: Duration,
    pub status: RunStatus,
    pub message: Option<String>,
    /// The checkpoint's status before this run finished (to notice a recovery).
    pub previous_status: Option<String>,
}

impl RunSummary {
    /// A run of `model` that has done nothing yet (the log row of an earlier step, if any).
    pub fn new(model: &str, run_id: Option<i64>) -> RunSummary {
        RunSummary {
            run_id,
            model: model.to_owned(),
            counts: RunCounts::default(),
            checkpoint: None,
            duration: Duration::ZERO,
            status: RunStatus::Success,
            message: None,
            previous_status: None,
        }
    }
}

/// The checkpoint (and lock) key of a model under these settings.
pub fn model_checkpoint(s: &Settings, model: &str) -> String {
    checkpoint_id(&s.checkpoint_key, model)
}

/// A failed step of a committing run (procedure, worker), to be recorded in a transaction of
/// its own once the step's transaction has been rolled back.
#[derive(Clone, Debug)]
pub struct Failure {
    pub model: String,
    /// The run's log row when earlier steps committed one; None when it failed in its first.
    pub run_id: Option<i64>,
    pub mode: RunMode,
    pub error_code: String,
    /// The error's message and, when it has one, its detail (which record, which field): the
    /// log row is all a worker's failure leaves to read.
    pub message: String,
    /// The error's hint, redacted (for the failure alert).
    pub hint: Option<String>,
    /// When the failed step started: the log row of a run that failed in its first step shows
    /// when it really started, not when the failure was recorded.
    pub started_at: SystemTime,
}

impl Failure {
    pub fn new(model: &str, run_id: Option<i64>, mode: RunMode, started_at: SystemTime, e: &SyncError) -> Failure {
        Failure {
            model: model.to_owned(),
            run_id,
            mode,
            error_code: e.sqlstate().to_owned(),
            message: crate::error::redact(&match e.detail() {
                Some(detail) => format!("{e}: {detail}"),
                None => e.to_string(),
            }),
            hint: e.hint().map(|h| crate::error::redact(&h)),
            started_at,
        }
    }
}

/// Records a failure: the log row, the checkpoint's status and error, and an alert when the
/// model just started failing (sent once this transaction commits).
pub fn record_failure<S: Store>(store: &mut S, s: &Settings, f: &Failure) -> SyncResult<()> {
    let started = f.started_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let cp_id = model_checkpoint(s, &f.model);
    let streak = store.record_failure(&FailureRecord {
        checkpoint_id: &cp_id,
        model: &f.model,
        run_id: f.run_id,
        mode: f.mode,
        error_code: &f.error_code,
        message: &f.message,
        started_at_unix: started,
    })?;
    let facts = alerts::Failing {
        error_code: f.error_code.clone(),
        message: f.message.clone(),
        hint: f.hint.clone(),
        since: streak.failing_since,
        failed_runs: streak.failed_runs,
        last_success: streak.last_success,
    };
    alerts::failing(store, s, &f.model, streak.previous_status.as_deref(), facts);
    Ok(())
}

/// The fields to ask for, and those of our spec this Odoo does not have: our spec's fields and
/// optional fields that this Odoo has (a field a version lacks lands as absent; the run's log
/// names it in missing_fields, and a missing core field also in its message), and the user's
/// extra fields, which must exist. Also returns the note for the run's message when a core field
/// is missing.
pub(crate) fn requested_fields(
    spec: &ModelSpec,
    odoo: &mut OdooSession,
    run_started: Instant,
) -> SyncResult<(Vec<String>, Vec<String>, Option<String>)> {
    let model = spec.model.as_str();
    let wanted: Vec<String> =
        spec.fields.iter().chain(&spec.optional_fields).chain(&spec.extra_fields).cloned().collect();
    let (fields, missing) = odoo.existing_fields(model, &wanted, &spec.extra_fields, run_started)?;
    let missing_extra: Vec<&str> =
        missing.iter().filter(|f| spec.extra_fields.contains(f)).map(String::as_str).collect();
    if !missing_extra.is_empty() {
        return Err(SyncError::InvalidSetting {
            setting: "scout.sync_models.extra_fields",
            detail: format!("Odoo's {model} has no field {}.", missing_extra.join(", ")),
        });
    }
    let missing_core: Vec<&str> = missing.iter().filter(|f| spec.fields.contains(f)).map(String::as_str).collect();
    let note = (!missing_core.is_empty())
        .then(|| format!("this Odoo has no {} on {model}; synced without", missing_core.join(", ")));
    Ok((fields, missing, note))
}

/// For a model that only some Odoo databases have (`odoo_module`), when this one lacks it: the
/// message a run reports instead of syncing.
pub fn not_in_this_odoo(spec: &ModelSpec, odoo: &mut OdooSession) -> SyncResult<Option<String>> {
    let Some(module) = &spec.odoo_module else { return Ok(None) };
    if odoo.has_model(&spec.model)? {
        return Ok(None);
    }
    Ok(Some(format!("this Odoo has no {} (its module {module} is not installed): nothing to sync", spec.model)))
}
