//! Conformance toggles of this feature area: Ingress (Traefik, basic auth), HTTPRoute (its
//! host names become Control UI origins) and autoscaling.

use serde_json::{Value, json};

pub fn toggles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ingress-traefik",
            json!({"networking": {"ingress": {"enabled": true, "className": "traefik",
                "hosts": [{"host": "openclaw.example.com"}],
                "tls": [{"hosts": ["openclaw.example.com"], "secretName": "openclaw-tls"}],
                "security": {"rateLimiting": {"requestsPerSecond": 20}}}}}),
        ),
        (
            "ingress-basic-auth",
            json!({"networking": {"ingress": {"enabled": true, "className": "nginx",
                "hosts": [{"host": "openclaw.example.com"}],
                "security": {"basicAuth": {"enabled": true, "username": "ops"}}}}}),
        ),
        (
            "http-route",
            json!({"networking": {"httpRoute": {"enabled": true,
                "parentRefs": [{"name": "public", "namespace": "gateways"}],
                "hostnames": ["openclaw.example.com", "*.agents.example.com"]}}}),
        ),
        (
            "autoscaling",
            json!({"availability": {"autoScaling": {"enabled": true, "maxReplicas": 3,
                "targetMemoryUtilization": 80}}}),
        ),
    ]
}
