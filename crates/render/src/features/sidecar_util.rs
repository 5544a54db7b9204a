//! Helpers shared by the sidecar features (Chromium, Ollama, web terminal, Tailscale): image
//! references with the legacy-default migration, sizes, and the "add only when absent" config
//! helpers. The Kubernetes builders they use (env vars, ports, volumes, security contexts,
//! object metadata) are in [`crate::k8s`].

use serde_json::{Map, Value};

use crate::image::with_registry;
use crate::model::{Model, non_empty};
use crate::quantity;

/// The repository to use: the user's (empty means the default), with stored legacy defaults
/// replaced by `default`. The flag says whether a legacy value was replaced.
pub(crate) fn repository(user: Option<&String>, default: &str, legacy: &[&str]) -> (String, bool) {
    match non_empty(user) {
        None => (default.to_string(), false),
        Some(r) if legacy.contains(&r) => (default.to_string(), true),
        Some(r) => (r.to_string(), false),
    }
}

/// `repo@digest` when a digest is set, otherwise `repo:tag`, then the registry override.
pub(crate) fn image_ref(m: &Model, repo: &str, tag: &str, digest: Option<&String>) -> String {
    let reference = match non_empty(digest) {
        Some(d) => format!("{repo}@{d}"),
        None => format!("{repo}:{tag}"),
    };
    with_registry(&reference, m.registry())
}

/// A size in canonical form: the user's value, or `default` (with a warning when the user's
/// value is not a quantity).
pub(crate) fn size(
    user: Option<&String>,
    default: &str,
    field: &str,
    warnings: &mut Vec<String>,
) -> String {
    match non_empty(user) {
        None => default.to_string(),
        Some(s) => quantity::canonical(s).unwrap_or_else(|| {
            warnings.push(format!("{field} {s:?} is not a quantity; using {default}"));
            default.to_string()
        }),
    }
}

/// The object at `key` of `parent`, created when absent; `None`, with a warning, when the
/// user's value there is not an object (it is never replaced).
pub(crate) fn object_at<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<&'a mut Map<String, Value>> {
    match parent
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(map) => Some(map),
        _ => {
            warnings.push(format!(
                "openclaw.json: {path} is not an object, so the operator adds nothing under it (OpenClaw will reject this config)"
            ));
            None
        }
    }
}

/// Set `key` to `value` unless it is present.
pub(crate) fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_string()).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_repositories_are_migrated() {
        let legacy = &["chromedp/headless-shell", "ghcr.io/browserless/chromium"];
        let d = "docker.io/chromedp/headless-shell";
        for (user, want, migrated) in [
            (None, d, false),
            (Some(""), d, false),
            (Some("chromedp/headless-shell"), d, true),
            (Some("ghcr.io/browserless/chromium"), d, true),
            (Some(d), d, false),
            (
                Some("registry.example/chrome"),
                "registry.example/chrome",
                false,
            ),
        ] {
            let user = user.map(str::to_string);
            assert_eq!(
                repository(user.as_ref(), d, legacy),
                (want.to_string(), migrated),
                "{user:?}"
            );
        }
    }
}
