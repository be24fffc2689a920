//! The connection: DATABASE_URL as libpq reads it (a URI or key=value words, with sslmode and
//! sslrootcert, PGSSLMODE and PGSSLROOTCERT as fallbacks), TLS through rustls (tls.rs), the
//! refusal of a pooler in transaction mode, and transactions whose after-commit actions run
//! only once COMMIT succeeded.

use crate::error::{postgres_error, RunnerError, RunnerResult};
use crate::store::ClientStore;
use crate::tls::{self, SslMode};
use engine::{remember_secret, SyncResult};
use postgres::{Client, Config};
use std::str::FromStr;

/// A parsed DATABASE_URL, ready to open connections (the runner opens one, plus a second for
/// the pooler check and, in `run`, one to listen).
#[derive(Clone)]
pub struct Target {
    config: Config,
    tls: rustls::ClientConfig,
    /// How the user named the server in messages: host and database, never the password.
    pub display: String,
}

impl Target {
    pub fn parse(url: &str) -> RunnerResult<Target> {
        let (rest, mut mode, mut rootcert) = split_tls_options(url)?;
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        if mode.is_none() {
            mode = env("PGSSLMODE");
        }
        if rootcert.is_none() {
            rootcert = env("PGSSLROOTCERT");
        }
        let mut config = Config::from_str(&rest).map_err(|e| {
            RunnerError::usage(
                format!("odoo-sync: DATABASE_URL is not a connection string libpq would accept: {e}"),
                "Use a URI such as postgresql://USER:PASSWORD@HOST:5432/DBNAME?sslmode=require.",
            )
        })?;
        if let Some(pw) = config.get_password() {
            remember_secret(&String::from_utf8_lossy(pw));
        }
        let mode = SslMode::parse(mode.as_deref().unwrap_or("prefer"))?;
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("odoo-sync");
        }
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .unwrap_or_else(|| "localhost".into());
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let display = format!("{host}:{port}/{}", config.get_dbname().unwrap_or("(user's database)"));
        Ok(Target { config, tls: tls::client_config(mode, rootcert.as_deref())?, display })
    }

    /// Opens a connection.
    pub fn connect(&self) -> RunnerResult<Client> {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.tls.clone());
        self.config.connect(tls).map_err(|e| {
            RunnerError::database(
                format!("odoo-sync: cannot connect to {}", self.display),
                Some(engine::redact(&e.to_string())),
                "Check DATABASE_URL (host, port, user, password, sslmode); on Supabase use the connection string \
                 of Project Settings > Database, session mode (port 5432).",
            )
        })
    }
}

/// Takes sslmode and sslrootcert out of the connection string (rust-postgres knows neither the
/// verify modes nor root certificate files), returning the rest.
fn split_tls_options(url: &str) -> RunnerResult<(String, Option<String>, Option<String>)> {
    let (mut mode, mut rootcert) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None, None)) };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => mode = Some(percent_decode(v)),
                "sslrootcert" => rootcert = Some(percent_decode(v)),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        return Ok((rest, mode, rootcert));
    }
    // key=value words (values with spaces must be quoted: not supported here).
    let mut kept = Vec::new();
    for word in url.split_whitespace() {
        match word.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.trim_matches('\'').to_owned()),
            Some(("sslrootcert", v)) => rootcert = Some(v.trim_matches('\'').to_owned()),
            _ => kept.push(word),
        }
    }
    Ok((kept.join(" "), mode, rootcert))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The runner's session: one connection, one transaction at a time.
pub struct Db {
    pub client: Client,
}

impl Db {
    /// Connects and checks that the connection is a real session (not a pooler in transaction
    /// mode).
    pub fn open(target: &Target) -> RunnerResult<Db> {
        let mut client = target.connect()?;
        refuse_transaction_pooling(&mut client, target)?;
        Ok(Db { client })
    }

    /// Runs `f` in one transaction (READ COMMITTED) with the store over this connection:
    /// committed when it returns Ok (then its after-commit actions run), rolled back otherwise.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut ClientStore) -> SyncResult<T>) -> SyncResult<T> {
        self.client.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED").map_err(|e| postgres_error(&e))?;
        let mut store = ClientStore::new(&mut self.client);
        let result = f(&mut store);
        let actions = store.take_after_commit();
        match result {
            Ok(v) => {
                self.client.batch_execute("COMMIT").map_err(|e| postgres_error(&e))?;
                for action in actions {
                    if let Err(e) = action() {
                        crate::log::warning(&format!("odoo-sync: {e}"));
                    }
                }
                Ok(v)
            }
            Err(e) => {
                // A broken connection cannot roll back; the server does it when it notices.
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

/// A pooler in transaction mode (Supabase's port 6543, PgBouncer `pool_mode = transaction`)
/// hands each transaction to whichever server connection is free: LISTEN, the session's
/// settings and whatever a later transaction expects of an earlier one would land elsewhere. Seen from here: a second connection
/// gets our server process, or our own next transaction another one.
fn refuse_transaction_pooling(client: &mut Client, target: &Target) -> RunnerResult<()> {
    let pid = |c: &mut Client| -> RunnerResult<i32> {
        c.query_one("SELECT pg_backend_pid()", &[])
            .map(|r| r.get(0))
            .map_err(|e| RunnerError::sql("checking the session", &e))
    };
    let ours = pid(client)?;
    let mut probe = target.connect()?;
    let probe_pid = pid(&mut probe)?;
    let ours_again = pid(client)?;
    drop(probe);
    if probe_pid == ours || ours_again != ours {
        return Err(RunnerError {
            message: format!("odoo-sync: {} is a connection pooler in transaction mode", target.display),
            detail: Some(format!(
                "Two connections were served by one server process ({probe_pid}), or one connection by two \
                 ({ours}, {ours_again}). odoo-sync needs a session: `run` LISTENs for the outbox and the hints, \
                 each page is written with its silver and its checkpoint in one transaction on one server \
                 process, and the sync's session settings must stay with it."
            )),
            hint: Some(
                "Connect directly or through the pooler's session mode: on Supabase, the session pooler \
                 (port 5432) or the direct connection, not the transaction pooler (port 6543); with PgBouncer, \
                 pool_mode = session."
                    .into(),
            ),
            sqlstate: Some("08004".into()),
            exit: crate::error::exit::DATABASE,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_a_uri_and_the_rest_kept() {
        let (rest, mode, root) = split_tls_options(
            "postgresql://u:p@db.example.co:5432/postgres?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.crt&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://u:p@db.example.co:5432/postgres?connect_timeout=5");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.crt"));
    }

    #[test]
    fn tls_options_are_taken_out_of_key_value_words() {
        let (rest, mode, root) = split_tls_options("host=/tmp port=5433 sslmode=disable dbname=x").unwrap();
        assert_eq!(rest, "host=/tmp port=5433 dbname=x");
        assert_eq!((mode.as_deref(), root), (Some("disable"), None));
    }

    #[test]
    fn a_verify_mode_without_a_root_certificate_is_refused_before_connecting() {
        let e = Target::parse("postgresql://u@h/db?sslmode=verify-full").err().expect("refused");
        assert!(e.message.contains("need sslrootcert"), "{}", e.message);
        assert!(Target::parse("postgresql://u@h/db?sslmode=sometimes").is_err());
    }
}
