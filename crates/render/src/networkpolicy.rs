//! The NetworkPolicy `<name>` (when `security.networkPolicy.enabled`, default true).
//!
//! Default deny in both directions for the instance's pods, then (design §4):
//! - ingress to the Service's target ports plus the metrics port (without the Chromium CDP
//!   port 9222) from the instance's namespace, from `allowedIngressNamespaces` and from
//!   `allowedIngressCIDRs`;
//! - ingress to the features' self-only ports (CDP) from the instance's own pods;
//! - egress to DNS (unless `allowDNS: false`), to HTTPS anywhere (plain HTTP stays blocked), to
//!   the API server's usual non-standard port 6443 when the pod talks to the API (once, even
//!   when selfConfigure and Tailscale both need it), to the features' ports (Tailscale UDP),
//!   to the features' ports on the instance's own pods (CDP), to `allowedEgressCIDRs` (all
//!   ports), and `additionalEgress` as written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::features::{self, NetParts};
use crate::k8s::meta::{non_empty_vec, object_meta, pod_selector};
use crate::k8s::net::network_policy_port as port;
use crate::model::Model;
use crate::service;

/// The Chromium CDP port: open only between the instance's own pods, never to the namespace.
const CDP_PORT: i32 = 9222;

fn namespace_peer(namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                "kubernetes.io/metadata.name".to_string(),
                namespace.to_string(),
            )])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The instance's own pods.
fn self_peer(m: &Model) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(pod_selector(&m.name)),
        ..Default::default()
    }
}

fn cidr_peer(cidr: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: cidr.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The ports the policy admits from the ingress sources: the target ports of the Service (so
/// the two never disagree), plus the metrics port when metrics are on (a custom Service port
/// may already use its number for something else), without the ports that are open only to
/// the instance's own pods: the unauthenticated Chromium CDP port 9222 never reaches the
/// namespace, even through a custom Service port.
fn ingress_ports(m: &Model, net: &NetParts) -> Vec<NetworkPolicyPort> {
    let mut ports: Vec<NetworkPolicyPort> = Vec::new();
    let target = |p: ServicePort| {
        let number = match p.target_port {
            Some(IntOrString::Int(n)) => n,
            _ => p.port,
        };
        (p.protocol.unwrap_or_else(|| "TCP".to_string()), number)
    };
    let mut targets: Vec<(String, i32)> = service::ports(m).into_iter().map(target).collect();
    // The required feature ports (metrics), even when a custom Service port shadows them.
    targets.extend(features::required_service_ports(m).into_iter().map(target));
    for (protocol, number) in targets {
        let np = port(&protocol, number);
        let self_only =
            (protocol == "TCP" && number == CDP_PORT) || net.ingress_self_only.contains(&np);
        if !self_only && !ports.contains(&np) {
            ports.push(np);
        }
    }
    ports
}

/// `list` without duplicates and without the ports in `already` (order kept).
fn dedup(list: &[NetworkPolicyPort], already: &[NetworkPolicyPort]) -> Vec<NetworkPolicyPort> {
    let mut out: Vec<NetworkPolicyPort> = Vec::new();
    for p in list {
        if !already.contains(p) && !out.contains(p) {
            out.push(p.clone());
        }
    }
    out
}

/// The NetworkPolicy, or `None` when disabled.
pub fn render(m: &Model) -> Option<NetworkPolicy> {
    if !m.network_policy_enabled() {
        return None;
    }
    Some(render_with(m, &features::net_parts(m)))
}

/// The NetworkPolicy with the given feature parts.
fn render_with(m: &Model, net: &NetParts) -> NetworkPolicy {
    let spec = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.network_policy.clone());
    let spec = spec.unwrap_or_default();
    let ports = non_empty_vec(ingress_ports(m, net));

    let mut ingress = vec![NetworkPolicyIngressRule {
        from: Some(vec![namespace_peer(&m.namespace)]),
        ports: ports.clone(),
    }];
    for ns in spec.allowed_ingress_namespaces.iter().flatten() {
        if ns.is_empty() {
            continue;
        }
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![namespace_peer(ns)]),
            ports: ports.clone(),
        });
    }
    for cidr in spec.allowed_ingress_cidrs.iter().flatten() {
        if cidr.is_empty() {
            continue;
        }
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![cidr_peer(cidr)]),
            ports: ports.clone(),
        });
    }
    // Feature ports open only to the instance's own pods (the Chromium CDP hairpin).
    let self_only = dedup(&net.ingress_self_only, &[]);
    if !self_only.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![self_peer(m)]),
            ports: Some(self_only),
        });
    }

    // Egress to anywhere, each port once: DNS, HTTPS, the API server (selfConfigure or a
    // feature such as Tailscale), then the other feature ports (Tailscale's UDP).
    let api_port = port("TCP", 6443);
    let mut opened: Vec<NetworkPolicyPort> = Vec::new();
    let mut egress = Vec::new();
    if spec.allow_dns != Some(false) {
        let dns = vec![port("UDP", 53), port("TCP", 53)];
        opened.extend(dns.iter().cloned());
        egress.push(NetworkPolicyEgressRule {
            ports: Some(dns),
            to: None,
        });
    }
    opened.push(port("TCP", 443));
    egress.push(NetworkPolicyEgressRule {
        ports: Some(vec![port("TCP", 443)]),
        to: None,
    });
    if m.needs_api_access() || net.needs_api || net.egress_any.contains(&api_port) {
        // The API server Service forwards 443 to the server's own port, which is 6443 on many
        // distributions (k3s, kubeadm); policies are evaluated after that translation.
        opened.push(api_port.clone());
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![api_port]),
            to: None,
        });
    }
    let any = dedup(&net.egress_any, &opened);
    if !any.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(any),
            to: None,
        });
    }
    // Feature egress to the instance's own pods (the Chromium CDP port through its Service).
    let to_self = dedup(&net.egress_self, &[]);
    if !to_self.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(to_self),
            to: Some(vec![self_peer(m)]),
        });
    }
    for cidr in spec.allowed_egress_cidrs.iter().flatten() {
        if cidr.is_empty() {
            continue;
        }
        egress.push(NetworkPolicyEgressRule {
            to: Some(vec![cidr_peer(cidr)]),
            ports: None,
        });
    }
    egress.extend(crate::clean::clean_all(
        spec.additional_egress.as_deref().unwrap_or_default(),
    ));

    NetworkPolicy {
        metadata: object_meta(m, m.name.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector(&m.name)),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
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

    fn numbers(ports: &[NetworkPolicyPort]) -> Vec<(String, i32)> {
        ports
            .iter()
            .map(|p| {
                let Some(IntOrString::Int(n)) = p.port else {
                    panic!()
                };
                (p.protocol.clone().unwrap(), n)
            })
            .collect()
    }

    fn tcp(ports: &[i32]) -> Vec<(String, i32)> {
        ports.iter().map(|p| ("TCP".to_string(), *p)).collect()
    }

    fn ingress(spec: Value, net: &NetParts) -> Vec<(String, i32)> {
        with_spec(spec, |m| numbers(&ingress_ports(m, net)))
    }

    #[test]
    fn ingress_ports_follow_the_service_and_metrics() {
        let none = NetParts::default();
        assert_eq!(ingress(json!({}), &none), tcp(&[18790, 18794, 9090]));
        assert_eq!(
            ingress(json!({"observability": {"metrics": {"port": 9464}}}), &none),
            tcp(&[18790, 18794, 9464])
        );
        assert_eq!(
            ingress(
                json!({"observability": {"metrics": {"enabled": false}}}),
                &none
            ),
            tcp(&[18790, 18794])
        );
        // Custom ports: their targets, then metrics (added by the Service rule).
        assert_eq!(
            ingress(
                json!({"networking": {"service": {"ports": [
                    {"name": "http", "port": 80, "targetPort": 18790},
                    {"name": "dns", "port": 53, "protocol": "UDP"}]}}}),
                &none
            ),
            vec![
                ("TCP".to_string(), 18790),
                ("UDP".to_string(), 53),
                ("TCP".to_string(), 9090)
            ]
        );
        // The Service's port 9090 targets something else: metrics is still admitted.
        assert_eq!(
            ingress(
                json!({"networking": {"service": {"ports": [
                    {"name": "http", "port": 9090, "targetPort": 18790}]}}}),
                &none
            ),
            tcp(&[18790, 9090])
        );
    }

    #[test]
    fn cdp_and_self_only_ports_never_reach_the_namespace() {
        let net = NetParts {
            ingress_self_only: vec![port("TCP", 9222), port("TCP", 7000)],
            ..Default::default()
        };
        assert_eq!(
            ingress(
                json!({"networking": {"service": {"ports": [
                    {"name": "http", "port": 80, "targetPort": 18790},
                    {"name": "cdp", "port": 9222},
                    {"name": "other", "port": 7000}]}}}),
                &net
            ),
            tcp(&[18790, 9090])
        );
        // 9222 is excluded even when no feature lists it.
        assert_eq!(
            ingress(
                json!({"networking": {"service": {"ports": [{"name": "cdp", "port": 9222}]}}}),
                &NetParts::default()
            ),
            tcp(&[9090])
        );
    }

    /// One rule: its peer (`ns:<name>`, `cidr:<cidr>`, `self` or `any`) and its
    /// `(protocol, port)` pairs.
    type Rule = (String, Vec<(String, i32)>);

    /// The ingress and egress rules.
    fn rules(np: &NetworkPolicy) -> (Vec<Rule>, Vec<Rule>) {
        let peer = |peers: Option<&Vec<NetworkPolicyPeer>>| -> String {
            let Some(p) = peers.and_then(|p| p.first()) else {
                return "any".to_string();
            };
            if let Some(ns) = &p.namespace_selector {
                format!(
                    "ns:{}",
                    ns.match_labels.as_ref().unwrap()["kubernetes.io/metadata.name"]
                )
            } else if let Some(b) = &p.ip_block {
                format!("cidr:{}", b.cidr)
            } else {
                "self".to_string()
            }
        };
        let spec = np.spec.as_ref().unwrap();
        let ingress = spec
            .ingress
            .iter()
            .flatten()
            .map(|r| {
                (
                    peer(r.from.as_ref()),
                    numbers(r.ports.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        let egress = spec
            .egress
            .iter()
            .flatten()
            .map(|r| {
                (
                    peer(r.to.as_ref()),
                    numbers(r.ports.as_deref().unwrap_or_default()),
                )
            })
            .collect();
        (ingress, egress)
    }

    fn udp(ports: &[i32]) -> Vec<(String, i32)> {
        ports.iter().map(|p| ("UDP".to_string(), *p)).collect()
    }

    #[test]
    fn rule_order_and_dedup_with_every_feature_part() {
        // What Chromium and Tailscale contribute (design §4), with Tailscale also listing 6443.
        let net = NetParts {
            ingress_self_only: vec![port("TCP", 9222), port("TCP", 9222)],
            egress_any: vec![
                port("TCP", 6443),
                port("UDP", 3478),
                port("UDP", 41641),
                port("TCP", 443),
            ],
            egress_self: vec![port("TCP", 9222)],
            needs_api: true,
        };
        let spec = json!({
            "selfConfigure": {"enabled": true},
            "security": {"networkPolicy": {
                "allowedIngressNamespaces": ["monitoring"],
                "allowedIngressCIDRs": ["10.0.0.0/8"],
                "allowedEgressCIDRs": ["192.168.0.0/16"]}},
        });
        let (ingress, egress) = with_spec(spec, |m| rules(&render_with(m, &net)));
        let gateway = tcp(&[18790, 18794, 9090]);
        assert_eq!(
            ingress,
            vec![
                ("ns:ns".to_string(), gateway.clone()),
                ("ns:monitoring".to_string(), gateway.clone()),
                ("cidr:10.0.0.0/8".to_string(), gateway),
                ("self".to_string(), tcp(&[9222])),
            ]
        );
        let mut dns = udp(&[53]);
        dns.extend(tcp(&[53]));
        assert_eq!(
            egress,
            vec![
                ("any".to_string(), dns),
                ("any".to_string(), tcp(&[443])),
                ("any".to_string(), tcp(&[6443])),
                ("any".to_string(), udp(&[3478, 41641])),
                ("self".to_string(), tcp(&[9222])),
                ("cidr:192.168.0.0/16".to_string(), vec![]),
            ]
        );
    }

    #[test]
    fn metrics_off_and_no_features() {
        let (ingress, egress) = with_spec(
            json!({"observability": {"metrics": {"enabled": false}},
                "security": {"networkPolicy": {"allowDNS": false}}}),
            |m| rules(&render_with(m, &NetParts::default())),
        );
        assert_eq!(ingress, vec![("ns:ns".to_string(), tcp(&[18790, 18794]))]);
        assert_eq!(egress, vec![("any".to_string(), tcp(&[443]))]);
        // A feature needing the API alone opens 6443 once.
        let net = NetParts {
            egress_any: vec![port("TCP", 6443)],
            ..Default::default()
        };
        let (_, egress) = with_spec(json!({}), |m| rules(&render_with(m, &net)));
        assert_eq!(
            egress
                .iter()
                .filter(|(_, p)| p.contains(&("TCP".to_string(), 6443)))
                .count(),
            1
        );
    }

    #[test]
    fn dedup_keeps_order() {
        let list = [port("UDP", 3478), port("TCP", 6443), port("UDP", 3478)];
        assert_eq!(dedup(&list, &[port("TCP", 6443)]), vec![port("UDP", 3478)]);
    }
}
