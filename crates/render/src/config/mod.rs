//! The config ConfigMap `<name>-config`: `openclaw.json` (the user's config, enriched) and the
//! gateway proxy's `nginx.conf`.

pub mod enrich;
pub mod nginx;
mod strict;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Map, Value};

use crate::RenderError;
use crate::consts::{CONFIG_KEY, NGINX_KEY};
pub use crate::json;
use crate::k8s::meta::object_meta;
use crate::model::{MergeMode, Model};

pub use enrich::Auth;

/// The rendered config and what the rest of the pod needs to know about it.
pub struct RenderedConfig {
    /// The ConfigMap's data.
    pub data: BTreeMap<String, String>,
    /// How the gateway authenticates.
    pub auth: Auth,
    /// How the init container and the postStart hook apply `openclaw.json`.
    pub mode: MergeMode,
}

impl RenderedConfig {
    /// The ConfigMap object.
    pub fn config_map(&self, m: &Model) -> ConfigMap {
        ConfigMap {
            metadata: object_meta(m, format!("{}-config", m.name)),
            data: Some(self.data.clone()),
            ..Default::default()
        }
    }
}

/// Where the base config comes from.
enum Base {
    /// A JSON object (inline, external JSON, or external JSON5 the operator could parse).
    Object(Map<String, Value>),
    /// External JSON5 the operator could not parse: used as written, without enrichment.
    Verbatim(String),
}

fn base(m: &Model, warnings: &mut Vec<String>) -> Result<Base, RenderError> {
    let Some(config) = m.config() else {
        return Ok(Base::Object(Map::new()));
    };
    let Some(r) = &config.config_map_ref else {
        return Ok(Base::Object(
            config.raw.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
        ));
    };
    let key = r
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or(CONFIG_KEY);
    let what = format!("ConfigMap {:?} key {key:?}", r.name);
    if config.raw.is_some() {
        warnings.push(format!(
            "spec.config.raw is ignored because spec.config.configMapRef is set ({what})"
        ));
    }
    let text = m
        .observed
        .external_config
        .as_deref()
        .ok_or_else(|| RenderError::MissingExternalConfig(what.clone()))?;
    if text.trim().is_empty() {
        return Ok(Base::Object(Map::new()));
    }
    if m.json5() {
        return match json5::from_str::<strict::Strict>(text).map(|s| s.0) {
            Ok(Value::Object(map)) => Ok(Base::Object(map)),
            Ok(other) => Err(RenderError::InvalidConfig(format!(
                "{what} must hold a JSON5 object, not {}",
                kind(&other)
            ))),
            Err(e) => {
                warnings.push(format!(
                    "{what}: the operator could not parse this JSON5 ({e}); it is used as written, without the operator's additions (gateway mode, auth, bind, trusted proxies, Control UI origins)"
                ));
                Ok(Base::Verbatim(text.to_string()))
            }
        };
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Base::Object(map)),
        Ok(other) => Err(RenderError::InvalidConfig(format!(
            "{what} must hold a JSON object, not {}",
            kind(&other)
        ))),
        Err(e) => Err(RenderError::InvalidConfig(format!(
            "{what} is not valid JSON: {e} (set spec.config.format: json5 for JSON5)"
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks the enriched config against OpenClaw's own schema for the instance's version: a config
/// the gateway would refuse is not rendered (the instance reports it and what runs is kept).
/// Issues the user's config has on its own are the user's; any other issue would come from the
/// operator's additions and is reported as such. Skipped for versions older than every supported
/// one, and with `openclaw.rocks/skip-config-check: "true"`. The version note (a tag that is not
/// exactly a supported version) becomes a warning.
fn check_schema(m: &Model, config: &Value, warnings: &mut Vec<String>) -> Result<(), RenderError> {
    let Some((target, tag)) = m.openclaw() else {
        return Ok(());
    };
    if let Some(note) = target.note(tag) {
        warnings.push(format!("spec.image.tag: {note}"));
    }
    if m.skip_config_check || !target.enforce_schema() {
        return Ok(());
    }
    let version = target.supported.as_str();
    let schema = match target.supported.schema() {
        Ok(s) => s,
        Err(e) => {
            warnings.push(format!("openclaw.json was not checked: {e}"));
            return Ok(());
        }
    };
    let issues = schema.check(config);
    if issues.is_empty() {
        return Ok(());
    }
    // Only on failure: the user's config on its own (read again; rendering is pure).
    let user = match base(m, &mut Vec::new())? {
        Base::Object(map) => Value::Object(map),
        Base::Verbatim(_) => Value::Null,
    };
    let users = schema.check(&user);
    let source = match m.config().and_then(|c| c.config_map_ref.as_ref()) {
        Some(r) => format!("ConfigMap {:?}", r.name),
        None => "spec.config.raw".to_string(),
    };
    let (theirs, ours): (Vec<_>, Vec<_>) = issues.iter().partition(|i| users.contains(i));
    let list = |v: &[&openclaw_versions::Issue]| {
        v.iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if !theirs.is_empty() {
        return Err(RenderError::InvalidConfig(format!(
            "OpenClaw {version} rejects the config from {source}: {} (the gateway would not start; fix the config, or set the annotation {} if OpenClaw accepts it)",
            list(&theirs),
            openclaw_api::validation::SKIP_CONFIG_CHECK_ANNOTATION
        )));
    }
    Err(RenderError::InvalidConfig(format!(
        "OpenClaw {version} would reject what the operator adds to openclaw.json: {} (an operator bug; please report it)",
        list(&ours)
    )))
}

/// Render the config ConfigMap's data.
pub fn render(m: &Model, warnings: &mut Vec<String>) -> Result<RenderedConfig, RenderError> {
    // Ingress hosts, then the features' (the HTTPRoute's host names; https: TLS ends at the
    // Gateway).
    let mut hosts = m.ingress_hosts();
    hosts.extend(crate::features::origin_hosts(m));
    let inputs = enrich::Inputs {
        proxy: m.proxy_enabled(),
        token: true,
        origins: enrich::default_origins(&hosts, &m.control_ui_origins()),
        explicit_origins: !m.control_ui_origins().is_empty(),
        unknown_keys: enrich::KEYS
            .iter()
            .copied()
            .filter(|k| !m.openclaw_wants(k))
            .collect(),
    };
    let mut mode = m.merge_mode();
    let (openclaw_json, auth) = match base(m, warnings)? {
        Base::Object(mut map) => {
            let auth = enrich::enrich(&mut map, &inputs, warnings);
            crate::features::enrich(m, &mut map, warnings);
            let config = Value::Object(map);
            check_schema(m, &config, warnings)?;
            (json::pretty(&config), auth)
        }
        Base::Verbatim(text) => {
            if mode == MergeMode::Merge {
                warnings.push(
                    "spec.config.mergeMode merge needs a JSON config; the unparsed JSON5 overwrites openclaw.json instead".to_string(),
                );
                mode = MergeMode::Overwrite;
            }
            (text, Auth::Token)
        }
    };
    let mut data = BTreeMap::from([(CONFIG_KEY.to_string(), openclaw_json)]);
    if m.proxy_enabled() {
        data.insert(NGINX_KEY.to_string(), nginx::nginx_conf());
    }
    // Feature files (e.g. the OTel collector config), part of the config hash.
    for (key, content) in crate::features::config_files(m) {
        if data.contains_key(&key) {
            warnings.push(format!(
                "a feature's config file {key:?} collides with the operator's; it is skipped"
            ));
            continue;
        }
        data.insert(key, content);
    }
    Ok(RenderedConfig { data, auth, mode })
}
