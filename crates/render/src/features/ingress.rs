//! Ingress (`docs/design/optional-features.md` §1.9, `docs/features/networking.md`), when
//! `networking.ingress.enabled == true`.
//!
//! Renders the `networking.k8s.io/v1` Ingress `<name>`, with annotations tailored to the
//! controller guessed from `className` (nginx, Traefik, anything else gets only the user's),
//! the Traefik Middlewares it needs (`<name>-basic-auth`, `<name>-headers`,
//! `<name>-ratelimit`) and the basic-auth Secret `<name>-basic-auth`.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec as K8sIngressSpec, IngressTLS, ServiceBackendPort,
};
use openclaw_api::{IngressBasicAuthSpec, IngressSecuritySpec, IngressSpec};
use serde_json::json;
use sha1::{Digest, Sha1};

use super::hooks::Feature;
use crate::consts::GATEWAY_PORT;
use crate::k8s::meta::{non_empty_map, non_empty_vec};
use crate::model::Model;
use crate::{CustomKind, CustomObject, Desired, Object, Phase, RenderError, StatusSlot};

/// `app.kubernetes.io/component`.
pub use crate::consts::COMPONENT_LABEL;
/// The [`COMPONENT_LABEL`] value of the Ingress, its Middlewares and its Secret.
pub const COMPONENT: &str = "ingress";

/// User name of the generated basic-auth credentials when `basicAuth.username` is unset.
pub const DEFAULT_BASIC_AUTH_USER: &str = "openclaw";
/// Realm when `basicAuth.realm` is unset.
pub const DEFAULT_REALM: &str = "OpenClaw";
/// Requests per second when `rateLimiting.requestsPerSecond` is unset.
pub const DEFAULT_RPS: i32 = 10;
/// `max-age` of the Traefik HSTS header (one year, as ingress-nginx's default).
pub const HSTS_SECONDS: i64 = 31_536_000;

const NGINX: &str = "nginx.ingress.kubernetes.io/";
const TRAEFIK: &str = "traefik.ingress.kubernetes.io/";

/// Ingress.
pub struct IngressFeature;

/// The registry entry.
pub static T: IngressFeature = IngressFeature;

impl Feature for IngressFeature {
    fn name(&self) -> &'static str {
        COMPONENT
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).is_some()
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        let Some(spec) = spec(m) else {
            return Ok(());
        };
        let service_ports = service_ports(m, out);
        if let Some(secret) = basic_auth_secret(m, spec, warnings) {
            out.push(Desired::apply(
                Object::Secret(secret),
                Phase::Secrets,
                Some(StatusSlot::BasicAuthSecret),
            ));
        }
        // The Middlewares first: a Traefik router naming a missing Middleware refuses traffic.
        if provider(spec) == Provider::Traefik {
            for middleware in traefik_middlewares(m, spec) {
                out.push(Desired::apply(
                    Object::Custom(middleware),
                    Phase::Exposure,
                    None,
                ));
            }
        }
        out.push(Desired::apply(
            Object::Ingress(render(m, spec, &service_ports, warnings)),
            Phase::Exposure,
            None,
        ));
        network_policy_warning(m, "spec.networking.ingress", warnings);
        Ok(())
    }
}

/// `networking.ingress`, when enabled.
fn spec<'a>(m: &'a Model<'_>) -> Option<&'a IngressSpec> {
    m.spec
        .networking
        .as_ref()?
        .ingress
        .as_ref()
        .filter(|i| i.enabled == Some(true))
}

fn security(spec: &IngressSpec) -> Option<&IngressSecuritySpec> {
    spec.security.as_ref()
}

/// The ingress controller, guessed from `className` (case-insensitive, nginx checked first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// ingress-nginx.
    Nginx,
    /// Traefik.
    Traefik,
    /// Anything else (or no class): only the user's annotations.
    Unknown,
}

/// The provider of an Ingress spec.
pub fn provider(spec: &IngressSpec) -> Provider {
    let class = spec
        .class_name
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    if class.contains("nginx") {
        Provider::Nginx
    } else if class.contains("traefik") {
        Provider::Traefik
    } else {
        Provider::Unknown
    }
}

/// `forceHTTPS` (default true).
fn force_https(spec: &IngressSpec) -> bool {
    security(spec).and_then(|s| s.force_https) != Some(false)
}

/// `enableHSTS` (default true).
fn hsts(spec: &IngressSpec) -> bool {
    security(spec).and_then(|s| s.enable_hsts) != Some(false)
}

/// Requests per second, when rate limiting is on (`rateLimiting` present, `enabled` default
/// true).
fn rate_limit(spec: &IngressSpec) -> Option<i32> {
    let rl = security(spec)?.rate_limiting.as_ref()?;
    if rl.enabled == Some(false) {
        return None;
    }
    Some(
        rl.requests_per_second
            .filter(|r| *r >= 1)
            .unwrap_or(DEFAULT_RPS),
    )
}

/// `basicAuth`, when enabled (`enabled` default **false**, the CRD default).
fn basic_auth(spec: &IngressSpec) -> Option<&IngressBasicAuthSpec> {
    security(spec)?
        .basic_auth
        .as_ref()
        .filter(|b| b.enabled == Some(true))
}

fn existing_secret(auth: &IngressBasicAuthSpec) -> Option<&str> {
    auth.existing_secret.as_deref().filter(|s| !s.is_empty())
}

/// The name of the Secret holding the credentials: `existingSecret` or `<name>-basic-auth`.
fn basic_auth_secret_name(m: &Model, auth: &IngressBasicAuthSpec) -> String {
    match existing_secret(auth) {
        Some(s) => s.to_string(),
        None => format!("{}-basic-auth", m.name),
    }
}

fn realm(auth: &IngressBasicAuthSpec) -> &str {
    auth.realm
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REALM)
}

use crate::k8s::meta::component_meta;

/// Warn that an Ingress or HTTPRoute cannot reach the pod when the NetworkPolicy admits only
/// the instance's own namespace.
pub(crate) fn network_policy_warning(m: &Model, field: &str, warnings: &mut Vec<String>) {
    if !m.network_policy_enabled() {
        return;
    }
    let np = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.network_policy.as_ref());
    let any = |list: Option<&Vec<String>>| list.is_some_and(|l| l.iter().any(|x| !x.is_empty()));
    if any(np.and_then(|n| n.allowed_ingress_namespaces.as_ref()))
        || any(np.and_then(|n| n.allowed_ingress_cidrs.as_ref()))
    {
        return;
    }
    warnings.push(format!(
        "{field} is enabled but the NetworkPolicy only admits traffic from the namespace {:?}: \
         the ingress controller's namespace must be allowed \
         (spec.security.networkPolicy.allowedIngressNamespaces or allowedIngressCIDRs)",
        m.namespace
    ));
}

/// The port numbers of the rendered Service `<name>` (in `out` before any feature object).
pub(crate) fn service_ports(m: &Model, out: &[Desired]) -> Vec<i32> {
    out.iter()
        .find_map(|d| match &d.object {
            Object::Service(s) if s.metadata.name.as_deref() == Some(m.name.as_str()) => {
                s.spec.as_ref().and_then(|s| s.ports.as_ref())
            }
            _ => None,
        })
        .into_iter()
        .flatten()
        .map(|p| p.port)
        .collect()
}

/// Warn when `port` is not a port of the rendered Service (custom `networking.service.ports`).
pub(crate) fn check_backend_port(
    m: &Model,
    field: &str,
    port: i32,
    service_ports: &[i32],
    warnings: &mut Vec<String>,
) {
    if service_ports.contains(&port) {
        return;
    }
    warnings.push(format!(
        "{field}: backend port {port} is not a port of the Service {:?}; requests to it fail",
        m.name
    ));
}

/// The operator's annotations for the provider.
fn operator_annotations(m: &Model, spec: &IngressSpec) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    let mut set = |prefix: &str, key: &str, value: String| {
        a.insert(format!("{prefix}{key}"), value);
    };
    match provider(spec) {
        Provider::Nginx => {
            if force_https(spec) {
                set(NGINX, "ssl-redirect", "true".into());
                set(NGINX, "force-ssl-redirect", "true".into());
            }
            // HSTS: ingress-nginx sends it for TLS hosts by default (`hsts: true`); the Go
            // operator's `configuration-snippet` is rejected by current controllers.
            if let Some(rps) = rate_limit(spec) {
                set(NGINX, "limit-rps", rps.to_string());
            }
            set(NGINX, "proxy-read-timeout", "3600".into());
            set(NGINX, "proxy-send-timeout", "3600".into());
            set(NGINX, "proxy-http-version", "1.1".into());
            set(NGINX, "upstream-hash-by", "$binary_remote_addr".into());
            if let Some(auth) = basic_auth(spec) {
                set(NGINX, "auth-type", "basic".into());
                set(NGINX, "auth-secret", basic_auth_secret_name(m, auth));
                set(NGINX, "auth-realm", realm(auth).to_string());
            }
        }
        Provider::Traefik => {
            if force_https(spec) {
                set(TRAEFIK, "router.entrypoints", "websecure".into());
            }
            let middlewares: Vec<String> = traefik_middleware_names(m, spec)
                .into_iter()
                .map(|name| format!("{}-{name}@kubernetescrd", m.namespace))
                .collect();
            if !middlewares.is_empty() {
                set(TRAEFIK, "router.middlewares", middlewares.join(","));
            }
        }
        Provider::Unknown => {}
    }
    a
}

/// Names of the Traefik Middlewares, in the order the router applies them: the rate limit
/// first (so failed logins are limited too), then HSTS, then basic auth.
fn traefik_middleware_names(m: &Model, spec: &IngressSpec) -> Vec<String> {
    let mut names = Vec::new();
    if rate_limit(spec).is_some() {
        names.push(format!("{}-ratelimit", m.name));
    }
    if hsts(spec) {
        names.push(format!("{}-headers", m.name));
    }
    if basic_auth(spec).is_some() {
        names.push(format!("{}-basic-auth", m.name));
    }
    names
}

/// The `traefik.io/v1alpha1` Middlewares of a Traefik Ingress.
fn traefik_middlewares(m: &Model, spec: &IngressSpec) -> Vec<CustomObject> {
    let middleware = |suffix: &str, spec: serde_json::Value| CustomObject {
        kind: CustomKind::TraefikMiddleware,
        metadata: component_meta(m, format!("{}-{suffix}", m.name), COMPONENT),
        spec,
    };
    let mut out = Vec::new();
    if let Some(rps) = rate_limit(spec) {
        out.push(middleware(
            "ratelimit",
            json!({"rateLimit": {"average": rps, "burst": 2 * i64::from(rps)}}),
        ));
    }
    if hsts(spec) {
        out.push(middleware(
            "headers",
            json!({"headers": {"stsSeconds": HSTS_SECONDS, "stsIncludeSubdomains": true}}),
        ));
    }
    if let Some(auth) = basic_auth(spec) {
        out.push(middleware(
            "basic-auth",
            json!({"basicAuth": {
                "secret": basic_auth_secret_name(m, auth),
                "realm": realm(auth),
            }}),
        ));
    }
    out
}

/// The paths of one host: `(path, pathType, port)`.
fn paths(host: &openclaw_api::IngressHost) -> Vec<(String, String, i32)> {
    let paths = host.paths.as_deref().unwrap_or_default();
    if paths.is_empty() {
        return vec![("/".to_string(), "Prefix".to_string(), GATEWAY_PORT)];
    }
    paths
        .iter()
        .map(|p| {
            let path = p
                .path
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or("/")
                .to_string();
            let path_type = p
                .path_type
                .as_deref()
                .filter(|t| matches!(*t, "Exact" | "ImplementationSpecific"))
                .unwrap_or("Prefix")
                .to_string();
            (path, path_type, p.port.unwrap_or(GATEWAY_PORT))
        })
        .collect()
}

/// The Ingress `<name>`.
fn render(
    m: &Model,
    spec: &IngressSpec,
    service_ports: &[i32],
    warnings: &mut Vec<String>,
) -> Ingress {
    let mut annotations = spec.annotations.clone().unwrap_or_default();
    for (key, value) in operator_annotations(m, spec) {
        if let Some(user) = annotations.insert(key.clone(), value.clone())
            && user != value
        {
            warnings.push(format!(
                "spec.networking.ingress.annotations[{key:?}] is set by the operator; \
                 {user:?} is replaced by {value:?}"
            ));
        }
    }
    let mut metadata = component_meta(m, m.name.clone(), COMPONENT);
    metadata.annotations = non_empty_map(annotations);

    let mut checked = BTreeSet::new();
    let mut rules = Vec::new();
    for (i, host) in spec.hosts.iter().flatten().enumerate() {
        if host.host.is_empty() {
            continue;
        }
        let mut http_paths = Vec::new();
        for (path, path_type, port) in paths(host) {
            if checked.insert(port) {
                check_backend_port(
                    m,
                    &format!("spec.networking.ingress.hosts[{i}]"),
                    port,
                    service_ports,
                    warnings,
                );
            }
            http_paths.push(HTTPIngressPath {
                path: Some(path),
                path_type,
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: m.name.clone(),
                        port: Some(ServiceBackendPort {
                            number: Some(port),
                            name: None,
                        }),
                    }),
                    resource: None,
                },
            });
        }
        rules.push(IngressRule {
            host: Some(host.host.clone()),
            http: Some(HTTPIngressRuleValue { paths: http_paths }),
        });
    }
    let tls: Vec<IngressTLS> = spec
        .tls
        .iter()
        .flatten()
        .map(|t| IngressTLS {
            hosts: non_empty_vec(
                t.hosts
                    .iter()
                    .flatten()
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .collect(),
            ),
            secret_name: t.secret_name.clone().filter(|s| !s.is_empty()),
        })
        .collect();
    if rules.is_empty() {
        warnings.push(
            "spec.networking.ingress has no hosts: the Ingress routes nothing to the instance"
                .to_string(),
        );
    }
    if provider(spec) == Provider::Unknown
        && (rate_limit(spec).is_some() || basic_auth(spec).is_some())
    {
        warnings.push(format!(
            "spec.networking.ingress.className {:?} is neither nginx nor Traefik: rate limiting \
             and basic auth are not applied (set the controller's annotations in \
             spec.networking.ingress.annotations)",
            spec.class_name.as_deref().unwrap_or_default()
        ));
    }
    Ingress {
        metadata,
        spec: Some(K8sIngressSpec {
            ingress_class_name: spec.class_name.clone().filter(|c| !c.is_empty()),
            rules: non_empty_vec(rules),
            tls: non_empty_vec(tls),
            default_backend: None,
        }),
        ..Default::default()
    }
}

/// The htpasswd line `<user>:{SHA}<base64(sha1(password))>`, accepted by ingress-nginx and
/// Traefik.
pub fn htpasswd_sha(user: &str, password: &str) -> String {
    let digest = Sha1::digest(password.as_bytes());
    format!("{user}:{{SHA}}{}", STANDARD.encode(digest))
}

/// The basic-auth Secret `<name>-basic-auth`: basic auth on and no `existingSecret`. Its type
/// is `kubernetes.io/basic-auth`: Traefik then reads `username` and `password` (with an Opaque
/// Secret it requires exactly one key), ingress-nginx reads `auth`.
fn basic_auth_secret(m: &Model, spec: &IngressSpec, warnings: &mut Vec<String>) -> Option<Secret> {
    let auth = basic_auth(spec)?;
    if existing_secret(auth).is_some() {
        return None;
    }
    let Some(password) = m
        .observed
        .basic_auth_password
        .as_deref()
        .filter(|p| !p.is_empty())
    else {
        warnings.push(format!(
            "no password was observed for the basic-auth Secret {:?}; it is not rendered",
            basic_auth_secret_name(m, auth)
        ));
        return None;
    };
    let user = match auth.username.as_deref().filter(|u| !u.is_empty()) {
        Some(u) if u.contains([':', '\n', '\r']) => {
            warnings.push(format!(
                "spec.networking.ingress.security.basicAuth.username {u:?} contains ':' or a line \
                 break; using {DEFAULT_BASIC_AUTH_USER:?}"
            ));
            DEFAULT_BASIC_AUTH_USER
        }
        Some(u) => u,
        None => DEFAULT_BASIC_AUTH_USER,
    };
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    Some(Secret {
        metadata: component_meta(m, basic_auth_secret_name(m, auth), COMPONENT),
        type_: Some("kubernetes.io/basic-auth".to_string()),
        data: Some(BTreeMap::from([
            ("auth".to_string(), bytes(&htpasswd_sha(user, password))),
            ("username".to_string(), bytes(user)),
            ("password".to_string(), bytes(password)),
        ])),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_sha_known_vectors() {
        // What `htpasswd -nbs openclaw password` and `htpasswd -nbs admin secret` print
        // (checked with `printf password | openssl sha1 -binary | base64`).
        assert_eq!(
            htpasswd_sha("openclaw", "password"),
            "openclaw:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="
        );
        assert_eq!(
            htpasswd_sha("admin", "secret"),
            "admin:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="
        );
    }

    #[test]
    fn provider_from_class_name() {
        let with = |c: Option<&str>| IngressSpec {
            class_name: c.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(provider(&with(Some("NGINX-public"))), Provider::Nginx);
        assert_eq!(provider(&with(Some("nginx-traefik"))), Provider::Nginx);
        assert_eq!(provider(&with(Some("Traefik"))), Provider::Traefik);
        assert_eq!(provider(&with(Some("alb"))), Provider::Unknown);
        assert_eq!(provider(&with(None)), Provider::Unknown);
    }
}
