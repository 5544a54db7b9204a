//! Where each signal goes: the command-line settings and the standard `OTEL_*` variables,
//! resolved without I/O (the environment is passed in) so that every rule is tested.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Default limit for one export request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors setting up the push. None of them stops the operator.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The endpoint is not a `host:port` or a URL.
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// What was given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// A variable has a value this operator does not support.
    #[error("{variable}={value:?}: {reason}")]
    Unsupported {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
        /// What is supported.
        reason: String,
    },
    /// The TLS client configuration could not be built.
    #[error("OTLP TLS: {0}")]
    Tls(String),
    /// The OTLP exporter refused its configuration.
    #[error("OTLP {0:?} exporter: {1}")]
    Exporter(Signal, String),
}

/// The wire protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC, usually port 4317 (what the Go operator used).
    #[default]
    #[value(name = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`POST /v1/metrics`, `/v1/traces`), usually port 4318.
    #[value(name = "http/protobuf")]
    HttpProtobuf,
}

impl Protocol {
    fn default_port(self) -> u16 {
        match self {
            Self::Grpc => 4317,
            Self::HttpProtobuf => 4318,
        }
    }

    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }

    fn parse(variable: &str, value: &str) -> Result<Self, TelemetryError> {
        match value.trim() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            other => Err(TelemetryError::Unsupported {
                variable: variable.to_string(),
                value: other.to_string(),
                reason: "the protocol must be grpc or http/protobuf".into(),
            }),
        }
    }
}

/// A telemetry signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
}

impl Signal {
    /// `traces` or `metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
        }
    }

    fn upper(self) -> &'static str {
        match self {
            Self::Traces => "TRACES",
            Self::Metrics => "METRICS",
        }
    }
}

/// The command-line settings (each also read from its standard variable by clap).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--otlp-endpoint` / `OTEL_EXPORTER_OTLP_ENDPOINT`: `host:port` or a URL; empty: none.
    pub endpoint: String,
    /// `--otlp-protocol` / `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub protocol: Protocol,
    /// `--otlp-insecure` / `OTEL_EXPORTER_OTLP_INSECURE`: plain TCP for an endpoint without
    /// scheme.
    pub insecure: bool,
}

/// PEM files for TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates trusted besides the system roots.
    pub ca: Option<PathBuf>,
    /// Client certificate chain (mTLS).
    pub client_cert: Option<PathBuf>,
    /// Client private key (mTLS).
    pub client_key: Option<PathBuf>,
}

/// Where one signal goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignalConfig {
    /// The signal.
    pub signal: Signal,
    /// gRPC: `scheme://host:port[/prefix]`; HTTP: the full URL requests are posted to.
    pub endpoint: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Limit for one export request (`OTEL_EXPORTER_OTLP[_SIGNAL]_TIMEOUT`).
    pub timeout: Duration,
    /// TLS files (used for `https` endpoints).
    pub tls: TlsFiles,
}

/// Milliseconds in a variable (positive values only).
pub(crate) fn env_millis(env: &impl Fn(&str) -> Option<String>, name: &str) -> Option<Duration> {
    env(name)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

/// Where `signal` goes, or `None` when it is off. `env` reads a variable. The rules:
///
/// - `OTEL_SDK_DISABLED=true` or `OTEL_<SIGNAL>_EXPORTER=none` turn the signal off; only
///   `otlp` (the default) and `none` are supported there.
/// - The endpoint is `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`, used as it is (the spec's rule for
///   per-signal URLs), else `--otlp-endpoint` with `/v1/<signal>` appended for HTTP. Neither:
///   off. A `host:port` endpoint gets `http://` when insecure (the default, as in the Go
///   operator) and `https://` otherwise; a missing port the protocol's default.
/// - Protocol, insecure, timeout and the TLS files: the per-signal variable first, then the
///   general one (or the command-line setting, which clap already read from it).
pub fn resolve(
    signal: Signal,
    settings: &Settings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<SignalConfig>, TelemetryError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let exporter_var = format!("OTEL_{}_EXPORTER", signal.upper());
    match env(&exporter_var).as_deref().map(str::trim) {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(TelemetryError::Unsupported {
                variable: exporter_var,
                value: other.to_string(),
                reason: "only otlp and none are supported".into(),
            });
        }
    }
    let per_signal = |suffix: &str| {
        let name = format!("OTEL_EXPORTER_OTLP_{}_{suffix}", signal.upper());
        env(&name).map(|v| (name, v))
    };
    let general = |suffix: &str| {
        per_signal(suffix).or_else(|| {
            let name = format!("OTEL_EXPORTER_OTLP_{suffix}");
            env(&name).map(|v| (name, v))
        })
    };
    let protocol = match per_signal("PROTOCOL") {
        Some((name, v)) => Protocol::parse(&name, &v)?,
        None => settings.protocol,
    };
    let insecure = match per_signal("INSECURE") {
        Some((_, v)) => v.trim().eq_ignore_ascii_case("true"),
        None => settings.insecure,
    };
    let (raw, full_url) = match per_signal("ENDPOINT") {
        Some((_, v)) => (v.trim().to_string(), true),
        None if !settings.endpoint.trim().is_empty() => {
            (settings.endpoint.trim().to_string(), false)
        }
        None => return Ok(None),
    };
    let base = normalize(&raw, protocol, insecure)?;
    let endpoint = match protocol {
        Protocol::HttpProtobuf if !full_url => format!("{base}/v1/{}", signal.name()),
        _ => base,
    };
    let timeout = general("TIMEOUT")
        .and_then(|(name, _)| env_millis(&env, &name))
        .unwrap_or(DEFAULT_TIMEOUT);
    let file = |suffix: &str| general(suffix).map(|(_, v)| PathBuf::from(v.trim()));
    let tls = TlsFiles {
        ca: file("CERTIFICATE"),
        client_cert: file("CLIENT_CERTIFICATE"),
        client_key: file("CLIENT_KEY"),
    };
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        return Err(TelemetryError::Tls(
            "a client certificate needs its key and a key its certificate \
             (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)"
                .into(),
        ));
    }
    Ok(Some(SignalConfig {
        signal,
        endpoint,
        protocol,
        timeout,
        tls,
    }))
}

/// `scheme://host:port[/path]` without a trailing slash.
fn normalize(endpoint: &str, protocol: Protocol, insecure: bool) -> Result<String, TelemetryError> {
    let bad = |reason: &str| TelemetryError::Endpoint {
        endpoint: endpoint.to_string(),
        reason: reason.to_string(),
    };
    let (tls, rest) = match endpoint.split_once("://") {
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" => (false, rest),
            "https" => (true, rest),
            _ => return Err(bad("the scheme must be http or https")),
        },
        None => (!insecure, endpoint),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let authority: http::uri::Authority = authority.parse().map_err(|_| bad("invalid host"))?;
    let host_port = match authority.port_u16() {
        Some(_) => authority.to_string(),
        None => format!("{}:{}", authority.host(), protocol.default_port()),
    };
    let url = format!(
        "{}://{host_port}{}",
        if tls { "https" } else { "http" },
        path.trim_end_matches('/')
    );
    url.parse::<http::Uri>().map_err(|e| bad(&e.to_string()))?;
    Ok(url)
}

/// The rustls client configuration: the system roots plus the CA file, and the client
/// certificate when one is set.
pub(crate) fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, TelemetryError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let read_certs = |path: &PathBuf| {
        CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TelemetryError::Tls(format!("reading {}: {e}", path.display())))
    };
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("OTLP TLS: loading a system root certificate: {e}");
    }
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &files.ca {
        let certs = read_certs(path)?;
        if certs.is_empty() {
            return Err(TelemetryError::Tls(format!(
                "{}: no PEM certificate in the file",
                path.display()
            )));
        }
        roots.add_parsable_certificates(certs);
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TelemetryError::Tls(e.to_string()))?
    .with_root_certificates(roots);
    match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| TelemetryError::Tls(format!("reading {}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TelemetryError::Tls(format!("the client certificate: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    fn run(
        signal: Signal,
        settings: &Settings,
        vars: &[(&str, &str)],
    ) -> Result<Option<SignalConfig>, TelemetryError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(signal, settings, |k| vars.get(k).cloned())
    }

    fn settings(endpoint: &str, protocol: Protocol) -> Settings {
        Settings {
            endpoint: endpoint.into(),
            protocol,
            insecure: true,
        }
    }

    #[test]
    fn go_operator_host_port_is_plain_grpc() {
        let c = run(Signal::Traces, &settings("otel:4317", Protocol::Grpc), &[])
            .unwrap()
            .unwrap();
        assert_eq!(c.endpoint, "http://otel:4317");
        assert_eq!(c.protocol, Protocol::Grpc);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        let tls = Settings {
            insecure: false,
            ..settings("otel", Protocol::Grpc)
        };
        let c = run(Signal::Metrics, &tls, &[]).unwrap().unwrap();
        assert_eq!(c.endpoint, "https://otel:4317");
    }

    #[test]
    fn http_appends_the_signal_path_unless_per_signal() {
        let s = settings("http://c:4318/prefix/", Protocol::HttpProtobuf);
        let m = run(Signal::Metrics, &s, &[]).unwrap().unwrap();
        assert_eq!(m.endpoint, "http://c:4318/prefix/v1/metrics");
        let t = run(
            Signal::Traces,
            &s,
            &[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t:443/custom")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.endpoint, "https://t:443/custom");
        let no_port = run(
            Signal::Traces,
            &settings("http://c", Protocol::HttpProtobuf),
            &[],
        )
        .unwrap()
        .unwrap();
        assert_eq!(no_port.endpoint, "http://c:4318/v1/traces");
    }

    #[test]
    fn per_signal_variables_win() {
        let s = settings("c:4317", Protocol::Grpc);
        let vars = [
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://m:4318/v1/metrics",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "500"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/traces-ca.pem"),
        ];
        let m = run(Signal::Metrics, &s, &vars).unwrap().unwrap();
        assert_eq!(m.protocol, Protocol::HttpProtobuf);
        assert_eq!(m.endpoint, "http://m:4318/v1/metrics");
        assert_eq!(m.timeout, Duration::from_millis(500));
        assert_eq!(m.tls.ca, Some(PathBuf::from("/ca.pem")));
        let t = run(Signal::Traces, &s, &vars).unwrap().unwrap();
        assert_eq!(t.protocol, Protocol::Grpc);
        assert_eq!(t.endpoint, "http://c:4317");
        assert_eq!(t.timeout, Duration::from_millis(2000));
        assert_eq!(t.tls.ca, Some(PathBuf::from("/traces-ca.pem")));
    }

    #[test]
    fn signals_switch_off() {
        let s = settings("c:4317", Protocol::Grpc);
        assert_eq!(
            run(Signal::Traces, &s, &[("OTEL_TRACES_EXPORTER", "none")]).unwrap(),
            None
        );
        assert!(
            run(Signal::Metrics, &s, &[("OTEL_TRACES_EXPORTER", "none")])
                .unwrap()
                .is_some()
        );
        assert_eq!(
            run(Signal::Metrics, &s, &[("OTEL_SDK_DISABLED", "true")]).unwrap(),
            None
        );
        // No endpoint at all: off; a per-signal endpoint alone turns only that signal on.
        let none = Settings::default();
        assert_eq!(run(Signal::Traces, &none, &[]).unwrap(), None);
        let only = [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")];
        assert!(run(Signal::Traces, &none, &only).unwrap().is_some());
        assert_eq!(run(Signal::Metrics, &none, &only).unwrap(), None);
    }

    #[test]
    fn bad_values_are_explained() {
        let s = settings("c:4317", Protocol::Grpc);
        let e = run(Signal::Traces, &s, &[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "OTEL_TRACES_EXPORTER=\"zipkin\": only otlp and none are supported"
        );
        let e = run(
            Signal::Traces,
            &s,
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("grpc or http/protobuf"), "{e}");
        let e = run(Signal::Traces, &settings("ftp://x", Protocol::Grpc), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid OTLP endpoint \"ftp://x\": the scheme must be http or https"
        );
        let e = run(
            Signal::Traces,
            &s,
            &[("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("needs its key"), "{e}");
    }

    #[test]
    fn tls_files_that_do_not_exist_are_named() {
        let e = tls_config(&TlsFiles {
            ca: Some(PathBuf::from("/nonexistent/ca.pem")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
