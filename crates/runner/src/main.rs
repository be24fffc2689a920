//! odoo-sync: odoo_sync's engine beside any PostgreSQL. The same schema (installed from the
//! extension's `sql/` files), the same engine (crates/engine), the same guarantees, over an
//! ordinary connection: for hosted Supabase and managed PostgreSQL, which cannot load the
//! extension. docs/RUNNER.md is the user's guide; docs/DESIGN.md the map.
//!
//! Layout: config (environment and flags), db and tls (the connection), store (the engine's
//! Store over it), host (signals, the log), install (the schema), commands (sync, reconcile,
//! status, webhooks), daemon (`run`: what the extension's background worker does).

mod commands;
mod config;
mod daemon;
mod db;
mod error;
mod host;
mod install;
mod log;
mod report;
mod session;
mod store;
mod tls;

use config::{Config, Overrides};
use error::{RunnerError, RunnerResult};

const USAGE: &str = "\
odoo-sync: keeps a PostgreSQL scout schema in sync with Odoo, from beside the database.

Usage: odoo-sync [--set NAME=VALUE]... COMMAND [ARGS]

Commands:
  install                          create or upgrade the scout schema (idempotent; keeps data)
  sync [MODEL...] [--full] [--dry-run]
                                   one run of the models named (default: every enabled one)
  reconcile [MODEL...] [--dry-run] compare every record with Odoo and repair the drift
  status                           scout.sync_status (exit 1 when an enabled model is unhealthy)
  run                              unattended: the schedule, webhooks, write-back, gold, alerts
  webhooks install [URL] | remove | url | rotate
                                   Odoo's Automation Rules that hint changes to `run`
  help, version

Configuration (environment; docs/RUNNER.md lists every setting):
  DATABASE_URL                     libpq URI, e.g. postgresql://USER:PW@HOST:5432/DB?sslmode=require
  ODOO_BASE_URL ODOO_DB ODOO_USERNAME
  ODOO_API_KEY or ODOO_PASSWORD    (or *_FILE: a file holding it; *_VAULT: a Supabase Vault name)
  SYNC_BATCH_SIZE SYNC_CHECKPOINT_KEY SYNC_SCHEDULE
  ODOO_SYNC_<SETTING>              any setting of the extension, e.g. ODOO_SYNC_FETCH_STREAMS=4
  --set SETTING=VALUE              the same, on the command line (never a secret)

Exit status: 0 success, 1 a run failed, 2 usage or settings, 3 the database is unreachable.
";

enum Command {
    Install,
    Sync { models: Vec<String>, full: bool, dry_run: bool },
    Reconcile { models: Vec<String>, dry_run: bool },
    Status,
    Run,
    Webhooks { action: String, url: Option<String> },
    Help,
    Version,
}

fn parse(args: &[String]) -> RunnerResult<(Overrides, Command)> {
    let mut overrides = Overrides::new();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--set" => {
                let v = it
                    .next()
                    .ok_or_else(|| RunnerError::usage("odoo-sync: --set needs NAME=VALUE", "See odoo-sync help."))?;
                let (k, v) = config::parse_override(v)?;
                overrides.insert(k, v);
            }
            s if s.starts_with("--set=") => {
                let (k, v) = config::parse_override(&s["--set=".len()..])?;
                overrides.insert(k, v);
            }
            "-h" | "--help" => rest.push("help".to_owned()),
            "-V" | "--version" => rest.push("version".to_owned()),
            _ => rest.push(a.clone()),
        }
    }
    let flag = |name: &str, words: &mut Vec<String>| {
        let had = words.iter().any(|w| w == name);
        words.retain(|w| w != name);
        had
    };
    let Some((command, mut words)) = rest.split_first().map(|(c, w)| (c.clone(), w.to_vec())) else {
        return Ok((overrides, Command::Help));
    };
    let refuse_flags = |words: &[String]| match words.iter().find(|w| w.starts_with('-')) {
        Some(f) => Err(RunnerError::usage(format!("odoo-sync {command}: unknown option {f}"), "See odoo-sync help.")),
        None => Ok(()),
    };
    let cmd = match command.as_str() {
        "install" | "status" | "run" | "help" | "version" if !words.is_empty() => {
            return Err(RunnerError::usage(format!("odoo-sync {command} takes no arguments"), "See odoo-sync help."))
        }
        "install" => Command::Install,
        "status" => Command::Status,
        "run" => Command::Run,
        "help" => Command::Help,
        "version" => Command::Version,
        "sync" => {
            let (full, dry_run) = (flag("--full", &mut words), flag("--dry-run", &mut words));
            refuse_flags(&words)?;
            Command::Sync { models: words, full, dry_run }
        }
        "reconcile" => {
            let dry_run = flag("--dry-run", &mut words);
            refuse_flags(&words)?;
            Command::Reconcile { models: words, dry_run }
        }
        "webhooks" => {
            refuse_flags(&words)?;
            match words.as_slice() {
                [action] => Command::Webhooks { action: action.clone(), url: None },
                [action, url] if action == "install" => {
                    Command::Webhooks { action: action.clone(), url: Some(url.clone()) }
                }
                _ => {
                    return Err(RunnerError::usage(
                        "odoo-sync webhooks: expected install [URL] | remove | url | rotate",
                        "See odoo-sync help.",
                    ))
                }
            }
        }
        other => {
            return Err(RunnerError::usage(format!("odoo-sync: unknown command \"{other}\""), "See odoo-sync help."))
        }
    };
    Ok((overrides, cmd))
}

fn main_result(args: &[String]) -> RunnerResult<()> {
    let (overrides, command) = parse(args)?;
    match command {
        Command::Help => {
            print!("{USAGE}");
            return Ok(());
        }
        Command::Version => {
            println!("odoo-sync {} (schema release {})", env!("CARGO_PKG_VERSION"), install::RELEASE);
            return Ok(());
        }
        _ => {}
    }
    let config = Config::load(&overrides)?;
    host::install_signal_handlers();
    match command {
        Command::Install => {
            let target = db::Target::parse(&config.database_url)?;
            let mut db = db::Db::open(&target)?;
            let outcome = install::install(&mut db)?;
            match outcome {
                install::Outcome::ExtensionPresent(v) => {
                    println!(
                        "The odoo_sync extension {v} is installed in this database: it keeps the schema \
                              (ALTER EXTENSION odoo_sync UPDATE); odoo-sync syncs into it as it is."
                    );
                    return Ok(());
                }
                install::Outcome::Installed => {
                    println!("Installed the scout schema, release {}, on {}.", install::RELEASE, target.display)
                }
                install::Outcome::Upgraded { from } => println!(
                    "Upgraded the scout schema from {from} to {} on {}; data kept.",
                    install::RELEASE,
                    target.display
                ),
                install::Outcome::UpToDate => println!(
                    "The scout schema on {} is at release {} already: nothing to do.",
                    target.display,
                    install::RELEASE
                ),
            }
            install::set_timezone(&mut db, config.timezone.as_deref())
        }
        Command::Sync { models, full, dry_run } => {
            commands::sync(&mut session::Session::open(config)?, &models, full, dry_run)
        }
        Command::Reconcile { models, dry_run } => {
            commands::reconcile(&mut session::Session::open(config)?, &models, dry_run)
        }
        Command::Status => commands::status(&mut session::Session::open(config)?),
        Command::Webhooks { action, url } => {
            commands::webhooks(&mut session::Session::open(config)?, &action, url.as_deref())
        }
        Command::Run => daemon::run(session::Session::open(config)?),
        Command::Help | Command::Version => Ok(()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = main_result(&args) {
        eprintln!("{e}");
        // Alert emails started in the background get their chance to leave.
        engine::email::wait_for_pending(engine::email::SEND_TIMEOUT);
        std::process::exit(e.exit);
    }
    engine::email::wait_for_pending(engine::email::SEND_TIMEOUT);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_original_clis_flags_parse_and_unknown_ones_are_refused() {
        let (_, c) = parse(&words("sync pos.order --full")).unwrap();
        assert!(matches!(c, Command::Sync { ref models, full: true, dry_run: false } if models == &["pos.order"]));
        let (o, c) = parse(&words("--set batch_size=50 sync --dry-run")).unwrap();
        assert!(matches!(c, Command::Sync { full: false, dry_run: true, .. }));
        assert_eq!(o.get("batch_size").map(String::as_str), Some("50"));
        assert_eq!(parse(&words("sync --fast")).err().unwrap().exit, exit::USAGE);
        assert_eq!(parse(&words("install now")).err().unwrap().exit, exit::USAGE);
        assert_eq!(parse(&words("frobnicate")).err().unwrap().exit, exit::USAGE);
    }
}
