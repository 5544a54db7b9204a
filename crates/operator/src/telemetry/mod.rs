//! Optional OTLP push of the operator's metrics and traces, with the OpenTelemetry SDK and
//! its OTLP exporter (`opentelemetry-otlp`).
//!
//! - **Configuration**: `--otlp-endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`), `--otlp-protocol`,
//!   `--otlp-insecure`, and the standard `OTEL_*` variables, per signal included
//!   (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._METRICS_HEADERS`, ...): [`resolve`] decides,
//!   for each signal, where it goes and over what. `OTEL_TRACES_EXPORTER=none` or
//!   `OTEL_METRICS_EXPORTER=none` turn one signal off, `OTEL_SDK_DISABLED=true` both.
//! - **Transport**: the exporter's gRPC (tonic) and HTTP/protobuf clients, with its gzip
//!   compression (`OTEL_EXPORTER_OTLP_COMPRESSION`), headers, timeouts and retries. TLS is
//!   rustls with ring for both: the system roots plus `OTEL_EXPORTER_OTLP_CERTIFICATE`, and a
//!   client certificate for mTLS (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`/`_CLIENT_KEY`).
//! - **Metrics**: [`bridge`] reports the registry that `/metrics` serves through observable
//!   instruments, so the names are the same; histograms are recorded by [`Metrics`] directly.
//! - **Traces**: a `tracing-opentelemetry` layer turns `tracing` spans into OpenTelemetry spans.
//!
//! Nothing here is fatal: connections are lazy, and a failed export is logged (the first
//! failure, then at most every five minutes, and once when exports work again). On shutdown
//! the last metrics and the queued spans are flushed within five seconds. See
//! docs/telemetry.md.

pub mod bridge;
mod config;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::runtime::Handle;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use config::{Protocol, Settings, Signal, SignalConfig, TelemetryError, resolve};

use crate::metrics::Metrics;

/// `service.name` of the pushed resource.
pub const SERVICE_NAME: &str = "openclaw-operator";
/// Default metrics push interval (the Go operator's PeriodicReader interval).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Limit for the final flush on shutdown.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// After the first failed export, further failures are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(300);

/// Targets whose spans are never exported: the exporter's own HTTP/2 and TLS stack (their
/// spans would be created by exporting spans).
const OWN_TARGETS: [&str; 9] = [
    "h2",
    "hyper",
    "hyper_util",
    "rustls",
    "tower",
    "tonic",
    "opentelemetry",
    "opentelemetry_otlp",
    "openclaw_operator::telemetry",
];

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

    fn record(&self, signal: Signal, endpoint: &str, result: &OTelSdkResult) {
        let mut s = self.lock();
        match result {
            Ok(()) => {
                if s.failing {
                    *s = FailureState::default();
                    tracing::info!(signal = signal.name(), endpoint, "OTLP export works again");
                }
            }
            Err(error) => {
                s.failing = true;
                if s.last_warn.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    let suppressed = std::mem::take(&mut s.suppressed);
                    s.last_warn = Some(Instant::now());
                    tracing::warn!(
                        signal = signal.name(),
                        endpoint,
                        failures_since_last_warning = suppressed,
                        "OTLP export failed (the operator keeps running; retrying at the next \
                         interval, repeated failures are logged every 5 minutes): {error}"
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
        }
    }
}

/// An exporter whose failures are logged by a [`FailureLog`] (the SDK's own diagnostics are
/// compiled out).
#[derive(Debug)]
struct Logged<E> {
    inner: E,
    signal: Signal,
    endpoint: String,
    log: FailureLog,
}

impl<E> Logged<E> {
    fn new(inner: E, config: &SignalConfig) -> Self {
        Self {
            inner,
            signal: config.signal,
            endpoint: config.endpoint.clone(),
            log: FailureLog::default(),
        }
    }
}

impl<E: SpanExporter> SpanExporter for Logged<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.log.record(self.signal, &self.endpoint, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Logged<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.log.record(self.signal, &self.endpoint, &result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// The HTTPS-or-HTTP connector both transports use (rustls, ALPN h2 and http/1.1).
fn connector(
    config: &SignalConfig,
) -> Result<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    TelemetryError,
> {
    let tls = config::tls_config(&config.tls)?;
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build())
}

fn span_exporter(
    config: &SignalConfig,
) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let built = match config.protocol {
        Protocol::Grpc => builder
            .with_tonic()
            .with_channel(channel(config)?)
            .with_timeout(config.timeout)
            .build(),
        Protocol::HttpProtobuf => builder
            .with_http()
            .with_http_client(http_client(config)?)
            .with_endpoint(config.endpoint.clone())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(config.timeout)
            .build(),
    };
    built.map_err(|e| TelemetryError::Exporter(config.signal, e.to_string()))
}

fn metric_exporter(
    config: &SignalConfig,
) -> Result<opentelemetry_otlp::MetricExporter, TelemetryError> {
    let builder = opentelemetry_otlp::MetricExporter::builder();
    let built = match config.protocol {
        Protocol::Grpc => builder
            .with_tonic()
            .with_channel(channel(config)?)
            .with_timeout(config.timeout)
            .build(),
        Protocol::HttpProtobuf => builder
            .with_http()
            .with_http_client(http_client(config)?)
            .with_endpoint(config.endpoint.clone())
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(config.timeout)
            .build(),
    };
    built.map_err(|e| TelemetryError::Exporter(config.signal, e.to_string()))
}

/// A lazily connecting gRPC channel over our connector (so TLS is configured the same way for
/// both transports). Must be called inside the Tokio runtime.
fn channel(config: &SignalConfig) -> Result<tonic::transport::Channel, TelemetryError> {
    let endpoint = tonic::transport::Endpoint::from_shared(config.endpoint.clone())
        .map_err(|e| TelemetryError::Endpoint {
            endpoint: config.endpoint.clone(),
            reason: e.to_string(),
        })?
        .timeout(config.timeout)
        .user_agent(concat!("openclaw-operator/", env!("CARGO_PKG_VERSION")))
        .map_err(|e| TelemetryError::Endpoint {
            endpoint: config.endpoint.clone(),
            reason: e.to_string(),
        })?;
    Ok(endpoint.connect_with_connector_lazy(connector(config)?))
}

fn http_client(
    config: &SignalConfig,
) -> Result<
    opentelemetry_http::hyper::HyperClient<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    >,
    TelemetryError,
> {
    Ok(opentelemetry_http::hyper::HyperClient::new(
        connector(config)?,
        config.timeout,
        None,
    ))
}

/// A running OTLP push. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    /// The metric instruments bridged from the registry (kept alive here).
    bridge: Arc<Mutex<Option<bridge::Bridge>>>,
    interval: Duration,
    endpoints: String,
}

impl Telemetry {
    /// Sets up the push of each configured signal; connects lazily, so a collector that is
    /// down is no error here. `runtime` is where exports run (the operator's Tokio runtime).
    /// `Ok(None)`: every signal is off.
    pub fn start(settings: &Settings, runtime: &Handle) -> Result<Option<Self>, TelemetryError> {
        let env = |name: &str| std::env::var(name).ok();
        let traces = resolve(Signal::Traces, settings, env)?;
        let metrics = resolve(Signal::Metrics, settings, env)?;
        if traces.is_none() && metrics.is_none() {
            return Ok(None);
        }
        let _guard = runtime.enter();
        let resource = resource();
        let tracer_provider = match &traces {
            None => None,
            Some(c) => {
                let exporter = Logged::new(span_exporter(c)?, c);
                let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                    exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .build();
                Some(
                    SdkTracerProvider::builder()
                        .with_resource(resource.clone())
                        .with_span_processor(processor)
                        .build(),
                )
            }
        };
        let interval =
            config::env_millis(&env, "OTEL_METRIC_EXPORT_INTERVAL").unwrap_or(DEFAULT_INTERVAL);
        let meter_provider = match &metrics {
            None => None,
            Some(c) => {
                let exporter = Logged::new(metric_exporter(c)?, c);
                let reader = opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader::builder(
                    exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .with_interval(interval)
                .build();
                Some(
                    SdkMeterProvider::builder()
                        .with_resource(resource)
                        .with_reader(reader)
                        .build(),
                )
            }
        };
        let endpoints = [&traces, &metrics]
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{} to {} ({})",
                    c.signal.name(),
                    c.endpoint,
                    c.protocol.name()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Some(Self {
            tracer_provider,
            meter_provider,
            bridge: Arc::new(Mutex::new(None)),
            interval,
            endpoints,
        }))
    }

    /// What goes where, for the log.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    /// The `tracing` layer that exports spans (not those of the exporter's own stack); `None`
    /// when traces are off.
    pub fn layer<S>(&self) -> Option<impl Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        let provider = self.tracer_provider.as_ref()?;
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("openclaw-operator"))
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    let target = meta.target();
                    !OWN_TARGETS.iter().any(|own| {
                        target
                            .strip_prefix(own)
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
                    })
                })),
        )
    }

    /// Starts pushing `metrics` (when metrics are on): the registry's counters and gauges
    /// through observable instruments, its histograms recorded directly. Call once, from the
    /// runtime.
    pub fn spawn_metrics(&self, metrics: Arc<Metrics>) {
        let Some(provider) = &self.meter_provider else {
            tracing::info!(endpoints = %self.endpoints, "pushing traces over OTLP (metrics off)");
            return;
        };
        use opentelemetry::metrics::MeterProvider as _;
        let meter = provider.meter("openclaw-operator");
        metrics.attach_meter(&meter);
        let bridge = bridge::Bridge::new(meter, metrics);
        bridge.sync();
        let mut slot = self.bridge.lock().unwrap_or_else(PoisonError::into_inner);
        *slot = Some(bridge.clone());
        drop(slot);
        // Families that appear later (a collector with no series yet) get their instrument
        // before the next export.
        let interval = self.interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)) / 2);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                bridge.sync();
            }
        });
        tracing::info!(endpoints = %self.endpoints, interval = ?self.interval, "pushing metrics and traces over OTLP");
    }

    /// Pushes the metrics a last time and flushes the queued spans, within
    /// [`SHUTDOWN_TIMEOUT`].
    pub async fn shutdown(&self) {
        // Families that appeared since the last sync are in the last push too.
        let bridge = self
            .bridge
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(bridge) = bridge {
            bridge.sync();
        }
        let tracer = self.tracer_provider.clone();
        let meter = self.meter_provider.clone();
        // The providers' shutdown blocks until their runtime tasks answer.
        let flush = tokio::task::spawn_blocking(move || {
            let traces = tracer.map(|p| p.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
            let metrics = meter.map(|p| p.shutdown_with_timeout(SHUTDOWN_TIMEOUT));
            [traces, metrics]
                .into_iter()
                .flatten()
                .find_map(Result::err)
        });
        match tokio::time::timeout(SHUTDOWN_TIMEOUT * 2, flush).await {
            Ok(Ok(None)) => tracing::info!("OTLP push flushed"),
            Ok(Ok(Some(e))) => tracing::warn!("OTLP: flushing on shutdown: {e}"),
            Ok(Err(e)) => tracing::warn!("OTLP: flushing on shutdown: {e}"),
            Err(_) => tracing::warn!("OTLP: flushing on shutdown timed out"),
        }
    }
}
