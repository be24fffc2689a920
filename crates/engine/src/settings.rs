//! What a run needs to know, resolved by its host before the run starts: the extension reads
//! its `odoo_sync.*` settings (and their environment fallbacks), the runner its environment and
//! flags. The engine only reads this struct.

use crate::error::remember_secret;
use odoo_client::Secret;

/// Everything a run needs to know, resolved once at its start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub base_url: Option<String>,
    pub db: Option<String>,
    pub username: Option<String>,
    pub transport: String,
    pub ca_file: Option<String>,
    pub checkpoint_key: String,
    pub batch_size: i32,
    pub http_timeout: i32,
    pub max_retries: i32,
    pub lookback: i64,
    pub safety_lag: i64,
    pub max_response_bytes: u64,
    pub company_ids: Vec<i64>,
    pub prefetch: bool,
    /// Parallel HTTP streams of a full or first window (1: none).
    pub fetch_streams: usize,
    /// A reconciliation that repairs more records than this alerts.
    pub drift_alert_threshold: i64,
    /// Where failure, recovery and drift alerts go (a Slack-compatible webhook); None: nowhere.
    pub alert_webhook_url: Option<String>,
    /// Where the same alerts go by email; None: no recipient. Built by `EmailSettings::from_parts`.
    pub alert_email: Option<EmailSettings>,
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS before anything else is said (port 587). A server
    /// that does not offer STARTTLS is an error, never a silent fall-back to plain text.
    StartTls,
    /// TLS from the first byte (implicit TLS, port 465).
    Tls,
    /// No encryption: only for a relay on a trusted network (port 25), and never with a password.
    None,
}

impl SmtpTls {
    /// The setting's text: `starttls` (the default), `tls` or `none`, any case.
    pub fn parse(text: &str) -> Result<SmtpTls, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "starttls" => Ok(SmtpTls::StartTls),
            "tls" => Ok(SmtpTls::Tls),
            "none" => Ok(SmtpTls::None),
            _ => Err(format!(
                "\"{text}\" is not an SMTP TLS mode: use starttls (STARTTLS, port 587; the default), tls (implicit \
                 TLS, port 465) or none (a relay on a trusted network, port 25, no password)."
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }

    /// The port a server without one is reached on: the mode's standard port.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Alert emails: who gets them and through which SMTP server. Built (and checked) by
/// `from_parts`; the engine only reads it.
#[derive(Clone, Debug)]
pub struct EmailSettings {
    /// The recipients' addresses, at least one.
    pub to: Vec<String>,
    /// The sender's address (the From, under the display name odoo_sync).
    pub from: String,
    /// `host:port` (an IPv6 address in brackets), the port always present: `from_parts` adds the
    /// TLS mode's standard port when the setting has none.
    pub server: String,
    pub tls: SmtpTls,
    pub user: Option<String>,
    /// The SMTP password: a secret the host supplies (never a setting), registered with
    /// `remember_secret` so that no message can carry it.
    pub password: Option<Secret>,
    /// A PEM file of extra CA certificates trusted for the server (the system roots are too).
    pub ca_file: Option<String>,
}

impl EmailSettings {
    /// Checks the alert email settings and builds them; None when there is no recipient (alert
    /// emails are off). Every part is the raw setting (None or blank: unset). Pure: the CA file
    /// is read when an email is sent, as the Odoo client reads it when it connects.
    ///
    /// `server` is `host` or `host:port` (`[2001:db8::1]:587` for IPv6); without a port, the TLS
    /// mode's standard one (587, 465, 25). There is no default host: alerts never go to a server
    /// nobody named. `tls` none refuses a user and password: a password is never sent in clear.
    pub fn from_parts(
        to: Option<&str>,
        from: Option<&str>,
        server: Option<&str>,
        tls: Option<&str>,
        user: Option<&str>,
        password: Option<Secret>,
        ca_file: Option<&str>,
    ) -> Result<Option<EmailSettings>, String> {
        let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let Some(to) = given(to) else { return Ok(None) };
        let to = recipients(&to)?;
        let from = given(from).ok_or_else(|| {
            "alert emails have recipients but no sender (from): set the address they are sent from, e.g. \
             odoo-sync@example.com."
                .to_owned()
        })?;
        check_address(&from, "the alert email sender (from)")?;
        let tls = SmtpTls::parse(tls.unwrap_or(""))?;
        let server = given(server).ok_or_else(|| {
            format!(
                "alert emails have recipients but no SMTP server: set host:port, e.g. smtp.example.com:{}.",
                tls.default_port()
            )
        })?;
        let (host, port) = parse_server(&server, tls)?;
        let user = given(user);
        let password = password.filter(|p| !p.0.is_empty());
        if tls == SmtpTls::None && (user.is_some() || password.is_some()) {
            return Err("the SMTP TLS mode is none, which never sends a password in clear: use starttls or tls to \
                        log in, or unset the SMTP user and password for a relay that needs no login."
                .into());
        }
        match (&user, &password) {
            (Some(u), None) => {
                return Err(format!(
                    "the SMTP user \"{u}\" has no password: supply the SMTP password, or unset the user for a \
                     relay that needs no login."
                ))
            }
            (None, Some(_)) => {
                return Err("an SMTP password is set but no SMTP user: set the user it belongs to.".into())
            }
            _ => {}
        }
        if let Some(p) = &password {
            remember_secret(&p.0);
        }
        Ok(Some(EmailSettings {
            to,
            from,
            server: join_server(&host, port),
            tls,
            user,
            password,
            ca_file: given(ca_file),
        }))
    }

    /// The host (an IPv6 address without its brackets) and the port of `server`.
    pub fn host_port(&self) -> Result<(String, u16), String> {
        parse_server(&self.server, self.tls)
    }
}

/// The comma-separated recipients, each an address.
fn recipients(list: &str) -> Result<Vec<String>, String> {
    let to: Vec<String> = list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
    if to.is_empty() {
        return Err(format!(
            "\"{list}\" names no alert email recipient (to): give addresses separated by commas, e.g. \
             ops@example.com, oncall@example.com."
        ));
    }
    for address in &to {
        check_address(address, "an alert email recipient (to)")?;
    }
    Ok(to)
}

/// A bare address (`user@domain`), as SMTP's envelope takes it: no display name, no comment.
fn check_address(address: &str, what: &str) -> Result<(), String> {
    address.parse::<lettre::Address>().map(|_| ()).map_err(|_| {
        format!("\"{address}\" is not a valid address for {what}: give a bare address such as ops@example.com.")
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`: the host and the port (the TLS mode's standard
/// one when absent).
fn parse_server(server: &str, tls: SmtpTls) -> Result<(String, u16), String> {
    let usage = "give host or host:port, e.g. smtp.example.com:587 ([2001:db8::1]:587 for IPv6)";
    let bad = |why: &str| format!("\"{server}\" is not a usable SMTP server: {why}; {usage}.");
    if server.contains("://") {
        return Err(bad("a URL is not a server"));
    }
    if server.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '?' | '#')) {
        return Err(bad("it contains white space or one of / @ ? #"));
    }
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(|| bad("the IPv6 address has no closing ]"))?;
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("what is in brackets is not an IPv6 address"));
        }
        match after {
            "" => (v6, None),
            _ => (v6, Some(after.strip_prefix(':').ok_or_else(|| bad("only :port may follow the ]"))?)),
        }
    } else {
        match server.split_once(':') {
            Some((_, rest)) if rest.contains(':') => return Err(bad("an IPv6 address must be in brackets")),
            Some((host, port)) => (host, Some(port)),
            None => (server, None),
        }
    };
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    let port = match port {
        None => tls.default_port(),
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| bad("the port is not from 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

fn join_server(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The Odoo password or API key, from wherever the host keeps it.
#[derive(Clone)]
pub struct Credentials {
    pub secret: Secret,
    pub is_api_key: bool,
}

/// Why a base URL is not usable, or Ok. Shared by the extension's setting check and the runner.
pub fn validate_base_url(url: &str) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err(format!("\"{url}\" is not an http:// or https:// URL."));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("\"{url}\" has no host."));
    }
    if host.contains('@') {
        return Err("Credentials in the URL are not allowed; use scout.odoo_set_secret().".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("The URL contains white space or control characters.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::redact;

    fn parts(
        to: Option<&str>,
        from: Option<&str>,
        server: Option<&str>,
        tls: Option<&str>,
        login: Option<(&str, &str)>,
    ) -> Result<Option<EmailSettings>, String> {
        let (user, password) = login.map_or((None, None), |(u, p)| (Some(u), Some(Secret(p.to_owned()))));
        EmailSettings::from_parts(to, from, server, tls, user, password, None)
    }

    fn err(r: Result<Option<EmailSettings>, String>) -> String {
        r.expect_err("an error")
    }

    const FROM: Option<&str> = Some("odoo-sync@example.com");
    const SERVER: Option<&str> = Some("smtp.example.com");

    #[test]
    fn no_recipient_means_no_alert_email() {
        assert!(parts(None, None, None, None, None).unwrap().is_none());
        assert!(parts(Some("  "), FROM, SERVER, Some("bogus"), None).unwrap().is_none());
    }

    #[test]
    fn a_full_setting_is_parsed_with_the_tls_modes_standard_port() {
        let e = EmailSettings::from_parts(
            Some(" ops@example.com,oncall@example.com , "),
            FROM,
            SERVER,
            None,
            Some("alerts"),
            Some(Secret("smtp-secret-xyz".into())),
            Some(" /etc/ssl/private-ca.pem "),
        )
        .unwrap()
        .unwrap();
        assert_eq!(e.to, ["ops@example.com", "oncall@example.com"]);
        assert_eq!(
            (e.from.as_str(), e.server.as_str(), e.tls),
            ("odoo-sync@example.com", "smtp.example.com:587", SmtpTls::StartTls)
        );
        assert_eq!((e.user.as_deref(), e.ca_file.as_deref()), (Some("alerts"), Some("/etc/ssl/private-ca.pem")));
        assert_eq!(e.host_port().unwrap(), ("smtp.example.com".to_owned(), 587));
        // The password is a secret: registered, so that no message can carry it.
        assert_eq!(redact("AUTH failed for smtp-secret-xyz"), "AUTH failed for ***");
        assert!(!format!("{e:?}").contains("smtp-secret-xyz"));

        let port = |server: &str, tls: &str| {
            parts(Some("ops@example.com"), FROM, Some(server), Some(tls), None).unwrap().unwrap().server
        };
        assert_eq!(port("smtp.example.com", "TLS"), "smtp.example.com:465");
        assert_eq!(port("relay.internal", "none"), "relay.internal:25");
        assert_eq!(port("smtp.example.com:2525", "starttls"), "smtp.example.com:2525");
        assert_eq!(port("[2001:db8::1]", "tls"), "[2001:db8::1]:465");
        assert_eq!(port("[::1]:2525", "none"), "[::1]:2525");
        let v6 = parts(Some("ops@example.com"), FROM, Some("[::1]:2525"), Some("none"), None).unwrap().unwrap();
        assert_eq!(v6.host_port().unwrap(), ("::1".to_owned(), 2525));
    }

    #[test]
    fn each_wrong_part_says_what_is_wrong_and_what_is_allowed() {
        let to = Some("ops@example.com");
        let e = err(parts(to, None, SERVER, None, None));
        assert!(e.contains("no sender (from)") && e.contains("@example.com"), "{e}");
        let e = err(parts(Some("ops@example.com, not-an-address"), FROM, SERVER, None, None));
        assert!(e.contains("\"not-an-address\"") && e.contains("recipient (to)"), "{e}");
        let e = err(parts(Some(","), FROM, SERVER, None, None));
        assert!(e.contains("names no alert email recipient"), "{e}");
        let e = err(parts(to, Some("Ops <ops@example.com>"), SERVER, None, None));
        assert!(e.contains("sender (from)") && e.contains("bare address"), "{e}");
        let e = err(parts(to, FROM, None, None, None));
        assert!(e.contains("no SMTP server") && e.contains("smtp.example.com:587"), "{e}");
        let e = err(parts(to, FROM, SERVER, Some("ssl"), None));
        assert!(e.contains("\"ssl\"") && e.contains("starttls") && e.contains("tls") && e.contains("none"), "{e}");
        for (server, why) in [
            ("smtp://smtp.example.com", "a URL"),
            ("smtp.example.com:0", "the port"),
            ("smtp.example.com:65536", "the port"),
            ("smtp.example.com:smtp", "the port"),
            ("2001:db8::1", "in brackets"),
            ("[2001:db8::1", "closing ]"),
            ("[smtp.example.com]:25", "not an IPv6"),
            ("[::1]x", ":port"),
            (":587", "no host"),
            ("smtp example.com", "white space"),
            ("user@smtp.example.com", "white space or one of"),
        ] {
            let e = err(parts(to, FROM, Some(server), None, None));
            assert!(
                e.contains(&format!("\"{server}\"")) && e.contains(why) && e.contains("host:port"),
                "{server}: {e}"
            );
        }
        let e = err(parts(to, FROM, SERVER, Some("none"), Some(("alerts", "pw-in-clear"))));
        assert!(e.contains("never sends a password in clear"), "{e}");
        let e = err(EmailSettings::from_parts(to, FROM, SERVER, None, Some("alerts"), None, None));
        assert!(e.contains("\"alerts\" has no password"), "{e}");
        let e = err(EmailSettings::from_parts(to, FROM, SERVER, None, None, Some(Secret("pw-alone".into())), None));
        assert!(e.contains("no SMTP user"), "{e}");
        // An empty password is no password.
        let e =
            err(EmailSettings::from_parts(to, FROM, SERVER, None, Some("alerts"), Some(Secret(String::new())), None));
        assert!(e.contains("has no password"), "{e}");
    }
}
