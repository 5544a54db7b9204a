//! OTLP push against a real OpenTelemetry Collector (built from its Go modules by
//! `hack/otelcol/build.sh`, started by `testkit::otelcol` with an OTLP receiver writing to
//! files), and the operator binary against the local cluster:
//!
//! - metrics (names, attributes, a histogram) and reconcile spans arrive over OTLP/gRPC and
//!   OTLP/HTTP, gzip-compressed, with the `service.*` resource; SIGTERM flushes;
//! - per-signal variables send traces and metrics to different receivers, and
//!   `OTEL_TRACES_EXPORTER=none` turns traces off;
//! - with the Collector down the operator reconciles, warns once, and recovers when it is back;
//! - TLS with a private CA, and mTLS: a client certificate is required and sent.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::Api;
use openclaw_api::{OpenClawInstance, crd};
use serde_json::json;
use testkit::TestNamespace;
use testkit::otelcol::{Collector, Options};
use testkit::process::OperatorProcess;

const TIMEOUT: Duration = Duration::from_secs(120);

/// One `openclaw-operator run` child process (killed on drop).
struct Operator(OperatorProcess);

impl Operator {
    fn start(name: &str, namespace: &str, otlp_args: &[String], env: &[(&str, String)]) -> Self {
        let binary = Path::new(env!("CARGO_BIN_EXE_openclaw-operator"));
        let process = OperatorProcess::start_with(binary, name, |cmd| {
            cmd.arg(format!("--watch-namespaces={namespace}"))
                .args(otlp_args);
            for (k, _) in std::env::vars() {
                if k.starts_with("OTEL_") {
                    cmd.env_remove(k);
                }
            }
            cmd.env("LOG_LEVEL", "info")
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

/// A Collector, or `None` (test skipped) when none is built and none is required.
fn collector(options: Options) -> Option<Collector> {
    Collector::start(options).expect("collector started")
}

async fn apply_instance(client: &Client, ns: &str, name: &str) {
    testkit::apply_instance(client, ns, name, json!({}))
        .await
        .expect("instance applied");
}

/// Waits until `check` holds, failing with both logs.
async fn eventually(op: &Operator, c: &Collector, what: &str, check: impl Fn(&Collector) -> bool) {
    let start = Instant::now();
    while !check(c) {
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out waiting for {what}\n--- operator\n{}\n--- collector\n{}",
            op.log(),
            c.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The operator's metrics with the instance's series, as `/metrics` names them.
fn has_instance_metrics(c: &Collector, ns: &str, instance: &str) -> bool {
    c.number("openclaw_managed_instances", &[])
        .is_some_and(|v| v >= 1.0)
        && c.number("workqueue_adds_total", &[("name", "openclawinstance")])
            .is_some_and(|v| v >= 1.0)
        && c.number(
            "openclaw_reconcile_total",
            &[("namespace", ns), ("instance", instance)],
        )
        .is_some_and(|v| v >= 1.0)
}

/// The latest data point of the histogram `name` for the namespace `ns`.
fn histogram_point(c: &Collector, name: &str, ns: &str) -> Option<serde_json::Value> {
    c.metrics()
        .into_iter()
        .filter(|(_, m)| m["name"] == name)
        .flat_map(|(_, m)| {
            m["histogram"]["dataPoints"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .rfind(|dp| {
            testkit::otelcol::attributes(dp.get("attributes"))
                .get("namespace")
                .map(String::as_str)
                == Some(ns)
        })
}

fn has_reconcile_span(c: &Collector, ns: &str, instance: &str) -> bool {
    c.spans().iter().any(|s| {
        s.name == "reconcile"
            && s.attributes.get("namespace").map(String::as_str) == Some(ns)
            && s.attributes.get("instance").map(String::as_str) == Some(instance)
    })
}

/// Metrics with attributes, a histogram, the resource, reconcile spans with namespace and
/// instance, and the flush on SIGTERM, over one protocol.
async fn pushes(prefix: &str, grpc: bool) {
    let Some((client, ns)) = setup(prefix).await else {
        return;
    };
    let Some(c) = collector(Options::default()) else {
        return;
    };
    let n = ns.name().to_string();
    let args = if grpc {
        // `host:port` as the Go operator's users set it; `--otlp-insecure` defaults to true.
        vec![format!(
            "--otlp-endpoint=127.0.0.1:{}",
            c.grpc_port().unwrap()
        )]
    } else {
        vec![
            format!("--otlp-endpoint={}", c.http_endpoint()),
            "--otlp-protocol=http/protobuf".to_string(),
        ]
    };
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &args,
        &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into())],
    );
    apply_instance(&client, &n, "traced").await;

    eventually(&op, &c, "metrics with the instance", |c| {
        has_instance_metrics(c, &n, "traced")
    })
    .await;
    eventually(&op, &c, "the reconcile histogram", |c| {
        histogram_point(c, "openclaw_reconcile_duration_seconds", &n).is_some()
    })
    .await;
    let point = histogram_point(&c, "openclaw_reconcile_duration_seconds", &n).unwrap();
    let count: u64 = point["count"].as_str().unwrap().parse().unwrap();
    assert!(count >= 1, "{point}");
    let bounds = point["explicitBounds"].as_array().unwrap();
    let buckets = point["bucketCounts"].as_array().unwrap();
    assert_eq!(bounds.len(), 11, "the Go operator's buckets: {point}");
    assert_eq!(bounds.len() + 1, buckets.len());
    let sum: u64 = buckets
        .iter()
        .map(|b| b.as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, count);

    eventually(&op, &c, "a reconcile span", |c| {
        has_reconcile_span(c, &n, "traced")
    })
    .await;
    let resources = c.resource_attributes();
    assert!(!resources.is_empty());
    for attrs in resources {
        assert_eq!(
            attrs.get("service.name").map(String::as_str),
            Some("openclaw-operator")
        );
        assert_eq!(
            attrs.get("service.version").map(String::as_str),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(attrs.get("service.instance.id"), Some(&format!("{n}-op")));
    }

    // SIGTERM: the last metrics are pushed, the queued spans flushed.
    let before = c.metrics_json().len();
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    let log = op.log();
    assert!(log.contains("OTLP push flushed"), "{log}");
    assert!(!log.contains("OTLP export failed"), "{log}");
    let start = Instant::now();
    while c.metrics_json().len() <= before {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no final push\n{}",
            c.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pushes_metrics_and_spans_over_grpc() {
    pushes("otlp-grpc", true).await;
}

#[tokio::test]
async fn pushes_metrics_and_spans_over_http_protobuf() {
    pushes("otlp-http", false).await;
}

#[tokio::test]
async fn per_signal_endpoints_and_traces_off() {
    let Some((client, ns)) = setup("otlp-signals").await else {
        return;
    };
    let (Some(traces), Some(metrics)) = (collector(Options::http()), collector(Options::grpc()))
    else {
        return;
    };
    let n = ns.name().to_string();
    // Metrics over gRPC to one Collector, traces over HTTP to another, by per-signal variables.
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &[format!(
            "--otlp-endpoint=127.0.0.1:{}",
            metrics.grpc_port().unwrap()
        )],
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{}/v1/traces", traces.http_endpoint()),
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf".into()),
        ],
    );
    apply_instance(&client, &n, "split").await;
    eventually(&op, &metrics, "metrics on the gRPC Collector", |c| {
        has_instance_metrics(c, &n, "split")
    })
    .await;
    eventually(&op, &traces, "spans on the HTTP Collector", |c| {
        has_reconcile_span(c, &n, "split")
    })
    .await;
    assert!(metrics.spans().is_empty(), "no spans where only metrics go");
    assert!(
        traces.metrics().is_empty(),
        "no metrics where only traces go"
    );
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());

    // OTEL_TRACES_EXPORTER=none: metrics only (what the Go operator pushed).
    let Some(c) = collector(Options::grpc()) else {
        return;
    };
    let mut op = Operator::start(
        &format!("{n}-op2"),
        &n,
        &[format!(
            "--otlp-endpoint=127.0.0.1:{}",
            c.grpc_port().unwrap()
        )],
        &[("OTEL_TRACES_EXPORTER", "none".into())],
    );
    testkit::apply_instance(
        &client,
        &n,
        "split",
        json!({"env": [{"name": "X", "value": "1"}]}),
    )
    .await
    .expect("instance changed");
    eventually(&op, &c, "metrics with traces off", |c| {
        c.number("openclaw_managed_instances", &[])
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    assert!(c.spans().is_empty(), "traces are off: {:?}", c.span_names());
}

#[tokio::test]
async fn keeps_running_without_a_collector_and_recovers() {
    let Some((client, ns)) = setup("otlp-down").await else {
        return;
    };
    let Some(mut c) = collector(Options::grpc()) else {
        return;
    };
    c.stop(); // the port is known, nothing listens on it (yet)
    let n = ns.name().to_string();
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &[format!(
            "--otlp-endpoint=127.0.0.1:{}",
            c.grpc_port().unwrap()
        )],
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
    eventually(&op, &c, "ready", |_| op.ready()).await;
    eventually(&op, &c, "a warning", |_| {
        op.log().contains("OTLP export failed")
    })
    .await;
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

    // The Collector comes up: pushes work again, with one line saying so.
    c.restart().expect("collector restarted");
    eventually(&op, &c, "metrics after recovery", |c| {
        c.number("openclaw_managed_instances", &[])
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    eventually(&op, &c, "the recovery line", |_| {
        op.log().contains("OTLP export works again")
    })
    .await;
    assert!(op.running());

    // SIGTERM: a clean exit, within the flush limit.
    let start = Instant::now();
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
    assert!(start.elapsed() < Duration::from_secs(20));
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(DnType::CommonName, "otlp test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.crt"), ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        for (name, sans) in [
            (
                "server",
                vec!["127.0.0.1".to_string(), "localhost".to_string()],
            ),
            ("client", vec!["openclaw-operator".to_string()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(sans)
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            std::fs::write(dir.path().join(format!("{name}.crt")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Self { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

#[tokio::test]
async fn pushes_over_tls_and_mtls_with_a_private_ca() {
    let Some((client, ns)) = setup("otlp-tls").await else {
        return;
    };
    let pki = Pki::new();
    // TLS only: the private CA is trusted through OTEL_EXPORTER_OTLP_CERTIFICATE.
    let Some(tls) =
        collector(Options::grpc().with_tls(pki.path("server.crt"), pki.path("server.key")))
    else {
        return;
    };
    let n = ns.name().to_string();
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &[
            format!("--otlp-endpoint=localhost:{}", tls.grpc_port().unwrap()),
            "--otlp-insecure=false".to_string(),
        ],
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.crt"))],
    );
    apply_instance(&client, &n, "secure").await;
    eventually(&op, &tls, "metrics over TLS", |c| {
        c.number("openclaw_managed_instances", &[])
            .is_some_and(|v| v >= 1.0)
    })
    .await;
    assert!(!op.log().contains("OTLP export failed"), "{}", op.log());
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());

    // mTLS over HTTP: without a client certificate the Collector refuses...
    let Some(mtls) = collector(
        Options::http()
            .with_tls(pki.path("server.crt"), pki.path("server.key"))
            .with_client_ca(pki.path("ca.crt")),
    ) else {
        return;
    };
    let endpoint = format!("https://localhost:{}", mtls.http_port().unwrap());
    let args = [
        format!("--otlp-endpoint={endpoint}"),
        "--otlp-protocol=http/protobuf".to_string(),
    ];
    let mut op = Operator::start(
        &format!("{n}-op2"),
        &n,
        &args,
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.crt"))],
    );
    eventually(&op, &mtls, "the refusal", |_| {
        op.log().contains("OTLP export failed")
    })
    .await;
    assert!(op.running());
    assert!(mtls.metrics().is_empty());
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());

    // ...and with one, metrics and spans arrive.
    let mut op = Operator::start(
        &format!("{n}-op3"),
        &n,
        &args,
        &[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.path("ca.crt")),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                pki.path("client.crt"),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.path("client.key")),
        ],
    );
    testkit::apply_instance(
        &client,
        &n,
        "secure",
        json!({"env": [{"name": "X", "value": "1"}]}),
    )
    .await
    .expect("instance changed");
    eventually(&op, &mtls, "metrics and spans over mTLS", |c| {
        c.number("openclaw_managed_instances", &[])
            .is_some_and(|v| v >= 1.0)
            && c.span_names().iter().any(|s| s == "reconcile")
    })
    .await;
    assert!(!op.log().contains("OTLP export failed"), "{}", op.log());
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
}

#[tokio::test]
async fn a_bad_setting_is_a_warning_and_the_operator_runs_without_the_push() {
    let Some((client, ns)) = setup("otlp-bad").await else {
        return;
    };
    let n = ns.name().to_string();
    let mut op = Operator::start(
        &format!("{n}-op"),
        &n,
        &["--otlp-endpoint=collector:4317".to_string()],
        &[(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "/nonexistent/client.crt".into(),
        )],
    );
    apply_instance(&client, &n, "fine").await;
    testkit::wait_for(
        &Api::<OpenClawInstance>::namespaced(client.clone(), &n),
        "fine",
        |i: &OpenClawInstance| i.status.as_ref().and_then(|s| s.phase.as_ref()).is_some(),
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("never reconciled: {e}\n{}", op.log()));
    let log = op.log();
    assert!(
        log.contains("OTLP push disabled") && log.contains("needs its key"),
        "{log}"
    );
    assert!(op.running());
    assert_eq!(op.terminate().await, Some(0), "{}", op.log());
}
