//! Optional OTLP push of the operator's metrics and traces (`--otlp-endpoint`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! - **Metrics**: every push interval (30 s; `OTEL_METRIC_EXPORT_INTERVAL` in ms) the bridge
//!   encodes the same registry that `/metrics` serves and converts it to OTLP: counters become
//!   cumulative monotonic sums, gauges gauges, histograms cumulative explicit-bucket
//!   histograms, labels attributes. Nothing is instrumented twice.
//! - **Traces**: a `tracing-opentelemetry` layer turns `tracing` spans (one per reconcile, plus
//!   kube's) into OpenTelemetry spans, batched and exported by [`SpanPush`].
//! - **Transport**: OTLP/gRPC (default, port 4317) or OTLP/HTTP protobuf (port 4318), over
//!   plain TCP or TLS (rustls with ring; system roots plus `OTEL_EXPORTER_OTLP_CERTIFICATE`).
//!
//! Nothing here is fatal: connections are made lazily, a failed export is logged (the first
//! failure, then at most every five minutes, and once when exports work again) and the next
//! interval tries again. On shutdown the last metrics and the queued spans are flushed with a
//! five-second limit. See docs/telemetry.md.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use prost::Message;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use crate::metrics::Metrics;

/// `service.name` of the pushed resource.
pub const SERVICE_NAME: &str = "openclaw-operator";
/// Default metrics push interval (the Go operator's PeriodicReader interval).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default limit for one export request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for the final flush on shutdown.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// After the first failed export, further failures are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(300);

const GRPC_METRICS_PATH: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const GRPC_TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Targets whose spans are never exported: the exporter's own HTTP/2 and TLS stack (their
/// spans would be created by exporting spans).
const OWN_TARGETS: [&str; 7] = [
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tower",
    "opentelemetry",
    "openclaw_operator::otlp",
];

/// Errors setting up the push. None of them stops the operator.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The endpoint is not a `host:port` or a URL.
    #[error("invalid OTLP endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// What was given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// The TLS client configuration could not be built.
    #[error("OTLP TLS: {0}")]
    Tls(String),
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
}

/// What to push where.
#[derive(Clone)]
pub struct OtlpConfig {
    /// `host:port` (TLS unless `insecure`) or `http://…`/`https://…` (the scheme decides).
    pub endpoint: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Plain TCP for an endpoint without scheme.
    pub insecure: bool,
    /// Metrics push interval.
    pub interval: Duration,
    /// Limit for one export request.
    pub timeout: Duration,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`); may hold credentials, never logged.
    pub headers: Vec<(String, String)>,
    /// PEM file with CA certificates trusted besides the system roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpConfig")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("insecure", &self.insecure)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers.len())
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

fn env_millis(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

impl OtlpConfig {
    /// A configuration with the standard `OTEL_*` variables applied:
    /// `OTEL_METRIC_EXPORT_INTERVAL` and `OTEL_EXPORTER_OTLP_TIMEOUT` (ms),
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`), `OTEL_EXPORTER_OTLP_CERTIFICATE` (PEM path).
    pub fn from_env(endpoint: &str, protocol: Protocol, insecure: bool) -> Self {
        Self {
            endpoint: endpoint.trim().to_string(),
            protocol,
            insecure,
            interval: env_millis("OTEL_METRIC_EXPORT_INTERVAL").unwrap_or(DEFAULT_INTERVAL),
            timeout: env_millis("OTEL_EXPORTER_OTLP_TIMEOUT").unwrap_or(DEFAULT_TIMEOUT),
            headers: std::env::var("OTEL_EXPORTER_OTLP_HEADERS")
                .map(|v| parse_headers(&v))
                .unwrap_or_default(),
            ca_file: std::env::var_os("OTEL_EXPORTER_OTLP_CERTIFICATE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        }
    }
}

/// `k=v,k2=v2` with percent-encoded values (the `OTEL_EXPORTER_OTLP_HEADERS` format).
pub fn parse_headers(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (percent_decode(k), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which signal a request carries.
#[derive(Clone, Copy, Debug)]
enum Signal {
    Metrics,
    Traces,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Traces => "traces",
        }
    }
}

/// Logs failed exports without flooding: the first failure, then at most every
/// [`WARN_EVERY`] with the count of failures in between, and one line when exports work again.
#[derive(Debug, Default)]
struct FailureLog {
    state: Mutex<FailureState>,
}

#[derive(Debug, Default)]
struct FailureState {
    failing: bool,
    last_warn: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    fn lock(&self) -> MutexGuard<'_, FailureState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn failed(&self, signal: Signal, endpoint: &str, error: &str) {
        let mut s = self.lock();
        s.failing = true;
        if s.last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            let suppressed = std::mem::take(&mut s.suppressed);
            s.last_warn = Some(Instant::now());
            tracing::warn!(
                signal = signal.name(),
                endpoint,
                failures_since_last_warning = suppressed,
                "OTLP export failed (the operator keeps running; retrying at the next interval, \
                 repeated failures are logged every 5 minutes): {error}"
            );
        } else {
            s.suppressed += 1;
            tracing::debug!(
                signal = signal.name(),
                endpoint,
                "OTLP export failed: {error}"
            );
        }
    }

    fn succeeded(&self, signal: Signal, endpoint: &str) {
        let mut s = self.lock();
        if s.failing {
            *s = FailureState::default();
            tracing::info!(signal = signal.name(), endpoint, "OTLP export works again");
        }
    }
}

/// Where requests go, and the HTTP client that sends them.
struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    protocol: Protocol,
    /// `scheme://authority` plus an optional path prefix, without trailing slash.
    base: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    metrics_log: FailureLog,
    traces_log: FailureLog,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold credentials.
        f.debug_struct("Transport")
            .field("protocol", &self.protocol)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Splits the endpoint into `(tls, base URL)`.
fn parse_endpoint(
    endpoint: &str,
    protocol: Protocol,
    insecure: bool,
) -> Result<(bool, String), OtlpError> {
    let bad = |reason: &str| OtlpError::Endpoint {
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
    let base = format!(
        "{}://{host_port}{}",
        if tls { "https" } else { "http" },
        path.trim_end_matches('/')
    );
    base.parse::<Uri>().map_err(|e| bad(&e.to_string()))?;
    Ok((tls, base))
}

fn tls_config(tls: bool, ca_file: Option<&PathBuf>) -> Result<rustls::ClientConfig, OtlpError> {
    let mut roots = rustls::RootCertStore::empty();
    if tls {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("OTLP TLS: loading a system root certificate: {e}");
        }
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca_file {
            use rustls_pki_types::pem::PemObject;
            let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| OtlpError::Tls(format!("reading {}: {e}", path.display())))?;
            roots.add_parsable_certificates(certs);
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| OtlpError::Tls(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

impl Transport {
    fn new(config: &OtlpConfig) -> Result<Self, OtlpError> {
        let (tls, base) = parse_endpoint(&config.endpoint, config.protocol, config.insecure)?;
        let tls = tls_config(tls, config.ca_file.as_ref())?;
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let mut client = Client::builder(TokioExecutor::new());
        client.pool_idle_timeout(Duration::from_secs(60));
        let client = match config.protocol {
            // gRPC is HTTP/2 only: ALPN h2 over TLS, prior knowledge over plain TCP.
            Protocol::Grpc => client
                .http2_only(true)
                .build(builder.enable_http2().build()),
            Protocol::HttpProtobuf => client.build(builder.enable_all_versions().build()),
        };
        let mut headers = Vec::new();
        for (k, v) in &config.headers {
            match (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                (Ok(k), Ok(mut v)) => {
                    v.set_sensitive(true);
                    headers.push((k, v));
                }
                _ => {
                    tracing::warn!(header = %k, "OTEL_EXPORTER_OTLP_HEADERS: invalid header ignored")
                }
            }
        }
        Ok(Self {
            client,
            protocol: config.protocol,
            base,
            headers,
            timeout: config.timeout,
            metrics_log: FailureLog::default(),
            traces_log: FailureLog::default(),
        })
    }

    fn log(&self, signal: Signal) -> &FailureLog {
        match signal {
            Signal::Metrics => &self.metrics_log,
            Signal::Traces => &self.traces_log,
        }
    }

    /// Sends one encoded export request and logs the outcome (rate-limited).
    async fn send(&self, signal: Signal, message: Vec<u8>) -> Result<(), String> {
        let result = match tokio::time::timeout(self.timeout, self.request(signal, message)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        };
        match &result {
            Ok(()) => self.log(signal).succeeded(signal, &self.base),
            Err(e) => self.log(signal).failed(signal, &self.base, e),
        }
        result
    }

    async fn request(&self, signal: Signal, message: Vec<u8>) -> Result<(), String> {
        let (path, content_type, body) = match (self.protocol, signal) {
            (Protocol::Grpc, _) => {
                let len = u32::try_from(message.len()).map_err(|_| "request too large")?;
                let mut framed = Vec::with_capacity(message.len() + 5);
                framed.push(0); // not compressed
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&message);
                let path = match signal {
                    Signal::Metrics => GRPC_METRICS_PATH,
                    Signal::Traces => GRPC_TRACES_PATH,
                };
                (path, "application/grpc", framed)
            }
            (Protocol::HttpProtobuf, Signal::Metrics) => {
                ("/v1/metrics", "application/x-protobuf", message)
            }
            (Protocol::HttpProtobuf, Signal::Traces) => {
                ("/v1/traces", "application/x-protobuf", message)
            }
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, content_type)
            .header(
                USER_AGENT,
                concat!("openclaw-operator/", env!("CARGO_PKG_VERSION")),
            );
        if self.protocol == Protocol::Grpc {
            request = request.header("te", "trailers");
        }
        for (k, v) in &self.headers {
            request = request.header(k, v);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status();
        let head = response.headers().clone();
        let collected = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        match self.protocol {
            Protocol::HttpProtobuf => {
                if status.is_success() {
                    Ok(())
                } else {
                    let body = collected.to_bytes();
                    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                    Err(format!("HTTP {status}: {text}"))
                }
            }
            Protocol::Grpc => {
                if !status.is_success() {
                    return Err(format!("HTTP {status} (is this an OTLP/gRPC endpoint?)"));
                }
                // grpc-status is in the trailers, or in the headers of a trailers-only answer.
                let trailers = collected.trailers().cloned().unwrap_or_default();
                let get = |name: &str| {
                    trailers
                        .get(name)
                        .or_else(|| head.get(name))
                        .and_then(|v| v.to_str().ok())
                        .map(percent_decode)
                };
                match get("grpc-status").as_deref() {
                    Some("0") => Ok(()),
                    Some(code) => Err(format!(
                        "gRPC status {code}: {}",
                        get("grpc-message").unwrap_or_default()
                    )),
                    None => Err("no gRPC status in the answer".into()),
                }
            }
        }
    }
}

/// The error and its sources, `: `-separated (hyper's top-level errors say little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

/// The trace exporter the batch span processor calls (from its own thread).
pub struct SpanPush {
    shared: Arc<Shared>,
    runtime: Handle,
}

impl std::fmt::Debug for SpanPush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanPush")
            .field("transport", &self.shared.transport)
            .finish_non_exhaustive()
    }
}

impl SpanExporter for SpanPush {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let shared = self.shared.clone();
        let runtime = self.runtime.clone();
        async move {
            let request = ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(batch, &shared.span_resource),
            };
            let body = request.encode_to_vec();
            // The processor's thread has no Tokio context: send from the operator's runtime.
            let task =
                runtime.spawn(async move { shared.transport.send(Signal::Traces, body).await });
            match task.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(OTelSdkError::InternalFailure(e)),
                Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
            }
        }
    }
}

struct Shared {
    transport: Transport,
    span_resource: ResourceAttributesWithSchema,
    metric_resource: ProtoResource,
    /// Start of the cumulative series (the registry is as old as the process).
    start: SystemTime,
}

/// The metrics push loop and what it pushes.
type MetricsTask = (JoinHandle<()>, Arc<Metrics>);

/// A running OTLP push: the tracer provider (traces) and, once started, the metrics loop.
/// Cheap to clone.
#[derive(Clone)]
pub struct Otlp {
    shared: Arc<Shared>,
    tracer_provider: SdkTracerProvider,
    metrics_task: Arc<Mutex<Option<MetricsTask>>>,
    interval: Duration,
}

impl std::fmt::Debug for Otlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Otlp")
            .field("transport", &self.shared.transport)
            .finish_non_exhaustive()
    }
}

/// The resource pushed with every signal: `service.name=openclaw-operator`, `service.version`,
/// `service.instance.id` (the pod name), `k8s.pod.name`/`k8s.namespace.name` when known, the
/// telemetry SDK attributes, and `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource() -> Resource {
    use opentelemetry::KeyValue as Kv;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut extra = vec![Kv::new("service.version", env!("CARGO_PKG_VERSION"))];
    if let Some(pod) = env("POD_NAME") {
        extra.push(Kv::new("service.instance.id", pod.clone()));
        extra.push(Kv::new("k8s.pod.name", pod));
    }
    if let Some(ns) = env("POD_NAMESPACE") {
        extra.push(Kv::new("k8s.namespace.name", ns));
    }
    Resource::builder()
        .with_attributes(extra)
        .with_service_name(SERVICE_NAME)
        .build()
}

impl Otlp {
    /// Sets up the push; connects lazily, so a collector that is down is no error here.
    /// `runtime` is where requests are sent from (the operator's Tokio runtime).
    pub fn start(config: &OtlpConfig, runtime: Handle) -> Result<Self, OtlpError> {
        let transport = {
            let _guard = runtime.enter();
            Transport::new(config)?
        };
        let resource = resource();
        let span_resource = ResourceAttributesWithSchema::from(&resource);
        let metric_resource = ProtoResource {
            attributes: span_resource.attributes.0.clone(),
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            transport,
            span_resource,
            metric_resource,
            start: SystemTime::now(),
        });
        let exporter = SpanPush {
            shared: shared.clone(),
            runtime,
        };
        let tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build();
        Ok(Self {
            shared,
            tracer_provider,
            metrics_task: Arc::new(Mutex::new(None)),
            interval: config.interval,
        })
    }

    /// The endpoint requests go to (`scheme://host:port[/prefix]`).
    pub fn endpoint(&self) -> &str {
        &self.shared.transport.base
    }

    /// The `tracing` layer that exports spans (not those of the exporter's own HTTP stack).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer_provider.tracer("openclaw-operator"))
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                let target = meta.target();
                !OWN_TARGETS.iter().any(|own| {
                    target
                        .strip_prefix(own)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
                })
            }))
    }

    /// Starts pushing `metrics` every interval (the first push right away). Call once, from
    /// the runtime.
    pub fn spawn_metrics(&self, metrics: Arc<Metrics>) {
        let this = self.clone();
        let m = metrics.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Failures are logged by the transport.
                let _ = this.push_metrics(&m).await;
            }
        });
        tracing::info!(endpoint = %self.endpoint(), interval = ?self.interval, "pushing metrics and traces over OTLP");
        let mut slot = self
            .metrics_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((old, _)) = slot.replace((task, metrics)) {
            old.abort();
        }
    }

    /// Pushes the current value of every metric once.
    pub async fn push_metrics(&self, metrics: &Metrics) -> Result<(), String> {
        let text = metrics
            .encode()
            .map_err(|e| format!("encoding metrics: {e}"))?;
        let request = metrics_request(
            &text,
            &self.shared.metric_resource,
            nanos(self.shared.start),
            nanos(SystemTime::now()),
        );
        self.shared
            .transport
            .send(Signal::Metrics, request.encode_to_vec())
            .await
    }

    /// Stops the metrics loop, pushes the metrics a last time and flushes the queued spans,
    /// all within [`SHUTDOWN_TIMEOUT`].
    pub async fn shutdown(&self) {
        let task = self
            .metrics_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let metrics = async {
            if let Some((task, metrics)) = task {
                task.abort();
                let _ = self.push_metrics(&metrics).await;
            }
        };
        let provider = self.tracer_provider.clone();
        let traces =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
        let flush = async { futures::join!(metrics, traces).1 };
        match tokio::time::timeout(SHUTDOWN_TIMEOUT, flush).await {
            Ok(Ok(Ok(()))) => tracing::info!("OTLP push flushed"),
            Ok(Ok(Err(e))) => tracing::warn!("OTLP: flushing spans: {e}"),
            Ok(Err(e)) => tracing::warn!("OTLP: flushing spans: {e}"),
            Err(_) => tracing::warn!("OTLP: the final flush did not finish within 5 s"),
        }
    }
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------------------------
// The metrics bridge: OpenMetrics text (our own registry's) to OTLP.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    Other,
}

#[derive(Debug)]
struct Family {
    name: String,
    help: String,
    unit: String,
    kind: Kind,
    samples: Vec<Sample>,
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: SampleValue,
}

#[derive(Clone, Copy, Debug)]
enum SampleValue {
    Int(i64),
    Double(f64),
}

impl SampleValue {
    fn parse(s: &str) -> Option<Self> {
        if let Ok(i) = s.parse::<i64>() {
            return Some(Self::Int(i));
        }
        match s {
            "+Inf" | "Inf" => Some(Self::Double(f64::INFINITY)),
            "-Inf" => Some(Self::Double(f64::NEG_INFINITY)),
            "NaN" => Some(Self::Double(f64::NAN)),
            _ => s.parse::<f64>().ok().map(Self::Double),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Double(d) => d,
        }
    }

    fn number(self) -> number_data_point::Value {
        match self {
            Self::Int(i) => number_data_point::Value::AsInt(i),
            Self::Double(d) => number_data_point::Value::AsDouble(d),
        }
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `name{a="x",b="y"} value [timestamp] [# exemplar]`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut s = inner;
        loop {
            s = s.trim_start_matches([',', ' ']);
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = s.find('=')?;
            let key = s[..eq].trim().to_string();
            let value_start = s[eq + 1..].strip_prefix('"')?;
            // Find the closing quote, skipping escaped characters.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in value_start.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end?;
            labels.push((key, unescape(&value_start[..end])));
            s = &value_start[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?;
    Some(Sample {
        name,
        labels,
        value: SampleValue::parse(value)?,
    })
}

fn parse_families(text: &str) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    let family_of = |families: &mut Vec<Family>, name: &str| -> usize {
        match families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                families.push(Family {
                    name: name.to_string(),
                    help: String::new(),
                    unit: String::new(),
                    kind: Kind::Other,
                    samples: Vec::new(),
                });
                families.len() - 1
            }
        }
    };
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let arg = parts.next().unwrap_or("");
            let i = match keyword {
                "HELP" | "TYPE" | "UNIT" => family_of(&mut families, name),
                _ => continue,
            };
            match keyword {
                "HELP" => families[i].help = unescape(arg),
                "UNIT" => families[i].unit = arg.to_string(),
                _ => {
                    families[i].kind = match arg {
                        "counter" => Kind::Counter,
                        "gauge" => Kind::Gauge,
                        "histogram" => Kind::Histogram,
                        _ => Kind::Other,
                    }
                }
            }
            current = Some(i);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some(sample) = parse_sample(line) else {
            continue;
        };
        // A sample belongs to the current family if its name is the family's plus a suffix.
        let i = match current {
            Some(i) if sample.name.starts_with(&families[i].name) => i,
            _ => {
                let i = family_of(&mut families, &sample.name);
                current = Some(i);
                i
            }
        };
        families[i].samples.push(sample);
    }
    families
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.clone())),
            }),
            ..Default::default()
        })
        .collect()
}

/// One histogram series being assembled: labels without `le`, the point, the cumulative
/// buckets `(le, count)`.
type HistogramSeries = (Vec<(String, String)>, HistogramDataPoint, Vec<(f64, u64)>);

/// Converts one family; a family can yield several metrics (e.g. gauge-like samples with
/// different suffixes) or none (no samples).
fn convert(family: Family, start: u64, now: u64) -> Vec<Metric> {
    let metric = |name: String, data: metric::Data| Metric {
        name,
        description: family.help.clone(),
        unit: family.unit.clone(),
        data: Some(data),
        ..Default::default()
    };
    let point = |s: &Sample| NumberDataPoint {
        attributes: attributes(&s.labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(s.value.number()),
        ..Default::default()
    };
    match family.kind {
        Kind::Counter => {
            // `_total` samples; `_created` is metadata. The name keeps `_total`, as the Go
            // operator's Prometheus bridge pushed it.
            let total = format!("{}_total", family.name);
            let points: Vec<_> = family
                .samples
                .iter()
                .filter(|s| s.name == total || s.name == family.name)
                .map(point)
                .collect();
            if points.is_empty() {
                return Vec::new();
            }
            vec![metric(
                total,
                metric::Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
            )]
        }
        Kind::Histogram => {
            let bucket = format!("{}_bucket", family.name);
            let sum = format!("{}_sum", family.name);
            let count = format!("{}_count", family.name);
            // Label sets (without `le`) in order of appearance, with their samples.
            let mut series: Vec<HistogramSeries> = Vec::new();
            for s in &family.samples {
                let mut labels = s.labels.clone();
                let le = labels
                    .iter()
                    .position(|(k, _)| k == "le")
                    .map(|i| labels.remove(i).1);
                let idx = match series.iter().position(|(l, _, _)| *l == labels) {
                    Some(i) => i,
                    None => {
                        series.push((
                            labels.clone(),
                            HistogramDataPoint {
                                attributes: attributes(&labels),
                                start_time_unix_nano: start,
                                time_unix_nano: now,
                                ..Default::default()
                            },
                            Vec::new(),
                        ));
                        series.len() - 1
                    }
                };
                let (_, dp, buckets) = &mut series[idx];
                let v = s.value.as_f64();
                if s.name == bucket {
                    let le = le
                        .as_deref()
                        .and_then(SampleValue::parse)
                        .map_or(f64::INFINITY, SampleValue::as_f64);
                    buckets.push((le, v.max(0.0) as u64));
                } else if s.name == sum {
                    dp.sum = Some(v);
                } else if s.name == count {
                    dp.count = v.max(0.0) as u64;
                }
            }
            let points: Vec<_> = series
                .into_iter()
                .map(|(_, mut dp, mut buckets)| {
                    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let mut previous = 0u64;
                    for (le, cumulative) in buckets {
                        if le.is_finite() {
                            dp.explicit_bounds.push(le);
                        }
                        dp.bucket_counts.push(cumulative.saturating_sub(previous));
                        previous = cumulative;
                    }
                    // Without a +Inf bucket, the overflow bucket holds what `_count` adds.
                    if dp.bucket_counts.len() == dp.explicit_bounds.len() {
                        dp.bucket_counts.push(dp.count.saturating_sub(previous));
                    }
                    if dp.count == 0 {
                        dp.count = previous;
                    }
                    dp
                })
                .collect();
            if points.is_empty() {
                return Vec::new();
            }
            vec![metric(
                family.name.clone(),
                metric::Data::Histogram(Histogram {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            )]
        }
        Kind::Gauge | Kind::Other => {
            // One gauge per sample name (a gauge family has one; info/unknown may have more).
            let mut out: Vec<Metric> = Vec::new();
            for s in &family.samples {
                if s.name.ends_with("_created") && s.name != family.name {
                    continue;
                }
                let dp = point(s);
                match out.iter_mut().find(|m| m.name == s.name) {
                    Some(Metric {
                        data: Some(metric::Data::Gauge(g)),
                        ..
                    }) => g.data_points.push(dp),
                    _ => out.push(metric(
                        s.name.clone(),
                        metric::Data::Gauge(Gauge {
                            data_points: vec![dp],
                        }),
                    )),
                }
            }
            out
        }
    }
}

/// The OTLP export request for an OpenMetrics text exposition (what [`Metrics::encode`]
/// returns). `start` and `now` are Unix nanoseconds.
pub fn metrics_request(
    text: &str,
    resource: &ProtoResource,
    start: u64,
    now: u64,
) -> ExportMetricsServiceRequest {
    let metrics = parse_families(text)
        .into_iter()
        .flat_map(|f| convert(f, start, now))
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "openclaw_operator::metrics".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn find<'a>(req: &'a ExportMetricsServiceRequest, name: &str) -> &'a Metric {
        req.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn converts_the_registry() {
        let text = r#"# HELP c_things Things.
# TYPE c_things counter
c_things_total{a="x",b="q\"uo\\te"} 3
c_things_created{a="x"} 1.7e9
# HELP g Gauge.
# TYPE g gauge
g -2
g{x="1"} 0.5
# TYPE h histogram
h_sum{c="1"} 1.5
h_count{c="1"} 4
h_bucket{c="1",le="0.1"} 1
h_bucket{c="1",le="1.0"} 3
h_bucket{c="1",le="+Inf"} 4
# EOF
"#;
        let req = metrics_request(text, &ProtoResource::default(), 1, 2);
        let Some(metric::Data::Sum(sum)) = &find(&req, "c_things_total").data else {
            panic!("sum")
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        assert_eq!(sum.data_points.len(), 1);
        assert_eq!(
            sum.data_points[0].value,
            Some(number_data_point::Value::AsInt(3))
        );
        assert_eq!(sum.data_points[0].attributes[1].key, "b");
        assert_eq!(
            sum.data_points[0].attributes[1].value,
            Some(AnyValue {
                value: Some(any_value::Value::StringValue("q\"uo\\te".into()))
            })
        );
        assert_eq!(find(&req, "c_things_total").description, "Things.");
        let Some(metric::Data::Gauge(g)) = &find(&req, "g").data else {
            panic!("gauge")
        };
        assert_eq!(g.data_points.len(), 2);
        assert_eq!(
            g.data_points[1].value,
            Some(number_data_point::Value::AsDouble(0.5))
        );
        let Some(metric::Data::Histogram(h)) = &find(&req, "h").data else {
            panic!("histogram")
        };
        let dp = &h.data_points[0];
        assert_eq!(dp.explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(dp.bucket_counts, vec![1, 2, 1]);
        assert_eq!(dp.count, 4);
        assert_eq!(dp.sum, Some(1.5));
        assert_eq!(dp.attributes.len(), 1);
        assert_eq!((dp.start_time_unix_nano, dp.time_unix_nano), (1, 2));
    }

    #[test]
    fn converts_the_operator_metrics() {
        let m = Metrics::new("lease", 2);
        m.queue_add(crate::metrics::CONTROLLER, "ns", "a");
        let req = metrics_request(&m.encode().unwrap(), &ProtoResource::default(), 1, 2);
        for name in [
            "workqueue_adds_total",
            "openclaw_managed_instances",
            "controller_runtime_max_concurrent_reconciles",
            "leader_election_master_status",
        ] {
            find(&req, name);
        }
    }

    #[test]
    fn endpoints() {
        let p = |e: &str, proto, insecure| parse_endpoint(e, proto, insecure).map_err(|_| ());
        assert_eq!(
            p("collector:4317", Protocol::Grpc, true),
            Ok((false, "http://collector:4317".into()))
        );
        assert_eq!(
            p("collector", Protocol::Grpc, false),
            Ok((true, "https://collector:4317".into()))
        );
        assert_eq!(
            p("http://c/otlp/", Protocol::HttpProtobuf, false),
            Ok((false, "http://c:4318/otlp".into()))
        );
        assert_eq!(
            p("https://[::1]:9", Protocol::Grpc, true),
            Ok((true, "https://[::1]:9".into()))
        );
        assert!(p("ftp://x", Protocol::Grpc, true).is_err());
        assert!(p("", Protocol::Grpc, true).is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_headers("api-key=a%20b, x=1,bad"),
            vec![
                ("api-key".to_string(), "a b".to_string()),
                ("x".to_string(), "1".to_string())
            ]
        );
    }
}
