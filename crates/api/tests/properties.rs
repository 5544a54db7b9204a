//! Property tests: arbitrary specs, shaped by the CRD schema itself, never make the admission
//! checks or the cluster-defaults merge panic, and the merge keeps what the instance chose.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::sync::LazyLock;

use openclaw_api::clusterdefaults::{OpenClawClusterDefaults, OpenClawClusterDefaultsSpec};
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::validation::{validate, validate_spec};
use openclaw_api::{OpenClawInstance, OpenClawInstanceSpec};
use proptest::prelude::*;
use serde_json::Value;
use testkit::arbitrary::{from_schema, spec_schema, unique_names};

/// Strings that exercise the checks: empty, defaults, quantities, durations, path tricks,
/// prefixes, non-ASCII and long values.
const STRINGS: &[&str] = &[
    "",
    "latest",
    "json5",
    "merge",
    "overwrite",
    "0",
    "-1",
    "1Gi",
    "500m",
    "1e3",
    "1 Gi",
    "24h",
    "1h30m",
    "0.5h",
    "daily",
    "../x",
    "/abs",
    "a/b/",
    "openclaw.json",
    ".hidden",
    "a\\b",
    "npm:",
    "pack:",
    "npm:@scope/pkg",
    "pack:o/r/p@v",
    "init-config",
    "gateway",
    "a..b",
    "Ünïcode ✓",
    "sha256:abc",
    "x",
];

static INSTANCE_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawInstance>);
static DEFAULTS_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawClusterDefaults>);

fn instance_spec() -> impl Strategy<Value = OpenClawInstanceSpec> {
    from_schema(&INSTANCE_SCHEMA, 7, STRINGS)
        .prop_filter_map("spec deserializes", |v| serde_json::from_value(v).ok())
}

fn defaults_spec() -> impl Strategy<Value = OpenClawClusterDefaultsSpec> {
    from_schema(&DEFAULTS_SCHEMA, 7, STRINGS)
        .prop_filter_map("spec deserializes", |v| serde_json::from_value(v).ok())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn validate_never_panics(spec in instance_spec(), old in instance_spec()) {
        let new = OpenClawInstance::new("t", spec);
        let old = OpenClawInstance::new("t", old);
        let f = validate(&new, Some(&old));
        // Every finding says something.
        prop_assert!(f.errors.iter().chain(&f.warnings).all(|m| !m.is_empty()));
    }

    #[test]
    fn spec_round_trips(spec in instance_spec()) {
        let value = serde_json::to_value(&spec).expect("serializes");
        let again: OpenClawInstanceSpec = serde_json::from_value(value).expect("re-parses");
        prop_assert_eq!(again, spec);
    }

    #[test]
    fn defaults_merge_never_panics_and_instance_wins(spec in instance_spec(), d in defaults_spec()) {
        let merged = apply_cluster_defaults(&spec, Some(&d));
        let _ = validate_spec(&merged);
        // `env` is a list map keyed by name: the API server never stores duplicate names.
        let names = |e: &Option<Vec<k8s_openapi::api::core::v1::EnvVar>>| {
            unique_names(e.iter().flatten().map(|v| v.name.as_str()))
        };
        prop_assume!(names(&spec.env) && names(&d.env));
        // The instance's own registry, pull secrets and env values survive the merge.
        if let Some(r) = spec.registry.as_ref().filter(|r| !r.is_empty()) {
            prop_assert_eq!(merged.registry.as_ref(), Some(r));
        }
        if let Some(ps) = spec.image.as_ref().and_then(|i| i.pull_secrets.as_ref()).filter(|p| !p.is_empty()) {
            prop_assert_eq!(merged.image.as_ref().and_then(|i| i.pull_secrets.as_ref()), Some(ps));
        }
        for e in spec.env.iter().flatten() {
            prop_assert!(merged.env.iter().flatten().any(|m| m == e));
        }
        if let Some(digest) = spec.image.as_ref().and_then(|i| i.digest.as_ref()).filter(|d| !d.is_empty()) {
            prop_assert_eq!(merged.image.as_ref().and_then(|i| i.digest.as_ref()), Some(digest));
        }
        // Merging twice gives the same result as merging once.
        prop_assert_eq!(apply_cluster_defaults(&merged, Some(&d)), merged);
    }
}
