//! The generated CRDs on a real API server: they install, the samples are accepted, the CEL rules
//! reject what they should with our messages, and structural defaults behave like the Go
//! operator's. Skips without a cluster unless OPENCLAW_REQUIRE_CLUSTER is set.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use openclaw_api::clusterdefaults::OpenClawClusterDefaults;
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig, crd};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn setup(prefix: &str) -> Option<(testkit::Cluster, testkit::TestNamespace)> {
    let cluster = testkit::cluster().await?;
    cluster
        .install_crds(&crd::all(), TIMEOUT)
        .await
        .expect("CRDs install and become Established");
    let ns = cluster.namespace(prefix).await.expect("namespace");
    Some((cluster, ns))
}

fn instance(name: &str, spec: Value) -> OpenClawInstance {
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": name},
        "spec": spec,
    }))
    .expect("instance deserializes")
}

#[tokio::test]
async fn samples_are_accepted_and_defaults_applied() {
    let Some((_cluster, ns)) = setup("crd-samples").await else {
        return;
    };
    let instances: Api<OpenClawInstance> = ns.api();
    let selfconfigs: Api<OpenClawSelfConfig> = ns.api();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut dirs = vec![repo.join("config/samples")];
    let compat = repo.join("../shared/compat/samples");
    if compat.is_dir() {
        dirs.push(compat);
    }
    let mut created = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).expect("samples dir") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("sample");
            let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("YAML");
            for mut doc in docs.into_iter().filter(|d| !d.is_null()) {
                if let Some(meta) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("namespace");
                }
                let pp = PostParams::default();
                match doc["kind"].as_str() {
                    Some("OpenClawInstance") => {
                        let obj: OpenClawInstance = serde_json::from_value(doc).expect("typed");
                        instances
                            .create(&pp, &obj)
                            .await
                            .unwrap_or_else(|e| panic!("{}: rejected: {e}", path.display()));
                    }
                    Some("OpenClawSelfConfig") => {
                        let obj: OpenClawSelfConfig = serde_json::from_value(doc).expect("typed");
                        selfconfigs
                            .create(&pp, &obj)
                            .await
                            .unwrap_or_else(|e| panic!("{}: rejected: {e}", path.display()));
                    }
                    _ => continue,
                }
                created += 1;
            }
        }
    }
    assert!(created >= 3, "created {created}");

    // Structural defaults: applied inside objects that exist, as with the Go operator's CRDs.
    let stored = instances
        .create(
            &PostParams::default(),
            &instance(
                "defaults",
                json!({"image": {"pullSecrets": [{"name": "regcred"}]}}),
            ),
        )
        .await
        .expect("created");
    let image = stored.spec.image.expect("image kept");
    assert_eq!(
        image.repository.as_deref(),
        Some("ghcr.io/openclaw/openclaw")
    );
    assert_eq!(image.tag.as_deref(), Some("latest"));
    assert_eq!(image.pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(stored.spec.share_process_namespace, Some(true));
    assert_eq!(
        stored.spec.skill_pack_update_policy.as_deref(),
        Some("Replace")
    );
    assert_eq!(stored.spec.suspended, Some(false));
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn cel_rules_reject_bad_specs_with_clear_messages() {
    let Some((_cluster, ns)) = setup("crd-cel").await else {
        return;
    };
    let api: Api<OpenClawInstance> = ns.api();
    let cases = [
        (
            json!({"security": {"podSecurityContext": {"runAsUser": 0}}}),
            "UID 0",
        ),
        (
            json!({"initContainers": [{"name": "init-config", "image": "busybox"}]}),
            "reserved",
        ),
        (
            json!({"security": {"caBundle": {"configMapName": "a", "secretName": "b"}}}),
            "exactly one",
        ),
        (
            json!({"config": {"format": "json5", "raw": {"gateway": {}}}}),
            "json5 requires configMapRef",
        ),
        (
            json!({"config": {"format": "json5", "mergeMode": "merge", "configMapRef": {"name": "c"}}}),
            "not compatible with mergeMode merge",
        ),
        (
            json!({"config": {"forcePaths": ["gateway"]}}),
            "only valid when",
        ),
        (
            json!({"suspended": true, "availability": {"autoScaling": {"enabled": true}}}),
            "mutually exclusive",
        ),
        (
            json!({"autoUpdate": {"checkInterval": "30m"}}),
            "between 1h and 168h",
        ),
        (
            json!({"autoUpdate": {"healthCheckTimeout": "1h"}}),
            "between 2m and 30m",
        ),
        (json!({"skills": [""]}), "spec.skills"),
        (json!({"plugins": ["pack:o/r"]}), "spec.plugins"),
        (
            json!({"workspace": {"additionalWorkspaces": [{"name": "a"}, {"name": "a"}]}}),
            "must be unique",
        ),
        (json!({"image": {"tag": ""}}), "one of tag or digest"),
        // Schema (not CEL) checks from the contract still hold.
        (json!({"skills": ["a", "a"]}), "Duplicate value"),
        (
            json!({"workspace": {"additionalWorkspaces": [{"name": "Bad"}]}}),
            "should match",
        ),
    ];
    for (i, (spec, needle)) in cases.into_iter().enumerate() {
        let err = api
            .create(
                &PostParams::default(),
                &instance(&format!("bad-{i}"), spec.clone()),
            )
            .await
            .err()
            .unwrap_or_else(|| panic!("{spec} was accepted"));
        let text = err.to_string();
        assert!(text.contains(needle), "{spec}: {text} lacks {needle:?}");
    }
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn storage_class_is_immutable_and_apply_is_idempotent() {
    let Some((cluster, ns)) = setup("crd-update").await else {
        return;
    };
    let api: Api<OpenClawInstance> = ns.api();
    let pp = PatchParams::apply("crd-test").force();
    let obj = instance(
        "sc",
        json!({"image": {"tag": "2026.9.6"}, "storage": {"persistence": {"storageClass": "fast"}}}),
    );
    let first = api
        .patch("sc", &pp, &Patch::Apply(&obj))
        .await
        .expect("applied");
    let (counting, counter) = cluster.counting_client().expect("client");
    let counted: Api<OpenClawInstance> = Api::namespaced(counting, ns.name());
    let second = counted
        .patch("sc", &pp, &Patch::Apply(&obj))
        .await
        .expect("re-applied");
    assert_eq!(
        first.metadata.resource_version,
        second.metadata.resource_version
    );
    assert_eq!(counter.writes(), 1);

    let changed = instance(
        "sc",
        json!({"image": {"tag": "2026.9.6"}, "storage": {"persistence": {"storageClass": "slow"}}}),
    );
    let err = api
        .patch("sc", &pp, &Patch::Apply(&changed))
        .await
        .expect_err("storage class change rejected");
    assert!(err.to_string().contains("immutable"), "{err}");
    api.delete("sc", &DeleteParams::default())
        .await
        .expect("deleted");
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn cluster_defaults_is_a_singleton() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    cluster
        .install_crds(&crd::all(), TIMEOUT)
        .await
        .expect("CRDs");
    let api: Api<OpenClawClusterDefaults> = Api::all(cluster.client());
    let obj = |name: &str| -> OpenClawClusterDefaults {
        serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawClusterDefaults",
            "metadata": {"name": name}, "spec": {"registry": "registry.example"}
        }))
        .expect("typed")
    };
    let err = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &obj("other"),
        )
        .await
        .expect_err("other names rejected");
    assert!(err.to_string().contains("singleton"), "{err}");
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &obj("cluster"),
    )
    .await
    .expect("`cluster` accepted");
}
