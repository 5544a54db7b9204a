//! Helpers shared by the sidecar features (Chromium, Ollama, web terminal, Tailscale): image
//! references with the legacy-default migration, env vars, ports, volumes, security contexts,
//! object metadata with the component label, and the "add only when absent" config helper.

use k8s_openapi::api::core::v1::{
    ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, PersistentVolumeClaimVolumeSource,
    SecretKeySelector, SecurityContext, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Map, Value};

use crate::clean::clean_all;
use crate::image::with_registry;
use crate::model::Model;
use crate::quantity;
use crate::statefulset::gateway::{drop_all, runtime_default};

pub(crate) use crate::model::non_empty;

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

pub(crate) use crate::statefulset::gateway::env_value;

/// An env var read from a Secret key.
pub(crate) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_string(),
                key: key.to_string(),
                optional: None,
            }),
            ..Default::default()
        }),
    }
}

/// `ours`, then the user's variables (cleaned): a user variable replaces ours of the same name
/// in place, and a later user duplicate replaces an earlier one (server-side apply refuses
/// duplicate names).
pub(crate) fn merge_env(mut ours: Vec<EnvVar>, user: Option<&Vec<EnvVar>>) -> Vec<EnvVar> {
    for e in clean_all(user.map(Vec::as_slice).unwrap_or_default()) {
        if e.name.is_empty() {
            continue;
        }
        match ours.iter_mut().find(|x| x.name == e.name) {
            Some(existing) => *existing = e,
            None => ours.push(e),
        }
    }
    ours
}

/// A TCP container port.
pub(crate) fn port(name: &str, number: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_string()),
        container_port: number,
        protocol: Some("TCP".to_string()),
        ..Default::default()
    }
}

pub(crate) use crate::statefulset::empty_dir;

/// An emptyDir volume with a medium and a size limit.
pub(crate) fn sized_empty_dir(name: &str, medium: Option<&str>, size_limit: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(str::to_string),
            size_limit: Some(Quantity(size_limit.to_string())),
        }),
        ..Default::default()
    }
}

/// A volume backed by a PVC.
pub(crate) fn pvc_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.to_string(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_string(),
            read_only: None,
        }),
        ..Default::default()
    }
}

/// The hardened security context of the sidecars: no privilege escalation, every capability
/// dropped, seccomp RuntimeDefault; root filesystem, non-root flag and user as given.
pub(crate) fn security(
    read_only_root: bool,
    run_as_non_root: bool,
    run_as_user: Option<i64>,
) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(run_as_non_root),
        run_as_user,
        capabilities: Some(drop_all()),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
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

pub(crate) use crate::meta::component_meta;

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

    #[test]
    fn env_user_entries_replace_in_place() {
        let user = vec![
            env_value("B", "user"),
            env_value("HOME", "/home/x"),
            env_value("B", "later"),
        ];
        let env = merge_env(vec![env_value("HOME", "/tmp")], Some(&user));
        let names: Vec<_> = env
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref()))
            .collect();
        assert_eq!(names, [("HOME", Some("/home/x")), ("B", Some("later"))]);
    }
}
