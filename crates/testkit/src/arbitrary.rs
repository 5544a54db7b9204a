//! Property-test inputs shaped by a CRD's own schema: values of the right types (any values,
//! including ones the checks must reject) for every field the schema declares.

use kube::CustomResourceExt;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// The `spec` schema of a custom resource's CRD (first version).
pub fn spec_schema<K: CustomResourceExt>() -> Value {
    let crd = serde_json::to_value(K::crd()).unwrap_or_default();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

/// A string: mostly one of `strings` (values that reach interesting branches), sometimes any
/// printable ASCII.
pub fn string(strings: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(strings).prop_map(str::to_string),
        1 => "[ -~]{0,60}",
    ]
    .boxed()
}

/// Any JSON value, `depth` levels deep, with keys and strings from `strings`.
pub fn any_json(depth: u32, strings: &'static [&'static str]) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        string(strings).prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 16, 4, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map(string(strings), inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A value that follows `schema` (right types and enum values, arbitrary contents), down to
/// `depth` levels; each optional property is present about a third of the time.
pub fn from_schema(
    schema: &Value,
    depth: u32,
    strings: &'static [&'static str],
) -> BoxedStrategy<Value> {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && schema.get("properties").is_none()
    {
        return proptest::collection::btree_map(string(strings), any_json(2, strings), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed();
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return prop_oneof![
            any::<i32>().prop_map(|n| json!(n)),
            string(strings).prop_map(Value::String)
        ]
        .boxed();
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
        Some("string") => string(strings).prop_map(Value::String).boxed(),
        Some("array") if depth > 0 => {
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            proptest::collection::vec(from_schema(&item, depth - 1, strings), 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Some("object") if depth > 0 => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
                    .iter()
                    .map(|(name, sub)| {
                        let name = name.clone();
                        proptest::option::weighted(0.3, from_schema(sub, depth - 1, strings))
                            .prop_map(move |v| v.map(|v| (name.clone(), v)))
                            .boxed()
                    })
                    .collect();
                fields
                    .prop_map(|entries| Value::Object(entries.into_iter().flatten().collect()))
                    .boxed()
            } else if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object())
            {
                proptest::collection::btree_map(
                    string(strings),
                    from_schema(extra, depth - 1, strings),
                    0..3,
                )
                .prop_map(|m| Value::Object(m.into_iter().collect()))
                .boxed()
            } else {
                Just(Value::Object(Map::new())).boxed()
            }
        }
        _ => Just(Value::Null).boxed(),
    }
}

/// Whether the `name`s of a list are unique (list maps keyed by name never hold duplicates).
pub fn unique_names<'a>(names: impl IntoIterator<Item = &'a str>) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    names.into_iter().all(|n| seen.insert(n))
}
