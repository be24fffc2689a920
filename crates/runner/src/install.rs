//! `odoo-sync install`: the `scout` schema from the extension's own `sql/` files, as plain SQL,
//! by a role that owns the database and is not a superuser, with no extension. Idempotent: the
//! schema's release is recorded (scout.runner_state); a second install does nothing, a newer
//! runner applies the extension's upgrade scripts (`sql/odoo_sync--A--B.sql`) from the
//! recorded release on, which alter tables and never drop data. All in one transaction.
//!
//! Two differences from CREATE EXTENSION, both mechanical (`runner_sql`): the calls that mark
//! tables for pg_dump (`pg_extension_config_dump`, only valid inside CREATE EXTENSION) go to a
//! no-op of the installing session, and statements that define C functions of the library
//! (`MODULE_PATHNAME`) are left out; sql/runner/library.sql defines their plain-SQL stand-ins.

use crate::db::Db;
use crate::error::{RunnerError, RunnerResult};

/// This runner's schema release: the extension's version (Cargo.toml of both).
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// The extension's files in CREATE EXTENSION's order (src/lib.rs), the library's stand-ins
/// right after the core (gold's views and the status view call them).
const FILES: &[(&str, &str)] = &[
    ("01_core.sql", include_str!("../../../sql/01_core.sql")),
    ("runner/library.sql", include_str!("../../../sql/runner/library.sql")),
    ("20_silver.sql", include_str!("../../../sql/20_silver.sql")),
    ("21_silver_catalog.sql", include_str!("../../../sql/21_silver_catalog.sql")),
    ("22_silver_customers.sql", include_str!("../../../sql/22_silver_customers.sql")),
    ("23_silver_stores.sql", include_str!("../../../sql/23_silver_stores.sql")),
    ("24_silver_sales.sql", include_str!("../../../sql/24_silver_sales.sql")),
    ("29_silver_apply.sql", include_str!("../../../sql/29_silver_apply.sql")),
    ("30_gold.sql", include_str!("../../../sql/30_gold.sql")),
    ("40_writeback.sql", include_str!("../../../sql/40_writeback.sql")),
    ("50_hints.sql", include_str!("../../../sql/50_hints.sql")),
    ("60_realtime.sql", include_str!("../../../sql/60_realtime.sql")),
    ("80_run.sql", include_str!("../../../sql/80_run.sql")),
    ("85_status.sql", include_str!("../../../sql/85_status.sql")),
    ("90_grants.sql", include_str!("../../../sql/90_grants.sql")),
];

const LIBRARY: &str = include_str!("../../../sql/runner/library.sql");

/// The extension's upgrade scripts from the first release the runner installs (0.2.0) on, in
/// order: (from, to, script). A release adds its `sql/odoo_sync--A--B.sql` here too
/// (the test `every_upgrade_script_from_a_runner_release_is_listed` fails until it does).
const UPGRADES: &[(&str, &str, &str)] = &[];

/// The first release the runner installs: older schemas were only ever made by the extension.
const FIRST_RUNNER_RELEASE: &str = "0.2.0";

/// The no-op that stands in for pg_extension_config_dump during an install.
const CONFIG_DUMP_NOOP: &str = "CREATE FUNCTION pg_temp.odoo_sync_config_dump(regclass, text) RETURNS void \
     LANGUAGE plpgsql AS 'BEGIN END'";

/// One install or upgrade at a time, whoever runs it.
const INSTALL_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('odoo_sync'), hashtext('install'))";

/// An extension script as the runner runs it (module comment).
pub fn runner_sql(script: &str) -> String {
    split_statements(script)
        .into_iter()
        .filter(|s| !s.contains("MODULE_PATHNAME"))
        .map(|s| s.replace("pg_catalog.pg_extension_config_dump(", "pg_temp.odoo_sync_config_dump("))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits SQL text into statements at top-level semicolons, keeping quotes, dollar quotes and
/// comments whole.
fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let (mut out, mut start, mut i) = (Vec::new(), 0, 0);
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' => {
                // A dollar-quote tag: $$ or $name$ (a $1 parameter is not one).
                let tag_end = sql[i + 1..].find('$').map(|e| i + 1 + e);
                match tag_end {
                    Some(e)
                        if sql[i + 1..e].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                            && !sql[i + 1..e].starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        let tag = &sql[i..=e];
                        i = sql[e + 1..].find(tag).map_or(b.len(), |close| e + 1 + close + tag.len());
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                out.push(sql[start..=i].to_owned());
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if !sql[start..].trim().is_empty() {
        out.push(sql[start..].to_owned());
    }
    out
}

/// What the database holds now.
enum Found {
    Nothing,
    /// The extension is installed: it keeps its own schema (ALTER EXTENSION).
    Extension(String),
    /// A runner schema at this release.
    Runner(String),
    /// A `scout` schema nobody of ours recorded.
    Foreign,
}

fn found(c: &mut postgres::Client) -> RunnerResult<Found> {
    let sql_err = |e: postgres::Error| RunnerError::sql("reading what is installed", &e);
    if let Some(row) =
        c.query_opt("SELECT extversion FROM pg_extension WHERE extname = 'odoo_sync'", &[]).map_err(sql_err)?
    {
        return Ok(Found::Extension(row.get(0)));
    }
    let has_schema: bool =
        c.query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'scout')", &[]).map_err(sql_err)?.get(0);
    if !has_schema {
        return Ok(Found::Nothing);
    }
    let has_state: bool =
        c.query_one("SELECT to_regclass('scout.runner_state') IS NOT NULL", &[]).map_err(sql_err)?.get(0);
    if !has_state {
        return Ok(Found::Foreign);
    }
    match c.query_opt("SELECT release FROM scout.runner_state WHERE id = 1", &[]).map_err(sql_err)? {
        Some(row) => Ok(Found::Runner(row.get(0))),
        None => Ok(Found::Foreign),
    }
}

/// Release numbers compared as numbers: 0.10.0 after 0.9.0.
fn version(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// What `install` did, for its report.
pub enum Outcome {
    Installed,
    Upgraded { from: String },
    UpToDate,
    ExtensionPresent(String),
}

/// Installs or upgrades the schema (module comment): one transaction, under a lock, so that two
/// installs at once cannot both find nothing installed.
pub fn install(db: &mut Db) -> RunnerResult<Outcome> {
    let what = "installing the schema";
    let c = &mut db.client;
    c.batch_execute("BEGIN").map_err(|e| RunnerError::sql(what, &e))?;
    let result = c.batch_execute(INSTALL_LOCK).map_err(|e| RunnerError::sql(what, &e)).and_then(|()| {
        let (outcome, script) = plan(found(c)?)?;
        c.batch_execute(&script).map_err(|e| RunnerError::sql(what, &e))?;
        Ok(outcome)
    });
    match result {
        Ok(outcome) => {
            c.batch_execute("COMMIT").map_err(|e| RunnerError::sql(what, &e))?;
            Ok(outcome)
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// What to do about what was found, and the script that does it.
fn plan(found: Found) -> RunnerResult<(Outcome, String)> {
    match found {
        Found::Extension(v) => Ok((Outcome::ExtensionPresent(v), String::new())),
        Found::Foreign => Err(RunnerError {
            message: "odoo-sync: this database has a schema \"scout\" that odoo-sync did not install".into(),
            detail: Some(
                "It has no scout.runner_state row: it was made by hand, or by the extension that has since been \
                 dropped without its schema."
                    .into(),
            ),
            hint: Some(
                "Install into a database without a scout schema, or rename it (ALTER SCHEMA scout RENAME TO \
                 scout_old) and copy what you need after the install."
                    .into(),
            ),
            sqlstate: Some("42P06".into()),
            exit: crate::error::exit::FAILED,
        }),
        Found::Nothing => {
            let mut script = format!("{CONFIG_DUMP_NOOP};\nCREATE SCHEMA scout;\n");
            for (_, text) in FILES {
                script.push_str(&runner_sql(text));
                script.push('\n');
            }
            script.push_str(&format!("INSERT INTO scout.runner_state (id, release) VALUES (1, '{RELEASE}');\n"));
            Ok((Outcome::Installed, script))
        }
        Found::Runner(at) if at == RELEASE => Ok((Outcome::UpToDate, String::new())),
        Found::Runner(at) if version(&at) > version(RELEASE) => Err(RunnerError::usage(
            format!("odoo-sync: the schema is at release {at}, newer than this odoo-sync ({RELEASE})"),
            "Run the odoo-sync of that release (or newer); a schema is never downgraded.",
        )),
        Found::Runner(at) => {
            let mut script = format!("{CONFIG_DUMP_NOOP};\n");
            let mut release = at.clone();
            for (from, to, text) in UPGRADES {
                if *from == release && version(to) <= version(RELEASE) {
                    script.push_str(&runner_sql(text));
                    script.push('\n');
                    release = (*to).to_owned();
                }
            }
            if release != RELEASE {
                return Err(RunnerError::usage(
                    format!("odoo-sync: no upgrade path from release {at} to {RELEASE}"),
                    format!(
                        "Upgrade through the releases in between (the first runner release is {FIRST_RUNNER_RELEASE})."
                    ),
                ));
            }
            script.push_str(&runner_sql(LIBRARY));
            script.push_str(&format!(
                "\nUPDATE scout.runner_state SET release = '{RELEASE}', upgraded_at = now() WHERE id = 1;\n"
            ));
            Ok((Outcome::Upgraded { from: at }, script))
        }
    }
}

/// The business time zone for gold (ODOO_SYNC_TIMEZONE), checked against PostgreSQL's names.
/// On the extension's schema (no scout.runner_state) the extension's `odoo_sync.timezone` rules.
pub fn set_timezone(db: &mut Db, tz: Option<&str>) -> RunnerResult<()> {
    let err = |e: postgres::Error| RunnerError::sql("setting the business time zone", &e);
    let runner_mode: bool =
        db.client.query_one("SELECT to_regclass('scout.runner_state') IS NOT NULL", &[]).map_err(err)?.get(0);
    if !runner_mode {
        if tz.is_some() {
            crate::log::warning(
                "odoo-sync: ODOO_SYNC_TIMEZONE is not used here: the extension is installed and gold reads its \
                 odoo_sync.timezone setting",
            );
        }
        return Ok(());
    }
    let tz = tz.unwrap_or("UTC");
    let known: bool = db
        .client
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", &[&tz])
        .map_err(err)?
        .get(0);
    if !known {
        return Err(RunnerError::usage(
            format!("odoo-sync: invalid value for timezone: \"{tz}\" is not a time zone PostgreSQL knows"),
            "Use a name of pg_timezone_names, e.g. Asia/Manila or Europe/Berlin (ODOO_SYNC_TIMEZONE).",
        ));
    }
    db.client
        .execute("UPDATE scout.runner_state SET business_timezone = $1 WHERE id = 1 AND business_timezone IS DISTINCT FROM $1", &[&tz])
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_top_level_semicolons_only() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n\
                   -- a comment; with a semicolon\nSELECT 'a;b', \"x;y\" FROM t; DO $body$ BEGIN PERFORM $1; END $body$;";
        let parts = split_statements(sql);
        assert_eq!(parts.len(), 3, "{parts:#?}");
        assert!(parts[0].ends_with("$$ SELECT 1; $$;"));
        assert!(parts[2].trim().starts_with("DO $body$"));
    }

    #[test]
    fn c_functions_are_left_out_and_config_dumps_go_to_the_no_op() {
        let script = "CREATE FUNCTION scout.x() RETURNS void AS 'MODULE_PATHNAME', 'x_wrapper' LANGUAGE c;\n\
                      CREATE TABLE scout.t (id int);\nSELECT pg_catalog.pg_extension_config_dump('scout.t', '');";
        let out = runner_sql(script);
        assert!(!out.contains("MODULE_PATHNAME"));
        assert!(out.contains("CREATE TABLE scout.t"));
        assert!(out.contains("pg_temp.odoo_sync_config_dump('scout.t', '')"));
    }

    #[test]
    fn every_upgrade_script_from_a_runner_release_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let Some(pair) = name.strip_prefix("odoo_sync--").and_then(|n| n.strip_suffix(".sql")) else { continue };
            let (from, to) = pair.split_once("--").unwrap();
            if version(from) >= version(FIRST_RUNNER_RELEASE) {
                assert!(UPGRADES.iter().any(|(f, t, _)| *f == from && *t == to), "{name} is not in install::UPGRADES");
            }
        }
    }
}
