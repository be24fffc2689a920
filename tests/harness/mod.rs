//! Test harness: a throwaway PostgreSQL 15 cluster with odoo_sync installed, one database per
//! test, and Odoo simulators on loopback. Everything a test needs it starts itself; the cluster
//! is stopped when the test process exits.
//!
//! Expected files: the extension installed into the system PostgreSQL (`cargo pgrx install`,
//! done by scripts/test.sh) and the simulator binary (built here on demand).

pub mod outbox;
pub mod runner;
pub mod sim;

use postgres::{Client, NoTls};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub use sim::Sim;

/// The PostgreSQL major the tests run against: `ODOO_SYNC_TEST_PG` (15, the host's own, or 17,
/// inside the Debian 13 root of scripts/pg17.sh, whose /tmp is the host's). Mirrors scripts/pg.sh.
pub fn pg_major() -> u32 {
    match std::env::var("ODOO_SYNC_TEST_PG").as_deref() {
        Ok("17") => 17,
        Ok("15") | Err(_) => 15,
        Ok(other) => panic!("ODOO_SYNC_TEST_PG={other}: 15 or 17"),
    }
}

/// The directory the PostgreSQL 17 root lives in (scripts/pg17.sh).
fn pg17_root() -> PathBuf {
    PathBuf::from(std::env::var("PG17_ROOT").unwrap_or_else(|_| "/var/lib/odoo_sync/pg17".into())).join("root")
}

/// Where the tests' PostgreSQL keeps its binaries, as that PostgreSQL sees the file system.
fn pg_bin() -> String {
    format!("/usr/lib/postgresql/{}/bin", pg_major())
}

/// A host path as the test server's PostgreSQL installation sees it from outside its root
/// (`/usr/share/...` of the 17 root is `<root>/usr/share/...` on the host).
pub fn pg_install_path(path: &str) -> PathBuf {
    match pg_major() {
        17 => pg17_root().join(path.trim_start_matches('/')),
        _ => PathBuf::from(path),
    }
}

/// Runs a command inside the PostgreSQL 17 root, or on the host for 15.
fn in_pg_root(program: &str) -> Command {
    match pg_major() {
        17 => {
            let mut c = Command::new("chroot");
            c.arg(pg17_root()).arg(program);
            c
        }
        _ => Command::new(program),
    }
}

/// Gives a directory (under /tmp, shared with the 17 root) to the user that runs the server.
pub fn own_by_postgres(path: &Path) {
    if running_as_root() {
        run(in_pg_root("chown").args(["postgres:postgres", &path.to_string_lossy()]));
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this process runs as root (CI and these machines do).
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// One of PostgreSQL's tools (initdb, pg_ctl, ...) of the tests' major. PostgreSQL refuses to
/// run as root: run it as the `postgres` OS user when we are root.
pub fn pg_tool(tool: &str) -> Command {
    let program = format!("{}/{tool}", pg_bin());
    if running_as_root() {
        let mut c = in_pg_root("runuser");
        c.args(["-u", "postgres", "--", &program]);
        c
    } else {
        Command::new(program)
    }
}

pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    next_db: AtomicUsize,
}

static CLUSTERS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" fn stop_clusters() {
    // ODOO_SYNC_TEST_KEEP=1 keeps the clusters' directories (server.log) for a post-mortem.
    let keep = std::env::var_os("ODOO_SYNC_TEST_KEEP").is_some();
    if let Ok(dirs) = CLUSTERS.lock() {
        for dir in dirs.iter() {
            let _ = pg_tool("pg_ctl")
                .args(["-D", &dir.join("data").to_string_lossy(), "-m", "immediate", "-w", "stop"])
                .output();
            if keep {
                eprintln!("kept {}", dir.display());
            } else {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

impl Cluster {
    /// The cluster shared by every test of this process (no preloaded libraries).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| Cluster::start(&[]))
    }

    /// Stops clusters left behind by test processes that died without cleaning up (killed by a
    /// timeout, say): their directory names carry the dead process's pid.
    fn reap_stale() {
        if std::env::var_os("ODOO_SYNC_TEST_KEEP").is_some() {
            return; // kept for a post-mortem
        }
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(pid) = name
                .strip_prefix("odoo_sync_test_")
                .and_then(|r| r.split('_').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let data = e.path().join("data");
                let _ =
                    pg_tool("pg_ctl").args(["-D", &data.to_string_lossy(), "-m", "immediate", "-w", "stop"]).output();
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }

    /// Starts a new cluster with extra postgresql.conf lines (e.g. shared_preload_libraries).
    pub fn start(conf: &[&str]) -> Cluster {
        static REAPED: std::sync::Once = std::sync::Once::new();
        REAPED.call_once(Cluster::reap_stale);
        let installed = pg_install_path(&format!("/usr/share/postgresql/{}/extension/odoo_sync.control", pg_major()));
        assert!(
            installed.exists(),
            "odoo_sync is not installed for PostgreSQL {}: run `PG_MAJOR={} bash scripts/test.sh` (or cargo pgrx install -p odoo_sync with that major's pg_config)",
            pg_major(),
            pg_major()
        );
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("odoo_sync_test_{}_{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        own_by_postgres(&dir);
        let data = dir.join("data");
        run(pg_tool("initdb").args([
            "-D",
            &data.to_string_lossy(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        ]));
        let mut lines = vec![
            format!("port = {port}"),
            "listen_addresses = '127.0.0.1'".to_string(),
            format!("unix_socket_directories = '{}'", dir.display()),
            "fsync = off".into(),
            "max_connections = 100".into(),
            "log_min_messages = warning".into(),
            // The default reconciliation schedule (03:30 daily) would add runs to whichever
            // worker test happens to be running then; tests that want it set their own.
            "odoo_sync.reconcile_schedule = ''".into(),
        ];
        lines.extend(conf.iter().map(|s| s.to_string()));
        let conf_path = data.join("postgresql.auto.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap_or_default();
        existing.push_str(&lines.join("\n"));
        existing.push('\n');
        std::fs::write(&conf_path, existing).unwrap();
        {
            let mut all = CLUSTERS.lock().unwrap();
            if all.is_empty() {
                // SAFETY: stop_clusters is an extern "C" fn that only runs commands and locks a
                // Mutex; atexit keeps the pointer for the life of the process.
                unsafe { libc::atexit(stop_clusters) };
            }
            all.push(dir.clone());
        }
        let cluster = Cluster { port, dir, next_db: AtomicUsize::new(0) };
        cluster.pg_ctl_start();
        cluster
    }

    fn pg_ctl_start(&self) {
        run(&mut self.pg_ctl_start_command());
    }

    /// `pg_ctl start`, as a service manager runs it.
    fn pg_ctl_start_command(&self) -> Command {
        // As in production: no Rust backtraces in error details (pgrx adds them when set).
        // The server must not inherit our descriptors (a lock file held by a caller's flock
        // would stay held for as long as the server runs).
        let mut pg_ctl = pg_tool("pg_ctl");
        // SAFETY: the pre_exec closure only calls close(2), which is async-signal-safe, between
        // fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            pg_ctl.pre_exec(|| {
                for fd in 3..1024 {
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let data = self.dir.join("data");
        pg_ctl.env_remove("RUST_BACKTRACE").args([
            "-D",
            &data.to_string_lossy(),
            "-l",
            &self.log_path().to_string_lossy(),
            "-w",
            "start",
        ]);
        pg_ctl
    }

    /// `pg_ctl stop -m immediate` (a crash: no shutdown checkpoint), then start again.
    pub fn crash_and_restart(&self) {
        let data = self.dir.join("data");
        run(pg_tool("pg_ctl").args(["-D", &data.to_string_lossy(), "-m", "immediate", "-w", "stop"]));
        self.pg_ctl_start();
    }

    /// The postmaster's pid (postmaster.pid's first line).
    pub fn postmaster_pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid")).unwrap();
        text.lines().next().and_then(|l| l.trim().parse().ok()).expect("a pid in postmaster.pid")
    }

    /// `pg_ctl start` of a server that is down (after a crash or kill -9 of the postmaster),
    /// tried again for up to `secs` while PostgreSQL refuses (its old processes still hold the
    /// shared memory). Returns how long it took.
    pub fn start_again(&self, secs: u64) -> std::time::Duration {
        let started = std::time::Instant::now();
        loop {
            let ok = self
                .pg_ctl_start_command()
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return started.elapsed();
            }
            assert!(
                started.elapsed().as_secs() < secs,
                "the server did not start again within {secs} s:\n{}",
                self.log_tail(20)
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    /// `pg_ctl stop -m fast` (what a service manager does), waiting for it; the cluster stays
    /// down. Panics if the server does not stop (pg_ctl gives up after 60 s).
    pub fn stop_fast(&self) {
        let data = self.dir.join("data");
        run(pg_tool("pg_ctl").args(["-D", &data.to_string_lossy(), "-m", "fast", "-w", "stop"]));
    }

    /// Adds postgresql.conf lines (later ones win), then stops (fast) and starts the server.
    pub fn restart_with(&self, conf: &[&str]) {
        let conf_path = self.dir.join("data").join("postgresql.auto.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap_or_default();
        for line in conf {
            existing.push_str(line);
            existing.push('\n');
        }
        std::fs::write(&conf_path, existing).unwrap();
        self.stop_fast();
        self.pg_ctl_start();
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// The last `n` lines of the server log, for a failure's message.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub fn connect(&self, db: &str) -> Client {
        Client::connect(&format!("host=127.0.0.1 port={} user=postgres dbname={db}", self.port), NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }

    /// A connection as another role (created by the test).
    pub fn connect_as(&self, db: &str, role: &str) -> Client {
        Client::connect(&format!("host=127.0.0.1 port={} user={role} dbname={db}", self.port), NoTls)
            .unwrap_or_else(|e| panic!("connect to {db} as {role}: {e}"))
    }

    /// A fresh database with the extension created in it.
    pub fn create_db(&self, prefix: &str) -> Db<'_> {
        let n = self.next_db.fetch_add(1, Ordering::SeqCst);
        self.create_db_named(&format!("{prefix}_{n}"))
    }

    /// A fresh database of exactly this name (e.g. the worker's odoo_sync.database).
    pub fn create_db_named(&self, name: &str) -> Db<'_> {
        let name = name.to_owned();
        let mut admin = self.connect("postgres");
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut c = self.connect(&name);
        c.batch_execute("CREATE EXTENSION odoo_sync").unwrap();
        self.existing_db(&name)
    }

    /// A handle on a database that already exists.
    pub fn existing_db(&self, name: &str) -> Db<'_> {
        Db { cluster: self, name: name.to_owned(), sessions: Mutex::new(std::collections::HashMap::new()) }
    }
}

pub struct Db<'c> {
    pub cluster: &'c Cluster,
    pub name: String,
    /// The long-lived backend of each test thread that syncs (see `Db::session`).
    sessions: Mutex<std::collections::HashMap<std::thread::ThreadId, Client>>,
}

impl Db<'_> {
    pub fn connect(&self) -> Client {
        self.cluster.connect(&self.name)
    }

    /// Runs `f` on this thread's long-lived session of the database: `sync()` and `sync_all()`
    /// go through it, so a test's syncs share one backend, as a psql user's, the procedure's
    /// and the worker's do (whatever a backend keeps between calls is exercised that way).
    /// `ODOO_SYNC_TEST_SESSION=per-call` opens a new connection per call instead. A session is
    /// dropped when the database's settings change (`set`, `configure`): PostgreSQL applies
    /// `ALTER DATABASE ... SET` at connection time only.
    pub fn session<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        if std::env::var("ODOO_SYNC_TEST_SESSION").is_ok_and(|v| v == "per-call") {
            return f(&mut self.connect());
        }
        let id = std::thread::current().id();
        let mut c =
            self.sessions.lock().unwrap().remove(&id).filter(|c| !c.is_closed()).unwrap_or_else(|| self.connect());
        let out = f(&mut c);
        self.sessions.lock().unwrap().insert(id, c);
        out
    }

    /// After a backend was killed (SIGKILL): waits until the server has ended every backend,
    /// recovered and accepts connections to this database again. A connection made before the
    /// postmaster noticed the crash is no proof, hence the pause first.
    pub fn wait_for_crash_recovery(&self) {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let dsn = format!("host=127.0.0.1 port={} user=postgres dbname={}", self.cluster.port, self.name);
        wait_for(60, "the server back after crash recovery", || Client::connect(&dsn, NoTls).ok().map(|_| ()));
        self.reconnect();
    }

    /// The backend pid of this thread's long-lived session.
    pub fn session_pid(&self) -> i32 {
        self.session(|c| c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0))
    }

    /// Ends every long-lived session (the next sync connects anew).
    pub fn reconnect(&self) {
        self.sessions.lock().unwrap().clear();
    }

    /// Points the database's sync at a simulator (database-level settings, as a user would)
    /// and stores the password. Test defaults: no safety lag; the clock is advanced instead.
    pub fn configure(&self, sim: &Sim, extra: &[(&str, &str)]) {
        let mut c = self.connect();
        let mut settings: Vec<(String, String)> = vec![
            ("odoo_sync.base_url".into(), sim.url.clone()),
            ("odoo_sync.db".into(), sim.db.clone()),
            ("odoo_sync.username".into(), sim.user.clone()),
            ("odoo_sync.safety_lag".into(), "0".into()),
            ("odoo_sync.http_timeout".into(), "10".into()),
        ];
        for (k, v) in extra {
            settings.retain(|(name, _)| name != k);
            settings.push((k.to_string(), v.to_string()));
        }
        for (k, v) in &settings {
            c.batch_execute(&format!("ALTER DATABASE {} SET {k} = '{}'", self.name, v.replace('\'', "''"))).unwrap();
        }
        match &sim.api_key {
            Some(key) => c.execute("SELECT scout.odoo_set_secret(api_key => $1)", &[key]).unwrap(),
            None => c.execute("SELECT scout.odoo_set_secret(password => $1)", &[&sim.password]).unwrap(),
        };
        self.reconnect();
    }

    /// `ALTER DATABASE ... SET`, then new sessions (which is when PostgreSQL applies it).
    pub fn set(&self, setting: &str, value: &str) {
        self.connect()
            .batch_execute(&format!("ALTER DATABASE {} SET {setting} = '{}'", self.name, value.replace('\'', "''")))
            .unwrap();
        self.reconnect();
    }

    /// The first column of every row of a query (a new connection).
    pub fn column<T: for<'a> postgres::types::FromSql<'a>>(&self, sql: &str) -> Vec<T> {
        self.connect()
            .query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        self.connect().query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0)
    }
}

/// One row of scout.sync_result, as the tests read it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub run_id: Option<i64>,
    pub model: String,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub status: String,
    pub message: Option<String>,
}

pub const SUMMARY_COLUMNS: &str = "run_id, model, fetched, inserted, updated, unchanged, deleted, status, message";

impl Summary {
    pub fn from_row(r: &postgres::Row) -> Summary {
        Summary {
            run_id: r.get(0),
            model: r.get(1),
            fetched: r.get(2),
            inserted: r.get(3),
            updated: r.get(4),
            unchanged: r.get(5),
            deleted: r.get(6),
            status: r.get(7),
            message: r.get(8),
        }
    }
}

/// `SELECT ... FROM scout.odoo_sync(model, ...)` in this thread's long-lived session.
pub fn sync(db: &Db, model: &str, args: &str) -> Summary {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM scout.odoo_sync('{model}'{args})");
    let row = db.session(|c| c.query_one(&sql, &[])).unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)));
    Summary::from_row(&row)
}

/// `SELECT ... FROM scout.odoo_sync_all(...)` in this thread's long-lived session.
pub fn sync_all(db: &Db, args: &str) -> Vec<Summary> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM scout.odoo_sync_all({args})");
    db.session(|c| c.query(&sql, &[]))
        .unwrap_or_else(|e| panic!("{sql}: {}", describe(&e)))
        .iter()
        .map(Summary::from_row)
        .collect()
}

/// SQLSTATE, message, detail and hint of a database error, for assertions and failure output.
pub struct DbErr {
    pub code: String,
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl DbErr {
    pub fn of(e: &postgres::Error) -> DbErr {
        let d = e.as_db_error().unwrap_or_else(|| panic!("not a database error: {e}"));
        DbErr {
            code: d.code().code().to_owned(),
            message: d.message().to_owned(),
            detail: d.detail().unwrap_or_default().to_owned(),
            hint: d.hint().unwrap_or_default().to_owned(),
        }
    }

    pub fn all_text(&self) -> String {
        format!("{} | {} | {}", self.message, self.detail, self.hint)
    }
}

/// Polls `check` every 200 ms until it returns Some, or panics with `what` after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Worker runs of `model` that started after `since` (a timestamptz text, from [`now`]).
pub fn worker_runs_since(db: &Db, model: &str, since: &str) -> i64 {
    db.connect()
        .query_one(
            "SELECT count(*) FROM scout.sync_logs WHERE model = $1 AND run_mode = 'worker' AND started_at > $2::text::timestamptz",
            &[&model, &since],
        )
        .unwrap()
        .get(0)
}

/// The database server's clock now, as timestamptz text.
pub fn now(db: &Db) -> String {
    db.connect().query_one("SELECT clock_timestamp()::text", &[]).unwrap().get(0)
}

/// A cluster whose background worker syncs database `db` on `schedule` (gold refreshes off),
/// with more postgresql.conf lines.
pub fn worker_cluster_with(db: &str, schedule: &str, extra: &[&str]) -> Cluster {
    let mut conf = vec![
        "shared_preload_libraries = 'odoo_sync'".to_string(),
        format!("odoo_sync.database = '{db}'"),
        format!("odoo_sync.schedule = '{schedule}'"),
        "odoo_sync.gold_refresh_schedule = '0 0 1 1 *'".to_string(),
    ];
    conf.extend(extra.iter().map(|s| s.to_string()));
    Cluster::start(&conf.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Stops the background worker from syncing (odoo_sync.worker_enabled = off), then waits until
/// it is idle: what a test compares afterwards no longer moves.
pub fn stop_worker_syncing(db: &Db) {
    let mut c = db.connect();
    c.batch_execute("ALTER SYSTEM SET odoo_sync.worker_enabled = off").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_until_worker_idle(db, 60);
}

/// Waits until the worker has synced every enabled model successfully in runs that started
/// after `since` (a timestamptz text; '-infinity' for any run).
pub fn wait_for_worker_round_since(db: &Db, since: &str) {
    wait_for_every_model_since(db, "worker", since);
}

/// Waits until every enabled model has a successful run of `run_mode` (worker, reconcile, ...)
/// that started after `since`.
pub fn wait_for_every_model_since(db: &Db, run_mode: &str, since: &str) {
    let n = enabled_model_count(db);
    wait_for(90, &format!("a {run_mode} run of every model"), || {
        let done: i64 = db
            .connect()
            .query_one(
                "SELECT count(DISTINCT model) FROM scout.sync_logs \
                 WHERE run_mode = $1 AND status = 'success' AND started_at > $2::text::timestamptz",
                &[&run_mode, &since],
            )
            .unwrap()
            .get(0);
        (done == n).then_some(())
    });
}

/// Waits until the background worker has had no open transaction for 1.5 s straight (a worker
/// told to stop syncing finishes its round first; between two models it is idle for only a
/// moment, which one look could mistake for the round's end).
pub fn wait_until_worker_idle(db: &Db, secs: u64) {
    let mut c = db.connect();
    let mut idle_since: Option<std::time::Instant> = None;
    wait_for(secs, "the worker to go idle", || {
        let busy: i64 = c
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'odoo_sync worker' AND xact_start IS NOT NULL", &[])
            .unwrap_or_else(|e| panic!("{}; the server log ends:\n{}", describe(&e), db.cluster.log_tail(40)))
            .get(0);
        if busy > 0 {
            idle_since = None;
            return None;
        }
        let since = *idle_since.get_or_insert_with(std::time::Instant::now);
        (since.elapsed() >= std::time::Duration::from_millis(1500)).then_some(())
    });
}

/// Reads one HTTP/1.1 request from a stream and returns its body (Content-Length framed);
/// None when the peer closed the connection first.
pub fn read_http_request(stream: &mut impl std::io::Read) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string());
            }
        }
    }
}

/// A tiny HTTP receiver on loopback that records the bodies POSTed to it (alert webhooks).
pub struct Receiver {
    pub url: String,
    pub bodies: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let body = read_http_request(&mut stream).unwrap_or_default();
                sink.lock().unwrap().push(body);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            }
        });
        Receiver { url, bodies }
    }

    pub fn received(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(_) => {
            let d = DbErr::of(e);
            format!("[{}] {}", d.code, d.all_text())
        }
        None => e.to_string(),
    }
}

/// How many models scout.sync_models enables (what a round of odoo_sync_all syncs).
pub fn enabled_model_count(db: &Db) -> i64 {
    db.count("scout.sync_models WHERE enabled")
}

/// One model's bronze table equals the simulator, with the fields the sync asks this Odoo for.
/// Returns the record count.
pub fn assert_model_matches(db: &Db, sim: &Sim, model: &str) -> i64 {
    let (_, table, fields, optional) = model_fields_of(db, model);
    assert_bronze_matches(db, sim, model, &table, &requested_fields(sim, model, &fields, &optional))
}

/// POSTs `body` to `url` (http://host:port/path) the way Odoo's webhooks do (Content-Type
/// only); the status code (0: no connection).
pub fn post_http(url: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Ok(mut s) = std::net::TcpStream::connect(host) else { return 0 };
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// One model's row of model_fields: (model, bronze table, fields, optional and extra fields).
pub fn model_fields_of(db: &Db, model: &str) -> (String, String, Vec<String>, Vec<String>) {
    model_fields(db).into_iter().find(|m| m.0 == model).unwrap_or_else(|| panic!("{model} is not an enabled model"))
}

/// The enabled models with the fields the sync asks for, from scout.sync_models, in sync order.
pub fn model_fields(db: &Db) -> Vec<(String, String, Vec<String>, Vec<String>)> {
    db.connect()
        .query("SELECT model, bronze_table, fields, optional_fields || extra_fields FROM scout.sync_models WHERE enabled ORDER BY sync_order", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Asserts that a bronze table holds exactly the simulator's records of a model: the same ids
/// and, record by record, the same JSON (compared as jsonb by PostgreSQL, so numbers must be
/// exactly equal: a float round trip of money would show up). Returns the record count.
pub fn assert_bronze_matches(db: &Db, sim: &Sim, model: &str, bronze_table: &str, fields: &[String]) -> i64 {
    compare_bronze(db, sim, model, bronze_table, fields, "payload")
}

/// Many2one values `[id, "display name"]` reduced to the id: Odoo does not touch the write_date
/// of a record when a record it points at is renamed, so bronze (as of each record's last write)
/// may embed an older display name than Odoo renders now. Everything else must be equal.
const WITHOUT_EMBEDDED_NAMES: &str = "(SELECT jsonb_object_agg(k, CASE WHEN jsonb_typeof(v) = 'array' \
     AND jsonb_array_length(v) = 2 AND jsonb_typeof(v -> 0) = 'number' AND jsonb_typeof(v -> 1) = 'string' \
     THEN v -> 0 ELSE v END) FROM jsonb_each(payload) AS e(k, v))";

fn compare_bronze(db: &Db, sim: &Sim, model: &str, bronze_table: &str, fields: &[String], payload: &str) -> i64 {
    let pages = sim.search_read_pages(model, fields, 2000);
    let mut c = db.connect();
    c.batch_execute("CREATE TEMP TABLE IF NOT EXISTS expected (id bigint, payload jsonb); TRUNCATE expected").unwrap();
    for page in &pages {
        c.execute(
            "INSERT INTO expected SELECT (r->>'id')::bigint, r FROM jsonb_array_elements($1::text::jsonb) r",
            &[page],
        )
        .unwrap();
    }
    let q = format!(
        "SELECT (SELECT count(*) FROM expected), \
                (SELECT count(*) FROM scout.{bronze_table} WHERE deleted_at IS NULL), \
                (SELECT count(*) FROM (SELECT id, {payload} FROM expected EXCEPT SELECT id, {payload} FROM scout.{bronze_table} WHERE deleted_at IS NULL) x), \
                (SELECT count(*) FROM (SELECT id, {payload} FROM scout.{bronze_table} WHERE deleted_at IS NULL EXCEPT SELECT id, {payload} FROM expected) y), \
                (SELECT string_agg(id::text, ',') FROM (SELECT id FROM (SELECT id, {payload} FROM expected EXCEPT SELECT id, {payload} FROM scout.{bronze_table}) z ORDER BY id LIMIT 5) w)"
    );
    let r = c.query_one(&q, &[]).unwrap();
    let (expected, actual, missing, extra): (i64, i64, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
    let sample: Option<String> = r.get(4);
    // The first differing record as Odoo serves it and as bronze has it, to see what differs.
    let first = sample.as_deref().and_then(|ids| ids.split(',').next()).unwrap_or("0").to_string();
    let pair: (Option<String>, Option<String>) = if missing + extra > 0 {
        let r = c
            .query_one(
                &format!(
                    "SELECT (SELECT payload::text FROM expected WHERE id = {first}), \
                            (SELECT payload::text FROM scout.{bronze_table} WHERE id = {first})"
                ),
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    } else {
        (None, None)
    };
    assert_eq!(
        (missing, extra, actual),
        (0, 0, expected),
        "{model}: bronze differs from the simulator: {missing} expected records missing or different (ids {sample:?}), {extra} extra, {actual} rows vs {expected} in Odoo\nOdoo:   {:?}\nbronze: {:?}",
        pair.0,
        pair.1
    );
    expected
}

/// Fields of a model that the sync requests on this simulator (optional ones only if present).
pub fn requested_fields(sim: &Sim, model: &str, fields: &[String], optional: &[String]) -> Vec<String> {
    let existing = sim.field_names(model);
    fields.iter().chain(optional.iter()).filter(|f| *f == "id" || existing.contains(*f)).cloned().collect()
}

/// Every model's bronze table equals the simulator (empty for a model this Odoo lacks, such as
/// product.brand without `--with-brand`). Returns total records compared.
pub fn assert_all_bronze_matches(db: &Db, sim: &Sim) -> i64 {
    all_bronze_matches(db, sim, "payload")
}

/// As assert_all_bronze_matches, after renames in Odoo: records pointing at a renamed record may
/// embed its old display name (see WITHOUT_EMBEDDED_NAMES); everything else must be equal.
pub fn assert_all_bronze_matches_but_embedded_names(db: &Db, sim: &Sim) -> i64 {
    all_bronze_matches(db, sim, WITHOUT_EMBEDDED_NAMES)
}

fn all_bronze_matches(db: &Db, sim: &Sim, payload: &str) -> i64 {
    model_fields(db)
        .iter()
        .map(|(model, table, fields, optional)| {
            if !sim.has_model(model) {
                assert_eq!(db.count(&format!("scout.{table}")), 0, "{model} is not in this Odoo: {table} stays empty");
                return 0;
            }
            let f = requested_fields(sim, model, fields, optional);
            compare_bronze(db, sim, model, table, &f, payload)
        })
        .sum()
}

/// Silver equals what a from-scratch derivation of bronze gives (`scout.silver_rebuild()`, run
/// in a transaction that is rolled back): the incremental, page-by-page silver upkeep lost,
/// duplicated or left stale nothing. With bronze equal to Odoo, silver then equals Odoo's data.
/// Returns the number of silver rows compared.
pub fn assert_silver_matches_bronze(db: &Db) -> i64 {
    let mut c = db.connect();
    // Every model's silver table (scout.sync_models.silver_table), and the quarantine.
    let mut silver: Vec<String> = c
        .query("SELECT silver_table FROM scout.sync_models WHERE silver_table IS NOT NULL ORDER BY sync_order", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    silver.push("silver_rejects".into());
    // Bookkeeping columns that say when and by which run a row was written, not what it says.
    let snapshot = silver
        .iter()
        .map(|t| format!("SELECT '{t}' AS t, to_jsonb(x) - '{{run_id,synced_at,first_run_id,first_seen,last_seen}}'::text[] AS r FROM scout.{t} x"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(&format!("CREATE TEMP TABLE silver_now ON COMMIT DROP AS {snapshot}")).unwrap();
    tx.batch_execute("SELECT scout.silver_rebuild()").unwrap();
    tx.batch_execute(&format!("CREATE TEMP TABLE silver_derived ON COMMIT DROP AS {snapshot}")).unwrap();
    let r = tx
        .query_one(
            "SELECT (SELECT count(*) FROM silver_now), \
                    (SELECT count(*) FROM (SELECT * FROM silver_now EXCEPT ALL SELECT * FROM silver_derived) a), \
                    (SELECT count(*) FROM (SELECT * FROM silver_derived EXCEPT ALL SELECT * FROM silver_now) b), \
                    (SELECT string_agg(t || ' ' || r::text, E'\\n') FROM (SELECT * FROM (SELECT * FROM silver_now EXCEPT ALL SELECT * FROM silver_derived) d LIMIT 3) e), \
                    (SELECT string_agg(t || ' ' || r::text, E'\\n') FROM (SELECT * FROM (SELECT * FROM silver_derived EXCEPT ALL SELECT * FROM silver_now) d LIMIT 3) e)",
            &[],
        )
        .unwrap();
    let (rows, stale, missing): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
    let (stale_sample, missing_sample): (Option<String>, Option<String>) = (r.get(3), r.get(4));
    tx.rollback().unwrap();
    assert_eq!(
        (stale, missing),
        (0, 0),
        "silver differs from a fresh derivation of bronze: {stale} rows stale or extra, e.g.\n{}\n{missing} rows missing, e.g.\n{}",
        stale_sample.unwrap_or_default(),
        missing_sample.unwrap_or_default()
    );
    rows
}
