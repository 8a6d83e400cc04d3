//! TLS for server connections: rustls with the ring provider (no OpenSSL), with libpq's
//! `sslmode` semantics.
//!
//! | sslmode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `allow` | only if the server refuses a plain connection | not verified |
//! | `prefer` (default) | if the server supports it, else plain | not verified |
//! | `require` | always | not verified; verified like `verify-ca` when a root certificate is given (`sslrootcert`, or `~/.postgresql/root.crt` exists) |
//! | `verify-ca` | always | chain must lead to `sslrootcert` (default `~/.postgresql/root.crt`) |
//! | `verify-full` | always | chain, and the certificate must name the `host` |
//!
//! `sslrootcert=system` uses the operating system's trust store and implies `verify-full`
//! (like libpq 16, weaker explicit modes are refused). Client certificates come from `sslcert` /
//! `sslkey` (defaults `~/.postgresql/postgresql.crt` / `.key`, used only when the certificate file
//! exists). Unix-domain sockets never use TLS (PostgreSQL does not offer it there).
//!
//! Differences from libpq: host-name checks follow RFC 6125 via webpki (subjectAltName), with a
//! fallback to the subject's common name only when the certificate has no DNS/IP
//! subjectAltName (as libpq does); encrypted private keys (`sslpassword`), `sslcrl` and
//! `sslmode=prefer` with certificate verification are not supported.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::spec::{ConnSpec, SslMode};

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Encryption only.
    None,
    /// The chain must lead to a trusted root (host name not checked).
    Chain,
    /// Chain and host name.
    Full,
}

/// Where trusted roots come from.
#[derive(Debug, Clone)]
enum Roots {
    File(PathBuf),
    System,
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::File(p) => write!(f, "sslrootcert={}", p.display()),
            Roots::System => f.write_str("sslrootcert=system"),
        }
    }
}

/// A TLS connector for one connection attempt, and what it checks (for error messages).
pub(crate) struct Tls {
    pub(crate) connector: MakeRustlsConnect,
    pub(crate) ctx: TlsContext,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("ctx", &self.ctx).finish()
    }
}

/// What a connection attempt asked of TLS, to explain failures.
#[derive(Debug, Clone)]
pub(crate) struct TlsContext {
    pub(crate) mode: SslMode,
    pub(crate) verify: Verify,
    roots: Option<Roots>,
    client_cert: Option<PathBuf>,
}

impl TlsContext {
    /// The context of a connection that does not use TLS.
    pub(crate) fn plain(mode: SslMode) -> TlsContext {
        TlsContext {
            mode,
            verify: Verify::None,
            roots: None,
            client_cert: None,
        }
    }

    fn roots_note(&self) -> String {
        match &self.roots {
            Some(r) => format!(" ({r})"),
            None => String::new(),
        }
    }
}

/// libpq's per-user directory for certificates: `~/.postgresql`
/// (`%APPDATA%\postgresql` on Windows).
fn default_dir() -> Option<PathBuf> {
    let (var, sub) = if cfg!(windows) {
        ("APPDATA", "postgresql")
    } else {
        ("HOME", ".postgresql")
    };
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(sub))
}

/// Builds the TLS connector `spec` asks for; `Ok(None)` when the connection is plain
/// (`sslmode=disable`, or only Unix-domain sockets). Errors are one-line messages about the
/// TLS settings (missing or unreadable certificate files, contradictory settings).
pub(crate) fn setup(spec: &ConnSpec) -> Result<Option<Tls>, String> {
    let mode = spec.ssl_mode();
    if mode == SslMode::Disable || only_unix_sockets(spec) {
        return Ok(None);
    }
    let system = spec.ssl_root_cert() == Some(Path::new("system"));
    if system && !matches!(mode, SslMode::Prefer | SslMode::VerifyFull) {
        // libpq 16: sslrootcert=system makes verify-full the default and refuses weaker modes.
        return Err(format!(
            "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
        ));
    }
    let explicit_roots = spec.ssl_root_cert().map(|p| {
        if system {
            Roots::System
        } else {
            Roots::File(p.to_path_buf())
        }
    });
    let default_root = default_dir().map(|d| d.join("root.crt"));
    let (verify, roots) = match mode {
        SslMode::Disable | SslMode::Allow => (Verify::None, None),
        SslMode::Prefer if system => (Verify::Full, explicit_roots),
        SslMode::Prefer => (Verify::None, None),
        SslMode::Require => match explicit_roots {
            Some(r) => (Verify::Chain, Some(r)),
            None => match default_root.filter(|p| p.is_file()) {
                Some(p) => (Verify::Chain, Some(Roots::File(p))),
                None => (Verify::None, None),
            },
        },
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let verify = if mode == SslMode::VerifyCa {
                Verify::Chain
            } else {
                Verify::Full
            };
            match explicit_roots {
                Some(r) => (verify, Some(r)),
                None => match default_root {
                    Some(p) if p.is_file() => (verify, Some(Roots::File(p))),
                    Some(p) => {
                        return Err(format!(
                            "root certificate file \"{}\" does not exist (sslmode={mode} needs one: \
                             set sslrootcert to the CA certificate file, use sslrootcert=system for the \
                             operating system's trust store, or use a weaker sslmode)",
                            p.display()
                        ))
                    }
                    None => {
                        return Err(format!(
                            "sslmode={mode} needs sslrootcert (no home directory to look for \
                             ~/.postgresql/root.crt in)"
                        ))
                    }
                },
            }
        }
    };

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let trust = match &roots {
        Some(r) => Some(load_roots(r)?),
        None => None,
    };
    let verifier = Arc::new(PgVerifier {
        trust,
        check_name: verify == Verify::Full,
        provider: provider.clone(),
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let (mut config, client_cert) = match client_identity(spec)? {
        Some((path, chain, key)) => {
            let key_path = key_path(spec);
            let config = builder.with_client_auth_cert(chain, key).map_err(|e| {
                let why = match e {
                    rustls::Error::InconsistentKeys(_) => {
                        "the private key does not match the certificate".to_string()
                    }
                    other => other.to_string(),
                };
                format!(
                    "cannot use client certificate \"{}\" with key \"{}\": {why} (sslcert/sslkey)",
                    path.display(),
                    key_path.as_deref().unwrap_or(Path::new("?")).display()
                )
            })?;
            (config, Some(path))
        }
        None => (builder.with_no_client_auth(), None),
    };
    // PostgreSQL 17+ checks the ALPN protocol (and requires it with sslnegotiation=direct).
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Some(Tls {
        connector: MakeRustlsConnect::new(config),
        ctx: TlsContext {
            mode,
            verify,
            roots,
            client_cert,
        },
    }))
}

fn only_unix_sockets(spec: &ConnSpec) -> bool {
    let hosts = spec.config().get_hosts();
    !hosts.is_empty()
        && spec.config().get_hostaddrs().is_empty()
        && hosts.iter().all(|h| match h {
            tokio_postgres::config::Host::Tcp(_) => false,
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(_) => true,
        })
}

/// Reads a PEM file of certificates.
fn read_certs(path: &Path, what: &str, key: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
        format!(
            "cannot read {what} \"{}\": {} ({key})",
            path.display(),
            pem_error(&e)
        )
    })?;
    let certs = iter.collect::<Result<Vec<_>, _>>().map_err(|e| {
        format!(
            "cannot read {what} \"{}\": {} ({key})",
            path.display(),
            pem_error(&e)
        )
    })?;
    if certs.is_empty() {
        return Err(format!(
            "no PEM certificate found in {what} \"{}\" ({key})",
            path.display()
        ));
    }
    Ok(certs)
}

fn pem_error(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

fn load_roots(roots: &Roots) -> Result<Trust, String> {
    let mut store = RootCertStore::empty();
    let mut pinned = Vec::new();
    match roots {
        Roots::File(path) => {
            for cert in read_certs(path, "root certificate file", "sslrootcert")? {
                store.add(cert.clone()).map_err(|e| {
                    format!(
                        "invalid CA certificate in \"{}\": {e} (sslrootcert)",
                        path.display()
                    )
                })?;
                pinned.push(cert);
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(format!(
                    "no usable certificates in the operating system's trust store (sslrootcert=system){why}"
                ));
            }
        }
    }
    Ok(Trust {
        store: Arc::new(store),
        pinned,
    })
}

fn key_path(spec: &ConnSpec) -> Option<PathBuf> {
    spec.ssl_key()
        .map(Path::to_path_buf)
        .or_else(|| default_dir().map(|d| d.join("postgresql.key")))
}

type Identity = (
    PathBuf,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
);

/// The client certificate chain and key, if any (`sslcert`/`sslkey`, else the defaults when
/// `~/.postgresql/postgresql.crt` exists).
fn client_identity(spec: &ConnSpec) -> Result<Option<Identity>, String> {
    let cert_path = match spec.ssl_cert() {
        Some(p) => {
            if !p.exists() {
                return Err(format!(
                    "client certificate file \"{}\" does not exist (sslcert)",
                    p.display()
                ));
            }
            p.to_path_buf()
        }
        None => match default_dir().map(|d| d.join("postgresql.crt")) {
            Some(p) if p.is_file() => p,
            _ => return Ok(None),
        },
    };
    let chain = read_certs(&cert_path, "client certificate file", "sslcert")?;
    let Some(key_path) = key_path(spec) else {
        return Err(format!(
            "certificate \"{}\" present, but no private key file (set sslkey)",
            cert_path.display()
        ));
    };
    if !key_path.exists() {
        return Err(format!(
            "certificate \"{}\" present, but not private key file \"{}\" (sslkey)",
            cert_path.display(),
            key_path.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "no unencrypted PEM private key in \"{}\" (sslkey; encrypted keys are not supported)",
            key_path.display()
        ),
        other => format!(
            "cannot read private key file \"{}\": {} (sslkey)",
            key_path.display(),
            pem_error(&other)
        ),
    })?;
    Ok(Some((cert_path, chain, key)))
}

#[derive(Debug)]
struct Trust {
    store: Arc<RootCertStore>,
    /// The certificates of `sslrootcert` as given: a self-signed server certificate listed
    /// there is trusted as-is (OpenSSL accepts this; webpki would call it a CA used as an
    /// end entity).
    pinned: Vec<CertificateDer<'static>>,
}

/// Server certificate checks with libpq's semantics (see the module docs).
#[derive(Debug)]
struct PgVerifier {
    /// `None`: no certificate verification (encryption only).
    trust: Option<Trust>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(trust) = &self.trust else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        match verify_server_cert_signed_by_trust_anchor(
            &cert,
            &trust.store,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        ) {
            Ok(()) => {}
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(_)))
                if trust
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref()) => {}
            Err(e) => return Err(e),
        }
        if self.check_name {
            if let Err(e) = verify_server_name(&cert, server_name) {
                let names = CertNames::parse(end_entity);
                let host = server_name.to_str();
                let cn_ok =
                    names.san.is_empty() && names.cn.iter().any(|cn| host_matches_cn(&host, cn));
                if !cn_ok {
                    return Err(match e {
                        rustls::Error::InvalidCertificate(
                            CertificateError::NotValidForName
                            | CertificateError::NotValidForNameContext { .. },
                        ) => rustls::Error::InvalidCertificate(
                            CertificateError::NotValidForNameContext {
                                expected: server_name.to_owned(),
                                presented: names.display(),
                            },
                        ),
                        other => other,
                    });
                }
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The names a certificate is for: DNS and IP subjectAltNames, and the subject's common names.
#[derive(Debug, Default)]
struct CertNames {
    san: Vec<String>,
    cn: Vec<String>,
}

impl CertNames {
    fn parse(der: &CertificateDer<'_>) -> CertNames {
        use x509_cert::der::{Decode, Tag, Tagged};
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::ext::pkix::SubjectAltName;

        let mut out = CertNames::default();
        let Ok(cert) = x509_cert::Certificate::from_der(der.as_ref()) else {
            return out;
        };
        if let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() {
            for name in san.0 {
                match name {
                    GeneralName::DnsName(d) => out.san.push(d.to_string()),
                    GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        let ip = if let Ok(v4) = <[u8; 4]>::try_from(b) {
                            Some(std::net::IpAddr::from(v4))
                        } else {
                            <[u8; 16]>::try_from(b).ok().map(std::net::IpAddr::from)
                        };
                        if let Some(ip) = ip {
                            out.san.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let cn_oid = x509_cert::der::oid::db::rfc4519::CN;
        for rdn in cert.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                if atv.oid != cn_oid {
                    continue;
                }
                let text = matches!(
                    atv.value.tag(),
                    Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString
                );
                if let (true, Ok(s)) = (text, std::str::from_utf8(atv.value.value())) {
                    out.cn.push(s.to_string());
                }
            }
        }
        out
    }

    fn display(&self) -> Vec<String> {
        if self.san.is_empty() {
            self.cn.iter().map(|c| format!("CN={c}")).collect()
        } else {
            self.san.clone()
        }
    }
}

/// libpq's common-name match: case-insensitive, a leading `*.` matches exactly one label.
fn host_matches_cn(host: &str, cn: &str) -> bool {
    if cn.eq_ignore_ascii_case(host) {
        return true;
    }
    match (cn.strip_prefix("*."), host.split_once('.')) {
        (Some(rest), Some((first, host_rest))) => {
            !first.is_empty() && !rest.is_empty() && rest.eq_ignore_ascii_case(host_rest)
        }
        _ => false,
    }
}

/// The rustls error somewhere in `err`'s cause chain.
fn find_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
            if inner
                .downcast_ref::<rustls::pki_types::InvalidDnsNameError>()
                .is_some()
            {
                return None;
            }
        }
        cur = e.source();
    }
    None
}

fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

fn has_dns_name_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<rustls::pki_types::InvalidDnsNameError>()
            .is_some()
            || e.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|i| {
                    i.downcast_ref::<rustls::pki_types::InvalidDnsNameError>()
                        .is_some()
                })
        {
            return true;
        }
        cur = e.source();
    }
    false
}

/// Whether `err` is a failure of the TLS layer (negotiation, handshake, certificate checks,
/// alerts).
pub(crate) fn is_tls_failure(err: &tokio_postgres::Error) -> bool {
    err.to_string() == "error performing TLS handshake" || find_rustls(err).is_some()
}

/// A one-line explanation of a TLS failure, or `None` when `err` is not about TLS.
pub(crate) fn describe(
    err: &tokio_postgres::Error,
    ctx: &TlsContext,
    host: &str,
) -> Option<String> {
    if !is_tls_failure(err) {
        return None;
    }
    let mode = ctx.mode;
    let details = chain_text(err);
    if details == "server does not support TLS" {
        return Some(format!("the server does not support SSL (sslmode={mode})"));
    }
    if details == "no hostname provided for TLS handshake" {
        return Some(format!(
            "sslmode={mode} needs a host name for TLS (hostaddr alone is not enough: set host too)"
        ));
    }
    if has_dns_name_error(err) {
        return Some(format!(
            "host \"{host}\" is not a valid DNS name or IP address for TLS (sslmode={mode})"
        ));
    }
    let Some(r) = find_rustls(err) else {
        return Some(format!("TLS handshake failed: {details} (sslmode={mode})"));
    };
    Some(match r {
        rustls::Error::InvalidCertificate(c) => describe_cert_error(c, ctx, host),
        rustls::Error::AlertReceived(alert) => {
            let hint = match alert {
                AlertDescription::CertificateRequired => {
                    " (the server requires a client certificate: set sslcert and sslkey)"
                        .to_string()
                }
                AlertDescription::UnknownCA
                | AlertDescription::BadCertificate
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::AccessDenied => match &ctx.client_cert {
                    Some(p) => format!(
                        " (the server rejected the client certificate \"{}\")",
                        p.display()
                    ),
                    None => String::new(),
                },
                AlertDescription::NoApplicationProtocol => {
                    " (ALPN: the server does not accept protocol \"postgresql\")".to_string()
                }
                _ => String::new(),
            };
            format!("the server aborted the TLS handshake with alert \"{alert:?}\"{hint}")
        }
        rustls::Error::NoCertificatesPresented => {
            format!("the server presented no certificate (sslmode={mode})")
        }
        rustls::Error::PeerIncompatible(p) => {
            format!("TLS handshake failed: the server is incompatible: {p:?}")
        }
        other => format!("TLS handshake failed: {other} (sslmode={mode})"),
    })
}

fn describe_cert_error(c: &CertificateError, ctx: &TlsContext, host: &str) -> String {
    let mode = ctx.mode;
    let roots = ctx.roots_note();
    match c {
        CertificateError::NotValidForName => {
            format!("server certificate is not valid for host \"{host}\" (sslmode={mode})")
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let names = if presented.is_empty() {
                "it names no host".to_string()
            } else {
                format!("it is for {}", presented.join(", "))
            };
            format!(
                "server certificate is not valid for host \"{}\" ({names}; sslmode={mode})",
                expected.to_str()
            )
        }
        CertificateError::UnknownIssuer => {
            format!("certificate verify failed: unknown issuer{roots}")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("certificate verify failed: the server certificate has expired{roots}")
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("certificate verify failed: the server certificate is not yet valid{roots}")
        }
        CertificateError::BadSignature => {
            format!("certificate verify failed: bad signature{roots}")
        }
        CertificateError::BadEncoding => {
            "certificate verify failed: the server certificate is malformed".to_string()
        }
        other => format!("certificate verify failed: {other}{roots}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_matching() {
        assert!(host_matches_cn("db.example.com", "DB.example.com"));
        assert!(host_matches_cn("db.example.com", "*.example.com"));
        assert!(!host_matches_cn("a.db.example.com", "*.example.com"));
        assert!(!host_matches_cn("example.com", "*.example.com"));
        assert!(!host_matches_cn("db.example.org", "db.example.com"));
        assert!(host_matches_cn("127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn system_roots_need_verify_full() {
        let spec = ConnSpec::parse_with(
            "host=db.example sslmode=require sslrootcert=system",
            &|_| None,
            None,
        )
        .unwrap();
        let e = setup(&spec).unwrap_err();
        assert!(e.contains("weak sslmode \"require\""), "{e}");
    }

    #[test]
    fn missing_files_are_named() {
        let spec = ConnSpec::parse_with(
            "host=db.example sslmode=verify-ca sslrootcert=/nonexistent/ca.crt",
            &|_| None,
            None,
        )
        .unwrap();
        let e = setup(&spec).unwrap_err();
        assert!(
            e.contains("/nonexistent/ca.crt") && e.contains("sslrootcert"),
            "{e}"
        );
        let spec = ConnSpec::parse_with(
            "host=db.example sslmode=require sslcert=/nonexistent/c.crt",
            &|_| None,
            None,
        )
        .unwrap();
        let e = setup(&spec).unwrap_err();
        assert!(
            e.contains("/nonexistent/c.crt") && e.contains("sslcert"),
            "{e}"
        );
    }

    #[test]
    fn plain_for_disable_and_unix_sockets() {
        let spec = ConnSpec::parse_with("host=db sslmode=disable", &|_| None, None).unwrap();
        assert!(setup(&spec).unwrap().is_none());
        let spec = ConnSpec::parse_with("host=/tmp sslmode=verify-full", &|_| None, None).unwrap();
        assert!(setup(&spec).unwrap().is_none());
        let spec = ConnSpec::parse_with("host=db sslmode=require", &|_| None, None).unwrap();
        let tls = setup(&spec).unwrap().unwrap();
        assert_eq!(tls.ctx.verify, Verify::None);
    }
}
