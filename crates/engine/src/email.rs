//! Sends one alert email through SMTP (lettre's blocking client over rustls), off the sync's
//! path: `send_in_background` starts a detached thread and returns at once, so that a slow or
//! failing mail server never delays a sync, and `send_email_now` does the sending (the thread
//! calls it; tests call it directly to wait for the outcome). `wait_for_pending` lets a process
//! that is about to exit (or a test) wait for the sends still under way.
//!
//! The server's certificate is verified as the Odoo client verifies Odoo's (odoo-client's
//! http.rs): the system's roots ($SSL_CERT_FILE or Debian's bundle) plus the extra CA file, or
//! the built-in Mozilla roots when the system has none; a certificate we cannot parse in the
//! system bundle is skipped, as ureq skips it.
//!
//! Every I/O step (connect, each read and write) has `STEP_TIMEOUT`, and the whole send
//! `SEND_TIMEOUT`: a server that answers byte by byte cannot hold a thread past it either.

use crate::error::redact;
use crate::settings::{EmailSettings, SmtpTls};
use lettre::message::header::ContentType;
use lettre::message::{header, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Connecting, and each read or write of the SMTP conversation.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The whole send, from connecting to the server's acceptance of the message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// An alert email: what `alerts` renders, ready to send.
#[derive(Clone, Debug)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

/// Emails being sent in the background, so that a process about to exit can wait for them
/// (`wait_for_pending`).
static PENDING: Mutex<usize> = Mutex::new(0);
static PENDING_DONE: Condvar = Condvar::new();

fn pending() -> MutexGuard<'static, usize> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// One background send, counted in `PENDING` until it ends (also by a panic).
struct InFlight;

impl InFlight {
    fn start() -> InFlight {
        *pending() += 1;
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut n = pending();
        *n = n.saturating_sub(1);
        PENDING_DONE.notify_all();
    }
}

/// Sends `email` on a detached thread (started with every signal blocked: the engine may run
/// inside a PostgreSQL backend, whose signals must reach its main thread) and returns at once.
/// The thread cannot reach the host, so a failure is written to stderr (the server log inside
/// PostgreSQL) as one redacted line. Err only when the thread could not be started.
pub fn send_in_background(settings: EmailSettings, email: Email) -> Result<(), String> {
    let in_flight = InFlight::start();
    odoo_client::with_signals_blocked(|| {
        std::thread::Builder::new().name("odoo_sync email".into()).spawn(move || {
            let _in_flight = in_flight;
            if let Err(e) = send_email_now(&settings, &email) {
                eprintln!("odoo_sync: WARNING: {}", one_line(&e));
            }
        })
    })
    .map(drop)
    .map_err(|e| format!("could not start a thread to send the alert email: {e}"))
}

/// Waits until no email is being sent in the background, at most `max`; returns how many still
/// are. A process that exits ends its threads: a short-lived one (a client session that synced
/// and disconnects) calls this on its way out so that its alerts are not lost; tests call it to
/// wait for the sends they started.
pub fn wait_for_pending(max: Duration) -> usize {
    let deadline = Instant::now() + max;
    let mut n = pending();
    while *n > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        n = PENDING_DONE.wait_timeout(n, left).map_or_else(|p| p.into_inner().0, |(g, _)| g);
    }
    *n
}

/// Sends `email` and waits (at most `SEND_TIMEOUT`) for the server to accept it. Err: why not,
/// redacted (it never contains the SMTP password).
pub fn send_email_now(settings: &EmailSettings, email: &Email) -> Result<(), String> {
    send_within(settings, email, STEP_TIMEOUT, SEND_TIMEOUT)
}

/// `send_email_now` with the timeouts given (the tests' are short).
pub(crate) fn send_within(
    settings: &EmailSettings,
    email: &Email,
    step: Duration,
    whole: Duration,
) -> Result<(), String> {
    let server = &settings.server;
    let failed = |why: String| redact(&format!("could not send the alert email through {server}: {why}"));
    let transport = transport(settings, step).map_err(failed)?;
    let message = message(settings, email).map_err(failed)?;
    // lettre's timeouts bound each step; the whole conversation is bounded by waiting for it on
    // a thread of its own, left to end at its next step timeout if it overruns.
    let (tx, rx) = mpsc::channel();
    odoo_client::with_signals_blocked(|| {
        std::thread::Builder::new().name("odoo_sync smtp".into()).spawn(move || {
            let _ = tx.send(transport.send(&message).map(drop).map_err(|e| describe(&e, step)));
        })
    })
    .map_err(|e| failed(format!("could not start its thread: {e}")))?;
    match rx.recv_timeout(whole) {
        Ok(result) => result.map_err(failed),
        Err(RecvTimeoutError::Timeout) => Err(failed(format!("no answer within {} s", whole.as_secs_f64()))),
        Err(RecvTimeoutError::Disconnected) => Err(failed("the sending thread ended without a result".into())),
    }
}

/// lettre's error, said plainly when it is a timeout (a socket's read timeout reads as "Resource
/// temporarily unavailable") or a certificate we do not trust.
fn describe(e: &lettre::transport::smtp::Error, step: Duration) -> String {
    let mut source = std::error::Error::source(e);
    let mut timed_out = e.is_timeout();
    while let Some(s) = source {
        let kind = s.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        timed_out |= matches!(kind, Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut));
        source = s.source();
    }
    if timed_out {
        format!("no answer within {} s ({e})", step.as_secs_f64())
    } else if e.to_string().contains("invalid peer certificate") {
        format!("{e} (its certificate must name the server and be signed by a CA of the system's or of the CA file)")
    } else {
        e.to_string()
    }
}

/// The SMTP client for these settings: the TLS mode, the credentials, the step timeout.
fn transport(settings: &EmailSettings, step: Duration) -> Result<SmtpTransport, String> {
    let (host, port) = settings.host_port()?;
    let tls = match settings.tls {
        SmtpTls::StartTls => Tls::Required(tls_parameters(&host, settings.ca_file.as_deref())?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters(&host, settings.ca_file.as_deref())?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(host).port(port).tls(tls).timeout(Some(step));
    if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.0.clone()));
    }
    Ok(builder.build())
}

/// Verification against the Odoo client's roots (module comment), for the name `host`.
fn tls_parameters(host: &str, ca_file: Option<&str>) -> Result<TlsParameters, String> {
    let mut roots = system_roots();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read the CA file {path}: {e}"))?;
        let extra = pem_certificates(&pem);
        if extra.is_empty() {
            return Err(format!("the CA file {path} holds no PEM certificate"));
        }
        roots.extend(extra);
    }
    let mut builder = TlsParameters::builder(host.to_owned());
    if roots.is_empty() {
        builder = builder.certificate_store(CertificateStore::WebpkiRoots);
    } else {
        builder = builder.certificate_store(CertificateStore::None);
        // rustls refuses the whole store for one certificate it cannot use: keep those it can.
        for der in roots.into_iter().filter(|der| rustls::RootCertStore::empty().add(der.clone()).is_ok()) {
            let cert = Certificate::from_der(der.to_vec()).map_err(|e| format!("a CA certificate: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build_rustls().map_err(|e| format!("TLS setup: {e}"))
}

/// The certificates of a PEM text, up to the first malformed section.
fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem).map_while(Result::ok).collect()
}

/// The system trust store, as odoo-client reads it; empty when there is none.
fn system_roots() -> Vec<CertificateDer<'static>> {
    let path = std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
    std::fs::read(path).map(|pem| pem_certificates(&pem)).unwrap_or_default()
}

/// The message: plain text, from "odoo_sync" <from> to every recipient.
fn message(settings: &EmailSettings, email: &Email) -> Result<Message, String> {
    let address = |a: &str| a.parse::<lettre::Address>().map_err(|e| format!("the address \"{a}\": {e}"));
    let mut builder = Message::builder()
        .from(Mailbox::new(Some("odoo_sync".into()), address(&settings.from)?))
        .subject(one_line(&email.subject))
        .header(ContentType::TEXT_PLAIN)
        // RFC 3834: an automatic message, so that vacation responders do not answer it.
        .raw_header(header::HeaderValue::new(
            header::HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    for to in &settings.to {
        builder = builder.to(Mailbox::new(None, address(to)?));
    }
    builder.body(email.body.clone()).map_err(|e| format!("the message: {e}"))
}

/// `text` on one line: a subject or a log line never spans several.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::remember_secret;
    use crate::smtp_fake::{FakeSmtp, Mode, TEST_CA_FILE};
    use odoo_client::Secret;

    fn settings(server: &str, tls: SmtpTls, login: Option<(&str, &str)>) -> EmailSettings {
        // Built directly: `from_parts` refuses a password over `none`, and these servers are
        // plain unless a test says otherwise.
        if let Some((_, p)) = login {
            remember_secret(p);
        }
        EmailSettings {
            to: vec!["ops@example.com".into(), "oncall@example.com".into()],
            from: "odoo-sync@example.com".into(),
            server: server.into(),
            tls,
            user: login.map(|(u, _)| u.to_owned()),
            password: login.map(|(_, p)| Secret(p.to_owned())),
            ca_file: None,
        }
    }

    fn email() -> Email {
        Email { subject: "[odoo_sync] db: pos.order recovered".into(), body: "Line one.\nLine two.\n".into() }
    }

    #[test]
    fn a_message_reaches_the_server_with_its_subject_body_recipients_and_auth_plain() {
        let smtp = FakeSmtp::start(Mode::Plain, Some(("alerts", "plain-pass-1")));
        let s = settings(&smtp.server(), SmtpTls::None, Some(("alerts", "plain-pass-1")));
        send_email_now(&s, &email()).unwrap();
        let got = smtp.received();
        assert_eq!(got.len(), 1);
        let m = &got[0];
        assert_eq!(m.auth, Some(("PLAIN".into(), "alerts".into(), "plain-pass-1".into())));
        assert_eq!(m.from, "odoo-sync@example.com");
        assert_eq!(m.to, ["ops@example.com", "oncall@example.com"]);
        assert_eq!(m.header("Subject").as_deref(), Some("[odoo_sync] db: pos.order recovered"));
        assert_eq!(m.header("From").as_deref(), Some("odoo_sync <odoo-sync@example.com>"));
        assert_eq!(m.header("Auto-Submitted").as_deref(), Some("auto-generated"));
        assert!(m.header("Content-Type").unwrap().starts_with("text/plain"), "{}", m.data);
        assert_eq!(m.body(), "Line one.\nLine two.\n", "{}", m.data);
    }

    #[test]
    fn auth_login_is_used_when_the_server_offers_only_login() {
        let smtp = FakeSmtp::with_mechanisms(Mode::Plain, Some(("alerts", "login-pass-2")), "LOGIN");
        send_email_now(&settings(&smtp.server(), SmtpTls::None, Some(("alerts", "login-pass-2"))), &email()).unwrap();
        let got = smtp.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].auth, Some(("LOGIN".into(), "alerts".into(), "login-pass-2".into())));
    }

    #[test]
    fn a_wrong_password_is_an_error_that_never_shows_it() {
        let smtp = FakeSmtp::start(Mode::Plain, Some(("alerts", "the-right-one")));
        let s = settings(&smtp.server(), SmtpTls::None, Some(("alerts", "wrong-pass-535")));
        let e = send_email_now(&s, &email()).unwrap_err();
        // The server echoes the password it was given; the error must not pass it on.
        assert!(e.contains("535"), "{e}");
        assert!(e.contains(&smtp.server()), "{e}");
        assert!(!e.contains("wrong-pass-535"), "{e}");
        assert!(smtp.received().is_empty());
    }

    #[test]
    fn an_unreachable_silent_or_trickling_server_is_an_error_within_the_timeouts() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let s = settings(&closed, SmtpTls::None, Some(("alerts", "unreachable-pass")));
        let t = Instant::now();
        let e = send_email_now(&s, &email()).unwrap_err();
        assert!(t.elapsed() < STEP_TIMEOUT, "{:?}", t.elapsed());
        assert!(e.contains("could not send the alert email through") && !e.contains("unreachable-pass"), "{e}");

        // A server that never greets: the step timeout.
        let silent = FakeSmtp::start(Mode::Silent, None);
        let s = settings(&silent.server(), SmtpTls::None, None);
        let t = Instant::now();
        let e = send_within(&s, &email(), Duration::from_millis(300), Duration::from_secs(5)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}: {e}", t.elapsed());
        assert!(e.contains("no answer within 0.3 s"), "{e}");

        // A server that greets one byte at a time: each read succeeds, the whole send times out.
        let trickle = FakeSmtp::start(Mode::Trickle, None);
        let s = settings(&trickle.server(), SmtpTls::None, None);
        let t = Instant::now();
        let e = send_within(&s, &email(), Duration::from_secs(2), Duration::from_millis(800)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}: {e}", t.elapsed());
        assert!(e.contains("no answer within 0.8 s"), "{e}");
    }

    #[test]
    fn sending_in_the_background_returns_at_once_and_the_message_arrives() {
        let silent = FakeSmtp::start(Mode::Silent, None);
        let t = Instant::now();
        send_in_background(settings(&silent.server(), SmtpTls::None, None), email()).unwrap();
        assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
        drop(silent); // closes the connection: that send fails at once

        let smtp = FakeSmtp::start(Mode::Plain, None);
        send_in_background(settings(&smtp.server(), SmtpTls::None, None), email()).unwrap();
        // Other tests' sends may be pending too: all of them end within the send timeout.
        assert_eq!(wait_for_pending(SEND_TIMEOUT + Duration::from_secs(5)), 0);
        assert_eq!(smtp.received().len(), 1);
    }

    #[test]
    fn starttls_and_implicit_tls_verify_the_server_against_the_ca_file() {
        for (mode, tls) in [(Mode::StartTls, SmtpTls::StartTls), (Mode::Tls, SmtpTls::Tls)] {
            let smtp = FakeSmtp::start(mode, Some(("alerts", "tls-pass-3")));
            // The certificate is for localhost and 127.0.0.1, signed by a CA only the file has.
            for host in ["localhost", "127.0.0.1"] {
                let server = format!("{host}:{}", smtp.port());
                let mut s = settings(&server, tls, Some(("alerts", "tls-pass-3")));
                let e = send_email_now(&s, &email()).unwrap_err();
                assert!(e.contains("certificate") && e.contains("UnknownIssuer"), "{tls:?} {host}: {e}");
                s.ca_file = Some(TEST_CA_FILE.into());
                send_email_now(&s, &email()).unwrap_or_else(|e| panic!("{tls:?} {host}: {e}"));
            }
            let got = smtp.received();
            assert_eq!(got.len(), 2, "{tls:?}");
            assert!(got.iter().all(|m| m.tls && m.auth.as_ref().is_some_and(|a| a.2 == "tls-pass-3")), "{got:?}");
        }
    }

    #[test]
    fn starttls_never_falls_back_to_plain_text() {
        let smtp = FakeSmtp::start(Mode::Plain, None); // offers no STARTTLS
        let mut s = settings(&smtp.server(), SmtpTls::StartTls, Some(("alerts", "never-in-clear")));
        s.ca_file = Some(TEST_CA_FILE.into());
        let e = send_email_now(&s, &email()).unwrap_err();
        assert!(e.contains("STARTTLS is not supported"), "{e}");
        assert!(smtp.received().is_empty());

        // Implicit TLS to a plain server: the handshake fails; nothing is said in clear.
        s.tls = SmtpTls::Tls;
        assert!(send_email_now(&s, &email()).is_err());
        assert!(smtp.received().is_empty());
    }

    #[test]
    fn a_ca_file_that_is_missing_or_holds_no_certificate_is_an_error() {
        let dir = std::env::temp_dir().join(format!("odoo_sync_email_test_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let mut s = settings("127.0.0.1:1", SmtpTls::Tls, None);
        s.ca_file = Some(junk.to_string_lossy().into_owned());
        let e = send_email_now(&s, &email()).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        s.ca_file = Some(dir.join("absent.pem").to_string_lossy().into_owned());
        let e = send_email_now(&s, &email()).unwrap_err();
        assert!(e.contains("cannot read the CA file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        assert_eq!(one_line("a\r\nb\tc\n"), "a b c");
    }
}
