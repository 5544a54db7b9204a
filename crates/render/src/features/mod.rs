//! Optional features of an instance, one module each, behind the [`Feature`] trait.
//!
//! The trait lives in [`hooks`]; this module is the registry. The core renderers call the
//! functions below at fixed places (see each hook's doc): the pod layout in
//! [`crate::statefulset`] and its main container and the post-passes over the pod (CA bundle)
//! and the StatefulSet (autoscaling), the Service ports, the NetworkPolicy, the Role,
//! `openclaw.json` enrichment, the Control UI origins and the extra files of `<name>-config`,
//! the data PVC, and whole objects in [`crate::render`]. They never name a feature module
//! (`tests/layers.rs`); a feature module only implements the trait, so the core files do not
//! change when a feature is added. See `docs/design/optional-features.md` §3.2 and
//! `docs/rendering.md` ("Layers").

pub mod autoscaling;
pub mod backup;
pub mod ca_bundle;
pub mod chromium;
pub mod hooks;
pub mod httproute;
pub mod ingress;
pub mod install;
pub mod monitoring;
pub mod ollama;
pub mod otel;
pub mod plugins;
pub mod runtime_deps;
mod sidecar_util;
pub mod skills;
pub mod tailscale;
pub mod web_terminal;

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::core::v1::{PodSpec, ServicePort};
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Map, Value};

pub use self::hooks::{Feature, NetParts, PodParts};
use crate::model::Model;
use crate::{Desired, RenderError};

/// Every feature. The order is Go's container order (init: tailscale-bin, pnpm, python,
/// skills, plugins, ollama, chromium; sidecars: tailscale, ollama, web-terminal,
/// otel-collector) and is fixed: streams replace stub bodies, never reorder. The CA bundle
/// comes last: its post-pass sees the whole pod.
pub static FEATURES: &[&dyn Feature] = &[
    &tailscale::T,
    &runtime_deps::T,
    &skills::T,
    &plugins::T,
    &ollama::T,
    &chromium::T,
    &web_terminal::T,
    &otel::T,
    &ingress::T,
    &httproute::T,
    &autoscaling::T,
    &monitoring::T,
    &backup::T,
    &ca_bundle::T,
];

/// The enabled features, in registry order.
pub fn enabled<'m>(m: &'m Model) -> impl Iterator<Item = &'static dyn Feature> + 'm {
    FEATURES.iter().copied().filter(move |f| f.enabled(m))
}

/// The pod parts of every enabled feature.
pub fn pod_parts(m: &Model, warnings: &mut Vec<String>) -> PodParts {
    let mut parts = PodParts::default();
    for f in enabled(m) {
        f.pod(m, &mut parts, warnings);
    }
    let mut seen = std::collections::BTreeSet::new();
    parts.path_prefixes.retain(|p| seen.insert(p.clone()));
    parts
}

/// The data-volume directories of every enabled feature (duplicates removed, order kept).
pub fn data_dirs(m: &Model) -> Vec<String> {
    let mut dirs = pod_parts(m, &mut Vec::new()).data_dirs;
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// The NetworkPolicy parts of every enabled feature.
pub fn net_parts(m: &Model) -> NetParts {
    let mut net = NetParts::default();
    for f in enabled(m) {
        f.network(m, &mut net);
    }
    net
}

/// The Service ports of every enabled feature.
pub fn service_ports(m: &Model) -> Vec<ServicePort> {
    enabled(m).flat_map(|f| f.service_ports(m)).collect()
}

/// The Role rules of every enabled feature.
pub fn role_rules(m: &Model) -> Vec<PolicyRule> {
    enabled(m).flat_map(|f| f.role_rules(m)).collect()
}

/// Enrich `openclaw.json` with every enabled feature's keys.
pub fn enrich(m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    for f in enabled(m) {
        f.enrich(m, config, warnings);
    }
}

/// The extra `<name>-config` files of every enabled feature.
pub fn config_files(m: &Model) -> Vec<(String, String)> {
    enabled(m).flat_map(|f| f.config_files(m)).collect()
}

/// The objects of every enabled feature.
pub fn objects(
    m: &Model,
    out: &mut Vec<Desired>,
    warnings: &mut Vec<String>,
) -> Result<(), RenderError> {
    for f in enabled(m) {
        f.objects(m, out, warnings)?;
    }
    Ok(())
}

/// Default Control UI origin hosts of every enabled feature.
pub fn origin_hosts(m: &Model) -> Vec<(String, bool)> {
    enabled(m).flat_map(|f| f.origin_hosts(m)).collect()
}

/// The Service ports every enabled feature requires, even in a custom list.
pub fn required_service_ports(m: &Model) -> Vec<ServicePort> {
    enabled(m)
        .flat_map(|f| f.required_service_ports(m))
        .collect()
}

/// Every enabled feature's warnings about the final Service ports.
pub fn check_service_ports(
    m: &Model,
    ports: &[ServicePort],
    custom: bool,
    warnings: &mut Vec<String>,
) {
    for f in enabled(m) {
        f.check_service_ports(m, ports, custom, warnings);
    }
}

/// Whether an enabled feature gives every replica its own data volume.
pub fn per_replica_data(m: &Model) -> bool {
    enabled(m).any(|f| f.per_replica_data(m))
}

/// Every enabled feature's post-pass over the assembled pod.
pub fn finish_pod(m: &Model, pod: &mut PodSpec, warnings: &mut Vec<String>) {
    for f in enabled(m) {
        f.finish_pod(m, pod, warnings);
    }
}

/// Every enabled feature's post-pass over the assembled StatefulSet spec.
pub fn finish_statefulset(m: &Model, sts: &mut StatefulSetSpec) {
    for f in enabled(m) {
        f.finish_statefulset(m, sts);
    }
}
