//! Metrics (OTel collector, `diagnostics.otel`), the Service metrics rule, the NetworkPolicy
//! ports and the CA bundle (design §1.5, §1.8, §1.10, §4): snapshots of the objects these
//! features change (the config ConfigMap, the StatefulSet, the Service, the NetworkPolicy) and
//! checks of the rendered collector config.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use openclaw_render::{Object, Rendered};
use serde_json::{Value, json};

/// The warnings, then the objects of the given kinds, as YAML.
fn objects_yaml(rendered: &Rendered, kinds: &[&str]) -> String {
    let mut out = String::new();
    for w in &rendered.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    // The workspace ConfigMap does not change with these features.
    let shown = |o: &&Object| {
        kinds.contains(&o.kind()) && (o.kind() != "ConfigMap" || o.name().ends_with("-config"))
    };
    for o in rendered.iter().filter(shown) {
        out.push_str("---\n");
        let mut v = o.to_value().unwrap();
        redact_programs(&mut v);
        out.push_str(&serde_saphyr::to_string(&v).unwrap());
    }
    out
}

/// The operator's Node programs (init-config, postStart, probes) are core and long; they are
/// in the core snapshots. Here they become a placeholder.
fn redact_programs(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("'use strict';") => {
            *s = "<operator program>".to_string();
        }
        Value::Array(a) => a.iter_mut().for_each(redact_programs),
        Value::Object(o) => o.values_mut().for_each(redact_programs),
        _ => {}
    }
}

const METRICS_KINDS: &[&str] = &["ConfigMap", "StatefulSet", "Service", "NetworkPolicy"];

fn snapshot(name: &str, patch: Value, kinds: &[&str]) -> Rendered {
    let rendered = render_ok(&minimal_with(patch), &observed());
    insta::assert_snapshot!(name, objects_yaml(&rendered, kinds));
    rendered
}

fn pod(rendered: &Rendered) -> &PodSpec {
    statefulset(rendered)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

/// `(name, port, target)` of the Service's ports.
fn service_ports(rendered: &Rendered) -> Vec<(String, i32, i32)> {
    let svc = rendered
        .iter()
        .find_map(|o| match o {
            Object::Service(s) => Some(s),
            _ => None,
        })
        .unwrap();
    svc.spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let Some(IntOrString::Int(t)) = p.target_port else {
                panic!()
            };
            (p.name.clone().unwrap_or_default(), p.port, t)
        })
        .collect()
}

/// The TCP ports of the NetworkPolicy's first ingress rule (the namespace).
fn np_ingress_ports(rendered: &Rendered) -> Vec<i32> {
    let np = rendered
        .iter()
        .find_map(|o| match o {
            Object::NetworkPolicy(n) => Some(n),
            _ => None,
        })
        .unwrap();
    np.spec.as_ref().unwrap().ingress.as_ref().unwrap()[0]
        .ports
        .iter()
        .flatten()
        .map(|p| match p.port {
            Some(IntOrString::Int(n)) => n,
            _ => panic!(),
        })
        .collect()
}

fn collector_yaml(rendered: &Rendered) -> Option<Value> {
    let cm = config_map(rendered, "-config");
    cm.data
        .as_ref()
        .unwrap()
        .get("otel-collector.yaml")
        .map(|text| serde_saphyr::from_str(text).unwrap())
}

#[test]
fn metrics_default() {
    let rendered = snapshot("metrics_default", json!({}), METRICS_KINDS);
    let pod = pod(&rendered);
    let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["openclaw", "gateway-proxy", "otel-collector"]);
    let otel = &pod.containers[2];
    assert_eq!(
        otel.args.as_deref(),
        Some(&["--config=/etc/otel-collector/otel-collector.yaml".to_string()][..])
    );
    assert_eq!(otel.ports.as_ref().unwrap()[0].container_port, 9090);
    assert_eq!(
        service_ports(&rendered).last(),
        Some(&("metrics".to_string(), 9090, 9090))
    );
    assert_eq!(np_ingress_ports(&rendered), [18790, 18794, 9090]);
    let config = openclaw_json(&rendered);
    assert_eq!(
        config["diagnostics"],
        json!({"otel": {"enabled": true, "endpoint": "http://127.0.0.1:4318",
            "protocol": "http/protobuf", "metrics": true}})
    );
    // The plugin is not listed: a warning says the collector gets nothing.
    assert!(
        rendered
            .warnings
            .iter()
            .any(|w| w.contains("diagnostics-otel")),
        "{:?}",
        rendered.warnings
    );
}

#[test]
fn metrics_custom_port() {
    let rendered = snapshot(
        "metrics_custom_port",
        json!({"observability": {"metrics": {"port": 9464}},
            "plugins": ["npm:@openclaw/diagnostics-otel"]}),
        METRICS_KINDS,
    );
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
    assert_eq!(
        service_ports(&rendered).last(),
        Some(&("metrics".to_string(), 9464, 9464))
    );
    assert_eq!(np_ingress_ports(&rendered), [18790, 18794, 9464]);
    let yaml = collector_yaml(&rendered).unwrap();
    assert_eq!(yaml["exporters"]["prometheus"]["endpoint"], "0.0.0.0:9464");
}

#[test]
fn metrics_off() {
    let rendered = snapshot(
        "metrics_off",
        json!({"observability": {"metrics": {"enabled": false, "port": 9464}}}),
        METRICS_KINDS,
    );
    assert!(container(statefulset(&rendered), "otel-collector").is_none());
    assert!(collector_yaml(&rendered).is_none());
    assert!(
        pod(&rendered)
            .volumes
            .iter()
            .flatten()
            .all(|v| v.name != "otel-collector-config")
    );
    assert!(service_ports(&rendered).iter().all(|p| p.0 != "metrics"));
    assert_eq!(np_ingress_ports(&rendered), [18790, 18794]);
    assert!(openclaw_json(&rendered).get("diagnostics").is_none());
}

#[test]
fn otel_user_diagnostics() {
    let user = json!({"enabled": true, "otel": {"enabled": true,
        "endpoint": "https://otel.example.com:4318", "protocol": "http/protobuf",
        "serviceName": "agent", "traces": true, "metrics": true}});
    let rendered = snapshot(
        "otel_user_diagnostics",
        json!({"config": {"raw": {"diagnostics": user}}}),
        &["ConfigMap"],
    );
    assert_eq!(openclaw_json(&rendered)["diagnostics"], user);
    assert!(
        rendered
            .warnings
            .iter()
            .any(|w| w.contains("not the in-pod collector")),
        "{:?}",
        rendered.warnings
    );
}

#[test]
fn custom_service_ports_metrics_named() {
    // A port named metrics is kept as written; no second metrics port.
    let rendered = snapshot(
        "custom_service_ports_metrics_named",
        json!({"networking": {"service": {"ports": [
            {"name": "https", "port": 443, "targetPort": 18790},
            {"name": "metrics", "port": 9090}]}}}),
        &["Service", "NetworkPolicy"],
    );
    assert_eq!(
        service_ports(&rendered),
        [
            ("https".to_string(), 443, 18790),
            ("metrics".to_string(), 9090, 9090)
        ]
    );
    assert_eq!(np_ingress_ports(&rendered), [18790, 9090]);
}

#[test]
fn custom_service_ports_get_the_metrics_port() {
    let rendered = render_ok(
        &minimal_with(json!({"networking": {"service": {"ports": [
            {"name": "https", "port": 443, "targetPort": 18790}]}}})),
        &observed(),
    );
    assert_eq!(
        service_ports(&rendered),
        [
            ("https".to_string(), 443, 18790),
            ("metrics".to_string(), 9090, 9090)
        ]
    );
    assert_eq!(np_ingress_ports(&rendered), [18790, 9090]);
}

#[test]
fn ca_bundle_config_map() {
    let rendered = snapshot(
        "ca_bundle_config_map",
        json!({"security": {"caBundle": {"configMapName": "corp-ca"}}}),
        &["StatefulSet"],
    );
    let main = container(statefulset(&rendered), "openclaw").unwrap();
    assert!(
        main.env
            .iter()
            .flatten()
            .any(|e| e.name == "NODE_EXTRA_CA_CERTS"
                && e.value.as_deref() == Some("/etc/ssl/certs/custom-ca-bundle.crt"))
    );
    assert!(
        main.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "ca-bundle" && m.sub_path.as_deref() == Some("ca-bundle.crt"))
    );
    // Only the consumers get it.
    for name in ["init-config", "gateway-proxy", "otel-collector"] {
        let c = container(statefulset(&rendered), name).unwrap();
        assert!(
            c.volume_mounts
                .iter()
                .flatten()
                .all(|m| m.name != "ca-bundle"),
            "{name}"
        );
    }
}

#[test]
fn ca_bundle_secret() {
    // With every consuming feature on: whichever containers exist get the bundle (the other
    // features render theirs in their own modules; the post-pass finds them by name).
    let rendered = snapshot(
        "ca_bundle_secret",
        json!({"security": {"caBundle": {"secretName": "corp-ca", "key": "root.pem"}},
            "env": [{"name": "NODE_EXTRA_CA_CERTS", "value": "/home/openclaw/my-ca.pem"}],
            "chromium": {"enabled": true},
            "runtimeDeps": {"pnpm": true, "python": true},
            "skills": ["weather"], "plugins": ["npm:@openclaw/diagnostics-otel"]}),
        &["StatefulSet"],
    );
    let pod = pod(&rendered);
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "ca-bundle")
        .unwrap();
    assert_eq!(
        volume.secret.as_ref().unwrap().secret_name.as_deref(),
        Some("corp-ca")
    );
    // The user's value wins in the main container, once.
    let main = container(statefulset(&rendered), "openclaw").unwrap();
    let ca: Vec<_> = main
        .env
        .iter()
        .flatten()
        .filter(|e| e.name == "NODE_EXTRA_CA_CERTS")
        .collect();
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0].value.as_deref(), Some("/home/openclaw/my-ca.pem"));
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for m in c.volume_mounts.iter().flatten() {
            if m.name == "ca-bundle" {
                assert_eq!(m.sub_path.as_deref(), Some("root.pem"), "{}", c.name);
            }
        }
    }
}

#[test]
fn ca_bundle_without_a_source_renders_nothing_and_warns() {
    let rendered = render_ok(
        &minimal_with(json!({"security": {"caBundle": {"key": "x.pem"}}})),
        &observed(),
    );
    let pod = pod(&rendered);
    assert!(pod.volumes.iter().flatten().all(|v| v.name != "ca-bundle"));
    assert!(
        pod.containers
            .iter()
            .flat_map(|c| c.volume_mounts.iter().flatten())
            .all(|m| m.name != "ca-bundle")
    );
    assert!(
        rendered
            .warnings
            .iter()
            .any(|w| w.contains("security.caBundle"))
    );
}

#[test]
fn rendered_collector_config_has_the_expected_structure() {
    let rendered = render_ok(&minimal_with(json!({})), &observed());
    let yaml = collector_yaml(&rendered).unwrap();
    assert_eq!(
        yaml,
        json!({
            "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}},
            "exporters": {"prometheus": {"endpoint": "0.0.0.0:9090", "metric_expiration": "8760h"}},
            "service": {"pipelines": {"metrics": {"receivers": ["otlp"], "exporters": ["prometheus"]}}},
        })
    );
    // The pipeline's receivers and exporters are defined.
    let pipeline = &yaml["service"]["pipelines"]["metrics"];
    for (section, list) in [("receivers", "receivers"), ("exporters", "exporters")] {
        for name in pipeline[list].as_array().unwrap() {
            assert!(
                yaml[section].get(name.as_str().unwrap()).is_some(),
                "{name}"
            );
        }
    }
    // The volume projects exactly that key, and the container reads it from the mount.
    let pod = pod(&rendered);
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "otel-collector-config")
        .unwrap();
    let cm = volume.config_map.as_ref().unwrap();
    assert_eq!(cm.name, "demo-config");
    let items = cm.items.as_ref().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].key, "otel-collector.yaml");
    let otel = container(statefulset(&rendered), "otel-collector").unwrap();
    let m = &otel.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(
        (
            m.name.as_str(),
            m.mount_path.as_str(),
            m.sub_path.as_deref()
        ),
        ("otel-collector-config", "/etc/otel-collector", None)
    );
    assert_eq!(
        otel.args.as_ref().unwrap()[0],
        format!("--config={}/{}", m.mount_path, items[0].path)
    );
}

#[test]
fn metrics_port_change_changes_the_config_hash() {
    let a = render_ok(&minimal_with(json!({})), &observed());
    let b = render_ok(
        &minimal_with(json!({"observability": {"metrics": {"port": 9464}}})),
        &observed(),
    );
    assert_ne!(a.config_hash, b.config_hash);
}
