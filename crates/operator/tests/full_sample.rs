//! The Go operator's full sample (`openclaw_v1alpha1_openclawinstance_full.yaml`) on the real
//! cluster: every object it renders passes a server-side dry run, and the instance reaches
//! Running with every expected object, then stays quiet.
//!
//! Fixtures the sample needs: a kwok node labelled `node-type=application` with the taint
//! `dedicated=openclaw:NoSchedule` (the sample's nodeSelector and toleration), a
//! PersistentVolume of class `premium-rwo` for its data PVC (the fake provisioner serves only
//! the default class), the Secret `openclaw-api-keys`, and the third-party CRDs (ServiceMonitor).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::features::KINDS;
use common::{Harness, TIMEOUT};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, Secret};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use openclaw_api::OpenClawInstance;
use openclaw_render::{Observed, render};
use serde_json::{Value, json};

const NAME: &str = "production-openclaw";

fn sample() -> Option<Value> {
    let dir = std::env::var_os("OPENCLAW_COMPAT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat"));
    let path = dir.join("samples/openclaw_v1alpha1_openclawinstance_full.yaml");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(serde_saphyr::from_str(&text).expect("sample YAML"))
}

async fn apply<K>(api: &Api<K>, name: &str, value: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let obj: K = serde_json::from_value(value).expect("object");
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {name}: {e}"));
}

async fn fixtures(h: &Harness) {
    let client = h.client.clone();
    apply(
        &Api::<Node>::all(client.clone()),
        "kwok-application-0",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "kwok-application-0",
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": "kwok-application-0", "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "type": "kwok", "node-type": "application"}},
          "spec": {"providerID": "kwok://kwok-application-0",
            "taints": [{"key": "dedicated", "value": "openclaw", "effect": "NoSchedule"}]},
          "status": {"allocatable": {"cpu": "1000", "memory": "4Ti", "pods": "1000"},
            "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "1000"}}}),
    )
    .await;
    let pv = format!("{}-{NAME}-data", h.ns.name());
    apply(
        &Api::<PersistentVolume>::all(client.clone()),
        &pv,
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
          "spec": {"storageClassName": "premium-rwo", "capacity": {"storage": "50Gi"},
            "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": "/tmp/openclaw-test"},
            "claimRef": {"namespace": h.ns.name(), "name": format!("{NAME}-data")}}}),
    )
    .await;
    apply(
        &h.api::<Secret>(),
        "openclaw-api-keys",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "openclaw-api-keys"},
            "stringData": {"ANTHROPIC_API_KEY": "k"}}),
    )
    .await;
}

fn resource_of(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let plural = KINDS
        .iter()
        .find(|(g, v, k, _)| *g == group && *v == version && *k == kind)
        .map(|(_, _, _, p)| *p)
        .unwrap_or_else(|| panic!("unknown kind {api_version} {kind}"));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

#[tokio::test]
async fn full_sample_dry_runs_and_runs() {
    let Some(mut sample) = sample() else {
        eprintln!("no compat samples beside the repository: skipped");
        return;
    };
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    if !testkit::third_party::install(cluster.client(), TIMEOUT)
        .await
        .expect("third-party CRDs")
    {
        eprintln!("third-party CRDs unavailable: skipped");
        return;
    }
    let Some(h) = Harness::start("full-sample").await else {
        return;
    };
    fixtures(&h).await;
    sample["metadata"]["namespace"] = json!(h.ns.name());
    sample["metadata"]["uid"] = json!("00000000-0000-4000-8000-0000000000ff");

    // 1. Every rendered object passes a server-side dry run.
    let instance: OpenClawInstance = serde_json::from_value(sample.clone()).expect("instance");
    let observed = Observed {
        gateway_token: Some("0".repeat(64)),
        secret_hash: "0000000000000000".into(),
        ..Default::default()
    };
    let rendered = render(&instance, &observed).expect("render");
    let dry = PatchParams::apply("dry-run-test").force().dry_run();
    let mut kinds = Vec::new();
    for d in &rendered.objects {
        let mut value = d.object.to_value().expect("json");
        // Owner references name an instance that does not exist under this uid: harmless for
        // a dry run, but keep it realistic by dropping them.
        if let Some(m) = value["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
        let api_version = value["apiVersion"].as_str().unwrap().to_string();
        let kind = value["kind"].as_str().unwrap().to_string();
        let name = value["metadata"]["name"].as_str().unwrap().to_string();
        let api: Api<DynamicObject> = Api::namespaced_with(
            h.client.clone(),
            h.ns.name(),
            &resource_of(&api_version, &kind),
        );
        api.patch(&name, &dry, &Patch::Apply(&value))
            .await
            .unwrap_or_else(|e| panic!("dry run of {kind} {name} failed: {e}"));
        kinds.push(format!("{kind}/{name}"));
    }
    eprintln!("dry-run ok: {kinds:?}");

    // 2. The instance reaches Running with every expected object.
    testkit::apply_instance(&h.client, h.ns.name(), NAME, sample["spec"].clone())
        .await
        .expect("instance applied");
    let running = h.converged(NAME).await;
    let inventory = h.inventory(NAME).await;
    for (kind, name) in [
        ("ServiceAccount", NAME.to_string()),
        ("Role", NAME.to_string()),
        ("RoleBinding", NAME.to_string()),
        ("NetworkPolicy", NAME.to_string()),
        ("Secret", format!("{NAME}-gateway-token")),
        ("ConfigMap", format!("{NAME}-config")),
        ("PersistentVolumeClaim", format!("{NAME}-data")),
        ("PersistentVolumeClaim", format!("{NAME}-chromium-data")),
        ("PodDisruptionBudget", NAME.to_string()),
        ("StatefulSet", NAME.to_string()),
        ("Service", NAME.to_string()),
        ("Service", format!("{NAME}-cdp")),
        ("Ingress", NAME.to_string()),
        ("ServiceMonitor", NAME.to_string()),
    ] {
        assert!(
            inventory.contains(&(kind.to_string(), name.clone())),
            "{kind} {name} missing: {inventory:?}"
        );
    }
    let conditions = running.status.unwrap().conditions.unwrap_or_default();
    let sm = conditions
        .iter()
        .find(|c| c.type_ == "ServiceMonitorReady")
        .expect("ServiceMonitorReady");
    assert_eq!(sm.status, "True", "{}", sm.message);

    // 3. Converged: nothing written.
    h.counter.reset();
    h.poke(NAME, "1").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.counter.writes(), 0, "{:?}", h.counter.write_log());

    // Cluster-scoped fixtures go (the namespace goes with the harness).
    let _ = Api::<PersistentVolume>::all(h.client.clone())
        .delete(&format!("{}-{NAME}-data", h.ns.name()), &Default::default())
        .await;
}
