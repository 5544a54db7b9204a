//! The operator process (`openclaw-operator run`) against the real control plane: leader
//! election with two replicas and a SIGKILLed leader, graceful stop on SIGTERM, health probes,
//! `/metrics` (every registered family moves), secure metrics with token review, and watching
//! a list of namespaces.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ResourceQuota, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use openclaw_api::{OpenClawInstance, crd};
use serde_json::json;
use testkit::TestNamespace;
use testkit::process::{OperatorProcess, http_get};

const TIMEOUT: Duration = Duration::from_secs(120);

/// One `openclaw-operator run` child process (killed on drop), with test conveniences.
struct Operator(OperatorProcess);

impl std::ops::Deref for Operator {
    type Target = OperatorProcess;
    fn deref(&self) -> &OperatorProcess {
        &self.0
    }
}

impl Operator {
    fn start(name: &str, args: &[&str]) -> Self {
        Self::start_with_env(name, args, &[])
    }

    fn start_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_openclaw-operator"));
        Self(OperatorProcess::start(binary, name, args, env).expect("operator started"))
    }

    fn scrape(&self) -> String {
        let (code, body) = http_get(self.metrics, "/metrics");
        assert_eq!(code, 200, "metrics: {body}");
        body
    }

    async fn wait_role(&self, role: &str) -> Duration {
        let start = Instant::now();
        loop {
            let (code, body) = self.readyz();
            if code == 200 && body.contains(&format!("role: {role}")) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "never became {role}: {code} {body}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        self.0.signal(signal).expect("signal sent");
    }

    async fn wait_exit(&mut self) -> Option<i32> {
        self.0
            .wait_exit(Duration::from_secs(30))
            .await
            .expect("exited")
    }
}

/// GET with curl (`-k`: the secure endpoint's certificate is self-signed).
fn curl(url: &str, headers: &[String]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sk", "--max-time", "5", "-w", "\n%{http_code}"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The value of the first sample line starting with `prefix` (name plus labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn apply_instance(client: &Client, ns: &str, name: &str) {
    testkit::apply_instance(client, ns, name, json!({}))
        .await
        .expect("instance applied");
}

async fn wait_phase(client: &Client, ns: &str, name: &str, phase: &str) -> Duration {
    let start = Instant::now();
    let want = phase.to_string();
    testkit::wait_for(
        &Api::<OpenClawInstance>::namespaced(client.clone(), ns),
        name,
        move |i: &OpenClawInstance| i.status.as_ref().and_then(|s| s.phase.as_ref()) == Some(&want),
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("{ns}/{name} never reached {phase}: {e}"));
    start.elapsed()
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

#[tokio::test]
async fn standby_takes_over_when_the_leader_is_killed() {
    let Some((client, ns)) = setup("op-ha").await else {
        return;
    };
    let n = ns.name().to_string();
    let args = [
        format!("--watch-namespaces={n}"),
        "--leader-elect".to_string(),
        format!("--leader-election-namespace={n}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = Operator::start(&format!("{n}-a"), &args);
    a.wait_role("leader").await;
    let mut b = Operator::start(&format!("{n}-b"), &args);
    b.wait_role("standby").await;

    apply_instance(&client, &n, "first").await;
    wait_phase(&client, &n, "first", "Running").await;
    // The standby reads (warm caches) but does not reconcile or write.
    let standby = b.scrape();
    assert!(
        sample(&standby, "openclaw_reconcile_total{").is_none(),
        "the standby reconciled:\n{standby}"
    );
    assert_eq!(
        sample(&standby, "leader_election_master_status{"),
        Some(0.0)
    );
    for method in ["POST", "PATCH", "PUT", "DELETE"] {
        let writes = standby
            .lines()
            .filter(|l| {
                l.starts_with("rest_client_requests_total{")
                    && l.contains(&format!("method=\"{method}\""))
            })
            .collect::<Vec<_>>();
        // The only writes a standby may make are to the Lease (none while it is held).
        assert!(writes.is_empty(), "standby wrote: {writes:?}");
    }

    // SIGKILL: no lease release; the standby must wait for the lease to expire.
    a.signal(rustix::process::Signal::KILL);
    let killed = Instant::now();
    let _ = a.wait_exit().await;
    apply_instance(&client, &n, "second").await;
    b.wait_role("leader").await;
    let took_over = killed.elapsed();
    wait_phase(&client, &n, "second", "Running").await;
    let reconciled = killed.elapsed();
    eprintln!(
        "FAILOVER: leader killed -> standby leads after {:.1}s; new instance Running after {:.1}s (lease 15s)",
        took_over.as_secs_f64(),
        reconciled.as_secs_f64()
    );
    assert!(took_over < Duration::from_secs(30), "takeover too slow");
    let leader = b.scrape();
    assert_eq!(sample(&leader, "leader_election_master_status{"), Some(1.0));

    // SIGTERM: finishes, releases the lease, exits 0.
    b.signal(rustix::process::Signal::TERM);
    let code = b.wait_exit().await;
    assert_eq!(code, Some(0), "exit code; log:\n{}", b.log());
    let lease = Api::<Lease>::namespaced(client.clone(), &n)
        .get("openclaw-operator.openclaw.rocks")
        .await
        .expect("lease");
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    assert!(
        holder.is_empty(),
        "lease still held by {holder:?} after a graceful stop"
    );
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn metrics_move_and_every_registered_family_is_updated() {
    let Some((client, ns)) = setup("op-metrics").await else {
        return;
    };
    let cluster = testkit::cluster().await.expect("cluster");
    // A second namespace, where a quota forbids NetworkPolicies: apply failures and retries.
    let ns2 = cluster
        .namespace("op-metrics-quota")
        .await
        .expect("namespace");
    let (n, n2) = (ns.name().to_string(), ns2.name().to_string());
    let quota: ResourceQuota = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "no-netpol"},
        "spec": {"hard": {"count/networkpolicies.networking.k8s.io": "0"}},
    }))
    .unwrap();
    Api::<ResourceQuota>::namespaced(client.clone(), &n2)
        .create(&PostParams::default(), &quota)
        .await
        .expect("quota");

    let watch = format!("--watch-namespaces={n},{n2}");
    let op = Operator::start(&format!("{n}-op"), &[watch.as_str()]);
    op.wait_role("single replica").await;
    // With auto-update on, against a registry that refuses connections: its counters exist.
    testkit::apply_instance(
        &client,
        &n,
        "good",
        json!({
            "image": {"repository": "127.0.0.1:9/openclaw/openclaw", "tag": "2026.9.6"},
            "autoUpdate": {"enabled": true},
        }),
    )
    .await
    .unwrap();
    apply_instance(&client, &n2, "blocked").await;
    wait_phase(&client, &n, "good", "Running").await;
    // The blocked instance fails to apply its NetworkPolicy and is retried.
    // Metrics follow the status a moment later (they are set once the status write returns).
    let good = format!("instance=\"good\",namespace=\"{n}\"");
    let start = Instant::now();
    let text = loop {
        let text = op.scrape();
        let running = format!("openclaw_instance_phase{{{good},phase=\"Running\"}}");
        // The instance controller's queue (the self-config controller has its own series).
        if sample(&text, "workqueue_retries_total{name=\"openclawinstance\"}").unwrap_or(0.0) >= 1.0
            && sample(&text, &running) == Some(1.0)
        {
            break text;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "no retry seen:\n{text}\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    assert!(
        sample(
            &text,
            &format!("openclaw_reconcile_total{{{good},result=\"success\"}}")
        )
        .unwrap()
            >= 1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("openclaw_instance_phase{{{good},phase=\"Running\"}}")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &format!("openclaw_instance_ready{{{good}}}")),
        Some(1.0)
    );
    assert!(sample(
        &text,
        &format!("openclaw_resource_creation_failures_total{{instance=\"blocked\",namespace=\"{n2}\",resource=\"NetworkPolicy\"}}")
    )
    .is_some());
    assert_eq!(sample(&text, "openclaw_managed_instances "), Some(2.0));
    // Auto-update is on for "good": its counters exist from the first pass.
    for name in [
        format!("openclaw_autoupdate_checks_total{{{good},result=\"error\"}}"),
        format!("openclaw_autoupdate_applied_total{{{good}}}"),
        format!("openclaw_autoupdate_rollbacks_total{{{good}}}"),
    ] {
        assert!(sample(&text, &name).is_some(), "{name} missing:\n{text}");
    }
    assert!(sample(&text, "workqueue_adds_total{name=\"openclawinstance\"}").unwrap() >= 2.0);
    assert!(text.contains("rest_client_requests_total{code=\"201\",method=\"POST\""));

    // Every family the operator registers has at least one sample.
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert!(families.len() >= 20, "{families:?}");
    for family in &families {
        let has_sample = text.lines().any(|l| {
            !l.starts_with('#')
                && l.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
        });
        assert!(
            has_sample,
            "metric {family} is registered but has no sample:\n{text}"
        );
    }

    // Deleting an instance drops its series.
    Api::<OpenClawInstance>::namespaced(client.clone(), &n)
        .delete("good", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let text = op.scrape();
        if !text.contains("instance=\"good\"") {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "series of a deleted instance kept"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(op);
    ns2.cleanup().await.expect("cleanup");
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn secure_metrics_need_a_token_allowed_to_get_metrics() {
    let Some((client, ns)) = setup("op-secure").await else {
        return;
    };
    let n = ns.name().to_string();
    let watch = format!("--watch-namespaces={n}");
    let op = Operator::start(&format!("{n}-op"), &[watch.as_str(), "--metrics-secure"]);
    op.wait_role("single replica").await;
    let url = format!("https://127.0.0.1:{}/metrics", op.metrics);

    let (code, _) = curl(&url, &[]);
    assert_eq!(code, 401, "no token");

    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "scraper"}})).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), &n)
        .create(&PostParams::default(), &sa)
        .await
        .unwrap();
    let token = Api::<ServiceAccount>::namespaced(client.clone(), &n)
        .create_token_request("scraper", &PostParams::default(), &TokenRequest::default())
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let auth = vec![format!("Authorization: Bearer {token}")];
    let (code, _) = curl(&url, &auth);
    assert_eq!(code, 403, "token without the metrics-reader permission");

    let role_name = format!("{n}-metrics-reader");
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": role_name},
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
    }))
    .unwrap();
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": role_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "scraper", "namespace": n}],
    }))
    .unwrap();
    let roles: Api<ClusterRole> = Api::all(client.clone());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    roles.create(&PostParams::default(), &role).await.unwrap();
    bindings
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    // Denials are cached for 10 s.
    let start = Instant::now();
    let result = loop {
        let (code, body) = curl(&url, &auth);
        if code == 200 || start.elapsed() > Duration::from_secs(30) {
            break (code, body);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let _ = roles.delete(&role_name, &DeleteParams::default()).await;
    let _ = bindings.delete(&role_name, &DeleteParams::default()).await;
    assert_eq!(result.0, 200, "allowed token: {}", result.1);
    assert!(result.1.contains("openclaw_managed_instances"));
    drop(op);
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn webhook_flags_serve_and_register_the_validating_webhook() {
    let Some((client, ns)) = setup("op-webhook").await else {
        return;
    };
    let n = ns.name().to_string();
    let port = testkit::process::free_port().expect("port");
    let config_name = format!("{n}-validating");
    let args = [
        format!("--watch-namespaces={n}"),
        format!("--webhook-bind-address=127.0.0.1:{port}"),
        "--webhook-self-signed-secret=webhook-cert".to_string(),
        format!("--webhook-configuration={config_name}"),
        "--webhook-cert-host=127.0.0.1".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let op = Operator::start_with_env(&format!("{n}-op"), &args, &[("POD_NAMESPACE", &n)]);

    // Registered without a caBundle: the operator patches its CA in.
    let config: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": config_name},
        "webhooks": [{
            "name": "vopenclawinstance.openclaw.rocks",
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/validate-openclaw-rocks-v1alpha1-openclawinstance")},
            "rules": [{"apiGroups": ["openclaw.rocks"], "apiVersions": ["v1alpha1"],
                       "operations": ["CREATE", "UPDATE"], "resources": ["openclawinstances"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": n}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        }],
    }))
    .unwrap();
    let configs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    configs
        .create(&PostParams::default(), &config)
        .await
        .unwrap();

    let instances: Api<OpenClawInstance> = Api::namespaced(client.clone(), &n);
    let bad: OpenClawInstance = serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
        "metadata": {"name": "bad"},
        "spec": {"skills": ["not a skill!"]},
    }))
    .unwrap();
    // Dry runs until the API server has picked up the configuration and can call the webhook
    // (the caBundle is patched in by the operator): then the bad instance is denied.
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let start = Instant::now();
    let message = loop {
        match instances.create(&dry_run, &bad).await {
            Err(kube::Error::Api(status)) if status.message.contains("denied the request") => {
                break status.message;
            }
            other => {
                assert!(
                    start.elapsed() < TIMEOUT,
                    "webhook never denied: {other:?}\n{}",
                    op.log()
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    // For real, too.
    assert!(
        instances
            .create(&PostParams::default(), &bad)
            .await
            .is_err()
    );
    let _ = configs.delete(&config_name, &DeleteParams::default()).await;
    assert!(message.contains("skills[0]"), "{message}");
    drop(op);
    ns.cleanup().await.expect("cleanup");
}
