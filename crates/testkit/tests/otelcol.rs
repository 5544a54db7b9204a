//! The Collector harness itself: the config it writes is accepted, the Collector becomes
//! ready, what is sent over OTLP/HTTP (plain, and TLS with client certificates) shows up in the
//! readers, and `stop` / `restart` take it down and bring it back on the same ports with its
//! earlier output.
//!
//! Skipped without the binary of `hack/otelcol/build.sh` (unless `OPENCLAW_REQUIRE_OTELCOL` is
//! set).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use testkit::otelcol::{Collector, Options};

const WAIT: Duration = Duration::from_secs(10);

/// One HTTP/1.1 POST of a JSON body over `stream`; the status code.
fn post<S: Read + Write>(mut stream: S, port: u16, path: &str, body: &str) -> std::io::Result<u16> {
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// A POST over plain TCP; 0 when the connection fails.
fn post_plain(port: u16, path: &str, body: &str) -> u16 {
    let attempt = || -> std::io::Result<u16> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(WAIT))?;
        post(stream, port, path, body)
    };
    attempt().unwrap_or(0)
}

fn metrics_request(service: &str, value: i64, time: u64) -> String {
    json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeMetrics": [{"scope": {"name": "testkit"}, "metrics": [
            {"name": "requests_total", "sum": {
                "aggregationTemporality": 2, "isMonotonic": true,
                "dataPoints": [
                    {"asInt": value.to_string(), "timeUnixNano": time.to_string(),
                     "attributes": [{"key": "result", "value": {"stringValue": "ok"}},
                                    {"key": "shard", "value": {"intValue": "3"}}]},
                    {"asInt": "1", "timeUnixNano": time.to_string(),
                     "attributes": [{"key": "result", "value": {"stringValue": "error"}}]}
                ]}},
            {"name": "temperature", "gauge": {
                "dataPoints": [{"asDouble": 21.5, "timeUnixNano": time.to_string()}]}}
        ]}]
    }]})
    .to_string()
}

#[test]
fn config_has_the_receiver_the_file_exporters_and_no_telemetry_port() {
    let options = Options::default()
        .with_tls("/c/cert.pem", "/c/key.pem")
        .with_client_ca("/c/ca.pem");
    let yaml = options.config_yaml(Some(4317), Some(4318), Path::new("/out"));
    for want in [
        "      grpc:\n        endpoint: 127.0.0.1:4317\n        tls:\n",
        "      http:\n        endpoint: 127.0.0.1:4318\n        tls:\n",
        "          client_ca_file: \"/c/ca.pem\"\n",
        "  file/metrics:\n    path: \"/out/metrics.jsonl\"\n    format: json\n    append: true\n    flush_interval: 100ms\n",
        "    metrics:\n      level: none\n",
        "      exporters: [file/traces, debug]\n",
    ] {
        assert!(yaml.contains(want), "missing {want:?} in\n{yaml}");
    }
    let grpc_only = Options::grpc().config_yaml(Some(1), None, Path::new("/out"));
    assert!(
        !grpc_only.contains("http:") && !grpc_only.contains("tls:"),
        "{grpc_only}"
    );

    // The binary accepts it (`validate` checks every component's config).
    let Some(binary) = testkit::otelcol::binary() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        Options::default().config_yaml(Some(1), Some(2), dir.path()),
    )
    .unwrap();
    let out = std::process::Command::new(binary)
        .arg("validate")
        .arg(format!("--config=file:{}", config.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn receives_over_http_then_stops_and_restarts_on_the_same_ports() {
    let Some(mut collector) = Collector::start(Options::default()).unwrap() else {
        return;
    };
    let (grpc, http) = (
        collector.grpc_port().unwrap(),
        collector.http_port().unwrap(),
    );
    assert_ne!(grpc, http);
    assert_eq!(
        collector.grpc_endpoint(),
        format!("http://127.0.0.1:{grpc}")
    );
    assert_eq!(
        collector.http_endpoint(),
        format!("http://127.0.0.1:{http}")
    );
    assert!(collector.is_running());
    assert!(
        collector.log().contains("Everything is ready"),
        "{}",
        collector.log()
    );
    assert!(TcpStream::connect(("127.0.0.1", grpc)).is_ok());

    assert_eq!(
        post_plain(http, "/v1/metrics", &metrics_request("svc-a", 5, 1_000)),
        200
    );
    assert_eq!(
        post_plain(http, "/v1/metrics", &metrics_request("svc-a", 7, 2_000)),
        200
    );
    let trace = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc-a"}}]},
        "scopeSpans": [{"scope": {"name": "testkit"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "parentSpanId": "eee19b7ec3c1b173",
            "name": "reconcile", "kind": 1,
            "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
            "attributes": [{"key": "k8s.namespace.name", "value": {"stringValue": "ns1"}},
                           {"key": "attempt", "value": {"intValue": "2"}}]
        }]}]
    }]})
    .to_string();
    assert_eq!(post_plain(http, "/v1/traces", &trace), 200);

    collector
        .wait_until_blocking("both metrics requests and the span", WAIT, |c| {
            c.metrics_json().len() == 2 && c.spans().len() == 1
        })
        .unwrap();
    assert!(collector.metrics_json()[0]["resourceMetrics"].is_array());
    assert_eq!(collector.metric_names(), ["requests_total", "temperature"]);
    assert_eq!(
        collector.number("requests_total", &[("result", "ok")]),
        Some(7.0)
    );
    assert_eq!(
        collector.number("requests_total", &[("result", "ok"), ("shard", "3")]),
        Some(7.0)
    );
    assert_eq!(
        collector.number("requests_total", &[("result", "error")]),
        Some(1.0)
    );
    assert_eq!(
        collector.number("requests_total", &[("result", "nope")]),
        None
    );
    assert_eq!(collector.number("temperature", &[]), Some(21.5));
    assert_eq!(collector.data_points("requests_total").len(), 4);
    let spans = collector.spans();
    assert_eq!(collector.span_names(), ["reconcile"]);
    assert_eq!(spans[0].attributes["k8s.namespace.name"], "ns1");
    assert_eq!(spans[0].attributes["attempt"], "2");
    assert_eq!(spans[0].scope, "testkit");
    assert_eq!(spans[0].parent_span_id, "eee19b7ec3c1b173");
    assert_eq!(spans[0].resource["service.name"], "svc-a");
    assert_eq!(collector.resource_attributes().len(), 1);
    assert_eq!(collector.resource_attributes()[0]["service.name"], "svc-a");

    collector.stop();
    assert!(!collector.is_running());
    assert!(
        TcpStream::connect(("127.0.0.1", http)).is_err(),
        "the HTTP port still accepts"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", grpc)).is_err(),
        "the gRPC port still accepts"
    );

    collector.restart().unwrap();
    assert!(collector.is_running());
    assert_eq!(
        (collector.grpc_port(), collector.http_port()),
        (Some(grpc), Some(http))
    );
    assert_eq!(
        post_plain(http, "/v1/metrics", &metrics_request("svc-b", 9, 3_000)),
        200
    );
    collector
        .wait_until_blocking("the request after the restart", WAIT, |c| {
            c.metrics_json().len() == 3
        })
        .unwrap();
    assert_eq!(
        collector.number("requests_total", &[("result", "ok")]),
        Some(9.0)
    );
    assert_eq!(collector.resource_attributes().len(), 2);
    assert_eq!(
        collector.spans().len(),
        1,
        "the output before the restart is kept"
    );

    // A crash loses nothing that was flushed, and the Collector comes back after it too.
    collector.kill();
    assert!(!collector.is_running());
    collector.restart().unwrap();
    assert_eq!(collector.metrics_json().len(), 3);
}

#[tokio::test]
async fn grpc_only_collectors_run_side_by_side_and_waits_time_out_with_the_log() {
    let Some(a) = Collector::start(Options::grpc()).unwrap() else {
        return;
    };
    let b = Collector::start(Options::grpc()).unwrap().unwrap();
    assert_eq!(a.http_port(), None);
    assert_eq!(a.http_endpoint(), "");
    assert_ne!(a.grpc_port(), b.grpc_port());
    let err = a
        .wait_until("metrics that never come", Duration::from_millis(200), |c| {
            !c.metric_names().is_empty()
        })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("metrics that never come") && text.contains("Everything is ready"),
        "{text}"
    );
}

/// A CA, and a server and a client certificate it signed: PEM (cert, key) pairs.
struct Pki {
    ca: (String, String),
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "testkit otelcol CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let ca_pair = (ca_cert.pem(), ca_key.serialize_pem());
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        server: leaf(vec!["127.0.0.1".into(), "localhost".into()]),
        client: leaf(vec!["client".into()]),
        ca: ca_pair,
    }
}

fn post_tls(
    port: u16,
    body: &str,
    ca_pem: &str,
    client: Option<&(String, String)>,
) -> std::io::Result<u16> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("127.0.0.1").unwrap())
            .map_err(std::io::Error::other)?;
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(WAIT))?;
    post(
        rustls::StreamOwned::new(conn, sock),
        port,
        "/v1/metrics",
        body,
    )
}

#[test]
fn serves_tls_and_requires_client_certificates_with_a_client_ca() {
    let Some(binary) = testkit::otelcol::binary() else {
        return;
    };
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let options = Options::http()
        .with_tls(
            write("server.pem", &pki.server.0),
            write("server-key.pem", &pki.server.1),
        )
        .with_client_ca(write("ca.pem", &pki.ca.0));
    let collector = Collector::start_with(&binary, options).unwrap();
    let port = collector.http_port().unwrap();
    assert_eq!(
        collector.http_endpoint(),
        format!("https://127.0.0.1:{port}")
    );

    let status = post_tls(
        port,
        &metrics_request("tls", 1, 1),
        &pki.ca.0,
        Some(&pki.client),
    );
    assert_eq!(status.unwrap(), 200, "{}", collector.log());
    // Without a client certificate, and over plain HTTP, nothing gets through.
    let refused = post_tls(port, &metrics_request("no-cert", 1, 1), &pki.ca.0, None);
    assert!(!matches!(refused, Ok(200)), "{refused:?}");
    assert_ne!(
        post_plain(port, "/v1/metrics", &metrics_request("plain", 1, 1)),
        200
    );

    collector
        .wait_until_blocking("the mTLS request", WAIT, |c| !c.metrics_json().is_empty())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let services: Vec<String> = collector
        .resource_attributes()
        .into_iter()
        .map(|r| r["service.name"].clone())
        .collect();
    assert_eq!(services, ["tls"]);
}
