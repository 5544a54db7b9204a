//! Gateway API HTTPRoute (`docs/design/optional-features.md` §1.11,
//! `docs/features/networking.md`), when `networking.httpRoute.enabled == true`.
//!
//! Renders `gateway.networking.k8s.io/v1` HTTPRoute `<name>`: the parent Gateways, the host
//! names, and one rule sending `PathPrefix /` to the Service `<name>`. Its non-wildcard host
//! names also become default Control UI origins (`https://<host>`: TLS terminates at the
//! Gateway), see [`origin_hosts`].

use serde_json::{Map, Value, json};

use super::hooks::Feature;
use super::ingress::{check_backend_port, network_policy_warning, service_ports};
use crate::consts::GATEWAY_PORT;
use crate::k8s::meta::component_meta;
use crate::k8s::meta::non_empty_map;
use crate::model::Model;
use crate::{CustomKind, CustomObject, Desired, Object, Phase, RenderError, StatusSlot};

/// The `app.kubernetes.io/component` value of the HTTPRoute.
pub const COMPONENT: &str = "httproute";

/// Gateway API HTTPRoute.
pub struct HttpRouteFeature;

/// The registry entry.
pub static T: HttpRouteFeature = HttpRouteFeature;

impl Feature for HttpRouteFeature {
    fn name(&self) -> &'static str {
        COMPONENT
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).is_some()
    }

    fn origin_hosts(&self, m: &Model) -> Vec<(String, bool)> {
        origin_hosts(m)
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
        let port = spec.port.unwrap_or(GATEWAY_PORT);
        check_backend_port(
            m,
            "spec.networking.httpRoute.port",
            port,
            &service_ports(m, out),
            warnings,
        );
        network_policy_warning(m, "spec.networking.httpRoute", warnings);

        let parent_refs: Vec<Value> = spec
            .parent_refs
            .iter()
            .flatten()
            .filter(|p| !p.name.is_empty())
            .map(|p| {
                let mut r = Map::new();
                r.insert("name".into(), json!(p.name));
                if let Some(ns) = p.namespace.as_deref().filter(|s| !s.is_empty()) {
                    r.insert("namespace".into(), json!(ns));
                }
                if let Some(s) = p.section_name.as_deref().filter(|s| !s.is_empty()) {
                    r.insert("sectionName".into(), json!(s));
                }
                Value::Object(r)
            })
            .collect();
        if parent_refs.is_empty() {
            warnings.push(
                "spec.networking.httpRoute has no parentRefs: no Gateway serves the route"
                    .to_string(),
            );
        }
        let hostnames = hostnames(m);
        let mut route = Map::new();
        route.insert("parentRefs".into(), Value::from(parent_refs));
        if !hostnames.is_empty() {
            route.insert("hostnames".into(), json!(hostnames));
        }
        route.insert(
            "rules".into(),
            json!([{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"name": m.name, "port": port}],
            }]),
        );

        let mut metadata = component_meta(m, m.name.clone(), COMPONENT);
        metadata.annotations = spec.annotations.clone().and_then(non_empty_map);
        out.push(Desired::apply(
            Object::Custom(CustomObject {
                kind: CustomKind::HttpRoute,
                metadata,
                spec: Value::Object(route),
            }),
            Phase::Exposure,
            Some(StatusSlot::HttpRoute),
        ));
        Ok(())
    }
}

/// `networking.httpRoute`, when enabled.
fn spec<'a>(m: &'a Model<'_>) -> Option<&'a openclaw_api::HttpRouteSpec> {
    m.spec
        .networking
        .as_ref()?
        .http_route
        .as_ref()
        .filter(|r| r.enabled == Some(true))
}

/// The route's host names (empty ones dropped).
fn hostnames(m: &Model) -> Vec<String> {
    spec(m)
        .and_then(|s| s.hostnames.as_ref())
        .into_iter()
        .flatten()
        .filter(|h| !h.is_empty())
        .cloned()
        .collect()
}

/// Hosts that become default Control UI origins, as `(host, https)`: the enabled route's
/// non-wildcard host names, all served over https (TLS terminates at the Gateway).
pub fn origin_hosts(m: &Model) -> Vec<(String, bool)> {
    hostnames(m)
        .into_iter()
        .filter(|h| !h.contains('*'))
        .map(|h| (h, true))
        .collect()
}
