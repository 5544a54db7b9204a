//! The `openclaw.json` enrichment: what the operator adds to the user's config so the gateway
//! starts and is reachable inside the pod.
//!
//! Rules, checked against every supported OpenClaw version (`openclaw config validate`, a real
//! gateway):
//! - A value the user wrote is never changed or removed. Every step only adds a key that is
//!   absent; the one list step (`trustedProxies`) appends the operator's own proxy address to a
//!   user list and never drops an entry.
//! - Where an intermediate value (`gateway`, `gateway.auth`, `gateway.controlUi`) exists but is
//!   not an object, nothing is added under it and a warning says why (the Go operator replaced
//!   such values with an empty object, discarding them).
//! - Enrichment is idempotent: enriching an enriched config changes nothing.
//! - Only keys the instance's OpenClaw version accepts, and has not retired, are added.
//!
//! Steps (a feature that needs its own step, e.g. the OTel `diagnostics` block or `browser`
//! profiles, adds a function here and a call in [`enrich`]):
//! 1. `gateway.mode = "local"` (OpenClaw refuses to start without a mode).
//! 2. `gateway.auth`: token auth with `token = "${OPENCLAW_GATEWAY_TOKEN}"`, expanded by
//!    OpenClaw from the environment, so the token stays in its Secret. Only when the user chose
//!    no mode (or `token`) and wrote no token.
//! 3. `gateway.controlUi.dangerouslyDisableDeviceAuth = true` (device pairing cannot complete
//!    behind the proxy), up to OpenClaw 2026.7: 2026.8.1 retired the key (ignored; Control UI
//!    browsers pair through the normal device flow).
//! 4. `gateway.bind`: `loopback` behind the proxy, else `lan` (OpenClaw rejects the Go
//!    operator's `0.0.0.0`).
//! 5. `gateway.trustedProxies` contains `127.0.0.0/8` (the in-pod proxy).
//! 6. `gateway.controlUi.allowedOrigins`: localhost, the enabled Ingress hosts and
//!    `spec.gateway.controlUiOrigins`, sorted and de-duplicated.

use serde_json::{Map, Value};

use crate::consts::{GATEWAY_PORT, TOKEN_PLACEHOLDER};

/// Loopback range trusted as a proxy: the gateway proxy sidecar forwards from there.
pub const LOOPBACK_PROXY: &str = "127.0.0.0/8";

/// What the enrichment depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inputs {
    /// The gateway proxy sidecar runs.
    pub proxy: bool,
    /// The operator provides a gateway token (in `OPENCLAW_GATEWAY_TOKEN`).
    pub token: bool,
    /// Origins allowed to open the Control UI when the user did not choose any.
    pub origins: Vec<String>,
    /// `spec.gateway.controlUiOrigins` is set (for the warning when the user's config wins).
    pub explicit_origins: bool,
    /// The operator's keys ([`KEYS`]) that the instance's OpenClaw version does not know or has
    /// retired: they are not added.
    pub unknown_keys: Vec<&'static str>,
}

/// Every key the enrichment may add, as a dotted path: each is added only when the instance's
/// OpenClaw version knows it (its config schema says so), so an added key can never stop the
/// gateway, and has not retired it (`openclaw_versions::RETIRED`: since 2026.8.1
/// `dangerouslyDisableDeviceAuth` is ignored and `openclaw doctor` asks to remove it).
pub const KEYS: &[&str] = &[
    "gateway.mode",
    "gateway.auth.mode",
    "gateway.auth.token",
    "gateway.controlUi.dangerouslyDisableDeviceAuth",
    "gateway.controlUi.allowedOrigins",
    "gateway.bind",
    "gateway.trustedProxies",
];

impl Inputs {
    fn knows(&self, key: &str) -> bool {
        !self.unknown_keys.contains(&key)
    }
}

/// How the gateway authenticates after enrichment, as far as the operator needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Shared token (possibly the user's own): `OPENCLAW_GATEWAY_TOKEN` is provided.
    Token,
    /// `trusted-proxy`: OpenClaw refuses to start when a shared token is also configured.
    TrustedProxy,
    /// Another mode (`password`, `none`, ...): no token is provided.
    Other,
}

/// The default Control UI origins: port-forwarded localhost, the Ingress hosts (https when the
/// host has TLS) and the extra origins, sorted and de-duplicated.
pub fn default_origins(ingress_hosts: &[(String, bool)], extra: &[String]) -> Vec<String> {
    let mut origins = vec![
        format!("http://localhost:{GATEWAY_PORT}"),
        format!("http://127.0.0.1:{GATEWAY_PORT}"),
    ];
    for (host, tls) in ingress_hosts {
        let scheme = if *tls { "https" } else { "http" };
        origins.push(format!("{scheme}://{host}"));
    }
    origins.extend(extra.iter().cloned());
    origins.sort();
    origins.dedup();
    origins
}

/// The object at `key`, created when absent; `None` (with a warning) when the user's value is
/// not an object.
fn object<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<&'a mut Map<String, Value>> {
    let value = parent
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    match value {
        Value::Object(map) => Some(map),
        _ => {
            warnings.push(format!(
                "openclaw.json: {path} is not an object, so the operator adds nothing under it (OpenClaw will reject this config)"
            ));
            None
        }
    }
}

fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    map.entry(key.to_string()).or_insert(value);
}

/// Enrich `config` in place; returns how the gateway authenticates.
pub fn enrich(
    config: &mut Map<String, Value>,
    inputs: &Inputs,
    warnings: &mut Vec<String>,
) -> Auth {
    let Some(gateway) = object(config, "gateway", "gateway", warnings) else {
        return Auth::Token;
    };
    if inputs.knows("gateway.mode") {
        set_default(gateway, "mode", Value::from("local"));
    }
    let auth = if inputs.token
        && inputs.knows("gateway.auth.mode")
        && inputs.knows("gateway.auth.token")
    {
        gateway_auth(gateway, warnings)
    } else {
        auth_of(gateway)
    };
    let device_auth = inputs.knows("gateway.controlUi.dangerouslyDisableDeviceAuth");
    let origins = inputs.knows("gateway.controlUi.allowedOrigins");
    if (device_auth || origins)
        && let Some(ui) = object(gateway, "controlUi", "gateway.controlUi", warnings)
    {
        if device_auth {
            set_default(ui, "dangerouslyDisableDeviceAuth", Value::Bool(true));
        }
        if origins && ui.contains_key("allowedOrigins") {
            if inputs.explicit_origins {
                warnings.push(
                    "spec.gateway.controlUiOrigins is ignored: openclaw.json sets gateway.controlUi.allowedOrigins itself".to_string(),
                );
            }
        } else if origins {
            ui.insert(
                "allowedOrigins".to_string(),
                Value::from(inputs.origins.clone()),
            );
        }
    }
    let bind = if inputs.proxy { "loopback" } else { "lan" };
    if inputs.knows("gateway.bind") {
        set_default(gateway, "bind", Value::from(bind));
    }
    if !inputs.proxy
        && let Some(Value::String(b)) = gateway.get("bind")
        && matches!(b.as_str(), "loopback" | "127.0.0.1" | "localhost")
    {
        warnings.push(format!(
            "GatewayBindConflict: openclaw.json sets gateway.bind to {b:?} but the gateway proxy is disabled (spec.gateway.enabled: false), so the Service cannot reach the gateway"
        ));
    }
    if !inputs.knows("gateway.trustedProxies") {
        return auth;
    }
    match gateway
        .entry("trustedProxies".to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(list) => {
            if !list.iter().any(|v| v.as_str() == Some(LOOPBACK_PROXY)) {
                list.push(Value::from(LOOPBACK_PROXY));
            }
        }
        _ => warnings.push(
            "openclaw.json: gateway.trustedProxies is not a list, so the operator does not add 127.0.0.0/8 (OpenClaw will reject this config)".to_string(),
        ),
    }
    auth
}

fn auth_of(gateway: &Map<String, Value>) -> Auth {
    match gateway
        .get("auth")
        .and_then(Value::as_object)
        .and_then(|a| a.get("mode"))
    {
        None => Auth::Token,
        Some(Value::String(m)) if m == "token" => Auth::Token,
        Some(Value::String(m)) if m == "trusted-proxy" => Auth::TrustedProxy,
        Some(_) => Auth::Other,
    }
}

fn gateway_auth(gateway: &mut Map<String, Value>, warnings: &mut Vec<String>) -> Auth {
    let Some(auth) = object(gateway, "auth", "gateway.auth", warnings) else {
        return Auth::Token;
    };
    match auth.get("mode") {
        None => {
            if !auth.contains_key("token") {
                auth.insert("mode".to_string(), Value::from("token"));
                auth.insert("token".to_string(), Value::from(TOKEN_PLACEHOLDER));
            }
            Auth::Token
        }
        Some(Value::String(m)) if m == "token" => {
            set_default(auth, "token", Value::from(TOKEN_PLACEHOLDER));
            Auth::Token
        }
        Some(Value::String(m)) if m == "trusted-proxy" => Auth::TrustedProxy,
        Some(_) => Auth::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs() -> Inputs {
        Inputs {
            proxy: true,
            token: true,
            origins: default_origins(&[], &[]),
            explicit_origins: false,
            unknown_keys: Vec::new(),
        }
    }

    #[test]
    fn keys_the_version_does_not_know_are_not_added() {
        let all = KEYS.to_vec();
        let none = Inputs {
            unknown_keys: all,
            ..inputs()
        };
        let (v, auth, w) = run(json!({}), &none);
        assert_eq!(v, json!({"gateway": {}}));
        assert_eq!(auth, Auth::Token);
        assert!(w.is_empty(), "{w:?}");
        let no_origins = Inputs {
            unknown_keys: vec!["gateway.controlUi.allowedOrigins", "gateway.mode"],
            ..inputs()
        };
        let (v, _, _) = run(json!({}), &no_origins);
        assert_eq!(
            v["gateway"]["controlUi"],
            json!({"dangerouslyDisableDeviceAuth": true})
        );
        assert!(v["gateway"].get("mode").is_none());
        assert_eq!(v["gateway"]["bind"], "loopback");
    }

    fn run(config: Value, inputs: &Inputs) -> (Value, Auth, Vec<String>) {
        let Value::Object(mut map) = config else {
            panic!("not an object")
        };
        let mut warnings = Vec::new();
        let auth = enrich(&mut map, inputs, &mut warnings);
        (Value::Object(map), auth, warnings)
    }

    #[test]
    fn empty_config_gets_the_defaults() {
        let (out, auth, warnings) = run(json!({}), &inputs());
        assert_eq!(
            out,
            json!({"gateway": {
                "mode": "local",
                "auth": {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"},
                "bind": "loopback",
                "controlUi": {
                    "allowedOrigins": ["http://127.0.0.1:18789", "http://localhost:18789"],
                    "dangerouslyDisableDeviceAuth": true
                },
                "trustedProxies": ["127.0.0.0/8"]
            }})
        );
        assert_eq!(auth, Auth::Token);
        assert!(warnings.is_empty());
    }

    #[test]
    fn proxy_off_binds_lan() {
        let (out, _, _) = run(
            json!({}),
            &Inputs {
                proxy: false,
                ..inputs()
            },
        );
        assert_eq!(out["gateway"]["bind"], "lan");
    }

    #[test]
    fn user_values_are_never_overwritten() {
        let user = json!({
            "gateway": {
                "mode": "remote",
                "bind": "lan",
                "auth": {"mode": "token", "token": "mine"},
                "controlUi": {"allowedOrigins": [], "dangerouslyDisableDeviceAuth": false},
                "trustedProxies": ["10.0.0.0/8"]
            },
            "agents": {"defaults": {"model": {"primary": "x"}}}
        });
        let (out, auth, _) = run(user.clone(), &inputs());
        let mut expected = user;
        expected["gateway"]["trustedProxies"] = json!(["10.0.0.0/8", "127.0.0.0/8"]);
        assert_eq!(out, expected);
        assert_eq!(auth, Auth::Token);
    }

    #[test]
    fn empty_token_is_a_user_value() {
        let (out, _, _) = run(json!({"gateway": {"auth": {"token": ""}}}), &inputs());
        assert_eq!(out["gateway"]["auth"], json!({"token": ""}));
    }

    #[test]
    fn trusted_proxy_gets_no_token() {
        let user = json!({"gateway": {"auth": {"mode": "trusted-proxy"}}});
        let (out, auth, _) = run(user, &inputs());
        assert_eq!(out["gateway"]["auth"], json!({"mode": "trusted-proxy"}));
        assert_eq!(auth, Auth::TrustedProxy);
    }

    #[test]
    fn password_mode_gets_no_token() {
        let user = json!({"gateway": {"auth": {"mode": "password", "password": "p"}}});
        let (out, auth, _) = run(user, &inputs());
        assert_eq!(
            out["gateway"]["auth"],
            json!({"mode": "password", "password": "p"})
        );
        assert_eq!(auth, Auth::Other);
    }

    #[test]
    fn non_objects_are_left_alone_with_a_warning() {
        for user in [
            json!({"gateway": "oops"}),
            json!({"gateway": {"auth": 3, "controlUi": [], "trustedProxies": "x"}}),
        ] {
            let (out, _, warnings) = run(user.clone(), &inputs());
            for key in ["auth", "controlUi", "trustedProxies"] {
                if let Some(v) = user["gateway"].get(key) {
                    assert_eq!(&out["gateway"][key], v);
                }
            }
            if user["gateway"].is_string() {
                assert_eq!(out, user);
            }
            assert!(!warnings.is_empty());
        }
    }

    #[test]
    fn idempotent() {
        let sources = [
            json!({}),
            json!({"gateway": {"auth": {"mode": "trusted-proxy"}, "bind": "lan"}}),
            json!({"gateway": {"trustedProxies": ["10.0.0.0/8"]}, "session": {"scope": "x"}}),
            json!({"gateway": {"controlUi": {"basePath": "/ui"}}}),
        ];
        for proxy in [true, false] {
            let inputs = Inputs {
                proxy,
                origins: default_origins(&[("a.example".into(), true)], &["https://b".into()]),
                ..inputs()
            };
            for source in &sources {
                let (once, a1, _) = run(source.clone(), &inputs);
                let (twice, a2, _) = run(once.clone(), &inputs);
                assert_eq!(once, twice, "{source}");
                assert_eq!(a1, a2);
            }
        }
    }

    #[test]
    fn origins_sorted_and_deduplicated() {
        let origins = default_origins(
            &[("b.example".into(), true), ("a.example".into(), false)],
            &["https://b.example".into(), "http://localhost:18789".into()],
        );
        assert_eq!(
            origins,
            [
                "http://127.0.0.1:18789",
                "http://a.example",
                "http://localhost:18789",
                "https://b.example"
            ]
        );
    }

    #[test]
    fn bind_conflict_warns() {
        let (_, _, warnings) = run(
            json!({"gateway": {"bind": "loopback"}}),
            &Inputs {
                proxy: false,
                ..inputs()
            },
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("GatewayBindConflict"))
        );
    }
}
