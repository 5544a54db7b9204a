//! TLS serving: certificate sources (files reloaded on change, generated) and an HTTPS server.
//!
//! Shared by the admission webhooks and the metrics endpoint:
//!
//! - [`serve_tls`] serves an axum [`Router`] over HTTP/1.1 + TLS (rustls, ring) until a shutdown
//!   future completes, then drains in-flight requests for at most [`DRAIN_TIMEOUT`].
//! - [`SwappableCert`] is a certificate resolver whose certificate can be replaced at any time
//!   (new connections get the new one).
//! - [`DirCertResolver`] serves `tls.crt` / `tls.key` from a directory (a mounted Secret, e.g.
//!   from cert-manager) and reloads them when they change.
//! - [`self_signed`] / [`self_signed_pem`] make an in-memory self-signed certificate.
//!
//! Private keys are never logged.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long in-flight requests may take to finish after shutdown was requested.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take for the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send the request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often [`DirCertResolver::watch`] looks at the files by default.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// Name of the certificate file in a certificate directory (the `kubernetes.io/tls` key).
pub const CERT_FILE: &str = "tls.crt";
/// Name of the private key file in a certificate directory.
pub const KEY_FILE: &str = "tls.key";

/// Errors of the TLS helpers.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The certificate PEM holds no certificate, or cannot be parsed.
    #[error("invalid certificate PEM: {0}")]
    Certificate(String),
    /// The private key PEM holds no key, or cannot be parsed.
    #[error("invalid private key PEM: {0}")]
    PrivateKey(String),
    /// rustls refused the certificate/key pair (e.g. the key does not match the certificate).
    #[error("unusable certificate/key pair: {0}")]
    Rustls(#[from] rustls::Error),
    /// Certificate generation failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The crypto provider of every TLS configuration we build (ring, like the kube client).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls server configuration: TLS 1.2 and 1.3, no client certificates, ALPN
/// `http/1.1` only (no HTTP/2, so no Rapid Reset exposure).
pub fn server_config(
    certs: Arc<dyn ResolvesServerCert>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `router` over HTTPS on `listener` until `shutdown` completes.
///
/// Each connection is handled in its own task; a failed or slow handshake only ends that
/// connection. On shutdown the listener is closed at once, open connections finish their
/// current request (keep-alive is ended) and are given [`DRAIN_TIMEOUT`] to do so.
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    certs: Arc<dyn ResolvesServerCert>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let config = server_config(certs).map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let graceful = GracefulShutdown::new();
    let local = listener.local_addr().ok();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::debug!(addr = ?local, "stopped accepting; draining connections");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(addr = ?local, "connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

/// Parses a PEM certificate chain and private key into a rustls [`CertifiedKey`], checking that
/// the key belongs to the first certificate.
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no CERTIFICATE block".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::PrivateKey(e.to_string()))?;
    Ok(CertifiedKey::from_der(chain, key, &provider())?)
}

/// A self-signed certificate and its key, PEM encoded.
#[derive(Clone)]
pub struct PemPair {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8). Never log it.
    pub key_pem: String,
}

impl fmt::Debug for PemPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemPair")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// A new self-signed serving certificate (ECDSA P-256) for `hosts` (DNS names or IP
/// addresses), PEM encoded.
pub fn self_signed_pem(hosts: &[String]) -> Result<PemPair, TlsError> {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(hosts.to_vec())?;
    Ok(PemPair {
        cert_pem: cert.pem(),
        key_pem: signing_key.serialize_pem(),
    })
}

/// A new in-memory self-signed serving certificate for `hosts`, ready for rustls (e.g. for the
/// metrics endpoint when no certificate directory is configured):
///
/// ```no_run
/// # fn f() -> Result<(), openclaw_operator::tls::TlsError> {
/// use std::sync::Arc;
/// use openclaw_operator::tls::{self, SwappableCert};
/// let certs = Arc::new(SwappableCert::new(tls::self_signed(&["localhost".to_string()])?));
/// # let _ = certs; Ok(()) }
/// ```
pub fn self_signed(hosts: &[String]) -> Result<Arc<CertifiedKey>, TlsError> {
    let pair = self_signed_pem(hosts)?;
    Ok(Arc::new(certified_key_from_pem(
        pair.cert_pem.as_bytes(),
        pair.key_pem.as_bytes(),
    )?))
}

/// A certificate resolver that always serves one certificate, which can be replaced at any
/// time; connections made afterwards get the new one.
pub struct SwappableCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for SwappableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwappableCert").finish_non_exhaustive()
    }
}

impl SwappableCert {
    /// Serves `cert`.
    pub fn new(cert: Arc<CertifiedKey>) -> Self {
        Self {
            current: RwLock::new(cert),
        }
    }

    /// Serves `cert` from now on.
    pub fn set(&self, cert: Arc<CertifiedKey>) {
        match self.current.write() {
            Ok(mut guard) => *guard = cert,
            Err(poisoned) => *poisoned.into_inner() = cert,
        }
    }

    /// The certificate served now.
    pub fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ResolvesServerCert for SwappableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// Serves `tls.crt` / `tls.key` from a directory and reloads them when their content changes.
///
/// Made for a mounted Secret (cert-manager's or any `kubernetes.io/tls` Secret): the kubelet
/// updates such a mount by swapping a `..data` symlink, so both files change at once. The files
/// are compared by content hash (not modification time, which symlink swaps do not reliably
/// change). A new pair that cannot be used (unparseable, key not matching, only one file
/// updated yet) is reported in the log and the previous pair keeps being served; it is tried
/// again on every check.
pub struct DirCertResolver {
    dir: PathBuf,
    cert: SwappableCert,
    /// Hash of the file contents last seen (loaded or rejected), to log each change once.
    seen: RwLock<[u8; 32]>,
}

impl fmt::Debug for DirCertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirCertResolver")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The two files and a hash over both.
struct FilePair {
    cert: Vec<u8>,
    key: Vec<u8>,
    hash: [u8; 32],
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

impl DirCertResolver {
    /// Loads the pair from `dir`; fails when it cannot be used.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let dir = dir.into();
        let FilePair { cert, key, hash } = Self::read_pair(&dir)?;
        let key = certified_key_from_pem(&cert, &key)?;
        tracing::info!(dir = %dir.display(), "loaded the TLS certificate");
        Ok(Self {
            dir,
            cert: SwappableCert::new(Arc::new(key)),
            seen: RwLock::new(hash),
        })
    }

    fn read_pair(dir: &Path) -> Result<FilePair, TlsError> {
        let cert = read(&dir.join(CERT_FILE))?;
        let key = read(&dir.join(KEY_FILE))?;
        let mut hasher = Sha256::new();
        hasher.update((cert.len() as u64).to_be_bytes());
        hasher.update(&cert);
        hasher.update(&key);
        Ok(FilePair {
            cert,
            key,
            hash: hasher.finalize().into(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.cert.get()
    }

    /// Looks at the files once. `Ok(true)`: a new pair is served from now on; `Ok(false)`:
    /// nothing changed; `Err`: the files changed but cannot be used (the old pair is kept).
    pub fn reload(&self) -> Result<bool, TlsError> {
        let FilePair { cert, key, hash } = Self::read_pair(&self.dir)?;
        let seen = match self.seen.read() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        if hash == seen {
            return Ok(false);
        }
        let key = certified_key_from_pem(&cert, &key)?;
        self.cert.set(Arc::new(key));
        match self.seen.write() {
            Ok(mut g) => *g = hash,
            Err(p) => *p.into_inner() = hash,
        }
        Ok(true)
    }

    /// Checks the files every `interval` in a background task, which ends when the resolver
    /// is dropped. Failures are logged once per distinct file content.
    pub fn watch(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut failing_since: Option<[u8; 32]> = None;
            loop {
                tokio::time::sleep(interval).await;
                let Some(this) = weak.upgrade() else { return };
                match this.reload() {
                    Ok(true) => {
                        failing_since = None;
                        tracing::info!(dir = %this.dir.display(), "reloaded the TLS certificate");
                    }
                    Ok(false) => failing_since = None,
                    Err(e) => {
                        // Log each bad content once, not every few seconds.
                        let now = Self::read_pair(&this.dir).map_or([0; 32], |p| p.hash);
                        if failing_since != Some(now) {
                            tracing::error!(
                                dir = %this.dir.display(),
                                error = %e,
                                "the TLS certificate files changed but cannot be used; still serving the previous certificate"
                            );
                        }
                        failing_since = Some(now);
                    }
                }
            }
        })
    }
}

impl ResolvesServerCert for DirCertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.cert.resolve(hello)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn hosts() -> Vec<String> {
        vec!["localhost".into(), "127.0.0.1".into()]
    }

    #[test]
    fn self_signed_parses_and_matches() {
        let pair = self_signed_pem(&hosts()).unwrap();
        assert!(pair.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let key =
            certified_key_from_pem(pair.cert_pem.as_bytes(), pair.key_pem.as_bytes()).unwrap();
        assert_eq!(key.cert.len(), 1);
        assert!(
            !format!("{pair:?}").contains("PRIVATE"),
            "Debug must not show the key"
        );
        assert!(self_signed(&hosts()).is_ok());
    }

    #[test]
    fn mismatched_or_garbage_pairs_are_refused() {
        let a = self_signed_pem(&hosts()).unwrap();
        let b = self_signed_pem(&hosts()).unwrap();
        assert!(matches!(
            certified_key_from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes()),
            Err(TlsError::Rustls(_))
        ));
        assert!(matches!(
            certified_key_from_pem(b"nothing", a.key_pem.as_bytes()),
            Err(TlsError::Certificate(_))
        ));
        assert!(matches!(
            certified_key_from_pem(a.cert_pem.as_bytes(), b"nothing"),
            Err(TlsError::PrivateKey(_))
        ));
    }

    fn write(dir: &Path, pair: &PemPair) {
        std::fs::write(dir.join(CERT_FILE), &pair.cert_pem).unwrap();
        std::fs::write(dir.join(KEY_FILE), &pair.key_pem).unwrap();
    }

    #[test]
    fn dir_resolver_reloads_and_keeps_the_old_pair_on_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = self_signed_pem(&hosts()).unwrap();
        write(dir.path(), &a);
        let r = DirCertResolver::load(dir.path()).unwrap();
        let first = r.current().cert[0].clone();
        assert!(!r.reload().unwrap(), "unchanged files");

        // A half-written update (new cert, old key) is refused; the old pair stays.
        let b = self_signed_pem(&hosts()).unwrap();
        std::fs::write(dir.path().join(CERT_FILE), &b.cert_pem).unwrap();
        assert!(r.reload().is_err());
        assert_eq!(r.current().cert[0], first);

        std::fs::write(dir.path().join(KEY_FILE), &b.key_pem).unwrap();
        assert!(r.reload().unwrap());
        assert_ne!(r.current().cert[0], first);

        std::fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        assert!(matches!(r.reload(), Err(TlsError::Read { .. })));
        assert_ne!(r.current().cert[0], first);
    }

    #[cfg(unix)]
    #[test]
    fn dir_resolver_follows_a_secret_volume_symlink_swap() {
        // The kubelet's layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = self_signed_pem(&hosts()).unwrap();
        let b = self_signed_pem(&hosts()).unwrap();
        std::fs::create_dir(d.join("..v1")).unwrap();
        write(&d.join("..v1"), &a);
        std::os::unix::fs::symlink("..v1", d.join("..data")).unwrap();
        for f in [CERT_FILE, KEY_FILE] {
            std::os::unix::fs::symlink(format!("..data/{f}"), d.join(f)).unwrap();
        }
        let r = DirCertResolver::load(d).unwrap();
        let first = r.current().cert[0].clone();
        std::fs::create_dir(d.join("..v2")).unwrap();
        write(&d.join("..v2"), &b);
        std::os::unix::fs::symlink("..v2", d.join("..data_tmp")).unwrap();
        std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
        assert!(r.reload().unwrap());
        assert_ne!(r.current().cert[0], first);
    }

    #[test]
    fn load_fails_without_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            DirCertResolver::load(dir.path()),
            Err(TlsError::Read { .. })
        ));
    }
}
