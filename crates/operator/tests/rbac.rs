//! Packaging drift: the RBAC rules the Helm chart and kustomize ship must be exactly those of
//! `openclaw_operator::rbac`, and the chart's CRD templates exactly `config/crd`.
//!
//! Regenerate every file with
//! `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac`.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::{Path, PathBuf};

use openclaw_operator::rbac;

const REGENERATE: &str = "UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac";

fn repo() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .expect("repository root")
}

fn updating() -> bool {
    std::env::var("UPDATE_RBAC").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compares (or, with UPDATE_RBAC=1, writes) generated files; returns the paths that differ.
fn check(files: Vec<(String, String)>) -> Vec<String> {
    let root = repo();
    let mut stale = Vec::new();
    for (rel, body) in files {
        let path = root.join(&rel);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == body {
            continue;
        }
        if updating() {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, body).expect("write");
            eprintln!("wrote {rel}");
        } else {
            stale.push(rel);
        }
    }
    stale
}

#[test]
fn committed_rbac_files_match_rbac_rs() {
    let stale = check(rbac::generated_files().expect("RBAC renders"));
    assert!(
        stale.is_empty(),
        "{stale:?} differ from crates/operator/src/rbac.rs; run `{REGENERATE}`"
    );
}

/// The chart's CRD template for one `config/crd` file: the same CRD, wrapped in the
/// `crds.install` guard, with the chart's labels and, with `crds.keep`, Helm's keep policy.
fn chart_crd(file: &str, text: &str) -> String {
    let body = text
        .strip_prefix(openclaw_operator::cli::CRD_HEADER)
        .unwrap_or_else(|| panic!("{file} does not start with the CRD header"));
    let name_line = body
        .lines()
        .find(|l| l.starts_with("  name: "))
        .unwrap_or_else(|| panic!("{file}: no metadata.name"));
    let metadata = format!("metadata:\n{name_line}\n");
    assert!(
        body.contains(&metadata),
        "{file}: metadata is not just a name"
    );
    let wrapped = body.replacen(
        &metadata,
        &format!(
            "metadata:\n{name_line}\n  {{{{- if .Values.crds.keep }}}}\n  annotations:\n    helm.sh/resource-policy: keep\n  {{{{- end }}}}\n  labels:\n    {{{{- include \"openclaw-operator.labels\" . | nindent 4 }}}}\n"
        ),
        1,
    );
    format!(
        "{{{{- if .Values.crds.install }}}}\n# Generated from config/crd/{file} by `{REGENERATE}`; do not edit by hand.\n{wrapped}{{{{- end }}}}\n"
    )
}

#[test]
fn chart_crds_match_config_crd() {
    let root = repo();
    let mut files = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(root.join("config/crd"))
        .expect("config/crd")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in &names {
        let text = std::fs::read_to_string(root.join("config/crd").join(name)).expect("read");
        assert!(
            !text.contains("{{"),
            "{name} holds '{{{{', which Helm would evaluate"
        );
        files.push((
            format!("charts/openclaw-operator/templates/crds/{name}"),
            chart_crd(name, &text),
        ));
    }
    // No stale CRD templates either.
    if let Ok(dir) = std::fs::read_dir(root.join("charts/openclaw-operator/templates/crds")) {
        for e in dir {
            let n = e.expect("entry").file_name().to_string_lossy().into_owned();
            if !names.contains(&n) {
                panic!("charts/openclaw-operator/templates/crds/{n} has no source in config/crd");
            }
        }
    }
    let stale = check(files);
    assert!(
        stale.is_empty(),
        "{stale:?} differ from config/crd; run `{REGENERATE}`"
    );
}

#[test]
fn generated_yaml_parses_as_rbac_objects() {
    for (path, body) in rbac::kustomize_files().expect("renders") {
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&body).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!docs.is_empty(), "{path}");
        for d in docs {
            let kind = d["kind"].as_str().unwrap_or_default();
            assert!(matches!(kind, "Role" | "ClusterRole"), "{path}: {kind}");
            assert!(d["rules"].as_array().is_some_and(|r| !r.is_empty()));
        }
    }
}
