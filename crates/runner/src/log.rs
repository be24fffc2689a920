//! The runner's log: one line per event on standard error, with a UTC timestamp and a level,
//! every line redacted (engine::redact) so that no secret reaches a journal. What a command
//! reports (a summary table, status) goes to standard output instead.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

fn line(level: &str, text: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let stamp = odoo_client::time::format_odoo(now);
    let _ = writeln!(std::io::stderr().lock(), "{stamp} UTC {level}: {}", engine::redact(text));
}

pub fn info(text: &str) {
    line("LOG", text);
}

pub fn notice(text: &str) {
    line("NOTICE", text);
}

pub fn warning(text: &str) {
    line("WARNING", text);
}
