//! Grafana dashboards as ConfigMaps for the Grafana sidecar: `<name>-dashboard-operator` and
//! `<name>-dashboard-instance`, labelled `grafana_dashboard: "1"`, in the folder of the
//! `grafana_folder` annotation.
//!
//! The uids, titles and variables are the Go operator's, so existing links keep working. The
//! panels use only the operator's metrics ([`super::OPERATOR_METRICS`]): the Go panels on
//! cAdvisor, kube-state-metrics, kubelet and auto-update metrics are not rendered (design Q4).
//! The dashboards do not depend on the instance, so every instance renders the same JSON.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use super::labels::object_labels;
use crate::k8s::meta;
use crate::model::Model;
use crate::{Desired, Object, Phase, RenderError, StatusSlot};

/// Data key of the operator dashboard.
pub const OPERATOR_DASHBOARD_KEY: &str = "openclaw-operator.json";
/// Data key of the instance dashboard.
pub const INSTANCE_DASHBOARD_KEY: &str = "openclaw-instance.json";
/// uid of the operator dashboard.
pub const OPERATOR_DASHBOARD_UID: &str = "openclaw-operator-overview";
/// uid of the instance dashboard.
pub const INSTANCE_DASHBOARD_UID: &str = "openclaw-instance-detail";

const DEFAULT_FOLDER: &str = "OpenClaw";

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn grid(h: u32, w: u32, x: u32, y: u32) -> Value {
    json!({"h": h, "w": w, "x": x, "y": y})
}

fn target(ref_id: &str, expr: &str, legend: &str) -> Value {
    json!({"expr": expr, "legendFormat": legend, "refId": ref_id})
}

fn instant(ref_id: &str, expr: &str, legend: &str) -> Value {
    json!({"expr": expr, "legendFormat": legend, "refId": ref_id, "instant": true})
}

fn row(id: u32, title: &str, y: u32, collapsed: Option<Vec<Value>>) -> Value {
    let mut r = json!({
        "id": id, "title": title, "type": "row", "gridPos": grid(1, 24, 0, y),
        "collapsed": collapsed.is_some(),
    });
    if let (Some(panels), Some(o)) = (collapsed, r.as_object_mut()) {
        o.insert("panels".into(), Value::Array(panels));
    }
    r
}

fn stat(id: u32, title: &str, gp: Value, expr: &str, legend: &str, unit: &str) -> Value {
    json!({
        "id": id, "title": title, "type": "stat", "gridPos": gp, "datasource": datasource(),
        "targets": [instant("A", expr, legend)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                    "textMode": "auto", "colorMode": "value"},
    })
}

fn timeseries(id: u32, title: &str, gp: Value, targets: Vec<Value>, unit: &str) -> Value {
    json!({
        "id": id, "title": title, "type": "timeseries", "gridPos": gp, "datasource": datasource(),
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {
            "fillOpacity": 10, "lineWidth": 1, "pointSize": 5, "showPoints": "auto"}},
            "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    })
}

fn variable(name: &str, label: &str, query: &str, multi: bool) -> Value {
    let mut v = json!({
        "name": name, "label": label, "type": "query", "datasource": datasource(),
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query, "refresh": 2, "sort": 1, "multi": multi, "includeAll": multi,
        "current": {}, "options": [], "hide": 0,
    });
    if let (true, Some(o)) = (multi, v.as_object_mut()) {
        o.insert("allValue".into(), json!(".*"));
    }
    v
}

fn templating(multi: bool) -> Value {
    json!({"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "refresh": 1, "current": {}, "options": [], "hide": 0},
        variable("job", "Operator job", "label_values(openclaw_managed_instances, job)", false),
        variable("namespace", "Namespace",
            "label_values(openclaw_instance_info{job=~\"$job\"}, namespace)", multi),
        variable("instance", "Instance",
            "label_values(openclaw_instance_info{job=~\"$job\",namespace=~\"$namespace\"}, instance)", multi),
    ]})
}

fn dashboard(uid: &str, title: &str, tags: &[&str], multi: bool, panels: Vec<Value>) -> Value {
    json!({
        "annotations": {"list": []},
        "editable": true,
        "graphTooltip": 1,
        "panels": panels,
        "schemaVersion": 39,
        "tags": tags,
        "templating": templating(multi),
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "title": title,
        "uid": uid,
    })
}

/// The operator overview: the fleet, reconciles, the work queue, API requests, the process.
fn operator_dashboard() -> Value {
    // Every selector carries the variables, so one dashboard serves any operator release.
    const SEL: &str = r#"job=~"$job",namespace=~"$namespace",instance=~"$instance""#;
    const JOB: &str = r#"job=~"$job""#;
    const Q: &str = r#"job=~"$job",name="openclawinstance""#;
    let f = |s: &str| {
        s.replace("SEL", SEL)
            .replace("JOB", JOB)
            .replace("QUEUE", Q)
    };
    let panels = vec![
        row(100, "Overview", 0, None),
        stat(
            1,
            "Managed instances",
            grid(4, 6, 0, 1),
            &f("max(openclaw_managed_instances{JOB})"),
            "",
            "none",
        ),
        stat(
            2,
            "Instances ready",
            grid(4, 6, 6, 1),
            &f("count(openclaw_instance_ready{SEL} == 1) or vector(0)"),
            "",
            "none",
        ),
        stat(
            3,
            "Reconcile errors (1h)",
            grid(4, 6, 12, 1),
            &f(
                r#"sum(increase(openclaw_reconcile_total{result="error",SEL}[1h])) / clamp_min(sum(increase(openclaw_reconcile_total{SEL}[1h])), 1)"#,
            ),
            "",
            "percentunit",
        ),
        stat(
            4,
            "Apply failures (1h)",
            grid(4, 6, 18, 1),
            &f("sum(increase(openclaw_resource_creation_failures_total{SEL}[1h])) or vector(0)"),
            "",
            "none",
        ),
        row(101, "Reconciliation", 5, None),
        timeseries(
            5,
            "Reconciles by instance and result",
            grid(8, 12, 0, 6),
            vec![target(
                "A",
                &f(
                    "sum by (namespace, instance, result) (rate(openclaw_reconcile_total{SEL}[$__rate_interval]))",
                ),
                "{{namespace}}/{{instance}} {{result}}",
            )],
            "ops",
        ),
        timeseries(
            6,
            "Reconcile duration",
            grid(8, 12, 12, 6),
            vec![
                target(
                    "A",
                    &f(
                        "histogram_quantile(0.5, sum by (le) (rate(openclaw_reconcile_duration_seconds_bucket{SEL}[$__rate_interval])))",
                    ),
                    "p50",
                ),
                target(
                    "B",
                    &f(
                        "histogram_quantile(0.95, sum by (le) (rate(openclaw_reconcile_duration_seconds_bucket{SEL}[$__rate_interval])))",
                    ),
                    "p95",
                ),
                target(
                    "C",
                    &f(
                        "histogram_quantile(0.99, sum by (le) (rate(openclaw_reconcile_duration_seconds_bucket{SEL}[$__rate_interval])))",
                    ),
                    "p99",
                ),
            ],
            "s",
        ),
        row(102, "Instances", 14, None),
        json!({
            "id": 7, "title": "Instances", "type": "table", "gridPos": grid(8, 24, 0, 15),
            "datasource": datasource(),
            "targets": [
                json!({"expr": f("max by (namespace, instance, version, image) (openclaw_instance_info{SEL})"),
                       "legendFormat": "", "refId": "A", "instant": true, "format": "table"}),
                json!({"expr": f("max by (namespace, instance, phase) (openclaw_instance_phase{SEL} == 1)"),
                       "legendFormat": "", "refId": "B", "instant": true, "format": "table"}),
                json!({"expr": f("max by (namespace, instance) (openclaw_instance_ready{SEL})"),
                       "legendFormat": "", "refId": "C", "instant": true, "format": "table"}),
            ],
            "transformations": [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {
                    "excludeByName": {"Time": true, "Value #A": true, "Value #B": true},
                    "renameByName": {"Value #C": "ready"}}},
            ],
            "options": {"showHeader": true, "sortBy": [{"desc": false, "displayName": "instance"}]},
        }),
        row(
            103,
            "Work queue",
            23,
            Some(vec![
                timeseries(
                    8,
                    "Queue depth and active reconciles",
                    grid(8, 12, 0, 24),
                    vec![
                        target("A", &f("max(workqueue_depth{QUEUE})"), "waiting"),
                        target(
                            "B",
                            &f(
                                r#"max(controller_runtime_active_workers{JOB,controller="openclawinstance"})"#,
                            ),
                            "running",
                        ),
                    ],
                    "none",
                ),
                timeseries(
                    9,
                    "Queue wait (p99) and retries",
                    grid(8, 12, 12, 24),
                    vec![
                        target(
                            "A",
                            &f(
                                "histogram_quantile(0.99, sum by (le) (rate(workqueue_queue_duration_seconds_bucket{QUEUE}[$__rate_interval])))",
                            ),
                            "wait p99",
                        ),
                        target(
                            "B",
                            &f("sum(rate(workqueue_retries_total{QUEUE}[$__rate_interval]))"),
                            "retries/s",
                        ),
                    ],
                    "s",
                ),
            ]),
        ),
        row(
            104,
            "Kubernetes API",
            24,
            Some(vec![
                timeseries(
                    10,
                    "Requests by code",
                    grid(8, 12, 0, 25),
                    vec![target(
                        "A",
                        &f(
                            "sum by (code) (rate(rest_client_requests_total{JOB}[$__rate_interval]))",
                        ),
                        "{{code}}",
                    )],
                    "reqps",
                ),
                timeseries(
                    11,
                    "Requests by method",
                    grid(8, 12, 12, 25),
                    vec![target(
                        "A",
                        &f(
                            "sum by (method) (rate(rest_client_requests_total{JOB}[$__rate_interval]))",
                        ),
                        "{{method}}",
                    )],
                    "reqps",
                ),
            ]),
        ),
        row(
            105,
            "Operator process",
            25,
            Some(vec![
                timeseries(
                    12,
                    "CPU",
                    grid(8, 8, 0, 26),
                    vec![target(
                        "A",
                        &f("rate(process_cpu_seconds_total{JOB}[$__rate_interval])"),
                        "{{pod}}",
                    )],
                    "percentunit",
                ),
                timeseries(
                    13,
                    "Resident memory",
                    grid(8, 8, 8, 26),
                    vec![target(
                        "A",
                        &f("process_resident_memory_bytes{JOB}"),
                        "{{pod}}",
                    )],
                    "bytes",
                ),
                timeseries(
                    14,
                    "Leader",
                    grid(8, 8, 16, 26),
                    vec![target(
                        "A",
                        &f("leader_election_master_status{JOB}"),
                        "{{pod}}",
                    )],
                    "none",
                ),
            ]),
        ),
    ];
    dashboard(
        OPERATOR_DASHBOARD_UID,
        "OpenClaw Operator",
        &["openclaw", "operator"],
        true,
        panels,
    )
}

/// One instance: its phase and readiness, what the operator does for it.
fn instance_dashboard() -> Value {
    const SEL: &str = r#"job=~"$job",namespace="$namespace",instance="$instance""#;
    let f = |s: &str| s.replace("SEL", SEL);
    let panels = vec![
        row(200, "Health", 0, None),
        stat(
            1,
            "Phase",
            grid(4, 6, 0, 1),
            &f("max by (phase) (openclaw_instance_phase{SEL} == 1)"),
            "{{phase}}",
            "none",
        ),
        stat(
            2,
            "Ready",
            grid(4, 6, 6, 1),
            &f("max(openclaw_instance_ready{SEL})"),
            "",
            "bool_yes_no",
        ),
        stat(
            3,
            "Version",
            grid(4, 6, 12, 1),
            &f("max by (version) (openclaw_instance_info{SEL})"),
            "{{version}}",
            "none",
        ),
        stat(
            4,
            "Apply failures (1h)",
            grid(4, 6, 18, 1),
            &f("sum(increase(openclaw_resource_creation_failures_total{SEL}[1h])) or vector(0)"),
            "",
            "none",
        ),
        row(201, "Phase", 5, None),
        timeseries(
            5,
            "Phase over time",
            grid(8, 24, 0, 6),
            vec![target(
                "A",
                &f("max by (phase) (openclaw_instance_phase{SEL})"),
                "{{phase}}",
            )],
            "none",
        ),
        row(202, "Reconciliation", 14, None),
        timeseries(
            6,
            "Reconciles by result",
            grid(8, 8, 0, 15),
            vec![target(
                "A",
                &f("sum by (result) (rate(openclaw_reconcile_total{SEL}[$__rate_interval]))"),
                "{{result}}",
            )],
            "ops",
        ),
        timeseries(
            7,
            "Reconcile duration",
            grid(8, 8, 8, 15),
            vec![
                target(
                    "A",
                    &f(
                        "histogram_quantile(0.5, sum by (le) (rate(openclaw_reconcile_duration_seconds_bucket{SEL}[$__rate_interval])))",
                    ),
                    "p50",
                ),
                target(
                    "B",
                    &f(
                        "histogram_quantile(0.99, sum by (le) (rate(openclaw_reconcile_duration_seconds_bucket{SEL}[$__rate_interval])))",
                    ),
                    "p99",
                ),
            ],
            "s",
        ),
        timeseries(
            8,
            "Apply failures by kind",
            grid(8, 8, 16, 15),
            vec![target(
                "A",
                &f(
                    "sum by (resource) (increase(openclaw_resource_creation_failures_total{SEL}[$__rate_interval]))",
                ),
                "{{resource}}",
            )],
            "none",
        ),
    ];
    dashboard(
        INSTANCE_DASHBOARD_UID,
        "OpenClaw Instance",
        &["openclaw", "instance"],
        false,
        panels,
    )
}

/// Every `targets[].expr` of both dashboards, in panel order (for checks).
pub fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("expr", Value::String(s)) => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&operator_dashboard(), &mut out);
    walk(&instance_dashboard(), &mut out);
    out
}

fn config_map(
    m: &Model,
    name: String,
    key: &str,
    dashboard: &Value,
) -> Result<ConfigMap, RenderError> {
    let spec = m.metrics().and_then(|s| s.grafana_dashboard.as_ref());
    let folder = spec
        .and_then(|s| s.folder.as_deref())
        .filter(|f| !f.is_empty())
        .unwrap_or(DEFAULT_FOLDER);
    let mut metadata = meta::object_meta(m, name);
    metadata.labels = Some(object_labels(
        m,
        &[("grafana_dashboard", "1")],
        spec.and_then(|s| s.labels.as_ref()),
    ));
    metadata.annotations = Some(BTreeMap::from([(
        "grafana_folder".to_string(),
        folder.to_string(),
    )]));
    // Compact, keys sorted (serde_json's map): byte-stable across renders.
    let json = serde_json::to_string(dashboard)
        .map_err(|e| RenderError::InvalidConfig(format!("dashboard {key}: {e}")))?;
    Ok(ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(key.to_string(), json)])),
        ..Default::default()
    })
}

/// The two dashboard ConfigMaps (`status.managedResources.grafanaDashboard{Operator,Instance}`).
pub fn render(m: &Model) -> Result<Vec<Desired>, RenderError> {
    let operator = config_map(
        m,
        format!("{}-dashboard-operator", m.name),
        OPERATOR_DASHBOARD_KEY,
        &operator_dashboard(),
    )?;
    let instance = config_map(
        m,
        format!("{}-dashboard-instance", m.name),
        INSTANCE_DASHBOARD_KEY,
        &instance_dashboard(),
    )?;
    Ok(vec![
        Desired::apply(
            Object::ConfigMap(operator),
            Phase::Monitoring,
            Some(StatusSlot::DashboardOperator),
        ),
        Desired::apply(
            Object::ConfigMap(instance),
            Phase::Monitoring,
            Some(StatusSlot::DashboardInstance),
        ),
    ])
}
