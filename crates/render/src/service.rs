//! The Service `<name>`.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::consts::{CANVAS_PORT, GATEWAY_PORT, PROXY_CANVAS_PORT, PROXY_GATEWAY_PORT};
use crate::features;
use crate::k8s::meta::{non_empty_map, object_meta, selector_labels};
use crate::k8s::net::service_port as port;
use crate::model::Model;

/// The Service ports: `networking.service.ports` when set, otherwise `gateway` (18789) and
/// `canvas` (18793), targeting the proxy ports when the gateway proxy runs, then the enabled
/// features' ports (Chromium, web terminal, metrics) in registry order.
///
/// The metrics rule (design §1.10, Go 0.38 #583) applies to both lists: with metrics on, the
/// `metrics` port (port → port, TCP) is appended unless a port is already named `metrics` or
/// already uses that port number. Only `metrics` is re-added to a custom list; the other
/// feature ports are not (a custom list is the user's choice). A feature port that would
/// duplicate a name or port number of the list is skipped, so the Service stays valid.
pub fn ports(m: &Model) -> Vec<ServicePort> {
    let mut ports = match custom_ports(m) {
        Some(custom) => custom
            .iter()
            .map(|p| {
                let protocol = p
                    .protocol
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("TCP");
                port(&p.name, p.port, p.target_port.unwrap_or(p.port), protocol)
            })
            .collect(),
        None => {
            let (gateway, canvas) = if m.proxy_enabled() {
                (PROXY_GATEWAY_PORT, PROXY_CANVAS_PORT)
            } else {
                (GATEWAY_PORT, CANVAS_PORT)
            };
            let mut ports = vec![
                port("gateway", GATEWAY_PORT, gateway, "TCP"),
                port("canvas", CANVAS_PORT, canvas, "TCP"),
            ];
            for p in features::service_ports(m) {
                push_unique(&mut ports, p);
            }
            ports
        }
    };
    // The metrics rule: required feature ports join a custom list too.
    for p in features::required_service_ports(m) {
        push_unique(&mut ports, p);
    }
    ports
}

/// `networking.service.ports`, when set and non-empty.
fn custom_ports<'a>(m: &'a Model<'_>) -> Option<&'a Vec<openclaw_api::ServicePortSpec>> {
    m.spec
        .networking
        .as_ref()
        .and_then(|n| n.service.as_ref())
        .and_then(|s| s.ports.as_ref())
        .filter(|p| !p.is_empty())
}

/// Append `p` unless a port of the list already has its name or its port number.
fn push_unique(ports: &mut Vec<ServicePort>, p: ServicePort) {
    let taken = ports
        .iter()
        .any(|x| x.port == p.port || (p.name.is_some() && x.name == p.name));
    if !taken {
        ports.push(p);
    }
}

/// Warn about custom ports that target a port only reachable on loopback, and about a custom
/// list that keeps the metrics rule from adding a working `metrics` port.
pub fn check_ports(m: &Model, warnings: &mut Vec<String>) {
    let ports = ports(m);
    // Feature checks (the metrics port of a custom list).
    features::check_service_ports(m, &ports, custom_ports(m).is_some(), warnings);
    if !m.proxy_enabled() {
        return;
    }
    for p in ports {
        if let Some(IntOrString::Int(t)) = p.target_port
            && (t == GATEWAY_PORT || t == CANVAS_PORT)
        {
            let via = if t == GATEWAY_PORT {
                PROXY_GATEWAY_PORT
            } else {
                PROXY_CANVAS_PORT
            };
            warnings.push(format!(
                "Service port {:?} targets {t}, which OpenClaw only serves on loopback while the gateway proxy runs; target {via} instead",
                p.name.unwrap_or_default()
            ));
        }
    }
}

/// The Service.
pub fn render(m: &Model) -> Service {
    let svc = m.spec.networking.as_ref().and_then(|n| n.service.as_ref());
    let mut metadata = object_meta(m, m.name.clone());
    metadata.annotations = svc
        .and_then(|s| s.annotations.clone())
        .and_then(non_empty_map);
    let type_ = svc
        .and_then(|s| s.type_.as_deref())
        .filter(|t| !t.is_empty())
        .unwrap_or("ClusterIP");
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(type_.to_string()),
            selector: Some(selector_labels(&m.name)),
            ports: Some(ports(m)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use serde_json::{Value, json};

    use super::*;
    use crate::Observed;

    fn with_spec<T>(spec: Value, f: impl FnOnce(&Model) -> T) -> T {
        let instance = serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "ns", "uid": "u"},
            "spec": spec,
        }))
        .unwrap();
        let observed = Observed::default();
        let m = Model::new(&instance, &observed).unwrap();
        f(&m)
    }

    /// `(name, port, target)` of each port.
    fn ports_of(spec: Value) -> Vec<(String, i32, i32)> {
        with_spec(spec, |m| {
            ports(m)
                .into_iter()
                .map(|p| {
                    let Some(IntOrString::Int(t)) = p.target_port else {
                        panic!()
                    };
                    (p.name.unwrap_or_default(), p.port, t)
                })
                .collect()
        })
    }

    fn warnings_of(spec: Value) -> Vec<String> {
        with_spec(spec, |m| {
            let mut w = Vec::new();
            check_ports(m, &mut w);
            w
        })
    }

    fn p(name: &str, port: i32, target: i32) -> (String, i32, i32) {
        (name.to_string(), port, target)
    }

    #[test]
    fn default_list_has_the_metrics_port() {
        assert_eq!(
            ports_of(json!({})),
            vec![
                p("gateway", 18789, 18790),
                p("canvas", 18793, 18794),
                p("metrics", 9090, 9090)
            ]
        );
        assert_eq!(
            ports_of(json!({"observability": {"metrics": {"port": 9464}}})),
            vec![
                p("gateway", 18789, 18790),
                p("canvas", 18793, 18794),
                p("metrics", 9464, 9464)
            ]
        );
        assert_eq!(
            ports_of(json!({"observability": {"metrics": {"enabled": false}}})),
            vec![p("gateway", 18789, 18790), p("canvas", 18793, 18794)]
        );
    }

    #[test]
    fn metrics_rule_for_custom_lists() {
        let custom = |ports: Value, metrics: Value| {
            json!({"networking": {"service": {"ports": ports}},
                "observability": {"metrics": metrics}})
        };
        // Appended.
        assert_eq!(
            ports_of(custom(
                json!([{"name": "http", "port": 80, "targetPort": 18790}]),
                json!({})
            )),
            vec![p("http", 80, 18790), p("metrics", 9090, 9090)]
        );
        // A port already named metrics: nothing added, a warning when it misses the collector.
        let spec = custom(
            json!([{"name": "http", "port": 80, "targetPort": 18790},
                {"name": "metrics", "port": 9100, "targetPort": 9100}]),
            json!({}),
        );
        assert_eq!(
            ports_of(spec.clone()),
            vec![p("http", 80, 18790), p("metrics", 9100, 9100)]
        );
        let w = warnings_of(spec);
        assert!(w.len() == 1 && w[0].contains("targets 9100"), "{w:?}");
        // The metrics port number is taken under another name: nothing added, a warning.
        let spec = custom(
            json!([{"name": "prom", "port": 9464, "targetPort": 9464}]),
            json!({"port": 9464}),
        );
        assert_eq!(ports_of(spec.clone()), vec![p("prom", 9464, 9464)]);
        let w = warnings_of(spec);
        assert!(w.len() == 1 && w[0].contains("\"prom\""), "{w:?}");
        // Named metrics and pointing at the collector: silent.
        let spec = custom(json!([{"name": "metrics", "port": 9090}]), json!({}));
        assert_eq!(ports_of(spec.clone()), vec![p("metrics", 9090, 9090)]);
        assert!(warnings_of(spec).is_empty());
        // Metrics off: the custom list as written.
        assert_eq!(
            ports_of(custom(
                json!([{"name": "http", "port": 80, "targetPort": 18790}]),
                json!({"enabled": false})
            )),
            vec![p("http", 80, 18790)]
        );
    }
}
