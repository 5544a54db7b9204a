#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! The admission webhooks against the real API server (see docs/webhook.md):
//! self-signed mode with caBundle injection, every webhook-only check, warnings, the defaulter,
//! the "operator down" behaviour with failurePolicy Ignore (CEL still applies), replicas sharing
//! one certificate and renewal; plus certificate reloading from a directory (no cluster needed).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use openclaw_api::OpenClawInstance;
use openclaw_operator::webhook::{
    self, CertSource, MUTATE_INSTANCE_PATH, SelfSigned, VALIDATE_INSTANCE_PATH,
    VALIDATE_SELF_CONFIG_PATH, WebhookConfig, WebhookError, pki,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_secs(60);

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A running `webhook::serve` and the switch that stops it.
struct Server {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), WebhookError>>,
    addr: SocketAddr,
}

impl Server {
    fn start(client: Client, addr: SocketAddr, certs: CertSource) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let config = WebhookConfig { bind: addr, certs };
        let task = tokio::spawn(webhook::serve(client, config, async move {
            let _ = rx.await;
        }));
        Self {
            stop: Some(tx),
            task,
            addr,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("serve stops within the drain timeout")
            .expect("serve task");
        result.expect("serve returns Ok after shutdown");
    }
}

// ---------------------------------------------------------------------------------------------
// TLS client that accepts any certificate, to look at what the server presents.

#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Connects (offering h2 and http/1.1), sends `GET /healthz`, and returns the served
/// certificate, the negotiated ALPN protocol and the HTTP response.
async fn probe(addr: SocketAddr) -> std::io::Result<(CertificateDer<'static>, Vec<u8>, String)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let cert = conn.peer_certificates().unwrap()[0].clone().into_owned();
    let alpn = conn.alpn_protocol().unwrap_or_default().to_vec();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    Ok((cert, alpn, response))
}

async fn served_cert(addr: SocketAddr) -> CertificateDer<'static> {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        match probe(addr).await {
            Ok((cert, _, _)) => return cert,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    }
}

fn der_of(pem: &str) -> CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Directory mode: no cluster needed.

fn write_pair(dir: &std::path::Path, pair: &openclaw_operator::tls::PemPair) {
    // Like a Secret volume: write a new version directory, then swap the `..data` symlink.
    let version = dir.join(format!("..{}", rand_suffix()));
    std::fs::create_dir(&version).unwrap();
    std::fs::write(version.join("tls.crt"), &pair.cert_pem).unwrap();
    std::fs::write(version.join("tls.key"), &pair.key_pem).unwrap();
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(version.file_name().unwrap(), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for f in ["tls.crt", "tls.key"] {
        let link = dir.join(f);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{f}"), &link).unwrap();
        }
    }
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn dir_certificates_are_reloaded_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = vec!["127.0.0.1".to_string()];
    let first = openclaw_operator::tls::self_signed_pem(&hosts).unwrap();
    write_pair(dir.path(), &first);

    // Directory mode never talks to the API server; any client will do.
    let client =
        Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
    let addr = free_addr();
    let server = Server::start(client, addr, CertSource::Dir(dir.path().to_path_buf()));

    let served = served_cert(addr).await;
    assert_eq!(served, der_of(&first.cert_pem));

    // A client that is not speaking TLS does not disturb the server.
    let mut junk = tokio::net::TcpStream::connect(addr).await.unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut sink = Vec::new();
    let _ = junk.read_to_end(&mut sink).await;

    let (cert, alpn, response) = probe(addr).await.unwrap();
    assert_eq!(cert, der_of(&first.cert_pem));
    assert_eq!(alpn, b"http/1.1", "HTTP/2 must not be negotiated");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("ok"), "{response}");

    // A broken update (a key that does not match) keeps the old certificate.
    let second = openclaw_operator::tls::self_signed_pem(&hosts).unwrap();
    let broken = openclaw_operator::tls::PemPair {
        cert_pem: second.cert_pem.clone(),
        key_pem: first.key_pem.clone(),
    };
    write_pair(dir.path(), &broken);
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(served_cert(addr).await, der_of(&first.cert_pem));

    // A good update is served without a restart.
    write_pair(dir.path(), &second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while served_cert(addr).await != der_of(&second.cert_pem) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new certificate not served"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    server.stop().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn a_taken_port_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let client =
        Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = WebhookConfig {
        bind: addr,
        certs: CertSource::Dir(dir.path().to_path_buf()),
    };
    let err = webhook::serve(client, config, std::future::pending())
        .await
        .unwrap_err();
    assert!(matches!(err, WebhookError::Bind { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Against the API server.

fn configurations(name: &str, port: u16, ns: &str, policy: &str) -> (Value, Value) {
    let url = |path: &str| format!("https://127.0.0.1:{port}{path}");
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            testkit::webhook_entry("vopenclawinstance.openclaw.rocks", &url(VALIDATE_INSTANCE_PATH), "openclawinstances", ns, policy),
            testkit::webhook_entry("vopenclawselfconfig.openclaw.rocks", &url(VALIDATE_SELF_CONFIG_PATH), "openclawselfconfigs", ns, policy),
        ],
    });
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            testkit::webhook_entry("mopenclawinstance.openclaw.rocks", &url(MUTATE_INSTANCE_PATH), "openclawinstances", ns, policy),
        ],
    });
    (validating, mutating)
}

/// Runs `body`, then deletes the webhook configurations named `name` whatever happened (a
/// leftover configuration with failurePolicy Fail would block its namespace).
async fn with_configurations<F>(client: Client, name: String, body: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(body).await;
    let dp = DeleteParams::default();
    let _ = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .delete(&name, &dp)
        .await;
    let _ = Api::<MutatingWebhookConfiguration>::all(client)
        .delete(&name, &dp)
        .await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test body failed: {e}");
    }
}

fn instance(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

/// A spec that passes every check without warnings.
fn clean_spec() -> Value {
    json!({
        "image": {"tag": "2026.9.6"},
        "envFrom": [{"secretRef": {"name": "provider-keys"}}],
    })
}

fn merged(extra: Value) -> Value {
    let mut spec = clean_spec();
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

fn dyn_api(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let plural = if kind == "OpenClawInstance" {
        "openclawinstances"
    } else {
        "openclawselfconfigs"
    };
    let ar = kube::discovery::ApiResource {
        group: "openclaw.rocks".into(),
        version: "v1alpha1".into(),
        api_version: "openclaw.rocks/v1alpha1".into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn dry_run() -> PostParams {
    PostParams {
        dry_run: true,
        ..Default::default()
    }
}

/// The message of a rejected create.
async fn rejection(api: &Api<DynamicObject>, obj: &DynamicObject) -> String {
    match api.create(&dry_run(), obj).await {
        Ok(_) => panic!(
            "expected a rejection of {}",
            serde_json::to_string(obj).unwrap()
        ),
        Err(kube::Error::Api(s)) => s.message.clone(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// The Status of a rejected create.
async fn rejection_status(api: &Api<DynamicObject>, obj: &DynamicObject) -> kube::core::Status {
    match api.create(&dry_run(), obj).await {
        Ok(_) => panic!(
            "expected a rejection of {}",
            serde_json::to_string(obj).unwrap()
        ),
        Err(kube::Error::Api(s)) => (*s).clone(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// POSTs `body` as a dry run and returns the status code and the `Warning` headers.
async fn create_with_warnings(client: &Client, ns: &str, body: &Value) -> (u16, Vec<String>) {
    let request = http::Request::post(format!(
        "/apis/openclaw.rocks/v1alpha1/namespaces/{ns}/openclawinstances?dryRun=All"
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(body).unwrap().into())
    .unwrap();
    let response = client.send(request).await.unwrap();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (response.status().as_u16(), warnings)
}

async fn wait_until_webhook_answers(api: &Api<DynamicObject>) {
    let probe = instance("probe", merged(json!({"skills": ["bad skill!"]})));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let last = match api.create(&dry_run(), &probe).await {
            Err(kube::Error::Api(s)) if s.message.contains("denied the request") => return,
            other => format!("{other:?}"),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook never answered; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ca_bundles(client: &Client, name: &str) -> Vec<Vec<u8>> {
    let v = Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .get(name)
        .await
        .unwrap();
    let m = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .get(name)
        .await
        .unwrap();
    let mut out: Vec<Vec<u8>> = v
        .webhooks
        .iter()
        .flatten()
        .map(|w| {
            w.client_config
                .ca_bundle
                .clone()
                .map(|b| b.0)
                .unwrap_or_default()
        })
        .collect();
    out.extend(m.webhooks.iter().flatten().map(|w| {
        w.client_config
            .ca_bundle
            .clone()
            .map(|b| b.0)
            .unwrap_or_default()
    }));
    out
}

async fn secret_material(client: &Client, ns: &str, name: &str) -> (String, String) {
    let s = Api::<Secret>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap();
    let data = s.data.unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    (text("ca.crt"), text("tls.crt"))
}

async fn set_failure_policy(client: &Client, name: &str, policy: &str) {
    let pp = PatchParams::default();
    let vwc = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let current = vwc.get(name).await.unwrap();
    let patch: Vec<Value> = (0..current.webhooks.unwrap_or_default().len())
        .map(|i| json!({"op": "replace", "path": format!("/webhooks/{i}/failurePolicy"), "value": policy}))
        .collect();
    vwc.patch(
        name,
        &pp,
        &Patch::<()>::Json(serde_json::from_value(Value::Array(patch)).unwrap()),
    )
    .await
    .unwrap();
    let mwc = Api::<MutatingWebhookConfiguration>::all(client.clone());
    let patch = json!([{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": policy}]);
    mwc.patch(
        name,
        &pp,
        &Patch::<()>::Json(serde_json::from_value(patch).unwrap()),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn webhooks_on_the_api_server() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    cluster
        .install_crds(&openclaw_api::crd::all(), TIMEOUT)
        .await
        .unwrap();
    let ns = cluster.namespace("webhook").await.unwrap();
    let client = cluster.client();
    let ns_name = ns.name().to_string();
    let config_name = format!("openclaw-test-{ns_name}");
    let body = run_webhook_scenario(client.clone(), ns_name, config_name.clone());
    with_configurations(client, config_name, body).await;
    ns.cleanup().await.unwrap();
}

async fn run_webhook_scenario(client: Client, ns: String, config_name: String) {
    let addr = free_addr();
    let (validating, mutating) = configurations(&config_name, addr.port(), &ns, "Fail");
    let pp = PostParams::default();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&pp, &serde_json::from_value(validating).unwrap())
        .await
        .unwrap();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .create(&pp, &serde_json::from_value(mutating).unwrap())
        .await
        .unwrap();

    let secret_name = "webhook-cert".to_string();
    let server = Server::start(
        client.clone(),
        addr,
        CertSource::SelfSigned(SelfSigned {
            namespace: ns.clone(),
            secret_name: secret_name.clone(),
            hosts: vec!["127.0.0.1".into(), format!("webhook.{ns}.svc")],
            configurations: vec![config_name.clone(), "does-not-exist".into()],
        }),
    );
    let instances = dyn_api(&client, &ns, "OpenClawInstance");
    wait_until_webhook_answers(&instances).await;

    // The caBundle of every webhook entry of both kinds is our CA, and we serve its leaf.
    let (ca_pem, leaf_pem) = secret_material(&client, &ns, &secret_name).await;
    let bundles = ca_bundles(&client, &config_name).await;
    assert_eq!(bundles.len(), 3);
    assert!(
        bundles.iter().all(|b| b == ca_pem.as_bytes()),
        "caBundle not injected"
    );
    assert_eq!(served_cert(server.addr).await, der_of(&leaf_pem));

    // Every check that only the webhook makes (CEL cannot: character sets, quantities, file
    // paths, ...) rejects with its own message.
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "skill",
            json!({"skills": ["bad skill!"]}),
            "skills[0] \"bad skill!\": invalid character ' '",
        ),
        (
            "plugin",
            json!({"plugins": ["@scope/ok", "no#hash"]}),
            "plugins[1] \"no#hash\": invalid character '#'",
        ),
        (
            "limits",
            json!({"resources": {"limits": {"memory": "lots"}}}),
            "spec.resources.limits.memory \"lots\" is not a valid Kubernetes quantity",
        ),
        (
            "size",
            json!({"storage": {"persistence": {"size": "big"}}}),
            "spec.storage.persistence.size \"big\" is not a valid Kubernetes quantity",
        ),
        (
            "minfree",
            json!({"probes": {"diskReadiness": {"minFree": "x1"}}}),
            "spec.probes.diskReadiness.minFree \"x1\"",
        ),
        (
            "sidecar",
            json!({"chromium": {"resources": {"requests": {"cpu": "fast"}}}}),
            "spec.chromium.resources.requests.cpu \"fast\"",
        ),
        (
            "file",
            json!({"workspace": {"initialFiles": {"../escape.md": "x"}}}),
            "workspace initialFiles key \"../escape.md\"",
        ),
        (
            "reserved",
            json!({"workspace": {"initialFiles": {"openclaw.json": "{}"}}}),
            "path 'openclaw.json' is reserved for config",
        ),
        (
            "hidden",
            json!({"workspace": {"initialFiles": {"notes/.secret": "x"}}}),
            "must not start with '.'",
        ),
        (
            "dir",
            json!({"workspace": {"initialDirectories": ["/abs"]}}),
            "workspace initialDirectories \"/abs\": directory must not be absolute",
        ),
        (
            "awfile",
            json!({"workspace": {"additionalWorkspaces": [{"name": "extra", "initialFiles": {"a\\b": "x"}}]}}),
            "additionalWorkspaces[0] \"extra\" initialFiles key",
        ),
        (
            "awskill",
            json!({"workspace": {"additionalWorkspaces": [{"name": "extra", "skills": ["b@d!"]}]}}),
            "additionalWorkspaces[0] \"extra\" skills[0]",
        ),
        (
            "forcepath",
            json!({"config": {"mergeMode": "merge", "forcePaths": ["gateway.a b"]}}),
            "config.forcePaths[0] \"gateway.a b\": contains invalid character ' '",
        ),
    ];
    for (what, extra, expected) in &cases {
        let msg = rejection(
            &instances,
            &instance(&format!("bad-{what}"), merged(extra.clone())),
        )
        .await;
        assert!(
            msg.contains("denied the request"),
            "{what}: not the webhook: {msg}"
        );
        assert!(
            msg.contains(expected),
            "{what}: {expected:?} not in {msg:?}"
        );
    }

    // All errors at once.
    let msg = rejection(
        &instances,
        &instance(
            "bad-many",
            merged(json!({
                "skills": ["bad skill!"],
                "resources": {"requests": {"cpu": "x"}},
                "workspace": {"initialDirectories": ["../up"]},
            })),
        ),
    )
    .await;
    assert!(msg.contains("is invalid (3 errors): (1) "), "{msg}");

    // Input the API server would only reject later (when the operator applies what it renders)
    // is denied now, each error naming its field; the Status causes carry the same field, so
    // kubectl prints "<field>: <message>" (never ": <message>").
    let later: Vec<(&str, Value, &str, &str)> = vec![
        (
            "secretname",
            json!({"envFrom": [{"secretRef": {"name": "Bad_Name!"}}]}),
            "spec.envFrom[0].secretRef.name",
            "\"Bad_Name!\" is not a valid Secret name: a lowercase RFC 1123 subdomain",
        ),
        (
            "pvcsize",
            json!({"storage": {"persistence": {"size": "-10Gi"}}}),
            "spec.storage.persistence.size",
            "\"-10Gi\" must not be negative",
        ),
        (
            "cpu",
            json!({"resources": {"requests": {"cpu": "-1"}}}),
            "spec.resources.requests.cpu",
            "\"-1\" must not be negative",
        ),
        (
            "metricsport",
            json!({"observability": {"metrics": {"port": 70000}}}),
            "spec.observability.metrics.port",
            "70000 is not a port number",
        ),
        (
            "annotation",
            json!({"podAnnotations": {"bad key!": "x"}}),
            "spec.podAnnotations[\"bad key!\"]",
            "\"bad key!\" is not a valid annotation key",
        ),
        (
            "skillfield",
            json!({"skills": ["bad skill!"]}),
            "spec.skills[0]",
            "\"bad skill!\": invalid character ' '",
        ),
        // A config OpenClaw would refuse at start, checked with its own schema of the
        // instance's version (clean_spec pins 2026.9.6), at any depth, in OpenClaw's words.
        (
            "confignested",
            json!({"config": {"raw": {"agents": {"defaults": {"bogus": 1}}}}}),
            "spec.config.raw.agents.defaults",
            "Unrecognized key: \"bogus\" (OpenClaw 2026.9.6 rejects this config at agents.defaults)",
        ),
        (
            "configtop",
            json!({"config": {"raw": {"notAKey": 1}}}),
            "spec.config.raw",
            "Unrecognized key: \"notAKey\"",
        ),
        (
            "configtype",
            json!({"config": {"raw": {"gateway": {"port": "18789"}}}}),
            "spec.config.raw.gateway.port",
            "Invalid input: expected number, received string",
        ),
    ];
    for (what, extra, field, expected) in &later {
        let status = rejection_status(
            &instances,
            &instance(&format!("later-{what}"), merged(extra.clone())),
        )
        .await;
        assert!(
            status.message.contains("denied the request")
                && (status.message.contains(&format!("{field}: {expected}"))
                    || status.message.contains(&format!("{field} {expected}"))),
            "{what}: {field}: {expected} not in {:?}",
            status.message
        );
        let causes = status
            .details
            .as_ref()
            .map(|d| d.causes.clone())
            .unwrap_or_default();
        assert!(
            !causes.is_empty() && causes.iter().all(|c| !c.field.is_empty()),
            "{what}: causes without a field: {causes:?}"
        );
        assert!(
            causes
                .iter()
                .any(|c| c.field == *field && c.message.contains(expected)),
            "{what}: no cause for {field}: {causes:?}"
        );
    }

    // Fields whose feature is not built yet are accepted, with a warning each, as are a schedule
    // that does not parse and a restore path with a leading slash; the renderer's warnings
    // (here: an Ingress without hosts) come along; every warning names its field.
    let not_built = json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "not-built"},
        "spec": merged(json!({
            "backup": {"schedule": "every day"},
            "autoUpdate": {"enabled": true},
            "restoreFrom": "/backups/t/x/2026-01-01T000000Z",
            "selfConfigure": {"enabled": true, "allowedActions": ["skills"]},
            "skills": ["weather", "pack:owner/repo/skills/x@v1"],
            "networking": {"ingress": {"enabled": true, "tls": [{"secretName": "tls"}]}},
        })),
    });
    let (status, warnings) = create_with_warnings(&client, &ns, &not_built).await;
    assert_eq!(status, 201, "{warnings:#?}");
    for expected in [
        "has 2 fields; a schedule has 5",
        "the path is relative to the bucket",
        "spec.networking.ingress has no hosts",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(expected)),
            "{expected:?} not in {warnings:#?}"
        );
    }
    // Skill packs are built: a `pack:` entry is no longer reported as not acted on.
    assert!(
        !warnings.iter().any(|w| w.contains("spec.skills[1]: ")),
        "{warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .all(|w| w.starts_with("299 - \"spec.") || w.starts_with("299 - \"spec:")),
        "a warning without a field path: {warnings:#?}"
    );

    // Self-config requests.
    let selfconfigs = dyn_api(&client, &ns, "OpenClawSelfConfig");
    let sc = |name: &str, spec: Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawSelfConfig",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap()
    };
    let sc_cases: Vec<(Value, &str)> = vec![
        (
            json!({"instanceRef": "demo"}),
            "request contains no actions",
        ),
        (
            json!({"instanceRef": "demo", "addSkills": ["bad skill!"]}),
            "addSkills[0]",
        ),
        (
            json!({"instanceRef": "demo", "configPatch": {"gateway": {"port": 1}}}),
            "top-level key \"gateway\" is managed by the operator",
        ),
        (
            json!({"instanceRef": "demo", "addWorkspaceFiles": {"../x": "y"}}),
            "addWorkspaceFiles key \"../x\"",
        ),
        (
            json!({"instanceRef": "demo", "removeEnvVars": ["OPENCLAW_GATEWAY_TOKEN"]}),
            "\"OPENCLAW_GATEWAY_TOKEN\" is managed by the operator",
        ),
    ];
    for (spec, expected) in &sc_cases {
        let msg = rejection(&selfconfigs, &sc("req", spec.clone())).await;
        assert!(
            msg.contains("denied the request") && msg.contains(expected),
            "{expected:?} not in {msg:?}"
        );
    }
    selfconfigs
        .create(
            &dry_run(),
            &sc(
                "ok",
                json!({"instanceRef": "demo", "addSkills": ["weather"]}),
            ),
        )
        .await
        .expect("a valid self-config request is accepted");

    // Warnings reach the client as Warning headers, for allowed requests...
    let warned = json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "warned"},
        "spec": {
            "image": {"tag": "latest"},
            "security": {
                "networkPolicy": {"enabled": false},
                "podSecurityContext": {"runAsNonRoot": false},
                "containerSecurityContext": {"allowPrivilegeEscalation": true, "readOnlyRootFilesystem": false},
            },
            "chromium": {"enabled": true},
        },
    });
    let (status, warnings) = create_with_warnings(&client, &ns, &warned).await;
    assert_eq!(status, 201, "{warnings:?}");
    for expected in [
        "\\\"latest\\\" is mutable",
        "NetworkPolicy disabled",
        "runAsNonRoot is false",
        "allowPrivilegeEscalation is enabled",
        "readOnlyRootFilesystem is disabled",
        "Chromium sidecar image is not pinned by digest",
        "No AI provider API keys detected",
        "names no OpenClaw version; the operator assumes the newest supported version",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("299 ") && w.contains(expected)),
            "{expected:?} not in {warnings:#?}"
        );
    }
    // ... and alongside a denial.
    let mut denied = warned.clone();
    denied["spec"]["skills"] = json!(["bad skill!"]);
    let (status, warnings) = create_with_warnings(&client, &ns, &denied).await;
    assert_eq!(status, 422);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("NetworkPolicy disabled")),
        "{warnings:?}"
    );

    // A valid instance is created; the defaulter adds nothing (the CRD defaults do their part).
    let created = instances
        .create(&pp, &instance("good", clean_spec()))
        .await
        .expect("a valid instance is accepted");
    let spec = &created.data["spec"];
    assert_eq!(
        spec["image"],
        json!({"tag": "2026.9.6", "repository": "ghcr.io/openclaw/openclaw", "pullPolicy": "IfNotPresent"}),
        "CRD schema defaults only"
    );
    for untouched in [
        "resources",
        "security",
        "storage",
        "networking",
        "autoUpdate",
        "config",
    ] {
        assert!(
            spec.get(untouched).is_none(),
            "the webhook must not add spec.{untouched}: {spec}"
        );
    }
    let typed: Api<OpenClawInstance> = Api::namespaced(client.clone(), &ns);
    assert!(typed.get("good").await.is_ok());

    // Updates: a change that breaks a check is denied; a metadata-only change always passes.
    let bad_update = json!({"spec": {"skills": ["bad skill!"]}});
    let err = typed
        .patch("good", &PatchParams::default(), &Patch::Merge(&bad_update))
        .await
        .unwrap_err();
    assert!(format!("{err}").contains("skills[0]"), "{err}");
    let relabel = json!({"metadata": {"labels": {"team": "a"}}});
    typed
        .patch("good", &PatchParams::default(), &Patch::Merge(&relabel))
        .await
        .expect("metadata-only update");
    // storageClass immutability: CEL answers first (the webhook checks it too).
    let with_class = json!({"spec": {"storage": {"persistence": {"storageClass": "a"}}}});
    typed
        .patch("good", &PatchParams::default(), &Patch::Merge(&with_class))
        .await
        .expect("set storageClass");
    let change_class = json!({"spec": {"storage": {"persistence": {"storageClass": "b"}}}});
    let err = typed
        .patch(
            "good",
            &PatchParams::default(),
            &Patch::Merge(&change_class),
        )
        .await
        .unwrap_err();
    assert!(
        format!("{err}").contains("storageClass is immutable"),
        "{err}"
    );

    // Operator down. With failurePolicy Fail every write needs the webhook, including the
    // mutating one (which proves it is called):
    server.stop().await;
    let msg = rejection(&instances, &instance("while-down", clean_spec())).await;
    assert!(
        msg.contains("failed calling webhook") && msg.contains("mopenclawinstance.openclaw.rocks"),
        "{msg}"
    );
    // With Ignore (the recommended default) the API stays usable: CEL still rejects what it
    // can, valid specs are accepted, and webhook-only checks are left to the controller.
    set_failure_policy(&client, &config_name, "Ignore").await;
    // The API server picks the new policy up from its own watch: under load that takes a
    // moment, during which a write still fails on the unreachable webhook.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let msg = loop {
        let msg = rejection(
            &instances,
            &instance(
                "root",
                merged(json!({"security": {"podSecurityContext": {"runAsUser": 0}}})),
            ),
        )
        .await;
        if !msg.contains("failed calling webhook") || std::time::Instant::now() > deadline {
            break msg;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        msg.contains("running as root (UID 0) is not allowed"),
        "{msg}"
    );
    let msg = rejection(
        &instances,
        &instance(
            "reserved",
            merged(json!({"initContainers": [{"name": "init-config", "image": "busybox"}]})),
        ),
    )
    .await;
    assert!(
        msg.contains("reserved for the operator's init containers"),
        "{msg}"
    );
    instances
        .create(&dry_run(), &instance("fine", clean_spec()))
        .await
        .expect("a valid spec is accepted with the webhook down");
    instances
        .create(
            &dry_run(),
            &instance("unchecked", merged(json!({"skills": ["bad skill!"]}))),
        )
        .await
        .expect("webhook-only checks are skipped while it is down (the controller reports them)");

    // The self-signed CA is kept in one Secret that the next start reuses.
    let restarted = Server::start(
        client.clone(),
        addr,
        CertSource::SelfSigned(SelfSigned {
            namespace: ns.clone(),
            secret_name: secret_name.clone(),
            hosts: vec!["127.0.0.1".into(), format!("webhook.{ns}.svc")],
            configurations: vec![config_name.clone()],
        }),
    );
    assert_eq!(
        served_cert(addr).await,
        der_of(&leaf_pem),
        "the stored certificate is reused"
    );
    assert_eq!(
        secret_material(&client, &ns, &secret_name).await,
        (ca_pem, leaf_pem)
    );
    restarted.stop().await;
}

#[tokio::test]
async fn replicas_share_one_certificate_and_renew_it_keeping_the_ca() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("webhook-certs").await.unwrap();
    let client = cluster.client();
    let settings = |secret: &str| SelfSigned {
        namespace: ns.name().to_string(),
        secret_name: secret.to_string(),
        hosts: vec!["127.0.0.1".into()],
        configurations: vec![],
    };

    // Two replicas start at the same time and converge on one Secret.
    let (a, b) = (free_addr(), free_addr());
    let first = Server::start(
        client.clone(),
        a,
        CertSource::SelfSigned(settings("shared")),
    );
    let second = Server::start(
        client.clone(),
        b,
        CertSource::SelfSigned(settings("shared")),
    );
    let (cert_a, cert_b) = (served_cert(a).await, served_cert(b).await);
    assert_eq!(cert_a, cert_b, "both replicas serve the same certificate");
    let (_, leaf) = secret_material(&client, ns.name(), "shared").await;
    assert_eq!(cert_a, der_of(&leaf));
    first.stop().await;
    second.stop().await;

    // A serving certificate that expires within 30 days is renewed at start; the CA stays.
    let now = time::OffsetDateTime::now_utc();
    let (ca_cert, ca_key) = pki::new_ca(now).unwrap();
    let hosts = vec!["127.0.0.1".to_string()];
    let (cert, key) = pki::issue_leaf(
        &ca_cert,
        &ca_key,
        &hosts,
        now,
        Duration::from_secs(10 * 86400),
    )
    .unwrap();
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "expiring"},
        "type": "kubernetes.io/tls",
        "stringData": {"ca.crt": ca_cert, "ca.key": ca_key, "tls.crt": cert, "tls.key": key},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns.name())
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let c = free_addr();
    let renewing = Server::start(
        client.clone(),
        c,
        CertSource::SelfSigned(settings("expiring")),
    );
    let served = served_cert(c).await;
    let (stored_ca, stored_leaf) = secret_material(&client, ns.name(), "expiring").await;
    assert_eq!(
        stored_ca, ca_cert,
        "the CA is kept, so caBundle does not change"
    );
    assert_ne!(stored_leaf, cert, "the serving certificate was renewed");
    assert_eq!(served, der_of(&stored_leaf));
    renewing.stop().await;

    ns.cleanup().await.unwrap();
}
