//! OTLP push against a real receiver: a minimal OTLP collector in the test (OTLP/gRPC over
//! h2c and OTLP/HTTP protobuf, on one port) and the operator binary against the local cluster.
//! Metrics (with attributes and the `service.name` resource) and reconcile spans arrive; with
//! no collector the operator reconciles and stays up, warns once, and recovers when one appears;
//! SIGTERM flushes.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::convert::Infallible;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::Client;
use kube::api::Api;
use openclaw_api::{OpenClawInstance, crd};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;
use testkit::TestNamespace;
use testkit::process::OperatorProcess;

const TIMEOUT: Duration = Duration::from_secs(120);

type Body = StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// What the collector received.
#[derive(Default)]
struct Received {
    metrics: Vec<ExportMetricsServiceRequest>,
    traces: Vec<ExportTraceServiceRequest>,
    /// `(path, content-type)` of every request.
    requests: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Received>>);

impl Collector {
    /// Serves OTLP on `listener` until the returned task is aborted.
    fn serve(&self, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        self.serve_with(listener, None)
    }

    /// Serves OTLP on `listener`, over TLS with `acceptor`.
    fn serve_with(
        &self,
        listener: tokio::net::TcpListener,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let this = this.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { Ok::<_, Infallible>(this.handle(req).await) }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match acceptor {
                        None => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            builder.serve_connection(TokioIo::new(tls), service).await
                        }
                    };
                });
            }
        })
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path().to_string();
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let grpc = content_type.starts_with("application/grpc");
        let message = if grpc {
            assert_eq!(body[0], 0, "uncompressed gRPC frame");
            let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
            assert_eq!(len, body.len() - 5, "one gRPC message");
            body.slice(5..)
        } else {
            body
        };
        {
            let mut r = self.0.lock().unwrap();
            r.requests.push((path.clone(), content_type.clone()));
            match path.as_str() {
                "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
                | "/v1/metrics" => r
                    .metrics
                    .push(ExportMetricsServiceRequest::decode(message).unwrap()),
                "/opentelemetry.proto.collector.trace.v1.TraceService/Export" | "/v1/traces" => r
                    .traces
                    .push(ExportTraceServiceRequest::decode(message).unwrap()),
                other => panic!("unexpected path {other}"),
            }
        }
        if grpc {
            // An empty Export*ServiceResponse, then grpc-status in the trailers.
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            let frames = vec![
                Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
                Ok(Frame::trailers(trailers)),
            ];
            Response::builder()
                .header("content-type", "application/grpc")
                .body(StreamBody::new(futures::stream::iter(frames)))
                .unwrap()
        } else {
            Response::builder()
                .header("content-type", "application/x-protobuf")
                .body(StreamBody::new(futures::stream::iter(vec![])))
                .unwrap()
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let r = self.0.lock().unwrap();
        r.metrics
            .iter()
            .flat_map(|m| &m.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| sm.metrics.clone())
            .collect()
    }

    fn spans(&self) -> Vec<Span> {
        let r = self.0.lock().unwrap();
        r.traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.clone())
            .collect()
    }

    /// The resource attributes of every metrics request and trace request.
    fn resources(&self) -> Vec<Vec<KeyValue>> {
        let r = self.0.lock().unwrap();
        let m = r
            .metrics
            .iter()
            .flat_map(|m| &m.resource_metrics)
            .filter_map(|rm| rm.resource.as_ref().map(|r| r.attributes.clone()));
        let t = r
            .traces
            .iter()
            .flat_map(|t| &t.resource_spans)
            .filter_map(|rs| rs.resource.as_ref().map(|r| r.attributes.clone()));
        m.chain(t).collect()
    }
}

fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The latest value of the number series `name` whose attributes include `attrs`.
fn number(metrics: &[Metric], name: &str, attrs: &[(&str, &str)]) -> Option<f64> {
    metrics
        .iter()
        .filter(|m| m.name == name)
        .filter_map(|m| match &m.data {
            Some(metric::Data::Gauge(g)) => Some(&g.data_points),
            Some(metric::Data::Sum(s)) => {
                assert!(s.is_monotonic, "{name} is a monotonic sum");
                Some(&s.data_points)
            }
            _ => None,
        })
        .flatten()
        .filter(|dp| {
            attrs
                .iter()
                .all(|(k, v)| string_attr(&dp.attributes, k).as_deref() == Some(*v))
        })
        .filter_map(|dp| match dp.value? {
            number_data_point::Value::AsInt(i) => Some(i as f64),
            number_data_point::Value::AsDouble(d) => Some(d),
        })
        .next_back()
}

fn free_port() -> u16 {
    testkit::process::free_port().expect("port")
}

/// One `openclaw-operator run` child process (killed on drop).
struct Operator(OperatorProcess);

impl Operator {
    fn start(name: &str, namespace: &str, otlp_args: &[String], env: &[(&str, String)]) -> Self {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_openclaw-operator"));
        let process = OperatorProcess::start_with(binary, name, |cmd| {
            cmd.arg(format!("--watch-namespaces={namespace}"))
                .args(otlp_args)
                .env("LOG_LEVEL", "info")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
                .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
                .env("OTEL_BSP_SCHEDULE_DELAY", "200")
                .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
                .envs(env.iter().map(|(k, v)| (k, v)));
        });
        Self(process.expect("operator started"))
    }

    fn log(&self) -> String {
        self.0.log()
    }

    fn running(&mut self) -> bool {
        self.0.running()
    }

    fn ready(&self) -> bool {
        self.0.readyz().0 == 200
    }

    /// SIGTERM, then the exit code.
    async fn terminate(&mut self) -> Option<i32> {
        self.0
            .signal(rustix::process::Signal::TERM)
            .expect("signal sent");
        self.0
            .wait_exit(Duration::from_secs(30))
            .await
            .expect("exited")
    }
}

async fn setup(prefix: &str) -> Option<(Client, TestNamespace)> {
    let cluster = testkit::cluster().await?;
    cluster
        .install_crds(&crd::all(), TIMEOUT)
        .await
        .expect("CRDs");
    let ns = cluster.namespace(prefix).await.expect("namespace");
    Some((cluster.client(), ns))
}

async fn apply_instance(client: &Client, ns: &str, name: &str) {
    testkit::apply_instance(client, ns, name, json!({}))
        .await
        .expect("instance applied");
}

/// Waits until `check` holds, failing with the operator's log.
async fn eventually(op: &Operator, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out waiting for {what}\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Metrics with attributes, the resource, reconcile spans with namespace/name, and the flush on
/// SIGTERM, for one protocol.
async fn pushes(prefix: &str, args: impl FnOnce(u16) -> Vec<String>, grpc: bool) {
    let Some((client, ns)) = setup(prefix).await else {
        return;
    };
    let n = ns.name().to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let collector = Collector::default();
    let server = collector.serve(listener);
    let mut op = Operator::start(&format!("{n}-op"), &n, &args(port), &[]);
    apply_instance(&client, &n, "traced").await;

    eventually(&op, "metrics with the instance", || {
        let m = collector.metrics();
        number(&m, "openclaw_managed_instances", &[]).is_some_and(|v| v >= 1.0)
            && number(&m, "workqueue_adds_total", &[("name", "openclawinstance")])
                .is_some_and(|v| v >= 1.0)
            && number(
                &m,
                "openclaw_reconcile_total",
                &[("namespace", &n), ("instance", "traced")],
            )
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    let metrics = collector.metrics();
    let histogram = metrics
        .iter()
        .rev()
        .find_map(|m| match (&m.name[..], &m.data) {
            ("openclaw_reconcile_duration_seconds", Some(metric::Data::Histogram(h))) => h
                .data_points
                .iter()
                .find(|dp| string_attr(&dp.attributes, "namespace").as_deref() == Some(&n)),
            _ => None,
        })
        .expect("reconcile duration histogram");
    assert!(histogram.count >= 1);
    assert_eq!(
        histogram.explicit_bounds.len() + 1,
        histogram.bucket_counts.len()
    );
    assert_eq!(histogram.bucket_counts.iter().sum::<u64>(), histogram.count);
    assert!(
        histogram.start_time_unix_nano > 0
            && histogram.start_time_unix_nano <= histogram.time_unix_nano
    );

    eventually(&op, "a reconcile span", || {
        collector.spans().iter().any(|s| {
            s.name == "reconcile"
                && string_attr(&s.attributes, "namespace").as_deref() == Some(&n)
                && string_attr(&s.attributes, "instance").as_deref() == Some("traced")
        })
    })
    .await;
    for attrs in collector.resources() {
        assert_eq!(
            string_attr(&attrs, "service.name").as_deref(),
            Some("openclaw-operator")
        );
        assert_eq!(
            string_attr(&attrs, "service.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            string_attr(&attrs, "service.instance.id"),
            Some(format!("{n}-op"))
        );
    }
    {
        let r = collector.0.lock().unwrap();
        for (path, content_type) in &r.requests {
            if grpc {
                assert!(
                    path.starts_with("/opentelemetry.proto.collector."),
                    "{path}"
                );
                assert_eq!(content_type, "application/grpc");
            } else {
                assert!(path == "/v1/metrics" || path == "/v1/traces", "{path}");
                assert_eq!(content_type, "application/x-protobuf");
            }
        }
    }

    // SIGTERM: the last metrics and the queued spans are flushed.
    let before = collector.0.lock().unwrap().metrics.len();
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    let log = op.log();
    assert!(log.contains("OTLP push flushed"), "{log}");
    assert!(collector.0.lock().unwrap().metrics.len() > before);
    assert!(!log.contains("OTLP export failed"), "{log}");
    server.abort();
}

#[tokio::test]
async fn pushes_metrics_and_spans_over_grpc() {
    // `host:port` as the Go operator's users set it; `--otlp-insecure` defaults to true.
    pushes(
        "otlp-grpc",
        |port| vec![format!("--otlp-endpoint=127.0.0.1:{port}")],
        true,
    )
    .await;
}

#[tokio::test]
async fn pushes_metrics_and_spans_over_http_protobuf() {
    pushes(
        "otlp-http",
        |port| {
            vec![
                format!("--otlp-endpoint=http://127.0.0.1:{port}"),
                "--otlp-protocol=http/protobuf".to_string(),
            ]
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn keeps_running_without_a_collector_and_recovers() {
    let Some((client, ns)) = setup("otlp-down").await else {
        return;
    };
    let n = ns.name().to_string();
    let port = free_port(); // nothing listens here (yet)
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &[format!("--otlp-endpoint=127.0.0.1:{port}")],
        &[],
    );
    apply_instance(&client, &n, "lonely").await;
    testkit::wait_for(
        &Api::<OpenClawInstance>::namespaced(client.clone(), &n),
        "lonely",
        |i: &OpenClawInstance| i.status.as_ref().and_then(|s| s.phase.as_ref()).is_some(),
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("never reconciled: {e}\n{}", op.log()));
    eventually(&op, "ready", || op.ready()).await;
    eventually(&op, "a warning", || op.log().contains("OTLP export failed")).await;
    // About 10 metrics pushes fail in 3 s (and span batches): still one warning per signal.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(op.running(), "{}", op.log());
    assert!(op.ready());
    let log = op.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains("OTLP export failed"))
        .count();
    assert!((1..=2).contains(&warnings), "{warnings} warnings:\n{log}");
    assert!(log.contains("WARN"), "{log}");

    // The collector comes up: pushes work again, with one line saying so.
    let collector = Collector::default();
    let server = collector.serve(
        tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap(),
    );
    eventually(&op, "metrics after recovery", || {
        number(&collector.metrics(), "openclaw_managed_instances", &[]).is_some_and(|v| v >= 1.0)
    })
    .await;
    eventually(&op, "the recovery line", || {
        op.log().contains("OTLP export works again")
    })
    .await;
    assert!(op.running());
    server.abort();

    // SIGTERM: a clean exit, within the flush limit.
    let start = Instant::now();
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn pushes_over_tls_with_a_private_ca() {
    let Some((client, ns)) = setup("otlp-tls").await else {
        return;
    };
    let n = ns.name().to_string();
    let pair = openclaw_operator::tls::self_signed_pem(&["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pair.cert_pem).unwrap();
    let key = openclaw_operator::tls::certified_key_from_pem(
        pair.cert_pem.as_bytes(),
        pair.key_pem.as_bytes(),
    )
    .unwrap();
    let mut config = openclaw_operator::tls::server_config(Arc::new(
        openclaw_operator::tls::SwappableCert::new(Arc::new(key)),
    ))
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let collector = Collector::default();
    let server = collector.serve_with(listener, Some(acceptor));
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &[
            format!("--otlp-endpoint=localhost:{port}"),
            "--otlp-insecure=false".to_string(),
        ],
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.display().to_string())],
    );
    apply_instance(&client, &n, "secure").await;
    eventually(&op, "metrics over TLS", || {
        number(&collector.metrics(), "openclaw_managed_instances", &[]).is_some_and(|v| v >= 1.0)
    })
    .await;
    assert!(!op.log().contains("OTLP export failed"), "{}", op.log());
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    server.abort();
}
