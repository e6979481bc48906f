//! Connecting to the server: TLS as libpq means the URL's `ssl*` parameters, the session
//! settings, and what a failed call says.
//!
//! The `postgres` crate knows only `sslmode` disable, prefer and require, and checks
//! every TLS certificate in full; libpq's modes are translated here:
//!
//! | `sslmode` | TLS | certificate chain | host name |
//! |---|---|---|---|
//! | `disable` | never | | |
//! | `allow` | only if the server refuses plaintext | when a root file exists | |
//! | `prefer` (default) | if the server offers it; plaintext after a failed handshake | when a root file exists | |
//! | `require` | always | when a root file exists | |
//! | `verify-ca` | always | always (a root file is needed) | |
//! | `verify-full` | always | always (a root file is needed) | checked |
//!
//! "A root file exists": `sslrootcert` names a file that exists, or (without it)
//! `~/.postgresql/root.crt` does; `sslrootcert=system` takes the platform's roots and
//! needs `verify-full`. A client certificate is sent when `sslcert` (default
//! `~/.postgresql/postgresql.crt`) exists; its key `sslkey` (default
//! `~/.postgresql/postgresql.key`) must then exist and be private to its owner.
//! `sslnegotiation=direct` starts TLS at once (PostgreSQL 17) and needs `require` or
//! stronger. The client is rustls with ring's cryptography: nothing to install, and the
//! same on every platform; its host-name check reads the certificate's subject
//! alternative names only (libpq falls back to the common name when there are none).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::error::Error;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext; TLS if the server refuses plaintext.
    Allow,
    /// TLS if the server offers it; plaintext after a failed handshake.
    Prefer,
    /// TLS; the chain checked only when a root file exists.
    Require,
    /// TLS and the chain checked.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// The TLS parameters of a URL (see the module docs).
#[derive(Debug, Clone)]
pub struct Tls {
    /// `sslmode`.
    pub mode: SslMode,
    /// `sslrootcert` as given (`system`, or a path); `None`: `~/.postgresql/root.crt`.
    pub rootcert: Option<String>,
    /// `sslcert`; `None`: `~/.postgresql/postgresql.crt`.
    pub cert: Option<String>,
    /// `sslkey`; `None`: `~/.postgresql/postgresql.key`.
    pub key: Option<String>,
    /// `sslnegotiation=direct`.
    pub direct: bool,
    /// `sslsni` (default on): send the host name in the handshake.
    pub sni: bool,
}

/// A certificate file that cannot be used: the parameter, its value, and why.
pub(super) struct FileError {
    field: &'static str,
    value: String,
    reason: String,
}

impl FileError {
    fn new(field: &'static str, path: &Path, reason: impl Into<String>) -> FileError {
        FileError {
            field,
            value: path.display().to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`: {}", self.field, self.value, self.reason)
    }
}

impl From<FileError> for Error {
    fn from(e: FileError) -> Error {
        Error::invalid(e.field, e.value, e.reason)
    }
}

fn home_file(name: &str) -> Option<PathBuf> {
    std::env::home_dir().map(|h| h.join(".postgresql").join(name))
}

impl Tls {
    /// The URL parameters read here rather than by the driver.
    pub const PARAMETERS: &'static [&'static str] = &[
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslnegotiation",
        "sslsni",
    ];

    /// Reads the (decoded) TLS parameters; a value libpq would refuse is a
    /// `ValidationError` naming its parameter.
    pub fn from_params(params: &[(String, String)]) -> Result<Tls, Error> {
        let get = |key: &str| {
            params
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let rootcert = get("sslrootcert").filter(|v| !v.is_empty());
        let system = rootcert.as_deref() == Some("system");
        let mode = match get("sslmode") {
            Some(v) => SslMode::parse(&v).ok_or_else(|| {
                Error::invalid(
                    "sslmode",
                    v,
                    "disable, allow, prefer, require, verify-ca or verify-full",
                )
            })?,
            // As libpq: the platform's roots are only worth checking with the host name.
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system && mode != SslMode::VerifyFull {
            return Err(Error::invalid(
                "sslmode",
                mode.name(),
                "verify-full with sslrootcert=system (anyone can get a certificate the \
                 platform trusts for a name they own: libpq refuses weaker modes)",
            ));
        }
        let direct = match get("sslnegotiation").as_deref() {
            None | Some("postgres") => false,
            Some("direct") => true,
            Some(other) => {
                return Err(Error::invalid(
                    "sslnegotiation",
                    other,
                    "postgres (the default) or direct",
                ))
            }
        };
        if direct && matches!(mode, SslMode::Disable | SslMode::Allow | SslMode::Prefer) {
            return Err(Error::invalid(
                "sslmode",
                mode.name(),
                "require, verify-ca or verify-full with sslnegotiation=direct (a direct \
                 handshake has no plaintext to fall back to)",
            ));
        }
        let sni = match get("sslsni").as_deref() {
            None | Some("1") => true,
            Some("0") => false,
            Some(other) => return Err(Error::invalid("sslsni", other, "1 (the default) or 0")),
        };
        Ok(Tls {
            mode,
            rootcert,
            cert: get("sslcert").filter(|v| !v.is_empty()),
            key: get("sslkey").filter(|v| !v.is_empty()),
            direct,
            sni,
        })
    }

    /// Reads the certificate files now, so that a bad one is a `ValidationError` when the
    /// URL is parsed (they are read again at each connection, as libpq does).
    pub fn check(&self) -> Result<(), Error> {
        if self.mode == SslMode::Disable {
            return Ok(());
        }
        self.client_config().map(drop).map_err(Error::from)
    }

    /// The roots to check the server against, if any (libpq's `have_rootcert`).
    fn roots(&self) -> Result<Option<RootCertStore>, FileError> {
        let path = match self.rootcert.as_deref() {
            Some("system") => return system_roots().map(Some),
            Some(p) => Some(PathBuf::from(p)),
            None => home_file("root.crt"),
        };
        let Some(path) = path.filter(|p| p.exists()) else {
            if self.mode.verifies() {
                let shown = self
                    .rootcert
                    .clone()
                    .or_else(|| home_file("root.crt").map(|p| p.display().to_string()))
                    .unwrap_or_else(|| "~/.postgresql/root.crt".to_owned());
                return Err(FileError {
                    field: "sslrootcert",
                    value: shown,
                    reason: format!(
                        "a file of CA certificates: it does not exist, and sslmode={} checks \
                         the server's certificate (give the file, use sslrootcert=system for \
                         the platform's roots, or sslmode=require to encrypt without checking)",
                        self.mode.name()
                    ),
                });
            }
            return Ok(None);
        };
        let mut roots = RootCertStore::empty();
        let certs = read_certs("sslrootcert", &path)?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(FileError::new(
                "sslrootcert",
                &path,
                "a PEM file of CA certificates (none could be read from it)",
            ));
        }
        Ok(Some(roots))
    }

    /// The client certificate chain and key, when a certificate file exists.
    fn client_identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, FileError> {
        let cert = match &self.cert {
            Some(p) => Some(PathBuf::from(p)),
            None => home_file("postgresql.crt"),
        };
        // As libpq: no certificate file, no client certificate (the server may not ask).
        let Some(cert) = cert.filter(|p| p.exists()) else {
            return Ok(None);
        };
        let chain = read_certs("sslcert", &cert)?;
        if chain.is_empty() {
            return Err(FileError::new(
                "sslcert",
                &cert,
                "a PEM file of a client certificate (none could be read from it)",
            ));
        }
        let key = match &self.key {
            Some(p) => PathBuf::from(p),
            None => home_file("postgresql.key").unwrap_or_default(),
        };
        Ok(Some((chain, read_key(&key)?)))
    }

    pub(super) fn client_config(&self) -> Result<ClientConfig, FileError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Verifier {
            roots: self.roots()?.map(Arc::new),
            check_name: self.mode == SslMode::VerifyFull,
            algorithms: provider.signature_verification_algorithms,
        };
        let identity = self.client_identity()?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FileError {
                field: "sslmode",
                value: self.mode.name().to_owned(),
                reason: format!("no TLS version to offer: {e}"),
            })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match identity {
            Some((chain, key)) => {
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| FileError {
                        field: "sslkey",
                        value: self
                            .key
                            .clone()
                            .unwrap_or_else(|| "~/.postgresql/postgresql.key".into()),
                        reason: format!("the private key of the client certificate: {e}"),
                    })?
            }
            None => builder.with_no_client_auth(),
        };
        // As libpq 17: ALPN names the protocol (required by a direct handshake).
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        config.enable_sni = self.sni;
        Ok(config)
    }
}

fn system_roots() -> Result<RootCertStore, FileError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(FileError {
            field: "sslrootcert",
            value: "system".into(),
            reason: format!("the platform's root certificates: {why}"),
        });
    }
    Ok(roots)
}

fn read_certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, FileError> {
    let bytes = std::fs::read(path).map_err(|e| FileError::new(field, path, e.to_string()))?;
    // PEM only, as libpq reads certificates (it tries DER for a key only).
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FileError::new(field, path, format!("a PEM file of certificates ({e})")))
}

/// The client key, refused (as libpq does) when others may read it.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, FileError> {
    use std::os::unix::fs::MetadataExt;
    let meta =
        match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileError::new(
                "sslkey",
                path,
                "the client certificate's private key: certificate present, but not its key file",
            )),
            Err(e) => return Err(FileError::new("sslkey", path, e.to_string())),
        };
    if !meta.is_file() {
        return Err(FileError::new("sslkey", path, "a regular file"));
    }
    let loose = if meta.uid() == 0 {
        meta.mode() & 0o037
    } else {
        meta.mode() & 0o077
    };
    if loose != 0 {
        return Err(FileError::new(
            "sslkey",
            path,
            "a private key file without group or world access: it has group or world \
             access (chmod 0600, or 0640 if owned by root)",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| FileError::new("sslkey", path, e.to_string()))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .ok()
        .or_else(|| PrivateKeyDer::try_from(bytes).ok())
        .ok_or_else(|| {
            FileError::new(
                "sslkey",
                path,
                "an unencrypted PEM or DER private key (sslpassword is not supported)",
            )
        })
}

/// Checks the server's certificate as the `sslmode` says: the chain when there are roots,
/// the host name in `verify-full`; the handshake's signatures always.
#[derive(Debug)]
struct Verifier {
    roots: Option<Arc<RootCertStore>>,
    check_name: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
            if self.check_name {
                verify_server_name(&cert, server_name)?;
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
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The error with what the server or the socket said (`postgres::Error` alone says only
/// "db error").
pub(super) fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
