//! The renderer's warnings for an instance under admission: what the operator would replace,
//! skip or ignore when it renders the instance, told to the user at `kubectl apply` time.
//!
//! The webhook has no cluster inputs, so it renders with placeholders, like the `render`
//! subcommand: a gateway token and a basic-auth password are assumed to exist, the config
//! ConfigMap is assumed to hold `{}`, and workspace ConfigMaps to be empty. Cluster defaults are
//! not read. Warnings that an instance with an empty spec gets too (today: the
//! `diagnostics-otel` plugin notice of the default-on metrics) are left to the controller's
//! events, so that a plain instance is admitted without warnings.

use openclaw_api::{OpenClawInstance, OpenClawInstanceSpec};
use openclaw_render::{Observed, render};

const PLACEHOLDER_NAME: &str = "instance";
const PLACEHOLDER_NAMESPACE: &str = "default";
const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";
const PLACEHOLDER_SECRET: &str = "<generated-by-the-operator>";

/// The instance with the metadata the renderer needs (name, namespace, uid).
fn with_metadata(instance: &OpenClawInstance, namespace: Option<&str>) -> OpenClawInstance {
    let mut i = instance.clone();
    let meta = &mut i.metadata;
    if meta.name.as_deref().is_none_or(str::is_empty) {
        meta.name = Some(PLACEHOLDER_NAME.into());
    }
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some(namespace.unwrap_or(PLACEHOLDER_NAMESPACE).to_string());
    }
    if meta.uid.as_deref().is_none_or(str::is_empty) {
        meta.uid = Some(PLACEHOLDER_UID.into());
    }
    i
}

fn placeholders(spec: &OpenClawInstanceSpec) -> Observed {
    let external_config = spec
        .config
        .as_ref()
        .and_then(|c| c.config_map_ref.as_ref())
        .map(|_| "{}".to_string());
    Observed {
        gateway_token: Some(PLACEHOLDER_SECRET.into()),
        basic_auth_password: Some(PLACEHOLDER_SECRET.into()),
        external_config,
        ..Default::default()
    }
}

fn warnings_of(instance: &OpenClawInstance) -> Vec<String> {
    match render(instance, &placeholders(&instance.spec)) {
        Ok(rendered) => rendered.warnings,
        Err(e) => vec![format!(
            "spec: the operator cannot render this instance: {e}"
        )],
    }
}

/// The render warnings of `instance` (in namespace `namespace` when its metadata has none),
/// minus those an empty spec gets as well.
pub fn render_warnings(instance: &OpenClawInstance, namespace: Option<&str>) -> Vec<String> {
    let user = with_metadata(instance, namespace);
    let common = openclaw_render::baseline_warnings(&user);
    warnings_of(&user)
        .into_iter()
        .filter(|w| !common.contains(w))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn instance(spec: serde_json::Value) -> OpenClawInstance {
        serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": "demo"},
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn a_plain_instance_has_none() {
        assert_eq!(
            render_warnings(&instance(json!({})), Some("team")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn replaced_values_are_reported() {
        let w = render_warnings(
            &instance(json!({"networking": {"ingress": {"enabled": true}}})),
            None,
        );
        assert!(w.iter().any(|w| w.contains("has no hosts")), "{w:?}");
    }

    #[test]
    fn a_config_map_config_renders_with_a_placeholder() {
        let w = render_warnings(
            &instance(json!({"config": {"configMapRef": {"name": "c"}, "raw": {"a": 1}}})),
            None,
        );
        assert!(
            w.iter().any(|w| w.contains("spec.config.raw is ignored")),
            "{w:?}"
        );
        assert!(!w.iter().any(|w| w.contains("cannot render")), "{w:?}");
    }
}
