//! The CRDs' CEL rules, evaluated locally with kube's CEL support (the API server evaluates the
//! same rules; the integration tests check that it does).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use openclaw_api::OpenClawInstance;
use openclaw_api::clusterdefaults::OpenClawClusterDefaults;
use serde_json::{Value, json};

fn instance(spec: Value) -> OpenClawInstance {
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "t", "namespace": "default"},
        "spec": spec,
    }))
    .expect("test instance deserializes")
}

fn accepts(spec: Value) {
    let i = instance(spec.clone());
    if let Err(e) = i.validate_cel() {
        panic!("expected {spec} to be accepted, got {e:?}");
    }
}

fn rejects(spec: Value, needle: &str) {
    let i = instance(spec.clone());
    match i.validate_cel() {
        Ok(()) => panic!("expected {spec} to be rejected"),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains(needle),
                "{spec}: error {text} lacks {needle:?}"
            );
        }
    }
}

#[test]
fn empty_spec_is_accepted() {
    accepts(json!({}));
}

#[test]
fn image_needs_tag_or_digest() {
    accepts(json!({"image": {"tag": "2026.9.6"}}));
    accepts(json!({"image": {"tag": "", "digest": "sha256:abc"}}));
    accepts(json!({"image": {"repository": "x", "tag": "latest"}}));
    rejects(json!({"image": {"tag": ""}}), "one of tag or digest");
}

#[test]
fn root_uid_is_rejected() {
    accepts(json!({"security": {"podSecurityContext": {"runAsUser": 1000}}}));
    rejects(
        json!({"security": {"podSecurityContext": {"runAsUser": 0}}}),
        "UID 0",
    );
}

#[test]
fn reserved_init_container_names() {
    accepts(json!({"initContainers": [{"name": "my-init", "image": "busybox"}]}));
    for name in [
        "init-config",
        "init-skills",
        "init-uv",
        "init-tailscale-bin",
    ] {
        rejects(
            json!({"initContainers": [{"name": name, "image": "busybox"}]}),
            "reserved",
        );
    }
    rejects(
        json!({"initContainers": [{"name": "", "image": "busybox"}]}),
        "must not be empty",
    );
}

#[test]
fn ca_bundle_exactly_one_source() {
    accepts(json!({"security": {"caBundle": {"configMapName": "ca"}}}));
    accepts(json!({"security": {"caBundle": {"secretName": "ca"}}}));
    rejects(
        json!({"security": {"caBundle": {"configMapName": "a", "secretName": "b"}}}),
        "exactly one",
    );
    rejects(
        json!({"security": {"caBundle": {"key": "ca.crt"}}}),
        "exactly one",
    );
}

#[test]
fn json5_rules() {
    accepts(json!({"config": {"format": "json5", "configMapRef": {"name": "c"}}}));
    rejects(
        json!({"config": {"format": "json5", "raw": {"a": 1}}}),
        "json5 requires configMapRef",
    );
    rejects(
        json!({"config": {"format": "json5", "mergeMode": "merge", "configMapRef": {"name": "c"}}}),
        "not compatible with mergeMode merge",
    );
}

#[test]
fn force_paths_need_merge_and_valid_paths() {
    accepts(
        json!({"config": {"mergeMode": "merge", "forcePaths": ["gateway", "models.providers"]}}),
    );
    rejects(
        json!({"config": {"forcePaths": ["gateway"]}}),
        "only valid when",
    );
    rejects(
        json!({"config": {"mergeMode": "overwrite", "forcePaths": ["gateway"]}}),
        "only valid when",
    );
    // Path syntax is an admission check (crates/api/src/validation.rs), too costly for CEL.
}

#[test]
fn suspended_excludes_autoscaling() {
    accepts(json!({"suspended": true}));
    accepts(json!({"suspended": true, "availability": {"autoScaling": {"enabled": false}}}));
    accepts(json!({"availability": {"autoScaling": {"enabled": true}}}));
    rejects(
        json!({"suspended": true, "availability": {"autoScaling": {"enabled": true}}}),
        "mutually exclusive",
    );
}

#[test]
fn duration_bounds() {
    accepts(json!({"autoUpdate": {"checkInterval": "24h", "healthCheckTimeout": "10m"}}));
    accepts(json!({"autoUpdate": {"checkInterval": "1h", "healthCheckTimeout": "30m"}}));
    accepts(json!({"autoUpdate": {"checkInterval": "168h", "healthCheckTimeout": "2m"}}));
    accepts(json!({"autoUpdate": {"checkInterval": "1h30m"}}));
    rejects(
        json!({"autoUpdate": {"checkInterval": "30m"}}),
        "between 1h and 168h",
    );
    rejects(
        json!({"autoUpdate": {"checkInterval": "169h"}}),
        "between 1h and 168h",
    );
    rejects(
        json!({"autoUpdate": {"checkInterval": "daily"}}),
        "between 1h and 168h",
    );
    rejects(
        json!({"autoUpdate": {"healthCheckTimeout": "1m"}}),
        "between 2m and 30m",
    );
    rejects(
        json!({"autoUpdate": {"healthCheckTimeout": "1h"}}),
        "between 2m and 30m",
    );
}

#[test]
fn skill_and_plugin_length() {
    accepts(
        json!({"skills": ["weather", "@owner/slug", "npm:@scope/pkg", "pack:owner/repo/path@v1"]}),
    );
    // Character checks are admission checks (too costly for CEL on unbounded strings).
    accepts(json!({"skills": ["bad skill"]}));
    rejects(json!({"skills": [""]}), "spec.skills");
    rejects(json!({"skills": ["x".repeat(129)]}), "spec.skills");
    accepts(json!({"plugins": ["npm:@scope/plugin", "plugin-name"]}));
    rejects(json!({"plugins": ["pack:owner/repo"]}), "spec.plugins");
    rejects(json!({"plugins": [""]}), "spec.plugins");
}

#[test]
fn additional_workspace_names_unique() {
    accepts(json!({"workspace": {"additionalWorkspaces": [{"name": "a"}, {"name": "b"}]}}));
    rejects(
        json!({"workspace": {"additionalWorkspaces": [{"name": "a"}, {"name": "a"}]}}),
        "must be unique",
    );
    rejects(
        json!({"workspace": {"additionalWorkspaces": [{"name": "a", "skills": [""]}]}}),
        "skills",
    );
}

#[test]
fn storage_class_is_immutable_on_update() {
    let old = instance(json!({"storage": {"persistence": {"storageClass": "fast"}}}));
    let same =
        instance(json!({"storage": {"persistence": {"storageClass": "fast", "size": "20Gi"}}}));
    let changed = instance(json!({"storage": {"persistence": {"storageClass": "slow"}}}));
    assert!(same.validate_cel_update(&old).is_ok());
    let err = changed
        .validate_cel_update(&old)
        .expect_err("storage class change rejected");
    assert!(format!("{err:?}").contains("immutable"));
    // Creating with any storage class is fine.
    assert!(changed.validate_cel().is_ok());
}

#[test]
fn cluster_defaults_singleton_name() {
    let ok: OpenClawClusterDefaults = serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawClusterDefaults",
        "metadata": {"name": "cluster"}, "spec": {"registry": "r.example"}
    }))
    .expect("deserializes");
    assert!(ok.validate_cel().is_ok());
    let mut other = ok.clone();
    other.metadata.name = Some("other".into());
    assert!(format!("{:?}", other.validate_cel()).contains("singleton"));
    let mut empty_tag = ok;
    empty_tag.spec.image = Some(openclaw_api::ImageSpec {
        tag: Some(String::new()),
        ..Default::default()
    });
    assert!(format!("{:?}", empty_tag.validate_cel()).contains("one of tag or digest"));
}

/// The CEL rule on `spec.initContainers` spells out the reserved names (an attribute cannot
/// take the constant): it must list exactly `RESERVED_INIT_CONTAINER_NAMES`, in order, in the
/// rule and in its message, and reject each of them.
#[test]
fn reserved_init_container_names_match_the_cel_rule() {
    let names = openclaw_api::RESERVED_INIT_CONTAINER_NAMES;
    let crds = serde_json::to_string(&openclaw_api::crd::all()).unwrap();
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let rule = format!("!(c.name in [{}])", quoted.join(", "));
    assert!(crds.contains(&rule), "the CEL rule does not list {rule}");
    let message = format!(
        "reserved for the operator's init containers ({})",
        names.join(", ")
    );
    assert!(
        crds.contains(&message),
        "the message does not list {message}"
    );
    for name in names {
        rejects(
            json!({"initContainers": [{"name": name, "image": "busybox"}]}),
            "reserved",
        );
    }
    accepts(json!({"initContainers": [{"name": "init-mine", "image": "busybox"}]}));
}
