//! The Service `<name>`.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::consts::{CANVAS_PORT, GATEWAY_PORT, PROXY_CANVAS_PORT, PROXY_GATEWAY_PORT};
use crate::features;
use crate::meta::{non_empty_map, object_meta, selector_labels};
use crate::model::Model;

fn port(name: &str, port: i32, target: i32, protocol: &str) -> ServicePort {
    ServicePort {
        name: (!name.is_empty()).then(|| name.to_string()),
        port,
        target_port: Some(IntOrString::Int(target)),
        protocol: Some(protocol.to_string()),
        ..Default::default()
    }
}

/// The Service ports: `networking.service.ports` when set, otherwise `gateway` (18789) and
/// `canvas` (18793), targeting the proxy ports when the gateway proxy runs, then the enabled
/// features' ports (Chromium, web terminal, metrics) in registry order.
pub fn ports(m: &Model) -> Vec<ServicePort> {
    let custom = m
        .spec
        .networking
        .as_ref()
        .and_then(|n| n.service.as_ref())
        .and_then(|s| s.ports.as_ref())
        .filter(|p| !p.is_empty());
    // F: the metrics rule for custom lists (design §1.10) is left to stream 3.
    if let Some(custom) = custom {
        return custom
            .iter()
            .map(|p| {
                let protocol = p
                    .protocol
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("TCP");
                port(&p.name, p.port, p.target_port.unwrap_or(p.port), protocol)
            })
            .collect();
    }
    let (gateway, canvas) = if m.proxy_enabled() {
        (PROXY_GATEWAY_PORT, PROXY_CANVAS_PORT)
    } else {
        (GATEWAY_PORT, CANVAS_PORT)
    };
    let mut ports = vec![
        port("gateway", GATEWAY_PORT, gateway, "TCP"),
        port("canvas", CANVAS_PORT, canvas, "TCP"),
    ];
    ports.extend(features::service_ports(m));
    ports
}

/// Warn about custom ports that target a port only reachable on loopback.
pub fn check_ports(m: &Model, warnings: &mut Vec<String>) {
    if !m.proxy_enabled() {
        return;
    }
    for p in ports(m) {
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
