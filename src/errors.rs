//! The engine's error type at the SQL boundary: mapped once to `ereport` (SQLSTATE, message,
//! detail, hint), and PostgreSQL's own ERRORs caught in unattended steps turned into it. Every
//! message passes through `redact` on the way out, so that even an Odoo error echoing a request
//! could not print the password.

pub use engine::error::{redact, remember_secret, SyncError, SyncResult};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

/// What PgTryBuilder caught: a PostgreSQL ERROR (ours or PostgreSQL's) keeps its SQLSTATE,
/// message, detail and hint; a Rust panic is an internal error.
pub fn described(caught: &pgrx::pg_sys::panic::CaughtError) -> SyncError {
    use pgrx::pg_sys::panic::CaughtError;
    match caught {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => SyncError::Postgres {
            sqlstate: sqlstate_text(r.sql_error_code()),
            message: r.message().to_owned(),
            detail: r.detail().map(str::to_owned),
            hint: r.hint().map(str::to_owned),
        },
        CaughtError::RustPanic { ereport, .. } => SyncError::Internal(format!("panic: {}", ereport.message())),
    }
}

/// A failed SPI call: a bug or a damaged schema (a PostgreSQL ERROR inside SPI does not come
/// back as a value: it unwinds).
pub fn spi(e: pgrx::spi::Error) -> SyncError {
    SyncError::Internal(format!("SPI: {e}"))
}

/// PostgreSQL packs the five characters of a SQLSTATE six bits each (MAKE_SQLSTATE in elog.h).
fn sqlstate_text(code: PgSqlErrorCode) -> String {
    let packed = code as i64;
    (0..5).map(|i| char::from(b'0' + ((packed >> (6 * i)) & 0x3F) as u8)).collect()
}

fn sqlstate_code(text: &str) -> PgSqlErrorCode {
    let b = text.as_bytes();
    if b.len() != 5 {
        return PgSqlErrorCode::ERRCODE_INTERNAL_ERROR;
    }
    let packed =
        b.iter().enumerate().fold(0i32, |acc, (i, c)| acc | (((c.wrapping_sub(b'0')) as i32 & 0x3F) << (6 * i)));
    PgSqlErrorCode::from(packed)
}

/// Raising an engine error as a PostgreSQL ERROR.
pub trait Report {
    /// Raises this error as a PostgreSQL ERROR. Does not return.
    fn report(self) -> !;
}

impl Report for SyncError {
    fn report(self) -> ! {
        let mut report = ErrorReport::new(sqlstate_code(self.sqlstate()), redact(&self.to_string()), "odoo_sync");
        if let Some(d) = self.detail() {
            report = report.set_detail(redact(&d));
        }
        if let Some(h) = self.hint() {
            report = report.set_hint(redact(&h));
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}
