//! The offline commands.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::Path;

use openclaw_operator::cli;

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn committed_crds_match_the_types() {
    for (name, body) in cli::crd_files().expect("CRDs render") {
        let path = repo().join("config/crd").join(&name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == body,
            "{} differs from `openclaw-operator crd` output; run `cargo run -p openclaw-operator -- crd --dir config/crd`",
            path.display()
        );
    }
}

#[test]
fn committed_api_reference_matches_the_types() {
    use openclaw_operator::apidoc;
    let path = repo().join(apidoc::PATH);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == apidoc::reference(),
        "{} differs from the types; run `cargo run -q -p openclaw-operator -- api-reference > {}`",
        path.display(),
        apidoc::PATH
    );
}

#[test]
fn crd_stream_holds_three_crds() {
    let yaml = cli::crds_yaml().expect("CRDs render");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).expect("valid YAML");
    let kinds: Vec<_> = docs
        .iter()
        .map(|d| {
            d["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "OpenClawClusterDefaults",
            "OpenClawInstance",
            "OpenClawSelfConfig"
        ]
    );
}

#[test]
fn validate_reports_errors_warnings_and_unknown_fields() {
    let yaml = r#"
apiVersion: v1
kind: Secret
metadata: {name: ignored}
---
apiVersion: openclaw.rocks/v1alpha1
kind: OpenClawInstance
metadata: {name: bad}
spec:
  security:
    podSecurityContext: {runAsUser: 0}
  skils: [typo]
---
apiVersion: openclaw.rocks/v1alpha1
kind: OpenClawClusterDefaults
metadata: {name: not-cluster}
spec: {}
---
apiVersion: openclaw.rocks/v1alpha1
kind: OpenClawSelfConfig
metadata: {name: req}
spec: {instanceRef: demo, addSkills: [weather]}
"#;
    let reports = cli::validate_yaml("test.yaml", yaml).expect("parses");
    assert_eq!(reports.len(), 3);
    let (text, failed) = cli::render_reports(&reports);
    assert!(failed);
    assert!(
        text.contains("OpenClawInstance/bad: invalid (1 errors"),
        "{text}"
    );
    assert!(text.contains("UID 0"), "{text}");
    assert!(text.contains("unknown field spec.skils"), "{text}");
    assert!(
        text.contains("OpenClawClusterDefaults/not-cluster: invalid"),
        "{text}"
    );
    assert!(text.contains("OpenClawSelfConfig/req: valid"), "{text}");
}

#[test]
fn validate_rejects_malformed_input_with_a_message() {
    let err = cli::validate_yaml("x.yaml", "a: [b").expect_err("bad YAML");
    assert!(
        err.to_string().starts_with("x.yaml: not valid YAML"),
        "{err}"
    );
    let err = cli::validate_yaml(
        "x.yaml",
        "apiVersion: openclaw.rocks/v1alpha1\nkind: OpenClawInstance\nmetadata: {name: a}\nspec: {skills: 3}\n",
    )
    .expect_err("wrong type");
    assert!(err.to_string().contains("OpenClawInstance/a"), "{err}");
}

#[test]
fn binary_exit_codes() {
    let bin = env!("CARGO_BIN_EXE_openclaw-operator");
    let dir = std::env::temp_dir().join(format!("occli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.yaml");
    let bad = dir.join("bad.yaml");
    std::fs::write(&good, "apiVersion: openclaw.rocks/v1alpha1\nkind: OpenClawInstance\nmetadata: {name: a}\nspec: {image: {tag: '1.0'}}\n").expect("write");
    std::fs::write(&bad, "apiVersion: openclaw.rocks/v1alpha1\nkind: OpenClawInstance\nmetadata: {name: a}\nspec: {config: {format: json5, raw: {}}}\n").expect("write");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .output()
            .expect("binary runs")
    };
    assert_eq!(
        run(&["validate", "-f", good.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["validate", "-f", bad.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&["validate", "-f", "/nonexistent.yaml"]).status.code(),
        Some(2)
    );
    let version = run(&["version"]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("openclaw-operator "));
    let crd = run(&["crd"]);
    assert_eq!(crd.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&crd.stdout).contains("openclawinstances.openclaw.rocks"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn render_prints_the_core_stack() {
    let sample = repo().join("config/samples/openclawinstance-minimal.yaml");
    let text = std::fs::read_to_string(&sample).expect("sample");
    let yaml = cli::render_yaml("sample", &text, None).expect("renders");
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).expect("valid YAML");
    let kinds: Vec<String> = docs
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    for want in [
        "ServiceAccount/demo",
        "NetworkPolicy/demo",
        "Secret/demo-gateway-token",
        "ConfigMap/demo-config",
        "PersistentVolumeClaim/demo-data",
        "StatefulSet/demo",
        "Service/demo",
    ] {
        assert!(
            kinds.iter().any(|k| k == want),
            "{want} missing from {kinds:?}"
        );
    }
    let defaults = "apiVersion: openclaw.rocks/v1alpha1\nkind: OpenClawClusterDefaults\nmetadata: {name: cluster}\nspec: {registry: mirror.example}\n";
    let yaml = cli::render_yaml("sample", &text, Some(defaults)).expect("renders");
    assert!(
        yaml.contains("mirror.example/"),
        "registry override applied"
    );
}
