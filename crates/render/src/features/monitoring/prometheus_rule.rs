//! `monitoring.coreos.com/v1` PrometheusRule `<name>-alerts`: eight alerts scoped to one
//! instance, and a ninth with periodic backups (`OpenClawScheduledBackupStale`).
//!
//! Five alerts use the operator's own metrics (`openclaw_*`), three use kube-state-metrics and
//! the kubelet ([`super::CLUSTER_METRICS`]), which a Prometheus Operator setup normally
//! scrapes. Differences from the Go operator's rule:
//! - the PVC alert matches the instance's own claims: `<name>-data` (or
//!   `storage.persistence.existingClaim`) and the autoscaling claims `data-<name>-<ordinal>`
//!   (Go matched `data-<name>.*`: never the default claim, and other instances' claims too);
//! - pods are matched as `<name>-<ordinal>` (Go's `<name>-.*` also matched the pods of an
//!   instance named `<name>-something`), with the name regex-escaped (names may contain `.`);
//! - the slow-reconcile threshold is 10 s, the top bucket of the duration histogram (Go's 30 s
//!   could never be reached: `histogram_quantile` never returns more than the top bucket);
//! - the OOM alert fires only while the container is restarting after the kill, not forever;
//! - `OpenClawAutoUpdateRollback` also fires for the rollback that creates the counter's series
//!   (Go's `increase(...[1h]) > 0` needs two samples of a series, so it missed the first
//!   rollback of an instance after each operator start: counter series are created lazily);
//! - `OpenClawInstanceNotReady` is new.

use serde_json::{Value, json};

use super::labels::object_labels;
use crate::consts::container;
use crate::k8s::meta;
use crate::model::Model;
use crate::{CustomKind, CustomObject, Desired, Object, Phase, StatusSlot};

/// The only rule group.
pub const GROUP_NAME: &str = "openclaw-operator";

/// The CRD default of `prometheusRule.runbookBaseURL` (the Go operator's, delta 0.38): the API
/// server stores it on every instance that does not set the field. Its pages describe the Go
/// operator, so it is read as "not set".
pub const GO_RUNBOOK_BASE_URL: &str = "https://paperclip.inc/docs/operators/openclaw/runbooks";

/// Where `runbook_url` points when `prometheusRule.runbookBaseURL` is unset, empty or the CRD
/// default: this operator's runbooks (`docs/runbooks/<alert>.md` in its repository).
pub const DEFAULT_RUNBOOK_BASE_URL: &str =
    "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks";

/// The `runbook_url` of `alert`: `<base>/<alert>` with a base the user set (the Go operator's
/// form), `<ours>/<alert>.md` otherwise.
pub fn runbook_url(base: Option<&str>, alert: &str) -> String {
    match base
        .map(|u| u.trim_end_matches('/'))
        .filter(|u| !u.is_empty() && *u != GO_RUNBOOK_BASE_URL)
    {
        Some(base) => format!("{base}/{alert}"),
        None => format!("{DEFAULT_RUNBOOK_BASE_URL}/{alert}.md"),
    }
}

/// A PromQL string literal (double-quoted, `\` and `"` escaped).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a regular expression matching only itself (RE2 syntax).
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Alert {
    name: &'static str,
    expr: String,
    for_: Option<&'static str>,
    severity: &'static str,
    summary: &'static str,
    description: &'static str,
}

fn alerts(m: &Model) -> Vec<Alert> {
    let ns = quote(&m.namespace);
    let name = regex_escape(&m.name);
    // Operator metrics carry the instance's name and namespace as labels.
    let inst = format!("namespace={ns},instance={}", quote(&m.name));
    // The StatefulSet's pods and its main container.
    let pod = format!(
        "namespace={ns},pod=~{},container={}",
        quote(&format!("{name}-[0-9]+")),
        quote(container::MAIN)
    );
    // The data claim (standalone or existing) and the autoscaling VolumeClaimTemplate claims.
    let claim = m
        .existing_claim()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}-data", m.name));
    let pvc = format!(
        "namespace={ns},persistentvolumeclaim=~{}",
        quote(&format!("{}|data-{name}-[0-9]+", regex_escape(&claim)))
    );
    vec![
        Alert {
            name: "OpenClawReconcileErrors",
            expr: format!(
                "sum by (namespace, instance) (rate(openclaw_reconcile_total{{result=\"error\",{inst}}}[5m])) > 0"
            ),
            for_: Some("5m"),
            severity: "warning",
            summary: "OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} keeps failing to reconcile.",
            description: "Reconciles of this instance have been failing for 5 minutes. The instance's Warning events and the operator's log give the reason.",
        },
        Alert {
            name: "OpenClawInstanceDegraded",
            expr: format!(
                "max by (namespace, instance, phase) (openclaw_instance_phase{{phase=~\"Degraded|Failed\",{inst}}}) == 1"
            ),
            for_: Some("5m"),
            severity: "critical",
            summary: "OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} is {{ $labels.phase }}.",
            description: "The instance has been in phase {{ $labels.phase }} for 5 minutes. Its status conditions say which part is not converging.",
        },
        Alert {
            name: "OpenClawSlowReconciliation",
            expr: format!(
                "histogram_quantile(0.99, sum by (namespace, instance, le) (rate(openclaw_reconcile_duration_seconds_bucket{{{inst}}}[10m]))) >= 10"
            ),
            for_: Some("10m"),
            severity: "warning",
            summary: "Reconciling OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} takes 10 s or more (p99).",
            description: "The 99th percentile of the reconcile duration is at the top of the histogram (10 s). The API server or the operator is slow, or reconciles wait on timeouts.",
        },
        Alert {
            name: "OpenClawPodCrashLooping",
            expr: format!("increase(kube_pod_container_status_restarts_total{{{pod}}}[10m]) > 2"),
            for_: None,
            severity: "critical",
            summary: "OpenClaw pod {{ $labels.namespace }}/{{ $labels.pod }} is crash-looping.",
            description: "The openclaw container restarted more than twice in 10 minutes. Its previous log (kubectl logs --previous) shows why.",
        },
        Alert {
            name: "OpenClawPodOOMKilled",
            expr: format!(
                "(kube_pod_container_status_last_terminated_reason{{reason=\"OOMKilled\",{pod}}} == 1) and on (namespace, pod, container) (increase(kube_pod_container_status_restarts_total{{{pod}}}[10m]) > 0)"
            ),
            for_: None,
            severity: "warning",
            summary: "OpenClaw pod {{ $labels.namespace }}/{{ $labels.pod }} was OOM-killed.",
            description: "The openclaw container restarted after running out of memory. Raise spec.resources.limits.memory.",
        },
        Alert {
            name: "OpenClawPVCNearlyFull",
            expr: format!(
                "kubelet_volume_stats_used_bytes{{{pvc}}} / kubelet_volume_stats_capacity_bytes{{{pvc}}} > 0.8"
            ),
            for_: Some("5m"),
            severity: "warning",
            summary: "Volume {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} of an OpenClaw instance is over 80% full.",
            description: "The data volume is {{ $value | humanizePercentage }} full. Expand the PersistentVolumeClaim (the operator creates it once and never resizes it) or free space.",
        },
        Alert {
            name: "OpenClawInstanceNotReady",
            expr: format!(
                "(max by (namespace, instance) (openclaw_instance_ready{{{inst}}}) == 0) unless on (namespace, instance) (max by (namespace, instance) (openclaw_instance_phase{{phase=\"Suspended\",{inst}}}) == 1)"
            ),
            for_: Some("15m"),
            severity: "warning",
            summary: "OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} has not been ready for 15 minutes.",
            description: "The instance is not suspended but its Ready condition has been False for 15 minutes: the pod does not start, does not pass its probes, or its volume does not bind.",
        },
        Alert {
            name: "OpenClawAutoUpdateRollback",
            expr: rollback_expr(&inst),
            for_: None,
            severity: "warning",
            summary: "OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} rolled back an auto-update in the last hour.",
            description: "An automatic update did not pass its health check and the instance was returned to its previous version. status.autoUpdate.failedVersion is not retried; after 3 rollbacks in a row auto-update pauses until spec.image.tag is changed by hand.",
        },
    ]
    .into_iter()
    .chain(backup_alert(m, &inst))
    .collect()
}

/// A rollback in the last hour: the counter grew (`increase`, once its series has two samples),
/// or its series appeared, non-zero, within the hour while the same scrape target already
/// exported the instance's `openclaw_instance_ready` (the counter's first rollback: series are
/// created on first use). Comparing the two series' sample counts, rather than testing the
/// counter's absence an hour ago, keeps old rollbacks quiet when Prometheus lost its data or
/// has only just started scraping the operator: both series then start together.
fn rollback_expr(inst: &str) -> String {
    let rollbacks = format!("openclaw_autoupdate_rollbacks_total{{{inst}}}");
    let ready = format!("openclaw_instance_ready{{{inst}}}");
    format!(
        "(sum by (namespace, instance) (increase({rollbacks}[1h])) > 0) or (count by (namespace, instance) ((count_over_time({rollbacks}[1h]) < count_over_time({ready}[1h])) and ({rollbacks} > 0)))"
    )
}

/// With periodic backups: the last successful backup is older than twice the longest gap of
/// the schedule.
fn backup_alert(m: &Model, inst: &str) -> Option<Alert> {
    let schedule = m.spec.backup.as_ref()?.schedule.as_deref()?;
    let gap = openclaw_api::schedule::longest_gap(schedule).ok()?;
    Some(Alert {
        name: "OpenClawScheduledBackupStale",
        expr: format!(
            "(time() - max by (namespace, instance) (openclaw_backup_last_success_timestamp_seconds{{{inst}}})) > {}",
            2 * gap.as_secs()
        ),
        for_: Some("5m"),
        severity: "warning",
        summary: "The last backup of OpenClaw instance {{ $labels.namespace }}/{{ $labels.instance }} is older than twice its schedule.",
        description: "Periodic backups of the instance have not succeeded for two scheduled runs: the <name>-backup-periodic CronJob's Jobs fail or do not start. Their pods' logs and the instance's ScheduledBackupReady condition say why.",
    })
}

/// The PrometheusRule (`status.managedResources.prometheusRule`).
pub fn render(m: &Model) -> Desired {
    let spec = m.metrics().and_then(|s| s.prometheus_rule.as_ref());
    let base = spec.and_then(|s| s.runbook_base_url.as_deref());
    let rules: Vec<Value> = alerts(m)
        .into_iter()
        .map(|a| {
            let mut rule = json!({
                "alert": a.name,
                "expr": a.expr,
                "labels": {"severity": a.severity},
                "annotations": {
                    "summary": a.summary,
                    "description": a.description,
                    "runbook_url": runbook_url(base, a.name),
                },
            });
            if let (Some(f), Some(obj)) = (a.for_, rule.as_object_mut()) {
                obj.insert("for".into(), json!(f));
            }
            rule
        })
        .collect();
    let mut metadata = meta::object_meta(m, format!("{}-alerts", m.name));
    metadata.labels = Some(object_labels(m, &[], spec.and_then(|s| s.labels.as_ref())));
    let object = CustomObject {
        kind: CustomKind::PrometheusRule,
        metadata,
        spec: json!({"groups": [{"name": GROUP_NAME, "rules": rules}]}),
    };
    Desired::apply(
        Object::Custom(object),
        Phase::Monitoring,
        Some(StatusSlot::PrometheusRule),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(regex_escape("my.app-1"), r"my\.app-1");
        // In PromQL source the escaped dot needs its backslash doubled.
        assert_eq!(quote(&regex_escape("a.b")), r#""a\\.b""#);
    }
}
