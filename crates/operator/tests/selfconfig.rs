#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! The OpenClawSelfConfig controller on the real cluster, with the operator's admission
//! webhooks registered (the mutating one records who created each request): the Go e2e
//! scenarios, removals read from real managedFields, coexistence with a GitOps field manager,
//! identity (an agent's own token from the TokenRequest API), patches OpenClaw rejects, limits,
//! the TTL, idempotence and a restart between the apply and the statuses.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Harness, TIMEOUT};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use openclaw_api::OpenClawInstance;
use openclaw_api::selfconfig::{OpenClawSelfConfig, REQUESTED_BY_ANNOTATION};
use openclaw_operator::controller::selfconfig::SelfConfigOptions;
use openclaw_operator::controller::selfconfig_plan::FIELD_MANAGER;
use openclaw_operator::metrics::Metrics;
use openclaw_operator::webhook::{
    self, CertSource, MUTATE_INSTANCE_PATH, MUTATE_SELF_CONFIG_PATH, SelfSigned,
    VALIDATE_INSTANCE_PATH, VALIDATE_SELF_CONFIG_PATH, WebhookConfig,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The operator's webhooks, served in-process and registered for the test namespace only.
struct Webhooks {
    name: String,
    _stop: oneshot::Sender<()>,
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Never leave a failurePolicy Fail configuration behind. The test's client cannot be
        // used here (its runtime is blocked in this drop): a new one, on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let Ok((config, _)) = testkit::load_config().await else {
                    return;
                };
                let Ok(client) = Client::try_from(config) else {
                    return;
                };
                let dp = DeleteParams::default();
                let _ = Api::<ValidatingWebhookConfiguration>::all(client.clone())
                    .delete(&name, &dp)
                    .await;
                let _ = Api::<MutatingWebhookConfiguration>::all(client)
                    .delete(&name, &dp)
                    .await;
            });
        })
        .join();
    }
}

async fn webhooks(client: &Client, ns: &str) -> Webhooks {
    let name = format!("sc-{ns}");
    let addr = free_addr();
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", addr.port());
    let pp = PatchParams::apply("test").force();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(&name, &pp, &Patch::Apply(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [
                testkit::webhook_entry("vopenclawinstance.openclaw.rocks", &url(VALIDATE_INSTANCE_PATH), "openclawinstances", ns, "Ignore"),
                testkit::webhook_entry("vopenclawselfconfig.openclaw.rocks", &url(VALIDATE_SELF_CONFIG_PATH), "openclawselfconfigs", ns, "Ignore"),
            ],
        })))
        .await
        .unwrap();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(&name, &pp, &Patch::Apply(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [
                testkit::webhook_entry("mopenclawinstance.openclaw.rocks", &url(MUTATE_INSTANCE_PATH), "openclawinstances", ns, "Ignore"),
                testkit::webhook_entry("mopenclawselfconfig.openclaw.rocks", &url(MUTATE_SELF_CONFIG_PATH), "openclawselfconfigs", ns, "Fail"),
            ],
        })))
        .await
        .unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let config = WebhookConfig {
        bind: addr,
        certs: CertSource::SelfSigned(SelfSigned {
            namespace: ns.to_string(),
            secret_name: "webhook-cert".into(),
            hosts: vec!["127.0.0.1".into()],
            configurations: vec![name.clone()],
        }),
    };
    tokio::spawn(webhook::serve(client.clone(), config, async move {
        let _ = rx.await;
    }));
    // Ready once a dry-run create comes back with the requester recorded.
    let api: Api<OpenClawSelfConfig> = Api::namespaced(client.clone(), ns);
    let probe = request_object("probe", "x", json!({"addSkills": ["a"]}));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let pp = PostParams {
            dry_run: true,
            ..Default::default()
        };
        match api.create(&pp, &probe).await {
            Ok(o) if o.annotations().contains_key(REQUESTED_BY_ANNOTATION) => break,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "webhook never answered: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    Webhooks { name, _stop: tx }
}

use kube::ResourceExt;

fn request_object(name: &str, instance: &str, spec: Value) -> OpenClawSelfConfig {
    let mut spec = spec;
    spec["instanceRef"] = json!(instance);
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawSelfConfig",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

async fn create(client: &Client, ns: &str, name: &str, instance: &str, spec: Value) {
    // An agent's token can be issued as soon as its ServiceAccount exists, a moment before the
    // operator has applied its Role and RoleBinding (and the API server's authorizer has seen
    // them): a 403 then is that race, not a denial, and is retried for a few seconds.
    let api = Api::<OpenClawSelfConfig>::namespaced(client.clone(), ns);
    let object = request_object(name, instance, spec);
    let start = std::time::Instant::now();
    loop {
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => return,
            Err(kube::Error::Api(s))
                if s.code == 403 && start.elapsed() < std::time::Duration::from_secs(15) =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => panic!("create {name}: {e}"),
        }
    }
}

/// Waits for a final phase; returns `(phase, message)`.
async fn outcome(h: &Harness, name: &str) -> (String, String) {
    let r = testkit::wait_for(
        &h.api::<OpenClawSelfConfig>(),
        name,
        |r: &OpenClawSelfConfig| {
            matches!(
                r.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Applied" | "Denied" | "Failed")
            )
        },
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("{name} never finished: {e}"));
    let s = r.status.unwrap();
    (s.phase.unwrap(), s.message.unwrap_or_default())
}

async fn instance(h: &Harness, name: &str) -> OpenClawInstance {
    h.api::<OpenClawInstance>().get(name).await.unwrap()
}

fn skills(i: &OpenClawInstance) -> Vec<String> {
    i.spec.skills.clone().unwrap_or_default()
}

fn self_configuring(actions: &[&str], extra: Value) -> Value {
    let mut spec = json!({
        "image": {"tag": "2026.9.6"},
        "selfConfigure": {"enabled": true, "allowedActions": actions, "minApplyInterval": "0s"},
    });
    for (k, v) in extra.as_object().unwrap() {
        if k == "selfConfigure" {
            for (k2, v2) in v.as_object().unwrap() {
                spec["selfConfigure"][k2] = v2.clone();
            }
        } else {
            spec[k] = v.clone();
        }
    }
    spec
}

async fn start(
    prefix: &str,
    ttl: Duration,
) -> Option<(Harness, Webhooks, std::sync::Arc<Metrics>)> {
    let mut h = Harness::namespace_only(prefix).await?;
    let hooks = webhooks(&h.client, h.ns.name()).await;
    let metrics = std::sync::Arc::new(Metrics::new("none", 2));
    let m = metrics.clone();
    h.start_controller_with(move |o| {
        o.selfconfig = SelfConfigOptions { ttl };
        o.metrics = m;
    });
    Some((h, hooks, metrics))
}

/// One sample of the metrics text, 0 when absent.
fn sample(metrics: &Metrics, line_prefix: &str) -> f64 {
    metrics
        .encode()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const LONG: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn go_e2e_scenarios() {
    let Some((h, _hooks, _metrics)) = start("sc-go", LONG).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance(
        "agent",
        self_configuring(&["skills"], json!({"skills": ["existing"]})),
    )
    .await;
    // A skill is added and the existing one is kept.
    create(
        &h.client,
        &ns,
        "add-one",
        "agent",
        json!({"addSkills": ["skill-a"]}),
    )
    .await;
    assert_eq!(
        outcome(&h, "add-one").await,
        ("Applied".into(), "changes applied".into())
    );
    assert_eq!(
        skills(&instance(&h, "agent").await),
        ["existing", "skill-a"]
    );
    // Two successive requests keep all three skills.
    create(
        &h.client,
        &ns,
        "add-two",
        "agent",
        json!({"addSkills": ["skill-b"]}),
    )
    .await;
    assert_eq!(outcome(&h, "add-two").await.0, "Applied");
    assert_eq!(
        skills(&instance(&h, "agent").await),
        ["existing", "skill-a", "skill-b"]
    );
    // A disallowed action is denied.
    create(
        &h.client,
        &ns,
        "config",
        "agent",
        json!({"configPatch": {"agents": {}}}),
    )
    .await;
    let (phase, message) = outcome(&h, "config").await;
    assert_eq!(phase, "Denied");
    assert!(
        message.contains("actions not allowed on instance agent: config"),
        "{message}"
    );
    // Self-configure disabled: denied.
    h.apply_instance("locked", json!({"image": {"tag": "2026.9.6"}}))
        .await;
    create(
        &h.client,
        &ns,
        "locked-req",
        "locked",
        json!({"addSkills": ["x"]}),
    )
    .await;
    let (phase, message) = outcome(&h, "locked-req").await;
    assert_eq!(phase, "Denied");
    assert!(message.contains("not enabled"), "{message}");
    // A missing instance: failed.
    create(
        &h.client,
        &ns,
        "ghost",
        "no-such-agent",
        json!({"addSkills": ["x"]}),
    )
    .await;
    let (phase, message) = outcome(&h, "ghost").await;
    assert_eq!(phase, "Failed");
    assert!(message.contains("\"no-such-agent\" not found"), "{message}");
    // Owner reference (non-controller) to the instance, and the requester recorded.
    let r = h.api::<OpenClawSelfConfig>().get("add-one").await.unwrap();
    let owner = &r.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("OpenClawInstance", "agent")
    );
    assert_ne!(owner.controller, Some(true));
    assert!(r.annotations().contains_key(REQUESTED_BY_ANNOTATION));

    // Converged: no writes at all.
    h.settle(Duration::from_secs(3)).await;
    let before = h.counter.writes();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(h.counter.writes(), before, "{:?}", h.counter.write_log());
}

#[tokio::test]
async fn removals_read_real_managed_fields_and_gitops_keeps_its_items() {
    let Some((h, _hooks, _metrics)) = start("sc-flux", LONG).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    // Flux owns the instance and its skill, through server-side apply.
    let manifest = json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "agent", "namespace": ns},
        "spec": self_configuring(&["skills", "envVars"], json!({"skills": ["gitops-skill"], "env": [{"name": "FROM_GIT", "value": "1"}]})),
    });
    let flux = PatchParams::apply("flux").force();
    h.api::<OpenClawInstance>()
        .patch("agent", &flux, &Patch::Apply(&manifest))
        .await
        .unwrap();
    create(
        &h.client,
        &ns,
        "add",
        "agent",
        json!({"addSkills": ["mine"], "addEnvVars": [{"name": "MINE", "value": "x"}]}),
    )
    .await;
    assert_eq!(outcome(&h, "add").await.0, "Applied");
    // Flux applies the same manifest again: what self-config added stays.
    h.api::<OpenClawInstance>()
        .patch("agent", &flux, &Patch::Apply(&manifest))
        .await
        .unwrap();
    let i = instance(&h, "agent").await;
    assert_eq!(skills(&i), ["gitops-skill", "mine"]);
    assert_eq!(i.spec.env.as_ref().unwrap().len(), 2);
    // Removing what self-config added works, with no false warning.
    create(
        &h.client,
        &ns,
        "remove-mine",
        "agent",
        json!({"removeSkills": ["mine"], "removeEnvVars": ["MINE"]}),
    )
    .await;
    assert_eq!(
        outcome(&h, "remove-mine").await,
        ("Applied".into(), "changes applied".into())
    );
    let i = instance(&h, "agent").await;
    assert_eq!(skills(&i), ["gitops-skill"]);
    assert_eq!(i.spec.env.as_ref().unwrap().len(), 1);
    // Removing a GitOps-owned skill warns and names flux; the skill stays.
    create(
        &h.client,
        &ns,
        "remove-gitops",
        "agent",
        json!({"removeSkills": ["gitops-skill"]}),
    )
    .await;
    let (phase, message) = outcome(&h, "remove-gitops").await;
    assert_eq!(phase, "Applied");
    assert!(
        message.contains("cannot remove skill \"gitops-skill\": managed by field manager \"flux\""),
        "{message}"
    );
    assert_eq!(skills(&instance(&h, "agent").await), ["gitops-skill"]);
    // Flux drops its skill from Git: it really goes (self-config never co-owned it).
    let mut without = manifest.clone();
    without["spec"]["skills"] = json!([]);
    h.api::<OpenClawInstance>()
        .patch("agent", &flux, &Patch::Apply(&without))
        .await
        .unwrap();
    assert!(skills(&instance(&h, "agent").await).is_empty());
}

async fn agent_client(h: &Harness, service_account: &str) -> Client {
    let sa: Api<ServiceAccount> = h.api();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while sa.get_opt(service_account).await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ServiceAccount {service_account}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let token = sa
        .create_token_request(
            service_account,
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![],
                    expiration_seconds: Some(600),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .status
        .unwrap()
        .token;
    let (mut config, _) = testkit::load_config().await.unwrap();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token.into()),
        ..Default::default()
    };
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn an_agent_changes_only_its_own_instance() {
    let Some((h, _hooks, _metrics)) = start("sc-identity", LONG).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance("alpha", self_configuring(&["skills"], json!({})))
        .await;
    h.apply_instance("beta", self_configuring(&["skills"], json!({})))
        .await;
    let beta = agent_client(&h, "beta").await;
    // beta's own request: applied.
    create(
        &beta,
        &ns,
        "beta-own",
        "beta",
        json!({"addSkills": ["b-skill"]}),
    )
    .await;
    assert_eq!(outcome(&h, "beta-own").await.0, "Applied");
    assert_eq!(skills(&instance(&h, "beta").await), ["b-skill"]);
    // beta asks for a change of alpha: denied, alpha unchanged.
    let before = instance(&h, "alpha").await.metadata.generation;
    create(
        &beta,
        &ns,
        "beta-on-alpha",
        "alpha",
        json!({"addSkills": ["evil"]}),
    )
    .await;
    let (phase, message) = outcome(&h, "beta-on-alpha").await;
    assert_eq!(phase, "Denied");
    assert!(
        message.contains("the identity of instance beta"),
        "{message}"
    );
    assert_eq!(instance(&h, "alpha").await.metadata.generation, before);
    // A forged requester annotation is replaced by the webhook.
    let mut forged = request_object("forged", "alpha", json!({"addSkills": ["evil"]}));
    forged.metadata.annotations = Some(
        [(
            REQUESTED_BY_ANNOTATION.to_string(),
            format!("system:serviceaccount:{ns}:alpha"),
        )]
        .into(),
    );
    let created = Api::<OpenClawSelfConfig>::namespaced(beta.clone(), &ns)
        .create(&PostParams::default(), &forged)
        .await
        .unwrap();
    assert_eq!(
        created.annotations()[REQUESTED_BY_ANNOTATION],
        format!("system:serviceaccount:{ns}:beta")
    );
    assert_eq!(outcome(&h, "forged").await.0, "Denied");
    // The agent cannot rewrite the annotation afterwards either (and has no patch right).
    assert!(skills(&instance(&h, "alpha").await).is_empty());
}

#[tokio::test]
async fn patches_openclaw_rejects_and_oversized_requests_are_denied() {
    let Some((h, _hooks, _metrics)) = start("sc-bad", LONG).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance(
        "agent",
        self_configuring(&["config", "workspaceFiles", "envVars"], json!({"env": [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})),
    )
    .await;
    let generation = instance(&h, "agent").await.metadata.generation;
    // A top-level key OpenClaw does not know: the gateway would refuse to start.
    create(
        &h.client,
        &ns,
        "unknown-key",
        "agent",
        json!({"configPatch": {"bogusKey": {"a": 1}}}),
    )
    .await;
    let (phase, message) = outcome(&h, "unknown-key").await;
    assert_eq!(phase, "Denied");
    assert!(message.contains("bogusKey"), "{message}");
    // An unknown key deeper down: OpenClaw's own schema of the instance's version names it.
    create(
        &h.client,
        &ns,
        "nested-key",
        "agent",
        json!({"configPatch": {"agents": {"defaults": {"bogus": 1}}}}),
    )
    .await;
    let (phase, message) = outcome(&h, "nested-key").await;
    assert_eq!(phase, "Denied");
    assert!(
        message.contains("spec.config.raw.agents.defaults: Unrecognized key: \"bogus\""),
        "{message}"
    );
    // A 1 MB file.
    let big = "x".repeat(1024 * 1024);
    create(
        &h.client,
        &ns,
        "big",
        "agent",
        json!({"addWorkspaceFiles": {"big.txt": big}}),
    )
    .await;
    let (phase, message) = outcome(&h, "big").await;
    assert_eq!(phase, "Denied");
    assert!(message.contains("maxRequestBytes"), "{message}");
    // Replacing a Secret-sourced variable.
    create(
        &h.client,
        &ns,
        "env-ref",
        "agent",
        json!({"addEnvVars": [{"name": "KEY", "value": "plain"}]}),
    )
    .await;
    let (phase, message) = outcome(&h, "env-ref").await;
    assert_eq!(phase, "Denied");
    assert!(message.contains("valueFrom"), "{message}");
    // The webhook refuses the gateway key, protected variables and path traversal outright.
    for spec in [
        json!({"configPatch": {"gateway": {"port": 1}}}),
        json!({"addEnvVars": [{"name": "HOME", "value": "/"}]}),
        json!({"addWorkspaceFiles": {"../../etc/passwd": "x"}}),
    ] {
        let err = Api::<OpenClawSelfConfig>::namespaced(h.client.clone(), &ns)
            .create(
                &PostParams::default(),
                &request_object("refused", "agent", spec.clone()),
            )
            .await
            .expect_err("refused at admission");
        assert!(
            err.to_string().contains("denied the request"),
            "{spec}: {err}"
        );
    }
    // Nothing reached the instance.
    assert_eq!(instance(&h, "agent").await.metadata.generation, generation);
    // A good patch still goes through.
    create(
        &h.client,
        &ns,
        "good",
        "agent",
        json!({"configPatch": {"agents": {"defaults": {"timeoutSeconds": 600}}}}),
    )
    .await;
    assert_eq!(outcome(&h, "good").await.0, "Applied");
    let raw = instance(&h, "agent")
        .await
        .spec
        .config
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(raw.0["agents"]["defaults"]["timeoutSeconds"], 600);
    // The real OpenClaw agrees with both decisions.
    for oc in testkit::openclaw::runtimes().into_iter().flatten() {
        let refused = oc.validate_config(r#"{"bogusKey": {"a": 1}}"#).unwrap();
        assert!(!refused.valid, "{} accepts bogusKey", oc.version());
        let accepted = oc
            .validate_config(&serde_json::to_string(&raw.0).unwrap())
            .unwrap();
        assert!(accepted.valid, "{}: {}", oc.version(), accepted.summary());
    }
}

#[tokio::test]
async fn a_burst_is_rate_limited_to_one_change_per_interval() {
    let Some((h, _hooks, metrics)) = start("sc-burst", LONG).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance(
        "agent",
        self_configuring(
            &["envVars"],
            json!({"selfConfigure": {"minApplyInterval": "4s", "maxPendingRequests": 10}}),
        ),
    )
    .await;
    let before = instance(&h, "agent").await.metadata.generation.unwrap();
    let started = std::time::Instant::now();
    let creates = (0..100).map(|i| {
        let client = h.client.clone();
        let ns = ns.clone();
        async move {
            create(
                &client,
                &ns,
                &format!("burst-{i:03}"),
                "agent",
                json!({"addEnvVars": [{"name": format!("BURST_{i}"), "value": "1"}]}),
            )
            .await;
        }
    });
    futures::future::join_all(creates).await;
    let mut applied = 0;
    let mut denied = 0;
    for i in 0..100 {
        let (phase, message) = outcome(&h, &format!("burst-{i:03}")).await;
        match phase.as_str() {
            "Applied" => applied += 1,
            "Denied" => {
                assert!(
                    message.contains("too many requests are waiting"),
                    "{message}"
                );
                denied += 1;
            }
            other => panic!("burst-{i:03}: {other}: {message}"),
        }
    }
    let elapsed = started.elapsed();
    let changes = instance(&h, "agent").await.metadata.generation.unwrap() - before;
    assert_eq!(applied + denied, 100);
    assert!(
        applied >= 1 && denied >= 50,
        "applied {applied}, denied {denied}"
    );
    // One change per interval at most (plus the first, which needs no wait).
    let windows = (elapsed.as_secs_f64() / 4.0).ceil() as i64 + 1;
    assert!(
        changes <= windows,
        "{changes} changes in {elapsed:?} (at most {windows})"
    );
    let env = instance(&h, "agent").await.spec.env.unwrap_or_default();
    assert_eq!(
        env.len(),
        applied,
        "every applied request's variable is set"
    );
    // The metrics say the same: each request once, one apply per change.
    assert_eq!(
        sample(
            &metrics,
            "openclaw_selfconfig_requests_total{phase=\"Applied\"}"
        ),
        applied as f64
    );
    assert_eq!(
        sample(
            &metrics,
            "openclaw_selfconfig_requests_total{phase=\"Denied\"}"
        ),
        denied as f64
    );
    assert_eq!(
        sample(&metrics, "openclaw_selfconfig_applies_total"),
        changes as f64
    );
    eprintln!(
        "burst of 100: {applied} applied in {changes} changes, {denied} denied, {:?}, {} writes",
        elapsed,
        h.counter.writes()
    );
}

#[tokio::test]
async fn finished_requests_go_after_their_ttl() {
    let Some((h, _hooks, _metrics)) = start("sc-ttl", Duration::from_secs(3)).await else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance("agent", self_configuring(&["skills"], json!({})))
        .await;
    create(
        &h.client,
        &ns,
        "short-lived",
        "agent",
        json!({"addSkills": ["a"]}),
    )
    .await;
    assert_eq!(outcome(&h, "short-lived").await.0, "Applied");
    let api = h.api::<OpenClawSelfConfig>();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while api.get_opt("short-lived").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The change itself stays.
    assert_eq!(skills(&instance(&h, "agent").await), ["a"]);
    assert!(
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn killed_between_the_apply_and_the_status_resumes_without_a_second_change() {
    let Some(mut h) = Harness::namespace_only("sc-restart").await else {
        return;
    };
    let _hooks = webhooks(&h.client, h.ns.name()).await;
    let ns = h.ns.name().to_string();
    h.apply_instance(
        "agent",
        self_configuring(
            &["skills"],
            json!({"selfConfigure": {"minApplyInterval": "30s"}}),
        ),
    )
    .await;
    // Killed while waiting for the interval: a request is pending and nothing is applied.
    create(
        &h.client,
        &ns,
        "req",
        "agent",
        json!({"addSkills": ["resumed"]}),
    )
    .await;
    // The state an operator killed right after its apply leaves: the change is in place (as
    // openclaw-selfconfig), the request has no final status.
    h.api::<OpenClawInstance>()
        .patch(
            "agent",
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(json!({
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawInstance",
                "metadata": {"name": "agent", "namespace": ns},
                "spec": {"skills": ["resumed"]},
            })),
        )
        .await
        .unwrap();
    let generation = instance(&h, "agent").await.metadata.generation;
    h.start_controller_with(|o| o.selfconfig = SelfConfigOptions { ttl: LONG });
    // The interval since that apply is waited out, then the request is reported with no new
    // change of the instance.
    let r = testkit::wait_for(
        &h.api::<OpenClawSelfConfig>(),
        "req",
        |r: &OpenClawSelfConfig| {
            r.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending")
        },
        TIMEOUT,
    )
    .await
    .unwrap();
    assert!(
        r.status
            .unwrap()
            .message
            .unwrap()
            .contains("minApplyInterval")
    );
    // Killed while waiting: a new operator carries on.
    h.start_controller_with(|o| o.selfconfig = SelfConfigOptions { ttl: LONG });
    assert_eq!(outcome(&h, "req").await.0, "Applied");
    assert_eq!(instance(&h, "agent").await.metadata.generation, generation);
    assert_eq!(skills(&instance(&h, "agent").await), ["resumed"]);
}

/// The rendered `selfconfig.sh`, run with the agent's own token (TokenRequest API) and the
/// cached Node.js, against the operator: every documented command end to end.
#[tokio::test]
async fn selfconfig_sh_performs_every_action_with_the_agents_token() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use testkit::selfconfig_script::{SelfConfigScript, node_bin, sa_token};
    let Some((h, _hooks, _metrics)) = start("sc-script", LONG).await else {
        return;
    };
    let Some(node) = node_bin() else {
        return;
    };
    let ns = h.ns.name().to_string();
    h.apply_instance(
        "agent",
        self_configuring(
            &["skills", "config", "workspaceFiles", "envVars"],
            json!({}),
        ),
    )
    .await;
    // The script as the operator seeds it into the workspace.
    let workspace = testkit::wait_for(
        &h.api::<ConfigMap>(),
        "agent-workspace",
        |c: &ConfigMap| {
            c.data
                .as_ref()
                .is_some_and(|d| d.contains_key("selfconfig.sh"))
        },
        TIMEOUT,
    )
    .await
    .unwrap();
    let script = workspace.data.unwrap()["selfconfig.sh"].clone();
    agent_client(&h, "agent").await; // waits for the ServiceAccount
    let token = sa_token(&h.client, &ns, "agent").await.unwrap();
    let (config, _) = testkit::load_config().await.unwrap();
    let sh = SelfConfigScript::new(&config, &script, &ns, "agent", &token, &node).unwrap();
    let ok = |args: &'static [&'static str], stdin: Option<&'static str>| {
        let sh = &sh;
        async move {
            let out = sh.run(args, stdin).await.unwrap();
            assert_eq!(
                out.code,
                Some(0),
                "{args:?}: {}\n{}",
                out.stdout,
                out.stderr
            );
            assert!(
                out.stdout.contains(": Applied: "),
                "{args:?}: {}",
                out.stdout
            );
            out
        }
    };
    ok(
        &["--timeout", "60", "add-skill", "weather", "@org/tool"],
        None,
    )
    .await;
    ok(
        &[
            "patch-config",
            r#"{"agents":{"defaults":{"timeoutSeconds":600}}}"#,
        ],
        None,
    )
    .await;
    ok(&["add-file", "NOTES.md", "-"], Some("# Notes\n")).await;
    ok(&["set-env", "LOG_LEVEL=debug", "TZ=Europe/Berlin"], None).await;
    let i = instance(&h, "agent").await;
    assert_eq!(skills(&i), ["weather", "@org/tool"]);
    assert_eq!(
        i.spec.config.as_ref().unwrap().raw.as_ref().unwrap().0["agents"]["defaults"]["timeoutSeconds"],
        600
    );
    assert_eq!(
        i.spec
            .workspace
            .as_ref()
            .unwrap()
            .initial_files
            .as_ref()
            .unwrap()["NOTES.md"],
        "# Notes\n"
    );
    assert_eq!(i.spec.env.as_ref().unwrap().len(), 2);
    ok(&["unset-env", "LOG_LEVEL"], None).await;
    ok(&["remove-file", "NOTES.md"], None).await;
    let out = ok(&["remove-skill", "weather"], None).await;
    let i = instance(&h, "agent").await;
    assert_eq!(skills(&i), ["@org/tool"]);
    assert_eq!(i.spec.env.as_ref().unwrap().len(), 1);
    assert!(
        i.spec
            .workspace
            .and_then(|w| w.initial_files)
            .unwrap_or_default()
            .is_empty()
    );
    // status and get-instance.
    let name = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .trim()
        .to_string();
    let status = sh.run(&["status", &name], None).await.unwrap();
    assert!(status.stdout.contains("Applied"), "{}", status.stdout);
    let got = sh.run(&["get-instance"], None).await.unwrap();
    assert_eq!(got.code, Some(0));
    assert!(got.stdout.contains("\"name\": \"agent\""), "{}", got.stdout);
    // Denied by the operator: exit 2 with the reason.
    let denied = sh
        .run(&["patch-config", r#"{"bogusKey":1}"#], None)
        .await
        .unwrap();
    assert_eq!(denied.code, Some(2), "{}\n{}", denied.stdout, denied.stderr);
    assert!(denied.stdout.contains("bogusKey"), "{}", denied.stdout);
    // Refused at admission: exit 1 with the API's message.
    let refused = sh.run(&["set-env", "HOME=/"], None).await.unwrap();
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("HOME"), "{}", refused.stderr);
}
