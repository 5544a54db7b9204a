//! The monitoring objects (design §1.13): snapshots of the ServiceMonitor, the PrometheusRule and
//! the dashboard ConfigMaps (with the dashboards pretty-printed for review), and checks that the
//! dashboards are valid and use only exported metrics.
//!
//! `hack/test-extra.d/25-promtool.sh` runs `promtool check rules` on the rule and on every
//! dashboard expression.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use openclaw_render::features::monitoring::{
    CLUSTER_METRICS, INSTANCE_DASHBOARD_KEY, INSTANCE_DASHBOARD_UID, OPERATOR_DASHBOARD_KEY,
    OPERATOR_DASHBOARD_UID, OPERATOR_METRICS, dashboard_exprs,
};
use openclaw_render::{CustomKind, Object, Phase, Rendered, StatusSlot, WriteMode};
use serde_json::{Value, json};

fn everything() -> Value {
    json!({"observability": {"metrics": {
        "serviceMonitor": {"enabled": true, "interval": "15s",
            "labels": {"release": "prometheus", "app.kubernetes.io/managed-by": "someone-else"}},
        "prometheusRule": {"enabled": true, "labels": {"role": "alert-rules"},
            "runbookBaseURL": "https://runbooks.example.com/openclaw/"},
        "grafanaDashboard": {"enabled": true, "folder": "Agents",
            "labels": {"grafana_dashboard": "openclaw", "team": "platform"}},
    }}})
}

/// The monitoring objects as YAML, with the dashboards' JSON pretty-printed.
fn monitoring_yaml(rendered: &Rendered) -> String {
    let mut out = String::new();
    for d in rendered
        .objects
        .iter()
        .filter(|d| d.phase == Phase::Monitoring)
    {
        let mut v = d.object.to_value().unwrap();
        if let Some(data) = v["data"].as_object_mut() {
            for value in data.values_mut() {
                let parsed: Value = serde_json::from_str(value.as_str().unwrap()).unwrap();
                *value = json!(serde_json::to_string_pretty(&parsed).unwrap());
            }
        }
        out.push_str(&format!(
            "# mode: {:?}, slot: {:?}\n---\n",
            d.mode,
            d.slot.map(|s| format!("{s:?}"))
        ));
        out.push_str(&serde_saphyr::to_string(&v).unwrap());
    }
    out
}

fn monitoring_objects(patch: Value) -> Rendered {
    render_ok(&minimal_with(patch), &observed())
}

#[test]
fn monitoring_everything() {
    let rendered = monitoring_objects(everything());
    insta::assert_snapshot!("monitoring_everything", monitoring_yaml(&rendered));
}

#[test]
fn monitoring_defaults() {
    // Each flag alone, every other field at its default; a dotted name is regex-escaped.
    let mut v = minimal();
    v["metadata"]["name"] = json!("agent.v2");
    merge(
        &mut v["spec"],
        &json!({"observability": {"metrics": {
            "serviceMonitor": {"enabled": true},
            "prometheusRule": {"enabled": true},
        }},
        "storage": {"persistence": {"existingClaim": "shared.data"}}}),
    );
    let rendered = render_ok(&instance(v), &observed());
    insta::assert_snapshot!("monitoring_defaults", monitoring_yaml(&rendered));
}

#[test]
fn default_instance_renders_no_monitoring_object() {
    let rendered = render_ok(&instance(minimal()), &observed());
    assert!(
        rendered
            .objects
            .iter()
            .all(|d| d.phase != Phase::Monitoring)
    );
    // Flags without `enabled: true` render nothing either.
    let rendered = monitoring_objects(json!({"observability": {"metrics": {
        "serviceMonitor": {"interval": "10s"}, "prometheusRule": {"enabled": false},
        "grafanaDashboard": {"folder": "x"}}}}));
    assert!(
        rendered
            .objects
            .iter()
            .all(|d| d.phase != Phase::Monitoring)
    );
}

#[test]
fn service_monitor_needs_metrics() {
    let mut patch = everything();
    patch["observability"]["metrics"]["enabled"] = json!(false);
    let rendered = monitoring_objects(patch);
    let kinds: Vec<_> = rendered
        .iter()
        .filter(|o| matches!(o, Object::Custom(_)))
        .map(|o| o.kind())
        .collect();
    assert_eq!(kinds, ["PrometheusRule"]);
}

#[test]
fn modes_slots_and_labels() {
    let rendered = monitoring_objects(everything());
    let got: Vec<_> = rendered
        .objects
        .iter()
        .filter(|d| d.phase == Phase::Monitoring)
        .map(|d| (d.object.kind(), d.object.name().to_string(), d.mode, d.slot))
        .collect();
    assert_eq!(
        got,
        [
            ("ServiceMonitor", "demo".into(), WriteMode::Apply, None),
            (
                "PrometheusRule",
                "demo-alerts".into(),
                WriteMode::Apply,
                Some(StatusSlot::PrometheusRule)
            ),
            (
                "ConfigMap",
                "demo-dashboard-operator".into(),
                WriteMode::Apply,
                Some(StatusSlot::DashboardOperator)
            ),
            (
                "ConfigMap",
                "demo-dashboard-instance".into(),
                WriteMode::Apply,
                Some(StatusSlot::DashboardInstance)
            ),
        ]
    );
    for d in rendered
        .objects
        .iter()
        .filter(|d| d.phase == Phase::Monitoring)
    {
        let labels = d.object.metadata().labels.clone().unwrap();
        assert_eq!(labels["app.kubernetes.io/component"], "monitoring");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "openclaw-operator");
        assert_eq!(labels["app.kubernetes.io/instance"], "demo");
        if let Object::Custom(c) = &d.object {
            assert!(matches!(
                c.kind,
                CustomKind::ServiceMonitor | CustomKind::PrometheusRule
            ));
        }
    }
}

fn allowed_metrics() -> BTreeSet<String> {
    OPERATOR_METRICS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The metric names a PromQL expression selects: identifiers outside label matchers, strings,
/// range/`by`/`without`/`on`/`ignoring`/`group_*` lists, that are not functions or keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        // Aggregations, which may be followed by `by (...)` before their `(`.
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let (mut i, mut braces, mut brackets) = (0, 0, 0);
    let mut skip_list = false; // inside `by (...)` and friends
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            '{' => braces += 1,
            '}' => braces -= 1,
            '[' => brackets += 1,
            ']' => brackets -= 1,
            ')' if skip_list => skip_list = false,
            '$' => {
                while i + 1 < chars.len() && (chars[i + 1].is_alphanumeric() || chars[i + 1] == '_')
                {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric()
                        || chars[i + 1] == '.'
                        || ((chars[i + 1] == '-' || chars[i + 1] == '+')
                            && matches!(chars[i], 'e' | 'E')))
                {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric()
                        || chars[i + 1] == '_'
                        || chars[i + 1] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..=i].iter().collect();
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                    if matches!(
                        word.as_str(),
                        "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                    ) && next == Some(&'(')
                    {
                        skip_list = true;
                    }
                } else if braces == 0 && brackets == 0 && !skip_list && next != Some(&'(') {
                    names.insert(word);
                }
            }
            _ => {}
        }
        i += 1;
    }
    names
}

#[test]
fn tokenizer() {
    assert_eq!(
        metric_names(
            r#"sum by (le, instance) (rate(a_total{x="b(c)",y=~"$d"}[5m])) / clamp_min(b, 1e-9) and on (pod) c offset 5m > 0.8"#
        ),
        ["a_total", "b", "c"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

fn dashboards() -> Vec<Value> {
    let rendered = monitoring_objects(everything());
    let mut out = Vec::new();
    for o in rendered.iter() {
        if let Object::ConfigMap(cm) = o
            && let Some(data) = &cm.data
        {
            for key in [OPERATOR_DASHBOARD_KEY, INSTANCE_DASHBOARD_KEY] {
                if let Some(text) = data.get(key) {
                    out.push(serde_json::from_str(text).expect("dashboard JSON"));
                }
            }
        }
    }
    assert_eq!(out.len(), 2);
    out
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(children) = p["panels"].as_array() {
            out.extend(children);
        }
    }
    out
}

#[test]
fn dashboards_are_valid() {
    let ds = dashboards();
    let uids: Vec<_> = ds.iter().map(|d| d["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, [OPERATOR_DASHBOARD_UID, INSTANCE_DASHBOARD_UID]);
    for d in &ds {
        assert!(d["title"].is_string());
        assert_eq!(d["schemaVersion"], 39);
        assert!(d["templating"]["list"].is_array());
        let mut ids = BTreeSet::new();
        for p in panels(d) {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id in {p}");
            let g = &p["gridPos"];
            let (w, x) = (g["w"].as_u64().unwrap(), g["x"].as_u64().unwrap());
            assert!(w >= 1 && x + w <= 24, "gridPos out of range: {p}");
            assert!(g["h"].as_u64().unwrap() >= 1);
            for t in p["targets"].as_array().into_iter().flatten() {
                assert!(t["expr"].is_string() && t["refId"].is_string());
                assert!(t["legendFormat"].is_string());
            }
        }
    }
}

#[test]
fn dashboards_use_only_exported_metrics() {
    let allowed = allowed_metrics();
    let mut exprs = dashboard_exprs();
    // Variable queries: `label_values(<selector>, <label>)`.
    for d in dashboards() {
        for v in d["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["definition"].as_str() {
                let inner = q.strip_prefix("label_values(").unwrap();
                exprs.push(inner.rsplit_once(',').unwrap().0.to_string());
            }
        }
    }
    assert!(exprs.len() > 20);
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for n in names {
            assert!(allowed.contains(&n), "{n} (in {expr}) is not exported");
        }
    }
}

#[test]
fn alerts_use_only_known_metrics() {
    let mut allowed = allowed_metrics();
    allowed.extend(CLUSTER_METRICS.iter().map(|s| s.to_string()));
    let rendered = monitoring_objects(everything());
    let rule = rendered
        .iter()
        .find_map(|o| match o {
            Object::Custom(c) if c.kind == CustomKind::PrometheusRule => Some(c.spec.clone()),
            _ => None,
        })
        .unwrap();
    let rules = rule["groups"][0]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 8);
    for r in rules {
        let expr = r["expr"].as_str().unwrap();
        for n in metric_names(expr) {
            assert!(allowed.contains(&n), "{n} (in {expr}) is not known");
        }
        let alert = r["alert"].as_str().unwrap();
        assert_eq!(
            r["annotations"]["runbook_url"],
            format!("https://runbooks.example.com/openclaw/{alert}")
        );
    }
}

#[test]
fn allow_list_is_sorted_and_unique() {
    let lines: Vec<_> = OPERATOR_METRICS.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(lines, sorted);
}

/// Without a base URL of the user's (unset, empty, or the CRD default the API server stores, which
/// is the Go operator's site), every alert links to this repository's runbook for it, and that
/// runbook exists.
#[test]
fn every_alert_links_to_a_runbook_of_this_repository() {
    use openclaw_render::features::monitoring::{DEFAULT_RUNBOOK_BASE_URL, GO_RUNBOOK_BASE_URL};
    let runbooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/runbooks");
    for base in [None, Some(""), Some(GO_RUNBOOK_BASE_URL)] {
        let mut rule = json!({"enabled": true});
        if let Some(b) = base {
            rule["runbookBaseURL"] = json!(b);
        }
        let rendered = monitoring_objects(json!({
            "observability": {"metrics": {"prometheusRule": rule}},
            "backup": {"schedule": "0 3 * * *"},
        }));
        let spec = rendered
            .iter()
            .find_map(|o| match o {
                Object::Custom(c) if c.kind == CustomKind::PrometheusRule => Some(c.spec.clone()),
                _ => None,
            })
            .unwrap();
        let rules = spec["groups"][0]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 9, "with the backup alert");
        for r in rules {
            let alert = r["alert"].as_str().unwrap();
            assert_eq!(
                r["annotations"]["runbook_url"],
                format!("{DEFAULT_RUNBOOK_BASE_URL}/{alert}.md"),
                "{base:?}"
            );
            let page = runbooks.join(format!("{alert}.md"));
            let text = std::fs::read_to_string(&page)
                .unwrap_or_else(|e| panic!("{}: {e}", page.display()));
            assert!(
                text.starts_with(&format!("# {alert}\n")),
                "{}",
                page.display()
            );
        }
    }
}
