//! Metrics: the OTel collector sidecar and `diagnostics.otel` (`docs/design/optional-features.md`
//! §1.5, `docs/features/metrics.md`), when `observability.metrics.enabled` is not false (the
//! default is on).
//!
//! OpenClaw's `diagnostics-otel` plugin pushes OTLP over HTTP to the collector on loopback
//! (`127.0.0.1:4318`); the collector's Prometheus exporter serves the metrics on
//! `0.0.0.0:<metricsPort>` (port `metrics`), which the Service and the NetworkPolicy expose.
//!
//! - sidecar `otel-collector` (the last operator sidecar), config mounted as a directory;
//! - volume `otel-collector-config` (the `otel-collector.yaml` item of `<name>-config`);
//! - `otel-collector.yaml` as an extra key of `<name>-config` (so a port change rolls the pod);
//! - Service port `metrics` (the custom-ports rule is in [`crate::service`]);
//! - `diagnostics.otel` in `openclaw.json`, the whole block, only when the user has none.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, KeyToPath, ServicePort, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Map, Value, json};

use super::hooks::{Feature, PodParts};
use super::sidecar_util::object_at;
use crate::image::with_registry;
use crate::k8s::container::{ResourceDefault, port, resources};
use crate::k8s::net::service_port as k8s_service_port;
use crate::k8s::security::{helper_security, pod_run_as_non_root};
use crate::k8s::volume::{CONFIG_MAP_MODE, mount};
use crate::model::Model;

/// Name of the sidecar.
pub const CONTAINER: &str = "otel-collector";
/// Name of the pod volume holding the collector config.
pub const VOLUME: &str = "otel-collector-config";
/// Key of the collector config in `<name>-config` (and its file name in the mount).
pub const CONFIG_KEY: &str = "otel-collector.yaml";
/// Where the collector config directory is mounted.
pub const CONFIG_DIR: &str = "/etc/otel-collector";
/// The collector image (not user-configurable; the registry override applies).
pub const IMAGE: &str = "docker.io/otel/opentelemetry-collector:0.120.0";
/// Name of the metrics port (container and Service).
pub const PORT_NAME: &str = "metrics";
/// Default `observability.metrics.port`.
pub const DEFAULT_PORT: i32 = 9090;
/// Where the collector's OTLP/HTTP receiver listens: loopback only, the pod's own OpenClaw is
/// the only sender.
pub const OTLP_HTTP_LISTEN: &str = "127.0.0.1:4318";
/// What `diagnostics.otel.endpoint` is set to.
pub const OTLP_ENDPOINT: &str = "http://127.0.0.1:4318";
/// The OpenClaw plugin that exports `diagnostics.otel` (not bundled with OpenClaw).
pub const PLUGIN: &str = "diagnostics-otel";

/// Requests 25m / 32Mi, limits 100m / 128Mi (fixed).
const RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("25m", "32Mi"),
    limits: ("100m", "128Mi"),
};

/// Metrics: OTel collector and diagnostics.otel.
pub struct Otel;

/// The registry entry.
pub static T: Otel = Otel;

/// `observability.metrics.port`, or 9090 when unset or not a port number.
pub fn metrics_port(m: &Model) -> i32 {
    m.metrics()
        .and_then(|s| s.port)
        .filter(|p| (1..=65535).contains(p))
        .unwrap_or(DEFAULT_PORT)
}

/// The Service port `metrics`: port → port, TCP.
pub fn service_port(m: &Model) -> ServicePort {
    let port = metrics_port(m);
    k8s_service_port(PORT_NAME, port, port, "TCP")
}

/// The collector configuration: OTLP/HTTP in on loopback, Prometheus out on the metrics port.
/// `metric_expiration` keeps series that are updated rarely (the exporter drops a series after
/// 5 minutes without an update by default, which turns slow counters into gaps).
pub fn collector_config(port: i32) -> String {
    format!(
        "receivers:
  otlp:
    protocols:
      http:
        endpoint: {OTLP_HTTP_LISTEN}

exporters:
  prometheus:
    endpoint: 0.0.0.0:{port}
    metric_expiration: 8760h

service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [prometheus]
"
    )
}

fn sidecar(m: &Model, warnings: &mut Vec<String>) -> Container {
    Container {
        name: CONTAINER.to_string(),
        image: Some(with_registry(IMAGE, m.registry())),
        image_pull_policy: Some("IfNotPresent".to_string()),
        args: Some(vec![format!("--config={CONFIG_DIR}/{CONFIG_KEY}")]),
        ports: Some(vec![port(PORT_NAME, metrics_port(m))]),
        resources: Some(resources(None, &RESOURCES, CONTAINER, warnings)),
        security_context: Some(helper_security(pod_run_as_non_root(m), None)),
        // A directory mount (not a subPath), so a changed file reaches the running container.
        volume_mounts: Some(vec![mount(VOLUME, CONFIG_DIR, None, true)]),
        ..Default::default()
    }
}

fn config_volume(m: &Model) -> Volume {
    Volume {
        name: VOLUME.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: format!("{}-config", m.name),
            default_mode: Some(CONFIG_MAP_MODE),
            items: Some(vec![KeyToPath {
                key: CONFIG_KEY.to_string(),
                path: CONFIG_KEY.to_string(),
                mode: None,
            }]),
            optional: None,
        }),
        ..Default::default()
    }
}

/// Ports the pod already uses (the gateway, its proxy, the OTLP receiver, the feature sidecars).
const TAKEN_PORTS: &[(i32, &str)] = &[
    (crate::consts::GATEWAY_PORT, "the gateway"),
    (crate::consts::CANVAS_PORT, "the canvas host"),
    (crate::consts::PROXY_GATEWAY_PORT, "the gateway proxy"),
    (crate::consts::PROXY_CANVAS_PORT, "the gateway proxy"),
    (4318, "the collector's OTLP receiver"),
    (9222, "Chromium"),
    (7681, "the web terminal"),
    (11434, "Ollama"),
];

/// Whether `spec.plugins` installs the `diagnostics-otel` plugin (as `npm:@openclaw/…`,
/// a ClawHub reference or a bare name, with or without a version).
fn plugin_listed(m: &Model) -> bool {
    m.spec.plugins.iter().flatten().any(|p| {
        let last = p.rsplit(['/', ':']).next().unwrap_or_default();
        last.split('@').next() == Some(PLUGIN)
    })
}

/// Whether an OTLP endpoint is the in-pod collector (`http://127.0.0.1:4318` or
/// `http://localhost:4318`, with any path).
pub fn is_local_collector(endpoint: &str) -> bool {
    let Some(rest) = endpoint.trim().strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    matches!(
        authority,
        "127.0.0.1:4318" | "localhost:4318" | "[::1]:4318"
    )
}

/// Warnings about a `diagnostics.otel` block the user wrote (kept as written).
fn check_user_otel(otel: &Value, warnings: &mut Vec<String>) {
    let Some(otel) = otel.as_object() else {
        warnings.push(
            "openclaw.json: diagnostics.otel is not an object; the OTel collector sidecar receives nothing".to_string(),
        );
        return;
    };
    for key in ["metricsEndpoint", "endpoint"] {
        if let Some(endpoint) = otel.get(key) {
            if !endpoint.as_str().is_some_and(is_local_collector) {
                warnings.push(format!(
                    "openclaw.json: diagnostics.otel.{key} is {endpoint}, not the in-pod collector ({OTLP_ENDPOINT}); the otel-collector sidecar receives no metrics and the metrics port serves only the collector's own series"
                ));
            }
            return;
        }
    }
}

impl Feature for Otel {
    fn name(&self) -> &'static str {
        "otel"
    }

    fn enabled(&self, m: &Model) -> bool {
        m.metrics_enabled()
    }

    fn enrich(&self, _m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        let Some(diagnostics) = object_at(config, "diagnostics", "diagnostics", warnings) else {
            return;
        };
        match diagnostics.get("otel") {
            Some(user) => check_user_otel(user, warnings),
            None => {
                diagnostics.insert(
                    "otel".to_string(),
                    json!({
                        "enabled": true,
                        "endpoint": OTLP_ENDPOINT,
                        "protocol": "http/protobuf",
                        "metrics": true,
                    }),
                );
            }
        }
    }

    fn config_files(&self, m: &Model) -> Vec<(String, String)> {
        vec![(CONFIG_KEY.to_string(), collector_config(metrics_port(m)))]
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        if let Some(p) = m.metrics().and_then(|s| s.port)
            && p != metrics_port(m)
        {
            warnings.push(format!(
                "observability.metrics.port {p} is not a port number; using {DEFAULT_PORT}"
            ));
        }
        let port = metrics_port(m);
        if let Some((_, what)) = TAKEN_PORTS.iter().find(|(p, _)| *p == port) {
            warnings.push(format!(
                "observability.metrics.port {port} is also used by {what} in the pod; the collector or {what} cannot listen"
            ));
        }
        if !plugin_listed(m) {
            warnings.push(format!(
                "metrics are on but spec.plugins does not install the {PLUGIN} plugin (add its ClawHub or npm reference); OpenClaw 2026.9 does not bundle it, so nothing is exported and the metrics port serves only the collector's own series"
            ));
        }
        parts.sidecars.push(sidecar(m, warnings));
        parts.volumes.push(config_volume(m));
    }

    fn service_ports(&self, m: &Model) -> Vec<ServicePort> {
        vec![service_port(m)]
    }

    /// The metrics rule (design §1.10, Go 0.38 #583): `metrics` is added to a custom list too.
    fn required_service_ports(&self, m: &Model) -> Vec<ServicePort> {
        vec![service_port(m)]
    }

    fn check_service_ports(
        &self,
        m: &Model,
        ports: &[ServicePort],
        custom: bool,
        warnings: &mut Vec<String>,
    ) {
        if custom {
            check_metrics_port(m, ports, warnings);
        }
    }
}

/// Warn about a custom list whose `metrics` port does not reach the collector: a port named
/// `metrics` on another port or target, or the metrics port number under another name (the
/// metrics rule then adds nothing, and a ServiceMonitor, which scrapes the port named
/// `metrics`, finds no collector).
fn check_metrics_port(m: &Model, ports: &[ServicePort], warnings: &mut Vec<String>) {
    let want = metrics_port(m);
    for p in ports {
        let target = match p.target_port {
            Some(IntOrString::Int(t)) => t,
            _ => p.port,
        };
        let named = p.name.as_deref() == Some(PORT_NAME);
        if named && target != want {
            warnings.push(format!(
                "Service port \"metrics\" targets {target}, but the OTel collector serves metrics on {want}"
            ));
        } else if !named && p.port == want {
            warnings.push(format!(
                "Service port {:?} uses the metrics port {want}, so no \"metrics\" port is added (a ServiceMonitor scrapes the port named \"metrics\")",
                p.name.clone().unwrap_or_default()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use serde_json::{Value, json};

    use super::*;
    use crate::Observed;

    fn with_spec(spec: Value, f: impl FnOnce(&Model)) {
        let instance = serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "ns", "uid": "u"},
            "spec": spec,
        }))
        .unwrap();
        let observed = Observed::default();
        let m = Model::new(&instance, &observed).unwrap();
        f(&m);
    }

    fn enrich(config: Value) -> (Value, Vec<String>) {
        let mut out = None;
        with_spec(json!({}), |m| {
            let Value::Object(mut map) = config else {
                panic!()
            };
            let mut warnings = Vec::new();
            T.enrich(m, &mut map, &mut warnings);
            out = Some((Value::Object(map), warnings));
        });
        out.unwrap()
    }

    #[test]
    fn defaults_and_port() {
        with_spec(json!({}), |m| {
            assert!(m.metrics_enabled());
            assert_eq!(metrics_port(m), 9090);
        });
        with_spec(
            json!({"observability": {"metrics": {"enabled": false, "port": 9464}}}),
            |m| {
                assert!(!m.metrics_enabled());
                assert_eq!(metrics_port(m), 9464);
            },
        );
        with_spec(
            json!({"observability": {"metrics": {"port": 70000}}}),
            |m| {
                assert_eq!(metrics_port(m), 9090);
                let mut parts = PodParts::default();
                let mut warnings = Vec::new();
                T.pod(m, &mut parts, &mut warnings);
                assert!(warnings.iter().any(|w| w.contains("70000 is not a port")));
            },
        );
    }

    #[test]
    fn collector_config_parses_with_the_expected_structure() {
        let text = collector_config(9464);
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({
                "receivers": {"otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:4318"}}}},
                "exporters": {"prometheus": {"endpoint": "0.0.0.0:9464", "metric_expiration": "8760h"}},
                "service": {"pipelines": {"metrics": {"receivers": ["otlp"], "exporters": ["prometheus"]}}},
            })
        );
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn enrich_adds_the_whole_block_only_when_absent() {
        let (v, w) = enrich(json!({}));
        assert_eq!(
            v["diagnostics"]["otel"],
            json!({"enabled": true, "endpoint": "http://127.0.0.1:4318", "protocol": "http/protobuf", "metrics": true})
        );
        assert!(w.is_empty());
        // Idempotent.
        let (again, _) = enrich(v.clone());
        assert_eq!(again, v);

        // The user's block is kept verbatim, other diagnostics keys too.
        let user = json!({"diagnostics": {"enabled": true, "otel": {"endpoint": "http://localhost:4318/"}}});
        let (v, w) = enrich(user.clone());
        assert_eq!(v, user);
        assert!(w.is_empty(), "{w:?}");

        let user = json!({"diagnostics": {"otel": {"enabled": true, "endpoint": "https://otel.example.com"}}});
        let (v, w) = enrich(user.clone());
        assert_eq!(v, user);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("not the in-pod collector"), "{w:?}");

        let user = json!({"diagnostics": {"otel": {"endpoint": "http://127.0.0.1:4318",
            "metricsEndpoint": "http://mimir:4318/v1/metrics"}}});
        let (_, w) = enrich(user);
        assert!(w[0].contains("metricsEndpoint"), "{w:?}");

        let (v, w) = enrich(json!({"diagnostics": "on"}));
        assert_eq!(v, json!({"diagnostics": "on"}));
        assert!(w[0].contains("diagnostics is not an object"), "{w:?}");
    }

    #[test]
    fn local_collector_endpoints() {
        for e in [
            "http://127.0.0.1:4318",
            "http://localhost:4318/",
            "http://127.0.0.1:4318/v1/metrics",
        ] {
            assert!(is_local_collector(e), "{e}");
        }
        for e in [
            "https://127.0.0.1:4318",
            "http://127.0.0.1:4317",
            "http://collector:4318",
            "",
        ] {
            assert!(!is_local_collector(e), "{e}");
        }
    }

    #[test]
    fn plugin_warning() {
        for (plugins, listed) in [
            (json!([]), false),
            (json!(["@openclaw/voice-call"]), false),
            (json!(["npm:@openclaw/diagnostics-otel"]), true),
            (json!(["npm:@openclaw/diagnostics-otel@1.2.3"]), true),
            (json!(["@openclaw/diagnostics-otel"]), true),
            (json!(["clawhub:diagnostics-otel"]), true),
            (json!(["npm:diagnostics-otel-extra"]), false),
        ] {
            with_spec(json!({"plugins": plugins}), |m| {
                assert_eq!(plugin_listed(m), listed, "{plugins}");
            });
        }
    }

    #[test]
    fn pod_parts() {
        with_spec(
            json!({"registry": "mirror.example.com", "security": {"podSecurityContext": {"runAsNonRoot": false}},
                "plugins": ["npm:@openclaw/diagnostics-otel"]}),
            |m| {
                let mut parts = PodParts::default();
                let mut warnings = Vec::new();
                T.pod(m, &mut parts, &mut warnings);
                assert!(warnings.is_empty(), "{warnings:?}");
                let c = &parts.sidecars[0];
                assert_eq!(
                    c.image.as_deref(),
                    Some("mirror.example.com/otel/opentelemetry-collector:0.120.0")
                );
                let sc = c.security_context.as_ref().unwrap();
                assert_eq!(sc.run_as_non_root, Some(false));
                assert_eq!(sc.read_only_root_filesystem, Some(true));
                assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
                let mounts = c.volume_mounts.as_ref().unwrap();
                assert_eq!(mounts[0].sub_path, None);
                assert_eq!(parts.volumes[0].name, mounts[0].name);
            },
        );
    }
}
