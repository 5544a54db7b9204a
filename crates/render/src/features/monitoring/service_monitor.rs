//! `monitoring.coreos.com/v1` ServiceMonitor `<name>`: scrapes the `metrics` port of the
//! instance's Service.

use serde_json::json;

use super::labels::object_labels;
use crate::k8s::meta;
use crate::model::Model;
use crate::{CustomKind, CustomObject, Desired, Object, Phase};

/// The scrape interval when `serviceMonitor.interval` is unset or empty.
pub const DEFAULT_INTERVAL: &str = "30s";

/// The ServiceMonitor (no `status.managedResources` field).
pub fn render(m: &Model) -> Desired {
    let spec = m.metrics().and_then(|s| s.service_monitor.as_ref());
    let interval = spec
        .and_then(|s| s.interval.as_deref())
        .filter(|i| !i.is_empty())
        .unwrap_or(DEFAULT_INTERVAL);
    let mut metadata = meta::object_meta(m, m.name.clone());
    metadata.labels = Some(object_labels(m, &[], spec.and_then(|s| s.labels.as_ref())));
    let object = CustomObject {
        kind: CustomKind::ServiceMonitor,
        metadata,
        spec: json!({
            "selector": {"matchLabels": meta::selector_labels(&m.name)},
            "endpoints": [{
                "port": "metrics",
                "path": "/metrics",
                "interval": interval,
            }],
        }),
    };
    Desired::apply(Object::Custom(object), Phase::Monitoring, None)
}
