//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` say, through rustls (ring):
//!
//! | sslmode            | encrypted          | server certificate checked                       |
//! |--------------------|--------------------|--------------------------------------------------|
//! | disable            | never              | -                                                |
//! | allow, prefer (default) | when offered  | no                                               |
//! | require            | always             | only when sslrootcert is given (as libpq does)  |
//! | verify-ca          | always             | chains to sslrootcert                            |
//! | verify-full        | always             | chains to sslrootcert and names the host         |
//!
//! `sslrootcert=system` means the system's bundle ($SSL_CERT_FILE or Debian's).

use crate::error::{RunnerError, RunnerResult};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, Error as TlsError, RootCertStore, SignatureScheme};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> RunnerResult<SslMode> {
        match text {
            "disable" => Ok(SslMode::Disable),
            "allow" | "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(RunnerError::usage(
                format!("odoo-sync: DATABASE_URL: sslmode \"{other}\" is not a libpq sslmode"),
                "Use disable, allow, prefer, require, verify-ca or verify-full.",
            )),
        }
    }
}

/// The rustls client configuration for this mode and root certificate file.
pub fn client_config(mode: SslMode, rootcert: Option<&str>) -> RunnerResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_setup(&e.to_string()))?;
    let check = match (mode, rootcert) {
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(RunnerError::usage(
                "odoo-sync: DATABASE_URL: sslmode verify-ca and verify-full need sslrootcert",
                "Add sslrootcert=/path/to/ca.crt (your provider's CA certificate, e.g. Supabase's \
                 prod-ca-2021.crt) or sslrootcert=system.",
            ))
        }
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => None,
        (_, Some(file)) => Some(roots(file)?),
    };
    let chain = match check {
        None => None,
        Some(roots) => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_setup(&e.to_string()))?,
        ),
    };
    let verifier = Arc::new(Verifier { chain, names: mode == SslMode::VerifyFull, provider });
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

fn tls_setup(why: &str) -> RunnerError {
    RunnerError::usage(format!("odoo-sync: TLS setup: {why}"), "Check sslmode and sslrootcert in DATABASE_URL.")
}

fn roots(file: &str) -> RunnerResult<RootCertStore> {
    let path = if file == "system" {
        std::env::var("SSL_CERT_FILE").unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into())
    } else {
        file.to_owned()
    };
    let unreadable = |why: String| {
        RunnerError::usage(
            format!("odoo-sync: DATABASE_URL: sslrootcert {path}: {why}"),
            "Point sslrootcert at a PEM file of CA certificates readable by the runner's user.",
        )
    };
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| unreadable(e.to_string()))?
        .filter_map(Result::ok)
        .collect::<Vec<_>>();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(unreadable("no usable certificate in it".into()));
    }
    Ok(store)
}

/// The server's certificate as the mode says: not checked (prefer, and require without a root
/// certificate: encrypted, not authenticated, exactly libpq's behaviour), checked against the
/// roots (verify-ca, require with sslrootcert), or also for the host name (verify-full). The
/// handshake's signatures are checked in every mode.
#[derive(Debug)]
struct Verifier {
    chain: Option<Arc<WebPkiServerVerifier>>,
    names: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(TlsError::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(TlsError::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. }))
                if !self.names =>
            {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
