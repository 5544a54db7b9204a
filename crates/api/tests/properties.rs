//! Property tests: arbitrary specs, shaped by the CRD schema itself, never make the admission
//! checks or the cluster-defaults merge panic, and the merge keeps what the instance chose.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::sync::LazyLock;

use kube::CustomResourceExt;
use openclaw_api::clusterdefaults::{OpenClawClusterDefaults, OpenClawClusterDefaultsSpec};
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::validation::{validate, validate_spec};
use openclaw_api::{OpenClawInstance, OpenClawInstanceSpec};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

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

fn string() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_string())),
        1 => "[ -~]{0,300}".prop_map(Value::String),
    ]
    .boxed()
}

fn any_json(depth: u32) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        string(),
    ];
    leaf.prop_recursive(depth, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A value that follows `schema` (roughly: right types, any values) down to `depth` levels.
fn from_schema(schema: &Value, depth: u32) -> BoxedStrategy<Value> {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
    {
        return proptest::collection::btree_map("[a-zA-Z$]{1,10}", any_json(2), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed();
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return prop_oneof![any::<i32>().prop_map(|n| json!(n)), string()].boxed();
    }
    if let Some(values) = schema
        .get("enum")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
    {
        return proptest::sample::select(values.clone()).boxed();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("boolean") => any::<bool>().prop_map(Value::Bool).boxed(),
        Some("integer") => prop_oneof![
            proptest::sample::select(vec![0i64, 1, -1, 1000, 65535, 65536]).prop_map(|n| json!(n)),
            any::<i32>().prop_map(|n| json!(n)),
        ]
        .boxed(),
        Some("number") => any::<f64>().prop_map(|n| json!(n)).boxed(),
        Some("string") => string(),
        Some("array") if depth > 0 => {
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            proptest::collection::vec(from_schema(&item, depth - 1), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Some("object") if depth > 0 => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
                    .iter()
                    .map(|(name, sub)| {
                        let name = name.clone();
                        proptest::option::weighted(0.3, from_schema(sub, depth - 1))
                            .prop_map(move |v| v.map(|v| (name.clone(), v)))
                            .boxed()
                    })
                    .collect();
                fields
                    .prop_map(|entries| Value::Object(entries.into_iter().flatten().collect()))
                    .boxed()
            } else if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object())
            {
                let key = proptest::sample::select(STRINGS).prop_map(str::to_string);
                proptest::collection::btree_map(key, from_schema(extra, depth - 1), 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect()))
                    .boxed()
            } else {
                Just(Value::Object(Map::new())).boxed()
            }
        }
        _ => Just(Value::Null).boxed(),
    }
}

fn spec_schema<K: CustomResourceExt>() -> Value {
    let crd = serde_json::to_value(K::crd()).expect("CRD serializes");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

static INSTANCE_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawInstance>);
static DEFAULTS_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawClusterDefaults>);

fn instance_spec() -> impl Strategy<Value = OpenClawInstanceSpec> {
    from_schema(&INSTANCE_SCHEMA, 7)
        .prop_filter_map("spec deserializes", |v| serde_json::from_value(v).ok())
}

fn defaults_spec() -> impl Strategy<Value = OpenClawClusterDefaultsSpec> {
    from_schema(&DEFAULTS_SCHEMA, 7)
        .prop_filter_map("spec deserializes", |v| serde_json::from_value(v).ok())
}

fn unique_names(env: Option<&[k8s_openapi::api::core::v1::EnvVar]>) -> bool {
    let names: Vec<_> = env.unwrap_or_default().iter().map(|e| &e.name).collect();
    names
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == names.len()
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
        prop_assume!(unique_names(spec.env.as_deref()) && unique_names(d.env.as_deref()));
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
