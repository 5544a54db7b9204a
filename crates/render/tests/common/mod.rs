//! Helpers shared by the render integration tests.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, dead_code)]

use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container};
use openclaw_api::OpenClawInstance;
use openclaw_render::{Object, Observed, Rendered, render};
use serde_json::{Value, json};

/// The token every test observes.
pub const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Go operator's samples beside the repository (`OPENCLAW_COMPAT_DIR` overrides); `None`
/// when absent (the tests using them are skipped).
pub fn compat_samples() -> Option<PathBuf> {
    let dir = std::env::var_os("OPENCLAW_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/compat"))
        .join("samples");
    dir.is_dir().then_some(dir)
}

/// The first document of a YAML file, as JSON.
pub fn yaml_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An instance from JSON, with the namespace `kubectl apply` would give it and a fixed uid.
pub fn instance(mut value: Value) -> OpenClawInstance {
    if value["metadata"]["namespace"].is_null() {
        value["metadata"]["namespace"] = json!("default");
    }
    value["metadata"]["uid"] = json!("6c1f0f9e-0000-4000-8000-000000000001");
    serde_json::from_value(value).expect("an OpenClawInstance")
}

/// The repository's minimal sample.
pub fn minimal() -> Value {
    yaml_file(&repo_root().join("config/samples/openclawinstance-minimal.yaml"))
}

/// The minimal sample with `patch` deep-merged into its spec.
pub fn minimal_with(patch: Value) -> OpenClawInstance {
    let mut v = minimal();
    merge(&mut v["spec"], &patch);
    instance(v)
}

/// Deep-merge `patch` into `base` (objects merge, anything else replaces).
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// What the controller would observe for a plain instance.
pub fn observed() -> Observed {
    Observed {
        gateway_token: Some(TOKEN.to_string()),
        secret_hash: "5e3c1a0b9d8f7e6d".to_string(),
        ..Default::default()
    }
}

pub fn render_ok(instance: &OpenClawInstance, observed: &Observed) -> Rendered {
    render(instance, observed).unwrap_or_else(|e| panic!("render failed: {e}"))
}

/// The rendering as a YAML stream for snapshots: a header comment with the config hash and
/// warnings, then one document per object.
pub fn to_yaml(rendered: &Rendered) -> String {
    let mut out = format!("# config-hash: {}\n", rendered.config_hash);
    for w in &rendered.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    for object in rendered.iter() {
        out.push_str("---\n");
        let value = object.to_value().expect("serializable");
        out.push_str(&serde_saphyr::to_string(&value).expect("yaml"));
    }
    out
}

pub fn statefulset(rendered: &Rendered) -> &StatefulSet {
    rendered
        .iter()
        .find_map(|o| match o {
            Object::StatefulSet(s) => Some(s),
            _ => None,
        })
        .expect("a StatefulSet")
}

pub fn config_map<'a>(rendered: &'a Rendered, suffix: &str) -> &'a ConfigMap {
    rendered
        .iter()
        .find_map(|o| match o {
            Object::ConfigMap(c)
                if c.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.ends_with(suffix)) =>
            {
                Some(c)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("a ConfigMap *{suffix}"))
}

/// `openclaw.json` of the config ConfigMap, parsed.
pub fn openclaw_json(rendered: &Rendered) -> Value {
    let cm = config_map(rendered, "-config");
    let text = &cm.data.as_ref().unwrap()["openclaw.json"];
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn container<'a>(sts: &'a StatefulSet, name: &str) -> Option<&'a Container> {
    let pod = sts.spec.as_ref()?.template.spec.as_ref()?;
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| c.name == name)
}
