//! Every optional feature switched on and off against the real cluster (kwok nodes make pods
//! Ready): its objects appear, the pod template changes once, a converged reconcile writes
//! nothing, switching it off deletes exactly its objects, and the NetworkPolicy opens exactly
//! the feature's ports. Each test runs its own controller in its own namespace.
//!
//! The CRD-backed features (ServiceMonitor, PrometheusRule, Traefik Middleware, HTTPRoute) use
//! the third-party CRDs fetched by `hack/third-party-crds/fetch.sh`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::features::{Toggle, np_ports, tcp, udp};
use common::{Harness, TIMEOUT};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

fn base() -> Value {
    json!({"image": {"tag": "2026.9.6"}, "envFrom": [{"secretRef": {"name": "api-keys"}}]})
}

async fn start(prefix: &str) -> Option<Harness> {
    let h = Harness::start(prefix).await?;
    secret(&h, "api-keys", json!({"ANTHROPIC_API_KEY": "k"})).await;
    Some(h)
}

async fn start_with_crds(prefix: &str) -> Option<Harness> {
    let cluster = testkit::cluster().await?;
    if !testkit::third_party::install(cluster.client(), TIMEOUT)
        .await
        .expect("third-party CRDs")
    {
        eprintln!("third-party CRDs unavailable: skipped");
        return None;
    }
    start(prefix).await
}

async fn secret(h: &Harness, name: &str, data: Value) {
    let s: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data
    }))
    .unwrap();
    h.api::<Secret>()
        .patch(name, &PatchParams::apply("test").force(), &Patch::Apply(&s))
        .await
        .expect("secret");
}

fn objects(list: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    list.iter().map(|(k, n)| (*k, n.to_string())).collect()
}

async fn service_ports(h: &Harness, name: &str) -> Vec<(String, i32)> {
    h.api::<Service>()
        .get(name)
        .await
        .expect("svc")
        .spec
        .and_then(|s| s.ports)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name.unwrap_or_default(), p.port))
        .collect()
}

#[tokio::test]
async fn chromium() {
    let Some(h) = start("f-chromium").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "chr",
            base: base(),
            on: json!({"chromium": {"enabled": true, "persistence": {"enabled": true}}}),
            objects: objects(&[
                ("Service", "chr-cdp"),
                ("PersistentVolumeClaim", "chr-chromium-data"),
            ]),
            containers: vec!["chromium"],
            rolls: true,
        })
        .await;
    let on = np_ports(seen.np_on.as_ref().expect("np"));
    let off = np_ports(seen.np_off.as_ref().expect("np"));
    // CDP only between the instance's own pods, never to the namespace.
    assert!(
        on.ingress_self.contains(&tcp(9222)),
        "{:?}",
        on.ingress_self
    );
    assert!(on.egress_self.contains(&tcp(9222)));
    assert!(!on.ingress.contains(&tcp(9222)));
    assert_eq!(on.ingress, off.ingress);
    assert!(off.ingress_self.is_empty() && off.egress_self.is_empty());
    let managed = seen
        .instance_on
        .status
        .and_then(|s| s.managed_resources)
        .expect("managed");
    assert_eq!(managed.chromium_pvc.as_deref(), Some("chr-chromium-data"));
}

#[tokio::test]
async fn ollama() {
    let Some(h) = start("f-ollama").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "oll",
            base: base(),
            // No GPU: kwok nodes have none, and the limit is covered by the snapshots.
            on: json!({"ollama": {"enabled": true, "models": ["llama3.2"]}}),
            objects: vec![],
            containers: vec!["ollama", "init-ollama"],
            rolls: true,
        })
        .await;
    assert_eq!(
        np_ports(seen.np_on.as_ref().unwrap()).ingress,
        np_ports(seen.np_off.as_ref().unwrap()).ingress,
        "Ollama is reached over loopback only"
    );
}

#[tokio::test]
async fn web_terminal() {
    let Some(h) = start("f-webterm").await else {
        return;
    };
    secret(&h, "ttyd-cred", json!({"username": "u", "password": "p"})).await;
    let seen = h
        .toggle(&Toggle {
            name: "wt",
            base: base(),
            on: json!({"webTerminal": {"enabled": true, "readOnly": true,
                "credential": {"secretRef": {"name": "ttyd-cred"}}}}),
            objects: vec![],
            containers: vec!["web-terminal"],
            rolls: true,
        })
        .await;
    let on = np_ports(seen.np_on.as_ref().unwrap());
    let off = np_ports(seen.np_off.as_ref().unwrap());
    assert!(on.ingress.contains(&tcp(7681)));
    assert!(!off.ingress.contains(&tcp(7681)));
    assert_eq!(
        on.ingress.difference(&off.ingress).collect::<Vec<_>>(),
        vec![&tcp(7681)]
    );
    assert!(
        service_ports(&h, "wt")
            .await
            .iter()
            .all(|(n, _)| n != "web-terminal")
    );

    // Rotating the credential rolls the pod once.
    let mut on_spec = base();
    common::features::merge(
        &mut on_spec,
        &json!({"webTerminal": {"enabled": true, "credential": {"secretRef": {"name": "ttyd-cred"}}}}),
    );
    h.apply_instance("wt", on_spec).await;
    h.converged("wt").await;
    let generation = |s: StatefulSet| s.metadata.generation.unwrap_or_default();
    let g0 = generation(h.api::<StatefulSet>().get("wt").await.unwrap());
    secret(
        &h,
        "ttyd-cred",
        json!({"username": "u", "password": "rotated"}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while generation(h.api::<StatefulSet>().get("wt").await.unwrap()) == g0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rotation did not roll"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    h.converged("wt").await;
    assert_eq!(
        generation(h.api::<StatefulSet>().get("wt").await.unwrap()),
        g0 + 1
    );
}

#[tokio::test]
async fn tailscale() {
    let Some(h) = start("f-tailscale").await else {
        return;
    };
    secret(&h, "ts-auth", json!({"authkey": "tskey-123"})).await;
    let seen = h
        .toggle(&Toggle {
            name: "ts",
            base: base(),
            on: json!({"tailscale": {"enabled": true, "mode": "serve",
                "authKeySecretRef": {"name": "ts-auth"}}}),
            objects: objects(&[("Secret", "ts-ts-state")]),
            containers: vec!["tailscale", "init-tailscale-bin"],
            rolls: true,
        })
        .await;
    let on = np_ports(seen.np_on.as_ref().unwrap());
    let off = np_ports(seen.np_off.as_ref().unwrap());
    for p in [tcp(6443), udp(3478), udp(41641)] {
        assert!(
            on.egress.contains(&p),
            "egress {p:?} missing: {:?}",
            on.egress
        );
        assert!(!off.egress.contains(&p));
    }
    assert_eq!(on.ingress, off.ingress, "Tailscale opens no ingress port");
    // While on, the Role let the sidecar keep its state; the rule went with the feature.
    let role = h.api::<Role>().get("ts").await.expect("role");
    assert!(
        !role.rules.iter().flatten().any(|r| r
            .resource_names
            .iter()
            .flatten()
            .any(|n| n == "ts-ts-state")),
        "the state Secret rule stayed after switching off"
    );
}

#[tokio::test]
async fn metrics_collector() {
    let Some(h) = start("f-metrics").await else {
        return;
    };
    let mut off = base();
    common::features::merge(
        &mut off,
        &json!({"observability": {"metrics": {"enabled": false}}}),
    );
    let seen = h
        .toggle(&Toggle {
            name: "met",
            base: off,
            on: json!({"observability": {"metrics": {"enabled": true}}}),
            objects: vec![],
            containers: vec!["otel-collector"],
            rolls: true,
        })
        .await;
    let on = np_ports(seen.np_on.as_ref().unwrap());
    let off = np_ports(seen.np_off.as_ref().unwrap());
    assert_eq!(
        on.ingress.difference(&off.ingress).collect::<Vec<_>>(),
        vec![&tcp(9090)]
    );
}

#[tokio::test]
async fn runtime_deps_skills_plugins() {
    let Some(h) = start("f-init").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "ini",
            base: base(),
            on: json!({"runtimeDeps": {"pnpm": true, "python": true},
                "skills": ["weather", "npm:@acme/skill"],
                "plugins": ["@openclaw/voice-call"]}),
            objects: vec![],
            containers: vec!["init-pnpm", "init-python", "init-skills", "init-plugins"],
            rolls: true,
        })
        .await;
    let main = seen
        .sts_on
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers
        .into_iter()
        .find(|c| c.name == "openclaw")
        .unwrap();
    let path = main
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "PATH")
        .and_then(|e| e.value.clone())
        .expect("PATH");
    assert!(path.contains("/home/openclaw/.local/bin"), "{path}");
    assert_eq!(
        np_ports(seen.np_on.as_ref().unwrap()).egress,
        np_ports(seen.np_off.as_ref().unwrap()).egress
    );
}

#[tokio::test]
async fn ca_bundle() {
    let Some(h) = start("f-ca").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "ca",
            base: base(),
            on: json!({"security": {"caBundle": {"configMapName": "corp-ca"}},
                "chromium": {"enabled": true}}),
            objects: objects(&[("Service", "ca-cdp")]),
            containers: vec!["chromium"],
            rolls: true,
        })
        .await;
    let pod = seen.sts_on.spec.unwrap().template.spec.unwrap();
    assert!(pod.volumes.iter().flatten().any(|v| v.name == "ca-bundle"));
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .filter(|c| c.name == "openclaw" || c.name == "chromium")
    {
        assert!(
            c.volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == "ca-bundle"),
            "{} has no CA bundle mount",
            c.name
        );
    }
}

#[tokio::test]
async fn ingress_nginx_basic_auth() {
    let Some(h) = start("f-ingress").await else {
        return;
    };
    let on = json!({"networking": {"ingress": {"enabled": true, "className": "nginx",
        "hosts": [{"host": "a.example.com"}],
        "tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"}],
        "security": {"basicAuth": {"enabled": true}, "rateLimiting": {"requestsPerSecond": 5}}}}});
    let seen = h
        .toggle(&Toggle {
            name: "ing",
            base: base(),
            on: on.clone(),
            objects: objects(&[("Ingress", "ing"), ("Secret", "ing-basic-auth")]),
            containers: vec![],
            // The Ingress host joins the Control UI origins: a config change.
            rolls: true,
        })
        .await;
    let status = seen.instance_on.status.unwrap();
    let managed = status.managed_resources.unwrap();
    assert_eq!(managed.basic_auth_secret.as_deref(), Some("ing-basic-auth"));
    let cond = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "IngressReady")
        .expect("IngressReady");
    assert_eq!(cond.status, "True");

    // The generated password is stable across reconciles; a username change rewrites `auth`.
    let mut spec = base();
    common::features::merge(&mut spec, &on);
    h.apply_instance("ing", spec.clone()).await;
    h.converged("ing").await;
    let read = |s: Secret| {
        let d = s.data.unwrap_or_default();
        let get =
            |k: &str| String::from_utf8(d.get(k).map(|b| b.0.clone()).unwrap_or_default()).unwrap();
        (get("username"), get("password"), get("auth"))
    };
    let (user, password, auth) = read(h.api::<Secret>().get("ing-basic-auth").await.unwrap());
    assert_eq!(user, "openclaw");
    assert_eq!(password.len(), 40);
    assert!(auth.starts_with("openclaw:{SHA}"), "{auth}");
    common::features::merge(
        &mut spec,
        &json!({"networking": {"ingress": {"security": {"basicAuth": {"username": "admin"}}}}}),
    );
    h.apply_instance("ing", spec).await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (user2, password2, auth2) =
            read(h.api::<Secret>().get("ing-basic-auth").await.unwrap());
        if user2 == "admin" {
            assert_eq!(password2, password, "the password must not change");
            assert!(auth2.starts_with("admin:{SHA}"));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "username change not applied"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Deleting the Secret gives a new password once.
    h.api::<Secret>()
        .delete("ing-basic-auth", &Default::default())
        .await
        .unwrap();
    h.converged("ing").await;
    let (_, password3, _) = read(
        testkit::wait_for(
            &h.api::<Secret>(),
            "ing-basic-auth",
            |_: &Secret| true,
            TIMEOUT,
        )
        .await
        .unwrap(),
    );
    h.settle(Duration::from_secs(2)).await;
    let (_, password4, _) = read(h.api::<Secret>().get("ing-basic-auth").await.unwrap());
    assert_eq!(password3, password4);
    assert_ne!(password3, password);
}

#[tokio::test]
async fn ingress_traefik_middlewares() {
    let Some(h) = start_with_crds("f-traefik").await else {
        return;
    };
    h.toggle(&Toggle {
        name: "trf",
        base: base(),
        on: json!({"networking": {"ingress": {"enabled": true, "className": "traefik",
            "hosts": [{"host": "t.example.com"}],
            "security": {"basicAuth": {"enabled": true}, "enableHSTS": true,
                "rateLimiting": {"enabled": true, "requestsPerSecond": 20}}}}}),
        objects: objects(&[
            ("Ingress", "trf"),
            ("Secret", "trf-basic-auth"),
            ("Middleware", "trf-basic-auth"),
            ("Middleware", "trf-headers"),
            ("Middleware", "trf-ratelimit"),
        ]),
        containers: vec![],
        rolls: true,
    })
    .await;
}

#[tokio::test]
async fn http_route() {
    let Some(h) = start_with_crds("f-route").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "rt",
            base: base(),
            on: json!({"networking": {"httpRoute": {"enabled": true,
                "parentRefs": [{"name": "gw", "namespace": "gateways"}],
                "hostnames": ["r.example.com"]}}}),
            objects: objects(&[("HTTPRoute", "rt")]),
            containers: vec![],
            // The hostname joins the Control UI origins.
            rolls: true,
        })
        .await;
    let status = seen.instance_on.status.unwrap();
    assert_eq!(
        status.managed_resources.unwrap().http_route.as_deref(),
        Some("rt")
    );
    let cond = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "HTTPRouteReady")
        .expect("HTTPRouteReady");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("True", "HTTPRouteReconciled")
    );
    let now = h
        .api::<openclaw_api::OpenClawInstance>()
        .get("rt")
        .await
        .unwrap();
    assert!(
        !now.status
            .unwrap()
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "HTTPRouteReady"),
        "the condition goes with the feature"
    );
}

#[tokio::test]
async fn monitoring_objects() {
    let Some(h) = start_with_crds("f-monitoring").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "mon",
            base: base(),
            on: json!({"observability": {"metrics": {
                "serviceMonitor": {"enabled": true, "labels": {"release": "prometheus"}},
                "prometheusRule": {"enabled": true},
                "grafanaDashboard": {"enabled": true}}}}),
            objects: objects(&[
                ("ServiceMonitor", "mon"),
                ("PrometheusRule", "mon-alerts"),
                ("ConfigMap", "mon-dashboard-operator"),
                ("ConfigMap", "mon-dashboard-instance"),
            ]),
            containers: vec![],
            rolls: false,
        })
        .await;
    let status = seen.instance_on.status.unwrap();
    for c in ["ServiceMonitorReady", "PrometheusRuleReady"] {
        let cond = status
            .conditions
            .iter()
            .flatten()
            .find(|x| x.type_ == c)
            .unwrap_or_else(|| panic!("{c}"));
        assert_eq!(cond.status, "True", "{c}: {}", cond.message);
    }
    let managed = status.managed_resources.unwrap();
    assert_eq!(managed.prometheus_rule.as_deref(), Some("mon-alerts"));
    assert_eq!(
        managed.grafana_dashboard_operator.as_deref(),
        Some("mon-dashboard-operator")
    );
}

#[tokio::test]
async fn autoscaling_recreates_the_statefulset_without_killing_pods() {
    let Some(h) = start("f-hpa").await else {
        return;
    };
    let name = "hpa";
    h.apply_instance(name, base()).await;
    h.converged(name).await;
    let inv_off = h.inventory(name).await;

    let mut on = base();
    common::features::merge(
        &mut on,
        &json!({"availability": {"autoScaling": {"enabled": true, "maxReplicas": 3}}}),
    );
    h.apply_instance(name, on).await;
    let sts = testkit::wait_for(
        &h.api::<StatefulSet>(),
        name,
        |s: &StatefulSet| {
            s.metadata.deletion_timestamp.is_none()
                && s.spec
                    .as_ref()
                    .and_then(|s| s.volume_claim_templates.as_ref())
                    .is_some_and(|v| v.iter().any(|t| t.metadata.name.as_deref() == Some("data")))
        },
        TIMEOUT,
    )
    .await
    .expect("StatefulSet re-created with volumeClaimTemplates");
    assert!(
        sts.spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .volumes
            .iter()
            .flatten()
            .all(|v| v.name != "data")
    );
    let inst = h.converged(name).await;
    let inv_on = h.inventory(name).await;
    assert!(inv_on.contains(&("HorizontalPodAutoscaler".into(), name.into())));
    assert!(
        inv_on.contains(&("PersistentVolumeClaim".into(), "hpa-data".into()))
            || h.api::<PersistentVolumeClaim>()
                .get_opt("hpa-data")
                .await
                .unwrap()
                .is_some(),
        "the old data PVC is kept"
    );
    assert!(
        h.api::<PersistentVolumeClaim>()
            .get_opt("data-hpa-0")
            .await
            .unwrap()
            .is_some()
    );
    let storage = inst
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "StorageReady"))
        .map(|c| c.reason.clone());
    assert_eq!(storage.as_deref(), Some("ManagedByVolumeClaimTemplates"));
    assert_eq!(
        inst.status
            .unwrap()
            .managed_resources
            .unwrap()
            .horizontal_pod_autoscaler
            .as_deref(),
        Some(name)
    );

    // Converged: nothing written.
    h.counter.reset();
    h.poke(name, "x").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.counter.writes(), 0, "{:?}", h.counter.write_log());

    // Off: the HPA goes, the StatefulSet is back on `<name>-data`, the per-replica PVC stays.
    h.apply_instance(name, base()).await;
    testkit::wait_for(
        &h.api::<StatefulSet>(),
        name,
        |s: &StatefulSet| {
            s.metadata.deletion_timestamp.is_none()
                && s.spec
                    .as_ref()
                    .is_some_and(|s| s.volume_claim_templates.as_ref().is_none_or(Vec::is_empty))
        },
        TIMEOUT,
    )
    .await
    .expect("StatefulSet back without templates");
    h.converged(name).await;
    let inv = h.inventory(name).await;
    assert!(!inv.contains(&("HorizontalPodAutoscaler".into(), name.into())));
    // Only the per-replica PVC stays (user data is never deleted).
    let mut expected = inv_off.clone();
    expected.insert(("PersistentVolumeClaim".into(), "data-hpa-0".into()));
    assert_eq!(inv, expected);
}

#[tokio::test]
async fn pod_pass_through_fields() {
    let Some(h) = start("f-pod").await else {
        return;
    };
    let seen = h
        .toggle(&Toggle {
            name: "pod",
            base: base(),
            on: json!({
                "podAnnotations": {"example.com/team": "agents", "openclaw.rocks/config-hash": "user"},
                "availability": {
                    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "openclaw", "effect": "NoSchedule"}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "pod"}}}],
                    "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 1, "preference": {"matchExpressions": [{"key": "type", "operator": "In", "values": ["kwok"]}]}}]}}
                },
                "image": {"pullSecrets": [{"name": "regcred"}]},
                "extraVolumes": [{"name": "scratch", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                "initContainers": [{"name": "hello", "image": "busybox:1.36", "command": ["true"]}],
                "sidecars": [{"name": "sidekick", "image": "busybox:1.36", "command": ["sleep", "infinity"],
                    "volumeMounts": [{"name": "side", "mountPath": "/side"}]}],
                "sidecarVolumes": [{"name": "side", "emptyDir": {}}],
                "shareProcessNamespace": false
            }),
            objects: vec![],
            containers: vec!["hello", "sidekick"],
            rolls: true,
        })
        .await;
    let template = seen.sts_on.spec.unwrap().template;
    let annotations = template.metadata.unwrap().annotations.unwrap();
    assert_eq!(
        annotations.get("example.com/team").map(String::as_str),
        Some("agents")
    );
    assert_ne!(
        annotations
            .get("openclaw.rocks/config-hash")
            .map(String::as_str),
        Some("user"),
        "operator keys win"
    );
    let pod = template.spec.unwrap();
    assert_eq!(pod.share_process_namespace, Some(false));
    assert!(
        pod.tolerations
            .iter()
            .flatten()
            .any(|t| t.key.as_deref() == Some("dedicated"))
    );
    assert_eq!(pod.topology_spread_constraints.map(|t| t.len()), Some(1));
    assert!(
        pod.image_pull_secrets
            .iter()
            .flatten()
            .any(|s| s.name == "regcred")
    );
    assert!(pod.volumes.iter().flatten().any(|v| v.name == "scratch"));
    assert!(pod.volumes.iter().flatten().any(|v| v.name == "side"));
}

#[tokio::test]
async fn go_basic_auth_secret_is_migrated_keeping_its_password() {
    let Some(h) = start("f-goauth").await else {
        return;
    };
    // What the Go operator left: an Opaque Secret with three keys (its type is immutable).
    let legacy: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "mig-basic-auth", "labels": {
            "app.kubernetes.io/managed-by": "openclaw-operator",
            "app.kubernetes.io/instance": "mig", "app.kubernetes.io/name": "openclaw"}},
        "stringData": {"username": "openclaw", "password": "legacy-password",
            "auth": "openclaw:{SHA}x"}
    }))
    .unwrap();
    h.api::<Secret>()
        .create(&Default::default(), &legacy)
        .await
        .expect("legacy secret");
    let mut spec = base();
    common::features::merge(
        &mut spec,
        &json!({"networking": {"ingress": {"enabled": true, "className": "nginx",
            "hosts": [{"host": "m.example.com"}],
            "security": {"basicAuth": {"enabled": true}}}}}),
    );
    h.apply_instance("mig", spec).await;
    let migrated = testkit::wait_for(
        &h.api::<Secret>(),
        "mig-basic-auth",
        |s: &Secret| s.type_.as_deref() == Some("kubernetes.io/basic-auth"),
        TIMEOUT,
    )
    .await
    .expect("re-created with the basic-auth type");
    let password = migrated
        .data
        .unwrap_or_default()
        .get("password")
        .map(|b| String::from_utf8(b.0.clone()).unwrap());
    assert_eq!(password.as_deref(), Some("legacy-password"));
    h.converged("mig").await;
}
