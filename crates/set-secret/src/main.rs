//! `odoo-sync-set-secret`: stores the Odoo password or API key, or the SMTP password of email
//! alerts, with scout.odoo_set_secret() without the value ever being part of SQL text.
//!
//! ```text
//! odoo-sync-set-secret "host=/var/run/postgresql dbname=mydb user=postgres" password < secret.txt
//! odoo-sync-set-secret "host=127.0.0.1 dbname=mydb user=postgres" api_key      (then type it)
//! odoo-sync-set-secret "host=/var/run/postgresql dbname=mydb user=postgres" smtp_password < smtp.txt
//! ```
//!
//! The value is read from standard input (its first line) and sent as a bound parameter of the
//! extended query protocol, so pg_stat_activity shows `... => $1`, never the value. A server
//! that logs statements would still log the parameter, so the session first turns statement
//! logging off for itself (log_statement, log_min_duration_statement, log_min_error_statement
//! and the parameter logging settings), which a superuser may do; the connecting role must be
//! one (scout.odoo_set_secret is superuser only anyway).

use postgres::{Client, NoTls};
use std::io::BufRead;
use std::process::ExitCode;

const USAGE: &str =
    "usage: odoo-sync-set-secret CONNINFO password|api_key|smtp_password   (the value on standard input)";

/// This session's settings that could write the statement or its parameters to the server log.
const QUIET: &str = "SET log_statement = 'none'; SET log_min_duration_statement = -1; \
                     SET log_min_error_statement = 'panic'; SET log_duration = off; \
                     SET log_parameter_max_length = 0; SET log_parameter_max_length_on_error = 0";

fn run(conninfo: &str, kind: &str, value: &str) -> Result<(), String> {
    let sql = match kind {
        "password" => "SELECT scout.odoo_set_secret(password => $1)",
        "api_key" => "SELECT scout.odoo_set_secret(api_key => $1)",
        "smtp_password" => "SELECT scout.odoo_set_secret(smtp_password => $1)",
        other => return Err(format!("unknown kind {other:?}: password, api_key or smtp_password\n{USAGE}")),
    };
    let mut db = Client::connect(conninfo, NoTls).map_err(|e| format!("cannot connect: {e}"))?;
    db.batch_execute(QUIET).map_err(|e| format!("cannot turn statement logging off (a superuser is needed): {e}"))?;
    db.execute(sql, &[&value]).map_err(|e| format!("scout.odoo_set_secret failed: {e}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [conninfo, kind] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        eprintln!("cannot read the value from standard input");
        return ExitCode::from(2);
    }
    let value = line.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        eprintln!("no value on standard input\n{USAGE}");
        return ExitCode::from(2);
    }
    match run(conninfo, kind, value) {
        Ok(()) => {
            let what = if kind == "smtp_password" { "SMTP password".to_owned() } else { format!("Odoo {kind}") };
            println!("stored the {what}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("odoo-sync-set-secret: {e}");
            ExitCode::FAILURE
        }
    }
}
