//! Snapshots (YAML) of everything rendered for the samples and for each core toggle.
//!
//! Review changes with `cargo insta review`, or run with `INSTA_UPDATE=always` and read the
//! diff of `tests/snapshots/`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use openclaw_api::OpenClawClusterDefaultsSpec;
use openclaw_render::Observed;
use serde_json::json;

fn snapshot(name: &str, instance: &openclaw_api::OpenClawInstance, observed: &Observed) {
    let rendered = render_ok(instance, observed);
    insta::assert_snapshot!(name, to_yaml(&rendered));
}

fn toggle(name: &str, patch: serde_json::Value) {
    snapshot(name, &minimal_with(patch), &observed());
}

#[test]
fn minimal_sample() {
    snapshot("minimal", &instance(minimal()), &observed());
}

#[test]
fn go_operator_samples() {
    let Some(dir) = compat_samples() else {
        eprintln!("the Go operator's samples are not there; skipped");
        return;
    };
    for (file, name) in [
        (
            "openclaw_v1alpha1_openclawinstance.yaml",
            "go_sample_minimal",
        ),
        (
            "openclaw_v1alpha1_openclawinstance_full.yaml",
            "go_sample_full",
        ),
    ] {
        let value = yaml_file(&dir.join(file));
        snapshot(name, &instance(value), &observed());
    }
}

#[test]
fn gateway_proxy_off() {
    toggle("proxy_off", json!({"gateway": {"enabled": false}}));
}

#[test]
fn persistence_off() {
    toggle(
        "persistence_off",
        json!({"storage": {"persistence": {"enabled": false}}}),
    );
}

#[test]
fn existing_claim() {
    toggle(
        "existing_claim",
        json!({"storage": {"persistence": {"existingClaim": "my-data"}}}),
    );
}

#[test]
fn orphan_false() {
    toggle(
        "orphan_false",
        json!({"storage": {"persistence": {"orphan": false, "size": "20480Mi",
            "storageClass": "fast", "accessModes": ["ReadWriteOncePod"]}}}),
    );
}

#[test]
fn network_policy_off() {
    toggle(
        "network_policy_off",
        json!({"security": {"networkPolicy": {"enabled": false}}}),
    );
}

#[test]
fn network_policy_custom() {
    toggle(
        "network_policy_custom",
        json!({"security": {"networkPolicy": {
            "allowDNS": false,
            "allowedIngressNamespaces": ["ingress-nginx", "monitoring"],
            "allowedIngressCIDRs": ["10.0.0.0/8"],
            "allowedEgressCIDRs": ["192.168.10.0/24"],
            "additionalEgress": [{"to": [{"ipBlock": {"cidr": "172.16.0.0/12"}}],
                "ports": [{"protocol": "TCP", "port": 5432}]}]
        }}}),
    );
}

#[test]
fn rbac_without_service_account() {
    toggle(
        "rbac_no_service_account",
        json!({"security": {"rbac": {"createServiceAccount": false}}}),
    );
}

#[test]
fn rbac_custom() {
    toggle(
        "rbac_custom",
        json!({"security": {"rbac": {
            "serviceAccountName": "agent",
            "serviceAccountAnnotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/agent"},
            "additionalRules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
        }}}),
    );
}

#[test]
fn self_configure() {
    toggle(
        "self_configure",
        json!({"selfConfigure": {"enabled": true, "allowedActions": ["skills", "config"]},
            "envFrom": [{"secretRef": {"name": "openclaw-api-keys"}}, {"secretRef": {"name": "more-keys"}}]}),
    );
}

#[test]
fn merge_mode_with_force_paths() {
    toggle(
        "merge_force_paths",
        json!({"config": {"mergeMode": "merge", "forcePaths": ["gateway", "models.providers"],
            "raw": {"agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"}}},
                    "models": {"providers": {}}}}}),
    );
}

#[test]
fn json5_config_map_ref() {
    let instance = minimal_with(json!({"config": {"format": "json5",
        "configMapRef": {"name": "my-openclaw-config"}}}));
    let observed = Observed {
        external_config: Some(
            "// agent config\n{\n  agents: {defaults: {model: {primary: 'openai/gpt-5'}}},\n  session: {scope: 'per-sender',},\n}\n".into(),
        ),
        ..observed()
    };
    snapshot("json5_config_map_ref", &instance, &observed);
}

#[test]
fn suspended() {
    toggle("suspended", json!({"suspended": true}));
}

#[test]
fn cluster_defaults_with_registry() {
    let defaults: OpenClawClusterDefaultsSpec = serde_json::from_value(json!({
        "registry": "registry.corp.example/mirror",
        "image": {"tag": "2026.9.6", "pullSecrets": [{"name": "corp-pull"}]},
        "env": [{"name": "NPM_CONFIG_REGISTRY", "value": "https://npm.corp.example"},
                {"name": "TZ", "value": "UTC"}]
    }))
    .unwrap();
    // The instance keeps its own TZ; its image has only the stored CRD defaults.
    let mut value = minimal();
    value["spec"] = json!({
        "image": {"repository": "ghcr.io/openclaw/openclaw", "tag": "latest", "pullPolicy": "IfNotPresent"},
        "env": [{"name": "TZ", "value": "Europe/Berlin"}]
    });
    let observed = Observed {
        cluster_defaults: Some(defaults),
        ..observed()
    };
    snapshot("cluster_defaults_registry", &instance(value), &observed);
}

#[test]
fn custom_service_ports() {
    toggle(
        "custom_service_ports",
        json!({"networking": {"service": {"type": "LoadBalancer",
            "annotations": {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"},
            "ports": [{"name": "https", "port": 443, "targetPort": 18790},
                      {"name": "canvas", "port": 18793, "targetPort": 18794},
                      {"name": "dns", "port": 5353, "protocol": "UDP"}]}}}),
    );
}

#[test]
fn workspace_files() {
    let instance = minimal_with(json!({"workspace": {
        "configMapRef": {"name": "agent-files"},
        "initialFiles": {"SOUL.md": "Be kind.\n", "notes/todo.md": "- start\n", "AGENTS.md": "inline wins\n"},
        "initialDirectories": ["memory", "notes/archive"],
        "bootstrap": {"enabled": false},
        "additionalWorkspaces": [
            {"name": "research", "initialFiles": {"SOUL.md": "Be thorough.\n"},
             "configMapRef": {"name": "research-files"}, "initialDirectories": ["papers"]},
            {"name": "ops"}
        ]
    }}));
    let observed = Observed {
        workspace_files: BTreeMap::from([
            ("AGENTS.md".to_string(), "external\n".to_string()),
            ("TOOLS.md".to_string(), "tools\n".to_string()),
        ]),
        additional_workspace_files: BTreeMap::from([(
            "research".to_string(),
            BTreeMap::from([("SOURCES.md".to_string(), "arxiv\n".to_string())]),
        )]),
        ..observed()
    };
    snapshot("workspace_files", &instance, &observed);
}

#[test]
fn existing_gateway_secret() {
    let instance = minimal_with(json!({"gateway": {"existingSecret": "my-gateway-token",
        "controlUiOrigins": ["https://agent.example.com"]}}));
    let observed = Observed {
        gateway_token: None,
        ..observed()
    };
    snapshot("existing_gateway_secret", &instance, &observed);
}

#[test]
fn probes_and_scheduling() {
    toggle(
        "probes_and_scheduling",
        json!({
            "probes": {"liveness": {"enabled": false},
                       "readiness": {"periodSeconds": 15, "timeoutSeconds": 4},
                       "startup": {"failureThreshold": 120},
                       "diskReadiness": {"enabled": true, "minFree": "1Gi"}},
            "resources": {"requests": {"cpu": "1", "memory": "2048Mi"}, "limits": {"cpu": "4000m"}},
            "availability": {"podDisruptionBudget": {"maxUnavailable": 0},
                             "nodeSelector": {"node-type": "agents"},
                             "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}],
                             "runtimeClassName": "gvisor"},
            "podAnnotations": {"example.com/team": "agents"},
            "shareProcessNamespace": false,
            "security": {"podSecurityContext": {"runAsUser": 2000, "fsGroupChangePolicy": "OnRootMismatch"},
                         "containerSecurityContext": {"readOnlyRootFilesystem": false}}
        }),
    );
}

#[test]
fn trusted_proxy_and_user_gateway_settings() {
    toggle(
        "trusted_proxy",
        json!({"config": {"raw": {"gateway": {
            "auth": {"mode": "trusted-proxy", "trustedProxy": {"userHeader": "x-forwarded-user"}},
            "trustedProxies": ["10.0.0.0/8"],
            "controlUi": {"allowedOrigins": ["https://agent.example.com"]}}}}}),
    );
}

#[test]
fn sidecars_and_extra_volumes() {
    toggle(
        "sidecars_and_extra_volumes",
        json!({
            "initContainers": [{"name": "wait-for-db", "image": "docker.io/library/busybox:1.37",
                                "command": ["sh", "-c", "true"]}],
            "sidecars": [{"name": "cloud-sql-proxy", "image": "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.3",
                          "args": ["--structured-logs"], "env": [{"name": "EMPTY", "value": ""}]},
                         {"name": "openclaw", "image": "evil:latest"}],
            "sidecarVolumes": [{"name": "proxy-creds", "secret": {"secretName": "cloud-sql-proxy-sa"}}],
            "extraVolumes": [{"name": "shared", "emptyDir": {}}, {"name": "data", "emptyDir": {}}],
            "extraVolumeMounts": [{"name": "shared", "mountPath": "/shared"},
                                  {"name": "shared", "mountPath": "/tmp"}],
            "env": [{"name": "HOME", "value": "/home/openclaw"}, {"name": "OPENCLAW_DISABLE_BONJOUR", "value": "1"},
                    {"name": "LOG_LEVEL", "value": "debug"}]
        }),
    );
}
