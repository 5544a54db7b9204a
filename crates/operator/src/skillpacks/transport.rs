//! Sending one GET: the HTTPS client (hyper-util legacy client over hyper-rustls, system roots
//! plus an optional CA file), behind a small trait so the resolver's policies are tested
//! without a network.

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use http_body_util::BodyExt as _;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::error::{ResolveError, SetupError};
use super::github::Response;

/// The largest answer read (a big recursive tree is several MB; GitHub truncates trees at
/// 7 MB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Sends a GET and reads the whole answer. Timeouts are the caller's.
pub(crate) trait Transport: Send + Sync {
    /// GET `url` with `headers`.
    fn get<'a>(
        &'a self,
        url: &'a str,
        headers: http::HeaderMap,
    ) -> BoxFuture<'a, Result<Response, ResolveError>>;
}

/// HTTPS (and plain HTTP, for tests) with connection reuse.
pub(crate) struct HttpsTransport {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, http_body_util::Empty<Bytes>>,
}

impl HttpsTransport {
    /// A client trusting the system roots and `ca_file`.
    pub(crate) fn new(ca_file: Option<&Path>) -> Result<Self, SetupError> {
        let tls = tls_config(ca_file)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, http_body_util::Empty<Bytes>>(connector);
        Ok(HttpsTransport { client })
    }
}

impl Transport for HttpsTransport {
    fn get<'a>(
        &'a self,
        url: &'a str,
        headers: http::HeaderMap,
    ) -> BoxFuture<'a, Result<Response, ResolveError>> {
        Box::pin(async move {
            let network = |cause: String| ResolveError::Network {
                url: url.to_string(),
                cause,
            };
            let mut request = http::Request::get(url)
                .body(http_body_util::Empty::<Bytes>::new())
                .map_err(|e| network(format!("invalid request: {e}")))?;
            *request.headers_mut() = headers;
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| network(cause_chain(&e)))?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::Limited::new(body, MAX_BODY_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        ResolveError::BadResponse {
                            url: url.to_string(),
                            reason: format!("larger than {MAX_BODY_BYTES} bytes"),
                        }
                    } else {
                        network(cause_chain(e.as_ref()))
                    }
                })?
                .to_bytes();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: body.to_vec(),
            })
        })
    }
}

/// The system roots plus the PEM certificates of `ca_file` (as the OTLP push does).
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, SetupError> {
    let pem = match ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| SetupError::CaFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    tls_config_pem(pem.as_deref()).map_err(|e| match (e, ca_file) {
        (TlsSetupError::Bundle(reason), Some(path)) => SetupError::CaFile {
            path: path.to_path_buf(),
            reason,
        },
        (TlsSetupError::Bundle(reason) | TlsSetupError::Tls(reason), _) => SetupError::Tls(reason),
    })
}

/// Why [`tls_config_pem`] failed.
#[derive(Debug)]
pub(crate) enum TlsSetupError {
    /// The extra CA bundle is unusable.
    Bundle(String),
    /// rustls refused the configuration.
    Tls(String),
}

/// A rustls client config trusting the system roots plus the PEM certificates in `extra_pem`
/// (shared by the skill-pack and the image-registry resolvers).
pub(crate) fn tls_config_pem(
    extra_pem: Option<&[u8]>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("TLS: loading a system root certificate: {e}");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(pem) = extra_pem {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError::Bundle(e.to_string()))?;
        if certs.is_empty() {
            return Err(TlsSetupError::Bundle(
                "no PEM certificate in the file".into(),
            ));
        }
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsSetupError::Bundle(
                "no usable CA certificate in the file".into(),
            ));
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsSetupError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// An error and its sources, joined with `: ` (hyper's errors say little at the top).
pub(crate) fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ca_file_problems_are_named() {
        let missing = Path::new("/nonexistent/ca.pem");
        let e = tls_config(Some(missing)).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("GitHub CA file /nonexistent/ca.pem: "),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(Some(&empty)).err().unwrap();
        assert!(
            e.to_string().ends_with("no PEM certificate in the file"),
            "{e}"
        );
    }

    #[test]
    fn a_ca_file_with_a_certificate_is_accepted() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["github.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        assert!(tls_config(Some(&path)).is_ok());
    }

    #[tokio::test]
    async fn network_errors_carry_the_cause() {
        // A port nothing listens on (bound then dropped).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let transport = HttpsTransport::new(None).unwrap();
        let url = format!("http://127.0.0.1:{port}/repos/o/r");
        let e = transport
            .get(&url, http::HeaderMap::new())
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with(&format!("requesting {url}: ")), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }

    #[derive(Debug)]
    struct Outer(Inner);
    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection refused")
        }
    }
    impl std::error::Error for Inner {}
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn cause_chain_joins_sources() {
        assert_eq!(
            cause_chain(&Outer(Inner)),
            "client error (Connect): connection refused"
        );
    }
}
