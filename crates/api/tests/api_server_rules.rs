//! The checks that stand in for the API server's own validation of the objects the operator
//! renders (names, quantities, ports, labels, annotations), the field path on every finding,
//! and the fields that are accepted but not acted on yet.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use openclaw_api::OpenClawInstance;
use openclaw_api::validation::{
    Findings, NotActedOn, anchored, not_yet_acted_on, split_field, validate,
};
use proptest::prelude::*;
use regex::Regex;
use rstest::rstest;
use serde_json::{Value, json};

fn base() -> Value {
    json!({
        "image": {"tag": "2026.9.6"},
        "envFrom": [{"secretRef": {"name": "api-keys"}}],
    })
}

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn instance_named(name: &str, patch: &Value) -> OpenClawInstance {
    let mut spec = base();
    merge(&mut spec, patch);
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }))
    .unwrap()
}

fn check(patch: Value) -> Findings {
    validate(&instance_named("t", &patch), None)
}

#[rstest]
#[case::env_from_secret(json!({"envFrom": [{"secretRef": {"name": "Bad_Name!"}}]}), json!({"envFrom": [{"secretRef": {"name": "good.name"}}]}), "spec.envFrom[0].secretRef.name: \"Bad_Name!\" is not a valid Secret name: a lowercase RFC 1123 subdomain")]
#[case::env_from_secret_empty(json!({"envFrom": [{"secretRef": {"name": ""}}]}), json!({"envFrom": [{"secretRef": {"name": "s"}}]}), "spec.envFrom[0].secretRef.name: a Secret name is required")]
#[case::env_from_cm(json!({"envFrom": [{"configMapRef": {"name": "UPPER"}}]}), json!({"envFrom": [{"configMapRef": {"name": "lower"}}]}), "spec.envFrom[0].configMapRef.name: \"UPPER\" is not a valid ConfigMap name")]
#[case::env_secret_key_ref(json!({"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s_1", "key": "k"}}}]}), json!({"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s-1", "key": "k"}}}]}), "spec.env[0].valueFrom.secretKeyRef.name")]
#[case::env_secret_key(json!({"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a/b"}}}]}), json!({"env": [{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a.b"}}}]}), "spec.env[0].valueFrom.secretKeyRef.key: \"a/b\" is not a valid Secret key")]
#[case::env_cm_key_ref(json!({"env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "c!", "key": "k"}}}]}), json!({"env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]}), "spec.env[0].valueFrom.configMapKeyRef.name")]
#[case::config_cm(json!({"config": {"configMapRef": {"name": "My Config"}}}), json!({"config": {"configMapRef": {"name": "my-config"}}}), "spec.config.configMapRef.name")]
#[case::config_cm_key(json!({"config": {"configMapRef": {"name": "c", "key": "../x"}}}), json!({"config": {"configMapRef": {"name": "c", "key": "x.json"}}}), "spec.config.configMapRef.key")]
#[case::workspace_cm(json!({"workspace": {"configMapRef": {"name": "Files"}}}), json!({"workspace": {"configMapRef": {"name": "files"}}}), "spec.workspace.configMapRef.name: \"Files\"")]
#[case::aws_cm(json!({"workspace": {"additionalWorkspaces": [{"name": "a", "configMapRef": {"name": "B"}}]}}), json!({"workspace": {"additionalWorkspaces": [{"name": "a", "configMapRef": {"name": "b"}}]}}), "spec.workspace.additionalWorkspaces[0].configMapRef.name")]
#[case::service_account(json!({"security": {"rbac": {"serviceAccountName": "SA"}}}), json!({"security": {"rbac": {"serviceAccountName": "sa"}}}), "spec.security.rbac.serviceAccountName: \"SA\" is not a valid ServiceAccount name")]
#[case::ca_cm(json!({"security": {"caBundle": {"configMapName": "ca_bundle"}}}), json!({"security": {"caBundle": {"configMapName": "ca-bundle"}}}), "spec.security.caBundle.configMapName")]
#[case::ca_secret(json!({"security": {"caBundle": {"secretName": "ca bundle"}}}), json!({"security": {"caBundle": {"secretName": "ca"}}}), "spec.security.caBundle.secretName")]
#[case::ca_key(json!({"security": {"caBundle": {"secretName": "ca", "key": "a/b"}}}), json!({"security": {"caBundle": {"secretName": "ca", "key": "ca.crt"}}}), "spec.security.caBundle.key")]
#[case::np_namespace(json!({"security": {"networkPolicy": {"allowedIngressNamespaces": ["ingress nginx"]}}}), json!({"security": {"networkPolicy": {"allowedIngressNamespaces": ["ingress-nginx"]}}}), "spec.security.networkPolicy.allowedIngressNamespaces[0]")]
#[case::storage_class(json!({"storage": {"persistence": {"storageClass": "Fast_SSD"}}}), json!({"storage": {"persistence": {"storageClass": "fast-ssd"}}}), "spec.storage.persistence.storageClass: \"Fast_SSD\" is not a valid StorageClass name")]
#[case::existing_claim(json!({"storage": {"persistence": {"existingClaim": "-data"}}}), json!({"storage": {"persistence": {"existingClaim": "data"}}}), "spec.storage.persistence.existingClaim: \"-data\" is not a valid PersistentVolumeClaim name")]
#[case::chromium_claim(json!({"chromium": {"enabled": true, "persistence": {"existingClaim": "X"}}}), json!({"chromium": {"enabled": true, "persistence": {"existingClaim": "x"}}}), "spec.chromium.persistence.existingClaim")]
#[case::chromium_class(json!({"chromium": {"enabled": true, "persistence": {"storageClass": "X"}}}), json!({"chromium": {"enabled": true, "persistence": {"storageClass": "x"}}}), "spec.chromium.persistence.storageClass")]
#[case::ollama_claim(json!({"ollama": {"enabled": true, "storage": {"existingClaim": "X"}}}), json!({"ollama": {"enabled": true, "storage": {"existingClaim": "x"}}}), "spec.ollama.storage.existingClaim")]
#[case::tailscale_secret(json!({"tailscale": {"enabled": true, "authKeySecretRef": {"name": "TS"}}}), json!({"tailscale": {"enabled": true, "authKeySecretRef": {"name": "ts"}}}), "spec.tailscale.authKeySecretRef.name")]
#[case::tailscale_key(json!({"tailscale": {"enabled": true, "authKeySecretRef": {"name": "ts"}, "authKeySecretKey": "a b"}}), json!({"tailscale": {"enabled": true, "authKeySecretRef": {"name": "ts"}, "authKeySecretKey": "authkey"}}), "spec.tailscale.authKeySecretKey")]
#[case::terminal_secret(json!({"webTerminal": {"enabled": true, "credential": {"secretRef": {"name": "A"}}}}), json!({"webTerminal": {"enabled": true, "credential": {"secretRef": {"name": "a"}}}}), "spec.webTerminal.credential.secretRef.name")]
#[case::gateway_secret(json!({"gateway": {"existingSecret": "Token"}}), json!({"gateway": {"existingSecret": "token"}}), "spec.gateway.existingSecret")]
#[case::runtime_class(json!({"availability": {"runtimeClassName": "gVisor"}}), json!({"availability": {"runtimeClassName": "gvisor"}}), "spec.availability.runtimeClassName: \"gVisor\" is not a valid RuntimeClass name")]
#[case::ingress_class(json!({"networking": {"ingress": {"enabled": true, "className": "NGINX", "tls": [{"secretName": "t"}]}}}), json!({"networking": {"ingress": {"enabled": true, "className": "nginx", "tls": [{"secretName": "t"}]}}}), "spec.networking.ingress.className")]
#[case::ingress_host(json!({"networking": {"ingress": {"enabled": true, "hosts": [{"host": "Claw.Example.com"}]}}}), json!({"networking": {"ingress": {"enabled": true, "hosts": [{"host": "claw.example.com"}]}}}), "spec.networking.ingress.hosts[0].host")]
#[case::ingress_ip_host(json!({"networking": {"ingress": {"enabled": true, "hosts": [{"host": "10.0.0.1"}]}}}), json!({"networking": {"ingress": {"enabled": true, "hosts": [{"host": "*.example.com"}]}}}), "not an IP address")]
#[case::ingress_tls_host(json!({"networking": {"ingress": {"enabled": true, "tls": [{"hosts": ["a_b.com"]}]}}}), json!({"networking": {"ingress": {"enabled": true, "tls": [{"hosts": ["a-b.com"]}]}}}), "spec.networking.ingress.tls[0].hosts[0]")]
#[case::basic_auth_secret(json!({"networking": {"ingress": {"enabled": true, "security": {"basicAuth": {"enabled": true, "existingSecret": "Auth"}}}}}), json!({"networking": {"ingress": {"enabled": true, "security": {"basicAuth": {"enabled": true, "existingSecret": "auth"}}}}}), "spec.networking.ingress.security.basicAuth.existingSecret")]
#[case::basic_auth_user(json!({"networking": {"ingress": {"enabled": true, "security": {"basicAuth": {"enabled": true, "username": "a:b"}}}}}), json!({"networking": {"ingress": {"enabled": true, "security": {"basicAuth": {"enabled": true, "username": "ab"}}}}}), "spec.networking.ingress.security.basicAuth.username")]
#[case::route_hostname(json!({"networking": {"httpRoute": {"enabled": true, "hostnames": ["Claw.example.com"]}}}), json!({"networking": {"httpRoute": {"enabled": true, "hostnames": ["*.example.com"]}}}), "spec.networking.httpRoute.hostnames[0]")]
#[case::route_namespace(json!({"networking": {"httpRoute": {"enabled": true, "parentRefs": [{"name": "gw", "namespace": "a.b"}]}}}), json!({"networking": {"httpRoute": {"enabled": true, "parentRefs": [{"name": "gw", "namespace": "a-b"}]}}}), "spec.networking.httpRoute.parentRefs[0].namespace")]
#[case::route_section(json!({"networking": {"httpRoute": {"enabled": true, "parentRefs": [{"name": "gw", "sectionName": "HTTPS"}]}}}), json!({"networking": {"httpRoute": {"enabled": true, "parentRefs": [{"name": "gw", "sectionName": "https"}]}}}), "spec.networking.httpRoute.parentRefs[0].sectionName")]
#[case::pvc_negative(json!({"storage": {"persistence": {"size": "-10Gi"}}}), json!({"storage": {"persistence": {"size": "10Gi"}}}), "spec.storage.persistence.size: \"-10Gi\" must not be negative")]
#[case::pvc_zero(json!({"storage": {"persistence": {"size": "0"}}}), json!({"storage": {"persistence": {"size": "1"}}}), "spec.storage.persistence.size: \"0\" must be greater than zero")]
#[case::chromium_pvc_negative(json!({"chromium": {"persistence": {"size": "-1Gi"}}}), json!({"chromium": {"persistence": {"size": "1Gi"}}}), "spec.chromium.persistence.size")]
#[case::cpu_negative(json!({"resources": {"requests": {"cpu": "-1"}}}), json!({"resources": {"requests": {"cpu": "0"}}}), "spec.resources.requests.cpu: \"-1\" must not be negative")]
#[case::memory_negative(json!({"chromium": {"resources": {"limits": {"memory": "-1Mi"}}}}), json!({"chromium": {"resources": {"limits": {"memory": "1Mi"}}}}), "spec.chromium.resources.limits.memory")]
#[case::request_over_limit(json!({"resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "2000m"}}}), json!({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2000m"}}}), "spec.resources.requests.cpu: \"3\" must be less than or equal to the limit \"2000m\"")]
#[case::ollama_size_limit(json!({"ollama": {"storage": {"sizeLimit": "-1Gi"}}}), json!({"ollama": {"storage": {"sizeLimit": "0"}}}), "spec.ollama.storage.sizeLimit")]
#[case::min_free(json!({"probes": {"diskReadiness": {"minFree": "-64Mi"}}}), json!({"probes": {"diskReadiness": {"minFree": "64Mi"}}}), "spec.probes.diskReadiness.minFree")]
#[case::fractional_exponent(json!({"resources": {"limits": {"memory": "1e1.5"}}}), json!({"resources": {"limits": {"memory": "1e3"}}}), "spec.resources.limits.memory \"1e1.5\" is not a valid Kubernetes quantity")]
#[case::sidecar_resources(json!({"sidecars": [{"name": "s", "resources": {"requests": {"cpu": "-5m"}}}]}), json!({"sidecars": [{"name": "s", "resources": {"requests": {"cpu": "5m"}}}]}), "spec.sidecars[0].resources.requests[\"cpu\"]")]
#[case::init_resources(json!({"initContainers": [{"name": "i", "resources": {"limits": {"memory": "-1"}}}]}), json!({"initContainers": [{"name": "i", "resources": {"limits": {"memory": "1"}}}]}), "spec.initContainers[0].resources.limits[\"memory\"]")]
#[case::empty_dir(json!({"extraVolumes": [{"name": "v", "emptyDir": {"sizeLimit": "-1Gi"}}]}), json!({"extraVolumes": [{"name": "v", "emptyDir": {"sizeLimit": "1Gi"}}]}), "spec.extraVolumes[0].emptyDir.sizeLimit")]
#[case::sidecar_empty_dir(json!({"sidecarVolumes": [{"name": "v", "emptyDir": {"sizeLimit": "-1"}}]}), json!({"sidecarVolumes": [{"name": "v", "emptyDir": {}}]}), "spec.sidecarVolumes[0].emptyDir.sizeLimit")]
#[case::metrics_port(json!({"observability": {"metrics": {"port": 70000}}}), json!({"observability": {"metrics": {"port": 9091}}}), "spec.observability.metrics.port: 70000 is not a port number")]
#[case::metrics_port_zero(json!({"observability": {"metrics": {"port": 0}}}), json!({"observability": {"metrics": {"enabled": false, "port": 0}}}), "spec.observability.metrics.port")]
#[case::container_port(json!({"sidecars": [{"name": "s", "ports": [{"containerPort": 70000}]}]}), json!({"sidecars": [{"name": "s", "ports": [{"containerPort": 7000}]}]}), "spec.sidecars[0].ports[0].containerPort")]
#[case::pod_annotation(json!({"podAnnotations": {"bad key!": "v"}}), json!({"podAnnotations": {"Example.com/Key": "v"}}), "spec.podAnnotations[\"bad key!\"]: \"bad key!\" is not a valid annotation key")]
#[case::service_annotation(json!({"networking": {"service": {"annotations": {"a/b/c": "v"}}}}), json!({"networking": {"service": {"annotations": {"a.io/b": "v"}}}}), "spec.networking.service.annotations[\"a/b/c\"]")]
#[case::ingress_annotation(json!({"networking": {"ingress": {"enabled": true, "tls": [{"secretName": "t"}], "annotations": {"/x": "v"}}}}), json!({"networking": {"ingress": {"enabled": true, "tls": [{"secretName": "t"}], "annotations": {"x": "v"}}}}), "spec.networking.ingress.annotations[\"/x\"]")]
#[case::route_annotation(json!({"networking": {"httpRoute": {"enabled": true, "annotations": {"-x": "v"}}}}), json!({"networking": {"httpRoute": {"enabled": true, "annotations": {"x": "v"}}}}), "spec.networking.httpRoute.annotations")]
#[case::sa_annotation(json!({"security": {"rbac": {"serviceAccountAnnotations": {"x_": "v"}}}}), json!({"security": {"rbac": {"serviceAccountAnnotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}}}}), "spec.security.rbac.serviceAccountAnnotations")]
#[case::annotations_size(json!({"podAnnotations": {"a": "x".repeat(256 * 1024)}}), json!({"podAnnotations": {"a": "x".repeat(1024)}}), "spec.podAnnotations: annotations may not be larger than")]
#[case::node_selector_key(json!({"availability": {"nodeSelector": {"bad key": "v"}}}), json!({"availability": {"nodeSelector": {"kubernetes.io/arch": "amd64"}}}), "spec.availability.nodeSelector[\"bad key\"]: \"bad key\" is not a valid label key")]
#[case::node_selector_value(json!({"availability": {"nodeSelector": {"k": "a b"}}}), json!({"availability": {"nodeSelector": {"k": ""}}}), "is not a valid label value")]
#[case::service_monitor_labels(json!({"observability": {"metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "-x"}}}}}), json!({"observability": {"metrics": {"serviceMonitor": {"enabled": true, "labels": {"release": "x"}}}}}), "spec.observability.metrics.serviceMonitor.labels[\"release\"]")]
#[case::prometheus_rule_labels(json!({"observability": {"metrics": {"prometheusRule": {"enabled": true, "labels": {"a b": "x"}}}}}), json!({"observability": {"metrics": {"prometheusRule": {"enabled": true, "labels": {"ab": "x"}}}}}), "spec.observability.metrics.prometheusRule.labels")]
#[case::grafana_labels(json!({"observability": {"metrics": {"grafanaDashboard": {"enabled": true, "labels": {"g": "x".repeat(64)}}}}}), json!({"observability": {"metrics": {"grafanaDashboard": {"enabled": true, "labels": {"g": "x".repeat(63)}}}}}), "spec.observability.metrics.grafanaDashboard.labels")]
#[case::skill_dash(json!({"skills": ["-rf"]}), json!({"skills": ["rf"]}), "spec.skills[0] \"-rf\": a reference must not start with '-'")]
#[case::plugin_dash(json!({"plugins": ["npm:-x"]}), json!({"plugins": ["npm:x"]}), "spec.plugins[0]")]
fn api_server_rules(#[case] bad: Value, #[case] good: Value, #[case] needle: &str) {
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

#[test]
fn disabled_features_are_not_checked() {
    // Not rendered, so never seen by the API server.
    let f = check(json!({
        "chromium": {"enabled": false, "persistence": {"existingClaim": "X"}},
        "networking": {"ingress": {"enabled": false, "hosts": [{"host": "X"}]}},
        "observability": {"metrics": {"enabled": false, "port": 70000}},
    }));
    assert!(f.errors.is_empty(), "{f:?}");
}

#[test]
fn unresolvable_names_that_only_fail_softly_are_warnings() {
    let f = check(json!({
        "image": {"tag": "1", "pullSecrets": [{"name": "Regcred"}]},
        "networking": {"ingress": {"enabled": true, "tls": [{"secretName": "TLS"}]}},
    }));
    assert!(f.errors.is_empty(), "{f:?}");
    for field in [
        "spec.image.pullSecrets[0].name: ",
        "spec.networking.ingress.tls[0].secretName: ",
    ] {
        assert!(
            f.warnings.iter().any(|w| w.starts_with(field)),
            "{field} in {f:?}"
        );
    }
}

#[test]
fn the_instance_name_must_fit_a_service() {
    for bad in ["1demo", "my.instance", &"a".repeat(64)] {
        let f = validate(&instance_named(bad, &json!({})), None);
        assert!(
            f.errors.iter().any(|e| e.starts_with("metadata.name: ")),
            "{bad}: {f:?}"
        );
    }
    assert!(validate(&instance_named("demo-1", &json!({})), None).is_valid());
}

/// Every error and warning of a spec that trips many checks starts with a field path.
#[test]
fn every_finding_names_its_field() {
    let f = check(json!({
        "security": {"podSecurityContext": {"runAsUser": 0, "runAsNonRoot": false}, "networkPolicy": {"enabled": false}},
        "skills": ["bad skill", "pack:o/r/p"],
        "plugins": ["a$b"],
        "image": {"tag": "latest"},
        "envFrom": [{"secretRef": {"name": "Bad_Name!"}}],
        "workspace": {"initialFiles": {"../x": "y"}, "initialDirectories": ["/x"], "configMapRef": {"name": ""},
            "additionalWorkspaces": [{"name": "Bad"}]},
        "initContainers": [{"name": "init-config"}],
        "config": {"raw": {"bogus": 1}, "forcePaths": ["a"]},
        "chromium": {"enabled": true},
        "ollama": {"enabled": true},
        "webTerminal": {"enabled": true},
        "backup": {"schedule": "0 3 * * *", "timeout": "forever"},
        "autoUpdate": {"enabled": true},
        "restoreFrom": "backups/x",
        "storage": {"persistence": {"size": "-10Gi"}},
        "resources": {"requests": {"cpu": "-1"}},
        "observability": {"metrics": {"port": 70000}},
    }));
    assert!(f.errors.len() >= 10, "{f:?}");
    for finding in f.errors.iter().chain(&f.warnings) {
        let (field, rest) = split_field(finding);
        assert!(
            field.starts_with("spec") && finding.starts_with(field) && !rest.is_empty(),
            "{finding:?} has no leading field path"
        );
    }
}

#[test]
fn split_and_anchor() {
    assert_eq!(
        split_field("spec.envFrom[0].secretRef.name: \"x\" bad"),
        ("spec.envFrom[0].secretRef.name", "\"x\" bad")
    );
    assert_eq!(
        split_field("spec.skills[1] \"bad skill!\": invalid"),
        ("spec.skills[1]", "\"bad skill!\": invalid")
    );
    assert_eq!(
        split_field("spec.podAnnotations[\"a: \\\"b]\"]: bad"),
        ("spec.podAnnotations[\"a: \\\"b]\"]", "bad")
    );
    assert_eq!(split_field("no path here"), ("spec", "no path here"));
    assert_eq!(split_field("specs are fun"), ("spec", "specs are fun"));
    assert_eq!(
        anchored("observability.metrics.port 70000 is not a port number; using 9090"),
        "spec.observability.metrics.port 70000 is not a port number; using 9090"
    );
    assert_eq!(
        anchored("security.caBundle names neither a ConfigMap nor a Secret"),
        "spec.security.caBundle names neither a ConfigMap nor a Secret"
    );
    assert_eq!(
        anchored("openclaw.json: gateway is not an object"),
        "spec.config: openclaw.json: gateway is not an object"
    );
    assert_eq!(
        anchored("autoscaling uses per-replica volumes"),
        "spec: autoscaling uses per-replica volumes"
    );
    assert_eq!(anchored("spec.x: y"), "spec.x: y");
}

#[test]
fn render_warnings_join_without_repeating_errors() {
    let mut f = check(json!({"observability": {"metrics": {"port": 70000}}}));
    let before = f.warnings.len();
    f.add_warnings([
        "observability.metrics.port 70000 is not a port number; using 9090".to_string(),
        "spec.networking.ingress has no hosts".to_string(),
        "spec.networking.ingress has no hosts".to_string(),
    ]);
    assert_eq!(f.warnings.len(), before + 1, "{f:?}");
    assert!(
        f.warnings
            .contains(&"spec.networking.ingress has no hosts".to_string())
    );
}

fn spec_of(patch: Value) -> openclaw_api::OpenClawInstanceSpec {
    instance_named("t", &patch).spec
}

fn fields(spec: &openclaw_api::OpenClawInstanceSpec) -> Vec<String> {
    not_yet_acted_on(spec)
        .into_iter()
        .map(|n| n.field)
        .collect()
}

#[test]
fn not_yet_acted_on_reports_only_what_was_set() {
    assert!(not_yet_acted_on(&spec_of(json!({}))).is_empty());
    // Defaults, empty and disabled values are not reported.
    let quiet = spec_of(json!({
        "backup": {"schedule": "", "historyLimit": 3, "failedHistoryLimit": 1, "retentionDays": 7},
        "restoreFrom": "",
        "autoUpdate": {"enabled": false, "checkInterval": "24h"},
        "selfConfigure": {"enabled": true, "allowedActions": []},
        "skills": ["weather", "npm:pkg"],
    }));
    assert_eq!(fields(&quiet), Vec::<String>::new());
    let loud = spec_of(json!({
        "backup": {"schedule": "0 3 * * *", "retentionDays": 30, "timeout": "1h"},
        "restoreFrom": "backups/t/2026",
        "autoUpdate": {"enabled": true},
        "selfConfigure": {"enabled": true, "allowedActions": ["skills", "config"]},
        "skills": ["weather", "pack:o/r/p"],
        "workspace": {"additionalWorkspaces": [{"name": "w", "skills": ["pack:o/r/q@v1"]}]},
    }));
    assert_eq!(
        fields(&loud),
        // Backups, restores, self-configuration, skill packs and auto-update are built.
        Vec::<String>::new()
    );
    let n: Vec<NotActedOn> = not_yet_acted_on(&loud);
    assert!(n.is_empty());
    // validate returns each as a warning "<field>: <message>", never as an error.
    let f = validate(
        &instance_named(
            "t",
            &json!({"autoUpdate": {"enabled": true}, "skills": ["pack:o/r/p"]}),
        ),
        None,
    );
    assert!(f.errors.is_empty(), "{f:?}");
    assert!(
        !f.warnings.iter().any(|w| w.starts_with("spec.autoUpdate")),
        "{f:?}"
    );
    // A pack is acted on: no warning for it.
    assert!(
        !f.warnings.iter().any(|w| w.starts_with("spec.skills[0]")),
        "{f:?}"
    );
}

// --- Properties: the names and quantities accepted are exactly Kubernetes' ---

/// apimachinery's DNS-1123 subdomain, as a regular expression plus the length limit.
fn k8s_subdomain(s: &str) -> bool {
    let re =
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").unwrap();
    s.len() <= 253 && re.is_match(s)
}

/// apimachinery's qualified name (label keys).
fn k8s_qualified_name(s: &str) -> bool {
    let name = Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").unwrap();
    let parts: Vec<&str> = s.split('/').collect();
    let (prefix, n) = match parts.as_slice() {
        [n] => (None, *n),
        [p, n] => (Some(*p), *n),
        _ => return false,
    };
    prefix.is_none_or(|p| !p.is_empty() && k8s_subdomain(p)) && n.len() <= 63 && name.is_match(n)
}

/// `resource.ParseQuantity`'s grammar (integer exponent), written independently.
fn k8s_quantity(s: &str) -> Option<bool> {
    let re = Regex::new(
        r"^([+-]?)([0-9]+\.?[0-9]*|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,9})?$",
    )
    .unwrap();
    let c = re.captures(s)?;
    let nonzero = c[2].chars().any(|ch| ch.is_ascii_digit() && ch != '0');
    Some(&c[1] == "-" && nonzero)
}

fn name_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9.-]{0,12}",
        "[a-zA-Z0-9._!/ -]{0,12}",
        "[a-z]{60,70}",
        any::<String>(),
    ]
}

fn quantity_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{0,3}(\\.[0-9]{0,2})?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|e[+-]?[0-9]{1,2}|E[+-]?[0-9]|i|GB|)",
        "[-+0-9.eEKMGim ]{0,8}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn secret_names_are_accepted_exactly_when_kubernetes_accepts_them(name in name_strategy()) {
        let f = check(json!({"envFrom": [{"secretRef": {"name": name}}]}));
        let rejected = f.errors.iter().any(|e| e.starts_with("spec.envFrom[0].secretRef.name: "));
        prop_assert_eq!(!rejected, k8s_subdomain(&name), "{:?}: {:?}", name, f.errors);
    }

    #[test]
    fn label_keys_are_accepted_exactly_when_kubernetes_accepts_them(key in name_strategy()) {
        let f = check(json!({"availability": {"nodeSelector": {key.clone(): "v"}}}));
        prop_assert_eq!(f.errors.is_empty(), k8s_qualified_name(&key), "{:?}: {:?}", key, f.errors);
    }

    #[test]
    fn quantities_are_accepted_exactly_when_valid_and_not_negative(q in quantity_strategy()) {
        let f = check(json!({"resources": {"requests": {"cpu": q}}}));
        // Empty means unset (the default applies).
        let want = q.is_empty() || k8s_quantity(&q) == Some(false);
        prop_assert_eq!(f.errors.is_empty(), want, "{:?}: {:?}", q, f.errors);
    }
}
