//! Every admission check, with a case that trips it and a case that passes it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use openclaw_api::OpenClawInstance;
use openclaw_api::selfconfig::OpenClawSelfConfig;
use openclaw_api::validation::{Findings, validate, validate_self_config};
use rstest::rstest;
use serde_json::{Value, json};

/// A spec that passes with no errors and no warnings.
fn base() -> Value {
    json!({
        "image": {"repository": "ghcr.io/openclaw/openclaw", "tag": "2026.9.6"},
        "envFrom": [{"secretRef": {"name": "api-keys"}}],
    })
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    a.remove(k);
                } else {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// The base spec with `patch` merged in; `"__skip": true` in the patch sets the
/// skip-config-check annotation instead.
fn instance_with(patch: &Value) -> OpenClawInstance {
    let mut spec = base();
    let mut patch = patch.clone();
    let skip = patch
        .as_object_mut()
        .and_then(|p| p.remove("__skip"))
        .is_some();
    merge(&mut spec, &patch);
    let annotations = if skip {
        json!({ openclaw_api::validation::SKIP_CONFIG_CHECK_ANNOTATION: "true" })
    } else {
        json!({})
    };
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "t", "namespace": "ns", "annotations": annotations},
        "spec": spec,
    }))
    .expect("test instance deserializes")
}

fn check(patch: Value) -> Findings {
    validate(&instance_with(&patch), None)
}

#[test]
fn base_spec_is_clean() {
    assert_eq!(check(json!({})), Findings::default());
}

#[rstest]
#[case::root_uid(json!({"security": {"podSecurityContext": {"runAsUser": 0}}}), json!({"security": {"podSecurityContext": {"runAsUser": 1000}}}), "UID 0")]
#[case::ca_both(json!({"security": {"caBundle": {"configMapName": "a", "secretName": "b"}}}), json!({"security": {"caBundle": {"secretName": "b"}}}), "only one")]
#[case::ca_none(json!({"security": {"caBundle": {"key": "x"}}}), json!({"security": {"caBundle": {"configMapName": "a"}}}), "must be set")]
#[case::quantity_storage(json!({"storage": {"persistence": {"size": "10 GB"}}}), json!({"storage": {"persistence": {"size": "10Gi"}}}), "spec.storage.persistence.size \"10 GB\" is not a valid Kubernetes quantity")]
#[case::quantity_main(json!({"resources": {"limits": {"cpu": "two"}}}), json!({"resources": {"limits": {"cpu": "2"}}}), "spec.resources.limits.cpu")]
#[case::quantity_chromium(json!({"chromium": {"resources": {"requests": {"memory": "1GB"}}}}), json!({"chromium": {"resources": {"requests": {"memory": "1G"}}}}), "spec.chromium.resources.requests.memory")]
#[case::quantity_chromium_pvc(json!({"chromium": {"persistence": {"size": "x"}}}), json!({"chromium": {"persistence": {"size": "1Gi"}}}), "spec.chromium.persistence.size")]
#[case::quantity_tailscale(json!({"tailscale": {"resources": {"limits": {"memory": "?"}}}}), json!({"tailscale": {"resources": {"limits": {"memory": "256Mi"}}}}), "spec.tailscale.resources.limits.memory")]
#[case::quantity_ollama(json!({"ollama": {"storage": {"sizeLimit": "lots"}}}), json!({"ollama": {"storage": {"sizeLimit": "20Gi"}}}), "spec.ollama.storage.sizeLimit")]
#[case::quantity_terminal(json!({"webTerminal": {"resources": {"requests": {"cpu": "-"}}}}), json!({"webTerminal": {"resources": {"requests": {"cpu": "50m"}}}}), "spec.webTerminal.resources.requests.cpu")]
#[case::quantity_disk(json!({"probes": {"diskReadiness": {"minFree": "64 MB"}}}), json!({"probes": {"diskReadiness": {"minFree": "64Mi"}}}), "spec.probes.diskReadiness.minFree")]
#[case::check_interval_parse(json!({"autoUpdate": {"checkInterval": "daily"}}), json!({"autoUpdate": {"checkInterval": "24h"}}), "spec.autoUpdate.checkInterval")]
#[case::check_interval_min(json!({"autoUpdate": {"checkInterval": "59m"}}), json!({"autoUpdate": {"checkInterval": "1h"}}), "at least 1h")]
#[case::check_interval_max(json!({"autoUpdate": {"checkInterval": "169h"}}), json!({"autoUpdate": {"checkInterval": "168h"}}), "at most 168h")]
#[case::health_timeout_min(json!({"autoUpdate": {"healthCheckTimeout": "1m"}}), json!({"autoUpdate": {"healthCheckTimeout": "2m"}}), "at least 2m")]
#[case::health_timeout_max(json!({"autoUpdate": {"healthCheckTimeout": "31m"}}), json!({"autoUpdate": {"healthCheckTimeout": "30m"}}), "at most 30m")]
#[case::skill_chars(json!({"skills": ["bad skill"]}), json!({"skills": ["good-skill"]}), "skills[0] \"bad skill\": invalid character ' '")]
#[case::skill_empty(json!({"skills": [""]}), json!({"skills": ["a"]}), "must not be empty")]
#[case::skill_long(json!({"skills": ["a".repeat(129)]}), json!({"skills": ["a".repeat(128)]}), "at most 128")]
#[case::skill_npm(json!({"skills": ["npm:"]}), json!({"skills": ["npm:pkg"]}), "npm: prefix requires a package name")]
#[case::skill_pack(json!({"skills": ["pack:"]}), json!({"skills": ["pack:owner/repo/path@v1"]}), "pack: prefix requires")]
#[case::plugin_chars(json!({"plugins": ["a$b"]}), json!({"plugins": ["npm:@scope/plugin"]}), "plugins[0]")]
#[case::plugin_pack(json!({"plugins": ["pack:o/r"]}), json!({"plugins": ["o-r"]}), "plugins[0]")]
#[case::json5_raw(json!({"config": {"format": "json5", "raw": {"gateway": {}}}}), json!({"config": {"format": "json5", "configMapRef": {"name": "c"}}}), "requires configMapRef")]
#[case::json5_merge(json!({"config": {"format": "json5", "mergeMode": "merge", "configMapRef": {"name": "c"}}}), json!({"config": {"format": "json", "mergeMode": "merge"}}), "not compatible with mergeMode")]
#[case::force_paths_overwrite(json!({"config": {"forcePaths": ["gateway"]}}), json!({"config": {"mergeMode": "merge", "forcePaths": ["gateway"]}}), "only valid when spec.config.mergeMode is \"merge\"")]
#[case::force_paths_empty(json!({"config": {"mergeMode": "merge", "forcePaths": [""]}}), json!({"config": {"mergeMode": "merge", "forcePaths": ["a"]}}), "path must not be empty")]
#[case::force_paths_dot(json!({"config": {"mergeMode": "merge", "forcePaths": ["a."]}}), json!({"config": {"mergeMode": "merge", "forcePaths": ["a.b"]}}), "must not start or end with '.'")]
#[case::force_paths_segments(json!({"config": {"mergeMode": "merge", "forcePaths": ["a..b"]}}), json!({"config": {"mergeMode": "merge", "forcePaths": ["a.b"]}}), "empty segments")]
#[case::force_paths_chars(json!({"config": {"mergeMode": "merge", "forcePaths": ["a/b"]}}), json!({"config": {"mergeMode": "merge", "forcePaths": ["a_b-c"]}}), "invalid character '/'")]
#[case::init_reserved(json!({"initContainers": [{"name": "init-config"}]}), json!({"initContainers": [{"name": "my-init"}]}), "reserved")]
#[case::init_reserved_uv(json!({"initContainers": [{"name": "init-uv"}]}), json!({"initContainers": [{"name": "uv"}]}), "reserved")]
#[case::init_empty(json!({"initContainers": [{"name": ""}]}), json!({"initContainers": [{"name": "x"}]}), "must not be empty")]
#[case::suspended_hpa(json!({"suspended": true, "availability": {"autoScaling": {"enabled": true}}}), json!({"suspended": true, "availability": {"autoScaling": {"enabled": false}}}), "mutually exclusive")]
#[case::hpa_bounds(json!({"availability": {"autoScaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 2}}}), json!({"availability": {"autoScaling": {"enabled": true, "minReplicas": 2, "maxReplicas": 2}}}), "must be at least minReplicas")]
#[case::ws_file_empty(json!({"workspace": {"initialFiles": {"": "x"}}}), json!({"workspace": {"initialFiles": {"a.md": "x"}}}), "path must not be empty")]
#[case::ws_file_reserved(json!({"workspace": {"initialFiles": {"openclaw.json": "{}"}}}), json!({"workspace": {"initialFiles": {"docs/openclaw.json": "{}"}}}), "reserved for config")]
#[case::ws_file_abs(json!({"workspace": {"initialFiles": {"/etc/passwd": "x"}}}), json!({"workspace": {"initialFiles": {"etc/passwd": "x"}}}), "must not be absolute")]
#[case::ws_file_dotdot(json!({"workspace": {"initialFiles": {"a/../b": "x"}}}), json!({"workspace": {"initialFiles": {"a/b": "x"}}}), "must not contain '..'")]
#[case::ws_file_hidden(json!({"workspace": {"initialFiles": {"a/.env": "x"}}}), json!({"workspace": {"initialFiles": {"a/env": "x"}}}), "must not start with '.'")]
#[case::ws_file_backslash(json!({"workspace": {"initialFiles": {"a\\b": "x"}}}), json!({"workspace": {"initialFiles": {"a-b": "x"}}}), "must not contain '\\'")]
#[case::ws_file_trailing(json!({"workspace": {"initialFiles": {"a/": "x"}}}), json!({"workspace": {"initialFiles": {"a": "x"}}}), "must not end with '/'")]
#[case::ws_file_double_slash(json!({"workspace": {"initialFiles": {"a//b": "x"}}}), json!({"workspace": {"initialFiles": {"a/b": "x"}}}), "empty segments")]
#[case::ws_file_long(json!({"workspace": {"initialFiles": {"a".repeat(254): "x"}}}), json!({"workspace": {"initialFiles": {"a".repeat(253): "x"}}}), "at most 253")]
#[case::ws_dir_abs(json!({"workspace": {"initialDirectories": ["/x"]}}), json!({"workspace": {"initialDirectories": ["x/y"]}}), "must not be absolute")]
#[case::ws_dir_dotdot(json!({"workspace": {"initialDirectories": ["../x"]}}), json!({"workspace": {"initialDirectories": ["x"]}}), "must not contain '..'")]
#[case::ws_dir_empty(json!({"workspace": {"initialDirectories": [""]}}), json!({"workspace": {"initialDirectories": ["x"]}}), "must not be empty")]
#[case::ws_cm_empty(json!({"workspace": {"configMapRef": {"name": ""}}}), json!({"workspace": {"configMapRef": {"name": "files"}}}), "configMapRef.name must not be empty")]
#[case::aws_name(json!({"workspace": {"additionalWorkspaces": [{"name": "Bad--Name"}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "good-name"}]}}), "single hyphens")]
#[case::aws_dup(json!({"workspace": {"additionalWorkspaces": [{"name": "a"}, {"name": "a"}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a"}, {"name": "b"}]}}), "duplicated")]
#[case::aws_file(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "initialFiles": {"../x": "y"}}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "initialFiles": {"x": "y"}}]}}), "additionalWorkspaces[0] \"a\" initialFiles key")]
#[case::aws_dir(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "initialDirectories": ["/x"]}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "initialDirectories": ["x"]}]}}), "initialDirectories")]
#[case::aws_cm(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "configMapRef": {"name": ""}}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "configMapRef": {"name": "c"}}]}}), "configMapRef.name")]
#[case::aws_skill(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "skills": ["b c"]}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "skills": ["b-c"]}]}}), "skills[0]")]
#[case::aws_skill_dup(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "skills": ["s", "s"]}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "skills": ["s"]}, {"name": "b", "skills": ["s"]}]}}), "duplicated within the workspace")]
#[case::image_empty_tag(json!({"image": {"tag": ""}}), json!({"image": {"tag": "", "digest": "sha256:0"}}), "one of tag or digest")]
#[case::unknown_config_key(json!({"config": {"raw": {"mcpServers": {}}}}), json!({"config": {"raw": {"gateway": {}, "agents": {}, "channels": {}, "session": {}, "mcp": {}}}}), "spec.config.raw: Unrecognized key: \"mcpServers\" (OpenClaw 2026.9.6 rejects this config at <root>)")]
#[case::unknown_nested_key(json!({"config": {"raw": {"agents": {"defaults": {"bogus": 1}}}}}), json!({"config": {"raw": {"agents": {"defaults": {}}}}}), "spec.config.raw.agents.defaults: Unrecognized key: \"bogus\"")]
#[case::nested_type(json!({"config": {"raw": {"gateway": {"port": "18789"}}}}), json!({"config": {"raw": {"gateway": {"port": 18789}}}}), "spec.config.raw.gateway.port: Invalid input: expected number, received string")]
#[case::key_only_in_a_newer_version(json!({"image": {"tag": "2026.7.35"}, "config": {"raw": {"gateway": {"publicOrigin": "https://agent.example.com"}}}}), json!({"image": {"tag": "2026.9.6"}, "config": {"raw": {"gateway": {"publicOrigin": "https://agent.example.com"}}}}), "Unrecognized key: \"publicOrigin\" (OpenClaw 2026.7.35")]
#[case::key_only_in_an_older_version(json!({"image": {"tag": "2026.9.6"}, "config": {"raw": {"gateway": {"handshakeTimeoutMs": 10000}}}}), json!({"image": {"tag": "2026.7.35"}, "config": {"raw": {"gateway": {"handshakeTimeoutMs": 10000}}}}), "Unrecognized key: \"handshakeTimeoutMs\"")]
#[case::unknown_version_is_checked_as_newest(json!({"image": {"tag": "2027.1.1"}, "config": {"raw": {"gateway": {"handshakeTimeoutMs": 10000}}}}), json!({"image": {"tag": "2026.8.2"}, "config": {"raw": {"gateway": {"handshakeTimeoutMs": 10000}}}}), "handshakeTimeoutMs")]
fn error_cases(#[case] bad: Value, #[case] good: Value, #[case] needle: &str) {
    let f = check(bad.clone());
    assert!(
        f.errors.iter().any(|e| e.contains(needle)),
        "{bad}: errors {:?} lack {needle:?}",
        f.errors
    );
    let f = check(good.clone());
    assert!(
        f.errors.is_empty(),
        "{good}: unexpected errors {:?}",
        f.errors
    );
}

#[rstest]
#[case::run_as_non_root(json!({"security": {"podSecurityContext": {"runAsNonRoot": false}}}), json!({"security": {"podSecurityContext": {"runAsNonRoot": true}}}), "runAsNonRoot")]
#[case::network_policy(json!({"security": {"networkPolicy": {"enabled": false}}}), json!({"security": {"networkPolicy": {"enabled": true}}}), "NetworkPolicy")]
#[case::ingress_tls(json!({"networking": {"ingress": {"enabled": true}}}), json!({"networking": {"ingress": {"enabled": true, "tls": [{"hosts": ["a"], "secretName": "s"}]}}}), "no TLS")]
#[case::ingress_https(json!({"networking": {"ingress": {"enabled": true, "tls": [{"secretName": "s"}], "security": {"forceHTTPS": false}}}}), json!({"networking": {"ingress": {"enabled": true, "tls": [{"secretName": "s"}]}}}), "forceHTTPS")]
#[case::chromium_digest(json!({"chromium": {"enabled": true}}), json!({"chromium": {"enabled": true, "image": {"digest": "sha256:1"}}}), "Chromium")]
#[case::ollama_digest(json!({"ollama": {"enabled": true}}), json!({"ollama": {"enabled": false}}), "Ollama sidecar image")]
#[case::ollama_root(json!({"ollama": {"enabled": true, "image": {"digest": "sha256:1"}}}), json!({"ollama": {"enabled": false}}), "runs as root")]
#[case::terminal_digest(json!({"webTerminal": {"enabled": true}}), json!({"webTerminal": {"enabled": true, "image": {"digest": "sha256:1"}}}), "Web terminal")]
#[case::provider_keys(json!({"envFrom": null}), json!({"envFrom": null, "env": [{"name": "ANTHROPIC_API_KEY", "value": "x"}]}), "No AI provider API keys")]
#[case::provider_secret_ref(json!({"envFrom": null, "env": [{"name": "X", "value": "y"}]}), json!({"envFrom": null, "env": [{"name": "MY_KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}), "No AI provider API keys")]
#[case::privilege_escalation(json!({"security": {"containerSecurityContext": {"allowPrivilegeEscalation": true}}}), json!({"security": {"containerSecurityContext": {"allowPrivilegeEscalation": false}}}), "allowPrivilegeEscalation")]
#[case::read_only_root(json!({"security": {"containerSecurityContext": {"readOnlyRootFilesystem": false}}}), json!({"security": {"containerSecurityContext": {"readOnlyRootFilesystem": true}}}), "readOnlyRootFilesystem")]
#[case::latest_tag(json!({"image": {"tag": "latest"}}), json!({"image": {"tag": "latest", "digest": "sha256:1"}}), "mutable")]
#[case::latest_by_default(json!({"image": null}), json!({"image": {"tag": "2026.9.6"}}), "mutable")]
#[case::auto_update_digest(json!({"autoUpdate": {"enabled": true}, "image": {"digest": "sha256:1"}}), json!({"autoUpdate": {"enabled": true}}), "updates are skipped")]
#[case::older_than_supported(json!({"image": {"tag": "2026.2.3"}}), json!({"image": {"tag": "2026.9.6"}}), "older than the oldest supported version")]
#[case::skip_config_check(json!({"config": {"raw": {"bogus": 1}}, "__skip": true}), json!({"config": {"raw": {"gateway": {}}}}), "is not checked against OpenClaw's schema")]
#[case::backup_timeout(json!({"backup": {"timeout": "forever"}}), json!({"backup": {"timeout": "1h"}}), "not a Go duration")]
#[case::backup_timeout_clamp(json!({"backup": {"timeout": "1m"}}), json!({"backup": {"timeout": "5m"}}), "clamped")]
fn warning_cases(#[case] warned: Value, #[case] quiet: Value, #[case] needle: &str) {
    let f = check(warned.clone());
    assert!(
        f.errors.is_empty(),
        "{warned}: unexpected errors {:?}",
        f.errors
    );
    assert!(
        f.warnings.iter().any(|w| w.contains(needle)),
        "{warned}: warnings {:?} lack {needle:?}",
        f.warnings
    );
    let f = check(quiet.clone());
    assert!(
        !f.warnings.iter().any(|w| w.contains(needle)),
        "{quiet}: unexpected warning {:?}",
        f.warnings
    );
}

#[test]
fn all_errors_are_reported_and_warnings_kept() {
    let f = check(json!({
        "security": {"podSecurityContext": {"runAsUser": 0, "runAsNonRoot": false}},
        "skills": ["bad skill"],
    }));
    assert_eq!(f.errors.len(), 2, "{f:?}");
    assert!(f.warnings.iter().any(|w| w.contains("runAsNonRoot")));
}

#[test]
fn missing_limits_are_not_an_error() {
    // The operator applies its documented defaults (2000m / 4Gi) instead.
    let f = check(json!({"resources": {"requests": {"cpu": "1"}}}));
    assert!(f.errors.is_empty(), "{f:?}");
}

#[test]
fn storage_class_is_immutable_on_update() {
    let old = instance_with(&json!({"storage": {"persistence": {"storageClass": "fast"}}}));
    let changed = instance_with(&json!({"storage": {"persistence": {"storageClass": "slow"}}}));
    let unset = instance_with(&json!({}));
    let f = validate(&changed, Some(&old));
    assert!(f.errors.iter().any(|e| e.contains("immutable")), "{f:?}");
    assert!(validate(&old, Some(&old)).errors.is_empty());
    assert!(validate(&unset, Some(&old)).errors.is_empty());
    assert!(validate(&old, Some(&unset)).errors.is_empty());
}

fn self_config(spec: Value) -> OpenClawSelfConfig {
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawSelfConfig",
        "metadata": {"name": "req", "namespace": "ns"},
        "spec": spec,
    }))
    .expect("self config deserializes")
}

#[rstest]
#[case::no_actions(json!({"instanceRef": "i"}), json!({"instanceRef": "i", "addSkills": ["s"]}), "no actions")]
#[case::empty_ref(json!({"instanceRef": "", "addSkills": ["s"]}), json!({"instanceRef": "i", "removeSkills": ["s"]}), "instanceRef")]
#[case::gateway(json!({"instanceRef": "i", "configPatch": {"gateway": {}}}), json!({"instanceRef": "i", "configPatch": {"agents": {}}}), "\"gateway\"")]
#[case::protected_env(json!({"instanceRef": "i", "addEnvVars": [{"name": "HOME", "value": "/"}]}), json!({"instanceRef": "i", "addEnvVars": [{"name": "MY_VAR", "value": "/"}]}), "managed by the operator")]
#[case::protected_remove(json!({"instanceRef": "i", "removeEnvVars": ["OPENCLAW_GATEWAY_TOKEN"]}), json!({"instanceRef": "i", "removeEnvVars": ["MY_VAR"]}), "managed by the operator")]
#[case::skill(json!({"instanceRef": "i", "addSkills": ["a b"]}), json!({"instanceRef": "i", "addSkills": ["a-b"]}), "addSkills[0]")]
#[case::file(json!({"instanceRef": "i", "addWorkspaceFiles": {"../x": "y"}}), json!({"instanceRef": "i", "addWorkspaceFiles": {"notes/x.md": "y"}}), "addWorkspaceFiles")]
fn self_config_cases(#[case] bad: Value, #[case] good: Value, #[case] needle: &str) {
    let f = validate_self_config(&self_config(bad.clone()));
    assert!(f.errors.iter().any(|e| e.contains(needle)), "{bad}: {f:?}");
    let f = validate_self_config(&self_config(good.clone()));
    assert!(f.errors.is_empty(), "{good}: {f:?}");
}

/// The incident corpus (`crates/versions/tests/incidents.json`: configs that crash-looped the Go
/// operator's users) is denied at admission for an instance on the newest version, each issue
/// with OpenClaw's path under `spec.config.raw`.
#[test]
fn incident_configs_are_denied_with_openclaws_path() {
    let list: Vec<Value> =
        serde_json::from_str(include_str!("../../versions/tests/incidents.json")).unwrap();
    assert!(list.len() >= 20);
    for incident in list {
        let config = &incident["config"];
        let f = check(json!({"image": {"tag": "2026.9.6"}, "config": {"raw": config}}));
        assert!(
            !f.errors.is_empty()
                && f.errors.iter().all(|e| e.starts_with("spec.config.raw")
                    && e.contains("(OpenClaw 2026.9.6 rejects this config at ")),
            "{}: {:?}",
            incident["incident"],
            f.errors
        );
    }
}
