//! ServiceMonitor, PrometheusRule and Grafana dashboards (`docs/design/optional-features.md`
//! §1.13, `docs/rendering.md` "Monitoring objects").
//!
//! Each object is switched on by its own flag under `spec.observability.metrics` (all off by
//! default): the ServiceMonitor needs metrics on as well (it scrapes the `metrics` port). The
//! objects carry the standard labels plus `app.kubernetes.io/component=monitoring`, which user
//! labels cannot override (the controller's watch and pruning select on them).

mod dashboards;
mod labels;
mod prometheus_rule;
mod service_monitor;

use super::hooks::Feature;
use crate::model::Model;
use crate::{Desired, RenderError};

pub use dashboards::{
    INSTANCE_DASHBOARD_KEY, INSTANCE_DASHBOARD_UID, OPERATOR_DASHBOARD_KEY, OPERATOR_DASHBOARD_UID,
    dashboard_exprs,
};
pub use prometheus_rule::{DEFAULT_RUNBOOK_BASE_URL, GO_RUNBOOK_BASE_URL, GROUP_NAME, runbook_url};

/// Every metric family the operator exposes on `/metrics`, in exposition form (counters with
/// `_total`, histograms as `_bucket`/`_sum`/`_count`), one per line. Dashboards and alert
/// expressions may only use these, [`CLUSTER_METRICS`] (alerts only) and OpenClaw's own.
// The operator-side drift test (`Metrics::encode()` against this list) is still to come.
pub const OPERATOR_METRICS: &str = include_str!("operator_metrics.txt");

/// Metrics of kube-state-metrics and the kubelet that the PrometheusRule uses (pod restarts,
/// OOM kills, volume usage). Dashboards do not use them.
pub const CLUSTER_METRICS: &[&str] = &[
    "kube_pod_container_status_restarts_total",
    "kube_pod_container_status_last_terminated_reason",
    "kubelet_volume_stats_used_bytes",
    "kubelet_volume_stats_capacity_bytes",
];

/// `app.kubernetes.io/component`.
pub use crate::consts::COMPONENT_LABEL;
pub use labels::COMPONENT;

/// ServiceMonitor, PrometheusRule, Grafana dashboards.
pub struct Monitoring;

/// The registry entry.
pub static T: Monitoring = Monitoring;

impl Feature for Monitoring {
    fn name(&self) -> &'static str {
        COMPONENT
    }

    fn enabled(&self, m: &Model) -> bool {
        service_monitor_enabled(m) || prometheus_rule_enabled(m) || dashboards_enabled(m)
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        if service_monitor_enabled(m) {
            out.push(service_monitor::render(m));
        }
        if prometheus_rule_enabled(m) {
            out.push(prometheus_rule::render(m));
        }
        if dashboards_enabled(m) {
            out.extend(dashboards::render(m)?);
        }
        Ok(())
    }
}

/// A ServiceMonitor is rendered: metrics on and `serviceMonitor.enabled`.
pub fn service_monitor_enabled(m: &Model) -> bool {
    m.metrics_enabled()
        && m.metrics()
            .and_then(|s| s.service_monitor.as_ref())
            .and_then(|s| s.enabled)
            == Some(true)
}

/// A PrometheusRule is rendered: `prometheusRule.enabled` (its alerts are on the operator's
/// metrics, so they do not need the instance's metrics endpoint).
pub fn prometheus_rule_enabled(m: &Model) -> bool {
    m.metrics()
        .and_then(|s| s.prometheus_rule.as_ref())
        .and_then(|s| s.enabled)
        == Some(true)
}

/// The dashboard ConfigMaps are rendered: `grafanaDashboard.enabled`.
pub fn dashboards_enabled(m: &Model) -> bool {
    m.metrics()
        .and_then(|s| s.grafana_dashboard.as_ref())
        .and_then(|s| s.enabled)
        == Some(true)
}
