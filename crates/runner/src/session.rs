//! A runner's session: its configuration, its database connection and the Odoo credentials,
//! and the one way every command calls the engine (a transaction of its own, with the
//! thread's kept Odoo session, engine::session).

use crate::config::Config;
use crate::db::{Db, Target};
use crate::error::{RunnerError, RunnerResult};
use crate::host::RunnerHost;
use crate::store::ClientStore;
use engine::session::OdooSession;
use engine::{Credentials, SyncResult};

pub struct Session {
    pub config: Config,
    pub target: Target,
    pub db: Db,
    creds: Option<Credentials>,
}

impl Session {
    /// Connects and checks that the schema is installed at this runner's release.
    pub fn open(config: Config) -> RunnerResult<Session> {
        let target = Target::parse(&config.database_url)?;
        let mut db = Db::open(&target)?;
        check_schema(&mut db)?;
        let creds = config.credentials(&mut |name| vault_secret(&mut db, name))?;
        Ok(Session { config, target, db, creds })
    }

    /// Opens the connection again when it was lost (the server restarted, a network cut): true
    /// when it is usable. What was in flight was rolled back by the server.
    pub fn reconnect_if_lost(&mut self) -> bool {
        if !self.db.client.is_closed() {
            return true;
        }
        match Db::open(&self.target) {
            Ok(db) => {
                self.db = db;
                crate::log::info(&format!("odoo-sync: reconnected to {}", self.target.display));
                true
            }
            Err(e) => {
                crate::log::warning(&format!("odoo-sync: the database connection was lost, reconnecting failed: {e}"));
                false
            }
        }
    }

    /// Runs `f` in one transaction with the store, the Odoo session and the settings.
    pub fn with_engine<T>(
        &mut self,
        f: impl FnOnce(&mut ClientStore, &mut OdooSession, &engine::Settings) -> SyncResult<T>,
    ) -> SyncResult<T> {
        let (settings, creds) = (&self.config.settings, self.creds.clone());
        self.db.transaction(|store| {
            engine::session::with_session(settings, creds, &RunnerHost, |odoo| f(store, odoo, settings))
        })
    }

    /// Sends up to `batches` batches of the outbox in one transaction (engine::outbox), opening
    /// the Odoo session only when a row is pending.
    pub fn push_outbox(&mut self, wait: engine::outbox::Wait, batches: usize) -> SyncResult<engine::outbox::Pushed> {
        let (settings, creds) = (&self.config.settings, self.creds.clone());
        self.db.transaction(|store| {
            engine::outbox::push(store, &RunnerHost, wait, batches, |send| {
                engine::session::with_session(settings, creds, &RunnerHost, |odoo| send(odoo))
            })
        })
    }

    /// Runs `f` in one transaction with the store only (no Odoo).
    pub fn with_store<T>(&mut self, f: impl FnOnce(&mut ClientStore) -> SyncResult<T>) -> SyncResult<T> {
        self.db.transaction(f)
    }
}

/// The schema must be there, at this runner's release (or the extension's, which keeps its own).
fn check_schema(db: &mut Db) -> RunnerResult<()> {
    let row = db
        .client
        .query_one(
            "SELECT to_regclass('scout.sync_models') IS NOT NULL, \
                    (SELECT extversion FROM pg_extension WHERE extname = 'odoo_sync'), \
                    to_regclass('scout.runner_state') IS NOT NULL",
            &[],
        )
        .map_err(|e| RunnerError::sql("reading the schema", &e))?;
    let (installed, extension, runner): (bool, Option<String>, bool) = (row.get(0), row.get(1), row.get(2));
    if !installed {
        return Err(RunnerError::usage(
            "odoo-sync: the scout schema is not installed in this database",
            "Run odoo-sync install first (as the database's owner).",
        ));
    }
    if extension.is_none() && runner {
        let release: Option<String> = db
            .client
            .query_opt("SELECT release FROM scout.runner_state WHERE id = 1", &[])
            .map_err(|e| RunnerError::sql("reading the schema's release", &e))?
            .map(|r| r.get(0));
        if release.as_deref() != Some(crate::install::RELEASE) {
            return Err(RunnerError::usage(
                format!(
                    "odoo-sync: the schema is at release {}, this odoo-sync is {}",
                    release.unwrap_or_else(|| "?".into()),
                    crate::install::RELEASE
                ),
                "Run odoo-sync install to upgrade it (it keeps the data).",
            ));
        }
    }
    Ok(())
}

/// A secret from Supabase Vault, read as the runner's role.
fn vault_secret(db: &mut Db, name: &str) -> RunnerResult<odoo_client::Secret> {
    let row = db
        .client
        .query_opt("SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = $1", &[&name])
        .map_err(|e| RunnerError::sql(&format!("reading the Vault secret \"{name}\""), &e))?;
    match row.and_then(|r| r.get::<_, Option<String>>(0)) {
        Some(s) => Ok(odoo_client::Secret(s)),
        None => Err(RunnerError::usage(
            format!("odoo-sync: Supabase Vault has no secret named \"{name}\""),
            "Create it (SELECT vault.create_secret('...', 'odoo_api_key')) or fix ODOO_API_KEY_VAULT / ODOO_PASSWORD_VAULT.",
        )),
    }
}
