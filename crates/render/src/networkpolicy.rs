//! The NetworkPolicy `<name>` (when `security.networkPolicy.enabled`, default true).
//!
//! Default deny in both directions for the instance's pods, then:
//! - ingress to the Service's target ports from the instance's namespace, from
//!   `allowedIngressNamespaces` and from `allowedIngressCIDRs`;
//! - egress to DNS (unless `allowDNS: false`), to HTTPS anywhere (plain HTTP stays blocked), to
//!   the API server's usual non-standard port 6443 when the pod talks to the API, to
//!   `allowedEgressCIDRs` (all ports), and `additionalEgress` as written.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::features;
use crate::meta::{non_empty_vec, object_meta, pod_selector};
use crate::model::Model;
use crate::service;

fn port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(number)),
        ..Default::default()
    }
}

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

/// The ports the policy admits: the target ports of the Service, so the two never disagree.
fn ingress_ports(m: &Model) -> Vec<NetworkPolicyPort> {
    let mut ports: Vec<NetworkPolicyPort> = Vec::new();
    for p in service::ports(m) {
        let protocol = p.protocol.unwrap_or_else(|| "TCP".to_string());
        let number = match p.target_port {
            Some(IntOrString::Int(n)) => n,
            _ => p.port,
        };
        let np = port(&protocol, number);
        if !ports.contains(&np) {
            ports.push(np);
        }
    }
    ports
}

/// The NetworkPolicy, or `None` when disabled.
pub fn render(m: &Model) -> Option<NetworkPolicy> {
    if !m.network_policy_enabled() {
        return None;
    }
    let spec = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.network_policy.clone());
    let spec = spec.unwrap_or_default();
    let ports = non_empty_vec(ingress_ports(m));
    let net = features::net_parts(m);

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
    if !net.ingress_self_only.is_empty() {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![self_peer(m)]),
            ports: Some(net.ingress_self_only.clone()),
        });
    }
    // F: excluding the Chromium CDP port from `ports` (design §4) is left to stream 3.

    let mut egress = Vec::new();
    if spec.allow_dns != Some(false) {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
            to: None,
        });
    }
    egress.push(NetworkPolicyEgressRule {
        ports: Some(vec![port("TCP", 443)]),
        to: None,
    });
    if m.needs_api_access() || net.needs_api {
        // The API server Service forwards 443 to the server's own port, which is 6443 on many
        // distributions (k3s, kubeadm); policies are evaluated after that translation.
        egress.push(NetworkPolicyEgressRule {
            ports: Some(vec![port("TCP", 6443)]),
            to: None,
        });
    }
    // Feature egress: to anywhere (Tailscale STUN/WireGuard), then to the instance's own pods
    // (the Chromium CDP port).
    if !net.egress_any.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(net.egress_any.clone()),
            to: None,
        });
    }
    if !net.egress_self.is_empty() {
        egress.push(NetworkPolicyEgressRule {
            ports: Some(net.egress_self.clone()),
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

    Some(NetworkPolicy {
        metadata: object_meta(m, m.name.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector(&m.name)),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress),
            egress: Some(egress),
        }),
    })
}
