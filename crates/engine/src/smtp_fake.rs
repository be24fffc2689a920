//! A small SMTP server for the engine's tests, on 127.0.0.1: plain, STARTTLS or implicit TLS
//! (with testdata's certificate, signed by testdata's CA), AUTH PLAIN and LOGIN, and two broken
//! servers (one that never speaks, one that speaks one byte at a time). It serves one
//! connection at a time, every loop is bounded, and it records each message it accepted.

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The CA that signed the test server's certificate (for `ca_file`).
pub const TEST_CA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/smtp_test_ca.pem");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plain text; never offers STARTTLS.
    Plain,
    /// Plain text that offers STARTTLS.
    StartTls,
    /// TLS from the first byte.
    Tls,
    /// Accepts the connection and never says a word.
    Silent,
    /// Greets one byte every 100 ms and never ends the line.
    Trickle,
}

/// One accepted message, as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// Whether the message came over TLS.
    pub tls: bool,
    /// The mechanism and the (user, password) AUTH presented, if it did.
    pub auth: Option<(String, String, String)>,
    pub from: String,
    pub to: Vec<String>,
    /// What followed DATA, CRLF line ends, dots unstuffed.
    pub data: String,
}

impl Received {
    /// A header's value, its folded lines joined.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        head.split("\r\n").find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].to_owned())
    }

    /// The body, with `\n` line ends.
    pub fn body(&self) -> String {
        self.data.split_once("\r\n\r\n").map(|(_, b)| b.replace("\r\n", "\n")).unwrap_or_default()
    }
}

pub struct FakeSmtp {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the server offers and expects.
#[derive(Clone)]
struct Config {
    mode: Mode,
    /// The mechanisms EHLO lists.
    mechanisms: &'static str,
    /// The one (user, password) AUTH accepts; None: any.
    login: Option<(String, String)>,
}

impl FakeSmtp {
    /// A server in `mode` offering AUTH PLAIN and LOGIN, accepting `login` (None: anyone).
    pub fn start(mode: Mode, login: Option<(&str, &str)>) -> FakeSmtp {
        FakeSmtp::with_mechanisms(mode, login, "PLAIN LOGIN")
    }

    /// The same, offering only `mechanisms` (e.g. "LOGIN").
    pub fn with_mechanisms(mode: Mode, login: Option<(&str, &str)>, mechanisms: &'static str) -> FakeSmtp {
        let config = Config { mode, mechanisms, login: login.map(|(u, p)| (u.to_owned(), p.to_owned())) };
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let port = listener.local_addr().expect("its address").port();
        let (received, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (r, s) = (received.clone(), stop.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = serve(stream, &config, &r, &s);
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeSmtp { port, received, stop, thread: Some(thread) }
    }

    /// `127.0.0.1:port`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A connection, plain or TLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn upgrade(self) -> io::Result<Conn> {
        match self {
            Conn::Plain(tcp) => {
                let tls = rustls::ServerConnection::new(server_tls()).map_err(io::Error::other)?;
                Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
            }
            tls => Ok(tls),
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while line.len() < 100_000 {
            if self.read(&mut byte)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if byte[0] == b'\n' {
                break;
            }
            line.push(byte[0]);
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn say(&mut self, text: &str) -> io::Result<()> {
        self.write_all(text.as_bytes())?;
        self.flush()
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(include_bytes!("../testdata/smtp_test_server.pem"))
            .collect::<Result<_, _>>()
            .expect("the test certificate");
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("../testdata/smtp_test_server.key")).expect("its key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the test certificate and key");
    Arc::new(config)
}

fn decode(b64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `<address>` of `MAIL FROM:<address> ...` or `RCPT TO:<address>`.
fn path(line: &str) -> String {
    line.split_once('<').and_then(|(_, r)| r.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}

fn serve(stream: TcpStream, config: &Config, received: &Mutex<Vec<Received>>, stop: &AtomicBool) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut conn = Conn::Plain(stream);
    match config.mode {
        Mode::Silent => {
            for _ in 0..3_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            return Ok(());
        }
        Mode::Trickle => {
            conn.say("220 ")?;
            for _ in 0..300 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                conn.say("x")?;
                thread::sleep(Duration::from_millis(100));
            }
            return Ok(());
        }
        Mode::Tls => conn = conn.upgrade()?,
        Mode::Plain | Mode::StartTls => {}
    }
    conn.say("220 fake.test ESMTP\r\n")?;
    let mut mail = Received::default();
    for _ in 0..200 {
        let line = conn.line()?;
        let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        let tls = matches!(conn, Conn::Tls(_));
        match verb.as_str() {
            "EHLO" => {
                let starttls = if config.mode == Mode::StartTls && !tls { "250-STARTTLS\r\n" } else { "" };
                conn.say(&format!("250-fake.test\r\n{starttls}250-AUTH {}\r\n250 8BITMIME\r\n", config.mechanisms))?;
            }
            "HELO" | "NOOP" => conn.say("250 OK\r\n")?,
            "STARTTLS" if config.mode == Mode::StartTls && !tls => {
                conn.say("220 2.0.0 Ready to start TLS\r\n")?;
                conn = conn.upgrade()?;
            }
            "AUTH" => {
                let args: Vec<&str> = line.split(' ').skip(1).collect();
                let mechanism = args.first().map(|m| m.to_ascii_uppercase()).unwrap_or_default();
                let (user, password) = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match args.get(1) {
                            Some(r) => r.to_string(),
                            None => {
                                conn.say("334 \r\n")?;
                                conn.line()?
                            }
                        };
                        let plain = decode(&response);
                        let mut parts = plain.split('\0').skip(1);
                        (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned())
                    }
                    "LOGIN" => {
                        let user = match args.get(1) {
                            Some(u) => decode(u),
                            None => {
                                conn.say("334 VXNlcm5hbWU6\r\n")?;
                                decode(&conn.line()?)
                            }
                        };
                        conn.say("334 UGFzc3dvcmQ6\r\n")?;
                        (user, decode(&conn.line()?))
                    }
                    _ => {
                        conn.say("504 5.5.4 Unrecognized authentication type\r\n")?;
                        continue;
                    }
                };
                let accepted = config.login.as_ref().is_none_or(|(u, p)| *u == user && *p == password);
                if accepted {
                    conn.say("235 2.7.0 Authentication successful\r\n")?;
                } else {
                    // Echoes what it was given: the client must not pass it on.
                    conn.say(&format!("535 5.7.8 Authentication failed for {user} with {password}\r\n"))?;
                }
                mail.auth = Some((mechanism, user, password));
            }
            "MAIL" => {
                mail.from = path(&line);
                conn.say("250 2.1.0 OK\r\n")?;
            }
            "RCPT" => {
                mail.to.push(path(&line));
                conn.say("250 2.1.5 OK\r\n")?;
            }
            "DATA" => {
                conn.say("354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut lines = Vec::new();
                for _ in 0..100_000 {
                    let l = conn.line()?;
                    if l == "." {
                        break;
                    }
                    lines.push(l.strip_prefix('.').map(str::to_owned).unwrap_or(l));
                }
                mail.data = lines.join("\r\n");
                mail.tls = tls;
                received.lock().unwrap_or_else(|p| p.into_inner()).push(mail.clone());
                mail = Received { auth: mail.auth.clone(), ..Received::default() };
                conn.say("250 2.0.0 OK: queued\r\n")?;
            }
            "RSET" => {
                mail = Received { auth: mail.auth.clone(), ..Received::default() };
                conn.say("250 OK\r\n")?;
            }
            "QUIT" => {
                conn.say("221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => conn.say("502 5.5.1 Command not implemented\r\n")?,
        }
    }
    Ok(())
}
