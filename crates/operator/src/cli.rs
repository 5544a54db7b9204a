//! Offline commands: print the CRDs, validate manifests.

use std::fmt::Write as _;

use openclaw_api::clusterdefaults::{CLUSTER_DEFAULTS_NAME, OpenClawClusterDefaults};
use openclaw_api::validation::{Findings, validate, validate_self_config};
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig, crd};
use serde_json::Value;

/// Errors of the offline commands.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The YAML could not be parsed.
    #[error("{0}: not valid YAML: {1}")]
    Yaml(String, String),
    /// A document could not be read as its kind.
    #[error("{0}: {1}")]
    Document(String, String),
    /// YAML output failed.
    #[error("cannot print YAML: {0}")]
    Print(String),
}

/// The three CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, CliError> {
    let mut out = String::new();
    for c in crd::all() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&c).map_err(|e| CliError::Print(e.to_string()))?);
    }
    Ok(out)
}

/// The report of one validated document.
#[derive(Debug, Default)]
pub struct Report {
    /// `Kind/name` of the document.
    pub object: String,
    /// Its findings.
    pub findings: Findings,
}

/// Validate every openclaw.rocks document of a YAML stream (other kinds are skipped).
/// `source` names the input in messages.
pub fn validate_yaml(source: &str, yaml: &str) -> Result<Vec<Report>, CliError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)
        .map_err(|e| CliError::Yaml(source.to_string(), e.to_string()))?;
    let mut reports = Vec::new();
    for doc in docs.into_iter().filter(|d| !d.is_null()) {
        let api_version = doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !api_version.starts_with("openclaw.rocks/") {
            continue;
        }
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_string();
        let object = format!("{kind}/{name}");
        let bad =
            |e: serde_json::Error| CliError::Document(format!("{source}: {object}"), e.to_string());
        let mut findings = match kind.as_str() {
            "OpenClawInstance" => {
                let typed: OpenClawInstance = serde_json::from_value(doc.clone()).map_err(bad)?;
                let mut f = validate(&typed, None);
                unknown_fields(&mut f, &doc, &serde_json::to_value(&typed).map_err(bad)?);
                f
            }
            "OpenClawSelfConfig" => {
                let typed: OpenClawSelfConfig = serde_json::from_value(doc.clone()).map_err(bad)?;
                let mut f = validate_self_config(&typed);
                unknown_fields(&mut f, &doc, &serde_json::to_value(&typed).map_err(bad)?);
                f
            }
            "OpenClawClusterDefaults" => {
                let typed: OpenClawClusterDefaults =
                    serde_json::from_value(doc.clone()).map_err(bad)?;
                let mut f = Findings::default();
                if name != CLUSTER_DEFAULTS_NAME {
                    f.errors.push(format!(
                        "OpenClawClusterDefaults is a singleton: metadata.name must be {CLUSTER_DEFAULTS_NAME:?}"
                    ));
                }
                unknown_fields(&mut f, &doc, &serde_json::to_value(&typed).map_err(bad)?);
                f
            }
            other => {
                let mut f = Findings::default();
                f.errors
                    .push(format!("unknown kind {other:?} in {api_version}"));
                f
            }
        };
        if api_version != "openclaw.rocks/v1alpha1" {
            findings.errors.push(format!(
                "unsupported apiVersion {api_version:?} (served: openclaw.rocks/v1alpha1)"
            ));
        }
        reports.push(Report { object, findings });
    }
    Ok(reports)
}

/// Fields of the input spec that the API does not know (the API server would drop them).
fn unknown_fields(findings: &mut Findings, input: &Value, typed: &Value) {
    fn walk(path: &str, input: &Value, typed: &Value, out: &mut Vec<String>) {
        match (input, typed) {
            (Value::Object(i), Value::Object(t)) => {
                for (k, v) in i {
                    let p = format!("{path}.{k}");
                    match t.get(k) {
                        Some(tv) => walk(&p, v, tv, out),
                        None if !v.is_null() => out.push(p),
                        None => {}
                    }
                }
            }
            (Value::Array(i), Value::Array(t)) => {
                for (n, (iv, tv)) in i.iter().zip(t).enumerate() {
                    walk(&format!("{path}[{n}]"), iv, tv, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let (Some(i), Some(t)) = (input.get("spec"), typed.get("spec")) {
        walk("spec", i, t, &mut out);
    }
    for p in out {
        findings.warnings.push(format!(
            "unknown field {p}: not part of the API, the API server drops it"
        ));
    }
}

/// Human-readable text of reports; the second value is whether any error was found.
pub fn render_reports(reports: &[Report]) -> (String, bool) {
    let mut text = String::new();
    let mut failed = false;
    for r in reports {
        let f = &r.findings;
        let verdict = if f.errors.is_empty() {
            "valid"
        } else {
            "invalid"
        };
        failed |= !f.errors.is_empty();
        let _ = writeln!(
            text,
            "{}: {verdict} ({} errors, {} warnings)",
            r.object,
            f.errors.len(),
            f.warnings.len()
        );
        for e in &f.errors {
            let _ = writeln!(text, "  error: {e}");
        }
        for w in &f.warnings {
            let _ = writeln!(text, "  warning: {w}");
        }
    }
    if reports.is_empty() {
        text.push_str("no openclaw.rocks objects found\n");
    }
    (text, failed)
}
