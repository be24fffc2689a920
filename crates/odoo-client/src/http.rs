//! One blocking HTTP/1.1 agent per client (kept-alive connection), configured so that nothing
//! surprising happens: hard timeouts (PostgreSQL cannot interrupt a blocking read), a response
//! size cap, no redirects (credentials must never follow one), and non-2xx statuses returned as
//! responses so that Odoo's error bodies can be read.

use crate::error::OdooError;
use crate::time::{parse_http_date, UnixSeconds};
use std::time::Duration;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Runs `f` with every signal blocked on the calling thread, then restores its mask: a thread
/// spawned inside `f` starts with every signal blocked (a new thread inherits its creator's
/// mask), so that the embedding process's signal handlers never run on it. PostgreSQL's
/// handlers (pgrx's among them) may only run on the backend's own thread: one that ran on
/// another thread aborted the process. A signal that arrives meanwhile waits until the mask is
/// restored.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain libc calls on local signal sets, for the calling thread only; the old mask
    // is put back before returning, also when `f` unwinds (the guard).
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        struct Restore(libc::sigset_t);
        impl Drop for Restore {
            fn drop(&mut self) {
                // SAFETY: restores the mask saved above, on the same thread.
                unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
            }
        }
        let _restore = Restore(old);
        f()
    }
}

/// ureq's resolver, except that the thread it starts to resolve a host name within a timeout
/// (one per new connection) starts with every signal blocked ([`with_signals_blocked`]).
#[derive(Debug, Default)]
struct SignalSafeResolver(DefaultResolver);

impl Resolver for SignalSafeResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        with_signals_blocked(|| self.0.resolve(uri, config, timeout))
    }
}

/// An agent with `config` whose threads never run the embedding process's signal handlers:
/// every HTTP call of this crate and of the extension goes through one.
pub fn agent(config: ureq::config::Config) -> ureq::Agent {
    ureq::Agent::with_parts(config, DefaultConnector::new(), SignalSafeResolver::default())
}

pub(crate) struct HttpResponse {
    pub status: u16,
    pub body: String,
    /// Odoo's clock, from the `Date` header.
    pub date: Option<UnixSeconds>,
    pub retry_after: Option<u64>,
    pub location: Option<String>,
}

pub(crate) struct Http {
    agent: ureq::Agent,
    timeout: Duration,
    max_bytes: u64,
}

impl Http {
    pub fn new(timeout: Duration, max_bytes: u64, extra_ca_pem: Option<&[u8]>) -> Result<Http, OdooError> {
        let mut builder = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .save_redirect_history(false)
            .user_agent("odoo_sync (PostgreSQL extension)");
        // Verify https against the system's roots (what the administrator manages), plus an
        // optional extra CA for Odoo servers behind a private CA.
        let mut certs = system_roots();
        if let Some(pem) = extra_ca_pem {
            let extra = pem_certificates(pem);
            if extra.is_empty() {
                return Err(OdooError::Config("the CA file holds no PEM certificate".into()));
            }
            certs.extend(extra);
        }
        if !certs.is_empty() {
            let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::new_with_certs(&certs)).build();
            builder = builder.tls_config(tls);
        }
        Ok(Http { agent: agent(builder.build()), timeout, max_bytes })
    }

    pub fn post(&self, url: &str, body: String, headers: &[(&str, &str)]) -> Result<HttpResponse, OdooError> {
        let mut req = self.agent.post(url).header("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send(body).map_err(|e| self.send_error(url, e))?;
        self.read(url, resp)
    }

    fn read(&self, url: &str, mut resp: ureq::http::Response<ureq::Body>) -> Result<HttpResponse, OdooError> {
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let status = resp.status().as_u16();
        let date = header("date").as_deref().and_then(parse_http_date);
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let location = header("location");
        let body = resp
            .body_mut()
            .with_config()
            .limit(self.max_bytes)
            .read_to_string()
            .map_err(|e| self.read_error(url, e))?;
        Ok(HttpResponse { status, body, date, retry_after, location })
    }

    fn send_error(&self, url: &str, e: ureq::Error) -> OdooError {
        match e {
            ureq::Error::Timeout(_) => OdooError::Timeout { url: url.into(), seconds: self.timeout.as_secs() },
            ureq::Error::BadUri(m) => OdooError::Config(format!("bad URL {url}: {m}")),
            other => OdooError::Connect { url: url.into(), detail: other.to_string() },
        }
    }

    fn read_error(&self, url: &str, e: ureq::Error) -> OdooError {
        match e {
            ureq::Error::Timeout(_) => OdooError::Timeout { url: url.into(), seconds: self.timeout.as_secs() },
            ureq::Error::BodyExceedsLimit(_) => OdooError::TooLarge { url: url.into(), limit: self.max_bytes },
            // read_to_string checks UTF-8 itself; anything else here is a broken connection.
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                OdooError::Protocol { url: url.into(), detail: format!("body is not valid UTF-8 text ({io})") }
            }
            other => OdooError::Io { url: url.into(), detail: other.to_string() },
        }
    }
}

fn pem_certificates(pem: &[u8]) -> Vec<ureq::tls::Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The system trust store (Debian/Ubuntu's ca-certificates bundle, or $SSL_CERT_FILE). Empty
/// when there is none, in which case the built-in Mozilla roots are used.
fn system_roots() -> Vec<ureq::tls::Certificate<'static>> {
    let path = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    std::fs::read(path).map(|pem| pem_certificates(&pem)).unwrap_or_default()
}
