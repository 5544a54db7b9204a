//! ServiceMonitor, PrometheusRule, Grafana dashboards (`docs/design/optional-features.md` §1.13). Stub: not rendered yet.

use super::Feature;
use crate::model::Model;

/// ServiceMonitor, PrometheusRule, Grafana dashboards.
pub struct Monitoring;

/// The registry entry.
pub static T: Monitoring = Monitoring;

impl Feature for Monitoring {
    fn name(&self) -> &'static str {
        "monitoring"
    }

    fn enabled(&self, _m: &Model) -> bool {
        false
    }
}
