//! Conformance toggles of this feature area: metrics (OTel collector, `diagnostics.otel`) and
//! the CA bundle (design §1.5, §1.8).

use serde_json::{Value, json};

pub fn toggles() -> Vec<(&'static str, Value)> {
    vec![
        (
            "metrics-custom-port",
            json!({"observability": {"metrics": {"enabled": true, "port": 9464}},
                "plugins": ["npm:@openclaw/diagnostics-otel"]}),
        ),
        // The user's own OTel settings are kept verbatim (no operator key is added under
        // diagnostics.otel).
        (
            "otel-user-settings",
            json!({"config": {"raw": {"diagnostics": {"enabled": true, "otel": {
                "enabled": true, "endpoint": "https://otel.example.com:4318",
                "protocol": "http/protobuf", "serviceName": "agent",
                "traces": true, "metrics": true, "logs": false,
                "sampleRate": 0.5, "flushIntervalMs": 10000}}}}}),
        ),
        (
            "ca-bundle",
            json!({"security": {"caBundle": {"configMapName": "corp-ca", "key": "ca.pem"}}}),
        ),
    ]
}
