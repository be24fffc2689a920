//! The runner (`odoo-sync`, crates/runner) as a user runs it: a process with its environment,
//! against a database without the extension; TLS on the server, PgBouncer in front of it.

use crate::{free_port, running_as_root, workspace_root, Cluster, Db, Sim};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The runner binary: ODOO_SYNC_RUNNER_BIN, else target/debug/odoo-sync (built once if need be).
pub fn runner_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ODOO_SYNC_RUNNER_BIN") {
        return PathBuf::from(p);
    }
    static BUILD: Mutex<bool> = Mutex::new(false);
    let mut built = BUILD.lock().unwrap();
    let root = workspace_root();
    if !*built {
        let status = Command::new("cargo")
            .args(["build", "-q", "-p", "odoo-sync-runner"])
            .current_dir(&root)
            .status()
            .expect("cargo build odoo-sync-runner");
        assert!(status.success(), "building odoo-sync failed");
        *built = true;
    }
    root.join("target/debug/odoo-sync")
}

/// A directory owned by the server's user with the test certificates (crates/engine/testdata:
/// a CA and a server certificate for 127.0.0.1 and localhost).
pub struct Certs {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    pub fn new(name: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("odoo_sync_certs_{}_{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let testdata = workspace_root().join("crates/engine/testdata");
        let (ca, cert, key) = (dir.join("ca.pem"), dir.join("server.crt"), dir.join("server.key"));
        std::fs::copy(testdata.join("smtp_test_ca.pem"), &ca).unwrap();
        std::fs::copy(testdata.join("smtp_test_server.pem"), &cert).unwrap();
        std::fs::copy(testdata.join("smtp_test_server.key"), &key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        crate::own_by_postgres(&dir);
        for f in [&ca, &cert, &key] {
            crate::own_by_postgres(f);
        }
        Certs { dir, ca, cert, key }
    }

    /// postgresql.conf lines that turn TLS on with these certificates.
    pub fn server_conf(&self) -> Vec<String> {
        vec![
            "ssl = on".into(),
            format!("ssl_cert_file = '{}'", self.cert.display()),
            format!("ssl_key_file = '{}'", self.key.display()),
        ]
    }
}

/// PgBouncer in front of a cluster, TLS on both sides, in `pool_mode` (session or
/// transaction). Stopped when dropped.
pub struct Bouncer {
    child: Child,
    pub port: u16,
}

impl Bouncer {
    pub fn start(cluster: &Cluster, certs: &Certs, pool_mode: &str) -> Bouncer {
        let port = free_port();
        // PgBouncer runs on this host as its `postgres` user, which may not be the server's (the
        // PostgreSQL 17 server runs in a Debian 13 root with users of its own): a directory of
        // its own, with its own copy of the certificate and key.
        let dir = std::env::temp_dir().join(format!("odoo_sync_pgbouncer_{}_{pool_mode}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::copy(&certs.cert, &cert).unwrap();
        std::fs::copy(&certs.key, &key).unwrap();
        let users = dir.join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n\"shop_owner\" \"\"\n").unwrap();
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={pg}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1,127.0.0.2\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {users}\npool_mode = {pool_mode}\n\
                 max_client_conn = 200\ndefault_pool_size = 20\n\
                 client_tls_sslmode = require\nclient_tls_cert_file = {cert}\nclient_tls_key_file = {key}\n\
                 server_tls_sslmode = require\nlogfile = {log}\npidfile = {pid}\n",
                pg = cluster.port,
                users = users.display(),
                cert = cert.display(),
                key = key.display(),
                log = dir.join("pgbouncer.log").display(),
                pid = dir.join("pgbouncer.pid").display(),
            ),
        )
        .unwrap();
        if running_as_root() {
            let chowned = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().unwrap();
            assert!(chowned.success(), "chown {}", dir.display());
        }
        let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("pgbouncer is not installed: run scripts/bootstrap.sh");
        // PgBouncer refuses to run as root.
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", bin]);
            c
        } else {
            Command::new(bin)
        };
        let child = cmd.arg(&ini).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not start; see {}", dir.join("pgbouncer.log").display());
            std::thread::sleep(Duration::from_millis(50));
        }
        Bouncer { child, port }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // SAFETY: kill(2) of our child (runuser passes SIGTERM on to pgbouncer).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// A database without the extension, owned by `owner`.
pub fn plain_db<'c>(cluster: &'c Cluster, name: &str, owner: &str) -> Db<'c> {
    let mut admin = cluster.connect("postgres");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {name} OWNER {owner}")).unwrap();
    cluster.existing_db(name)
}

/// The runner's environment for one database and one simulator, as a user sets it up.
#[derive(Clone)]
pub struct Runner {
    env: Vec<(String, String)>,
}

/// What a runner process printed and how it ended.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Runner {
    pub fn new(database_url: &str, sim: &Sim) -> Runner {
        let mut env = vec![
            ("DATABASE_URL".to_string(), database_url.to_string()),
            ("ODOO_BASE_URL".into(), sim.url.clone()),
            ("ODOO_DB".into(), sim.db.clone()),
            ("ODOO_USERNAME".into(), sim.user.clone()),
            // Test defaults, as Db::configure's: no safety lag (the clock is advanced instead).
            ("ODOO_SYNC_SAFETY_LAG".into(), "0".into()),
            ("ODOO_SYNC_HTTP_TIMEOUT".into(), "10".into()),
        ];
        match &sim.api_key {
            Some(key) => env.push(("ODOO_API_KEY".into(), key.clone())),
            None => env.push(("ODOO_PASSWORD".into(), sim.password.clone())),
        }
        Runner { env }
    }

    /// The same with one more (or another) variable.
    pub fn with(&self, name: &str, value: &str) -> Runner {
        let mut r = self.clone();
        r.env.retain(|(k, _)| k != name);
        r.env.push((name.into(), value.into()));
        r
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(runner_bin());
        // Only what a user's unit would set: nothing of the test process's own environment.
        for (k, _) in std::env::vars() {
            if k.starts_with("ODOO_") || k.starts_with("SYNC_") || k.starts_with("PG") || k == "DATABASE_URL" {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v))).args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        let Output { status, stdout, stderr } = self.command(args).output().expect("run odoo-sync");
        Ran {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs and asserts exit 0; the output.
    pub fn ok(&self, args: &[&str]) -> Ran {
        let ran = self.run(args);
        assert_eq!(ran.code, 0, "odoo-sync {} failed:\n{}", args.join(" "), ran.all());
        ran
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start odoo-sync")
    }
}

/// Sends SIGTERM and waits (at most `secs`) for the process to exit; its exit code and stderr.
pub fn terminate(mut child: Child, secs: u64) -> (i32, String) {
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            return (status.code().unwrap_or(-1), err);
        }
        assert!(Instant::now() < deadline, "odoo-sync did not stop within {secs} s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
