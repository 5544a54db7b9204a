//! Every sample manifest (the Go operator's, which must keep working, and ours) deserializes,
//! loses no field, round-trips and passes validation without errors.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::{Path, PathBuf};

use openclaw_api::clusterdefaults::OpenClawClusterDefaults;
use openclaw_api::validation::{validate, validate_self_config};
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The contract's samples live in `../shared/compat/samples` beside the repository (as in CI).
fn sample_files() -> Vec<PathBuf> {
    let mut dirs = vec![repo().join("config/samples")];
    let compat = std::env::var_os("OPENCLAW_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/compat"))
        .join("samples");
    if compat.is_dir() {
        dirs.push(compat);
    } else if std::env::var_os("CI").is_some() {
        panic!("contract samples not found at {}", compat.display());
    } else {
        eprintln!("skipping contract samples: {} not found", compat.display());
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).expect("readable samples dir"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(
    file: &Path,
    doc: &Value,
) -> T {
    let typed: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{}: does not deserialize: {e}", file.display()));
    let written = serde_json::to_value(&typed).expect("serializes");
    assert_eq!(
        written.get("spec"),
        doc.get("spec"),
        "{}: a field was lost or changed",
        file.display()
    );
    let again: T = serde_json::from_value(written).expect("re-parses");
    assert_eq!(
        again,
        typed,
        "{}: round trip changed the value",
        file.display()
    );
    typed
}

#[test]
fn samples_round_trip_and_validate() {
    let mut seen = 0;
    for file in sample_files() {
        let text = std::fs::read_to_string(&file).expect("readable sample");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: bad YAML: {e}", file.display()));
        for doc in docs.iter().filter(|d| !d.is_null()) {
            let findings = match doc["kind"].as_str() {
                Some("OpenClawInstance") => {
                    validate(&round_trip::<OpenClawInstance>(&file, doc), None)
                }
                Some("OpenClawSelfConfig") => {
                    validate_self_config(&round_trip::<OpenClawSelfConfig>(&file, doc))
                }
                Some("OpenClawClusterDefaults") => {
                    round_trip::<OpenClawClusterDefaults>(&file, doc);
                    Default::default()
                }
                _ => continue,
            };
            assert!(
                findings.errors.is_empty(),
                "{}: {:?}",
                file.display(),
                findings.errors
            );
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} sample objects found");
}
