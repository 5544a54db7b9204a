//! Service and NetworkPolicy ports.

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A Service port (an empty name is left out).
pub fn service_port(name: &str, port: i32, target: i32, protocol: &str) -> ServicePort {
    ServicePort {
        name: (!name.is_empty()).then(|| name.to_string()),
        port,
        target_port: Some(IntOrString::Int(target)),
        protocol: Some(protocol.to_string()),
        ..Default::default()
    }
}

/// A NetworkPolicy port.
pub fn network_policy_port(protocol: &str, number: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_string()),
        port: Some(IntOrString::Int(number)),
        ..Default::default()
    }
}
