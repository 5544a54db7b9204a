//! Optional features of an instance, one module each, behind the [`Feature`] trait.
//!
//! The core renderers walk [`FEATURES`] at fixed places (see each hook's doc): the pod layout
//! in [`crate::statefulset`] and its main container, the Service ports, the NetworkPolicy,
//! the Role, `openclaw.json` enrichment and the extra files of `<name>-config`, and whole
//! objects in [`crate::render`]. A feature module only implements the trait; the hot files do
//! not change when a feature is added. Every feature is a stub for now (`enabled() == false`).
//! See `docs/design/optional-features.md` §3.2.

pub mod autoscaling;
pub mod ca_bundle;
pub mod chromium;
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

use k8s_openapi::api::core::v1::{Container, EnvVar, ServicePort, Volume, VolumeMount};
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::{Map, Value};

use crate::model::Model;
use crate::{Desired, RenderError};

/// What the enabled features add to the pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodParts {
    /// After `init-config`, before `spec.initContainers`.
    pub init_containers: Vec<Container>,
    /// After `gateway-proxy`, before `spec.sidecars`.
    pub sidecars: Vec<Container>,
    /// After `gateway-proxy-tmp`, before `spec.sidecarVolumes`.
    pub volumes: Vec<Volume>,
    /// The operator section of the main container's env (a user variable of the same name
    /// still wins).
    pub main_env: Vec<EnvVar>,
    /// Main container mounts: after `/tmp`, before `spec.extraVolumeMounts`.
    pub main_mounts: Vec<VolumeMount>,
    /// Directories put before the image's default `PATH`; `PATH` is rendered only when this
    /// is non-empty (duplicates removed, order kept).
    pub path_prefixes: Vec<String>,
    /// Extra directories `init-config` creates on the data volume (e.g. `skills`), as the pod's
    /// user. They join the root `directories` of the seed plan in the workspace ConfigMap
    /// ([`data_dirs`]), so neither the `init-config` command nor the config hash changes.
    pub data_dirs: Vec<String>,
}

/// What the enabled features add to the NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetParts {
    /// Ingress ports open only to the instance's own pods.
    pub ingress_self_only: Vec<NetworkPolicyPort>,
    /// Egress ports to anywhere.
    pub egress_any: Vec<NetworkPolicyPort>,
    /// Egress ports to the instance's own pods.
    pub egress_self: Vec<NetworkPolicyPort>,
    /// The pod talks to the Kubernetes API (egress TCP 6443).
    pub needs_api: bool,
}

/// One optional feature. Every hook has an empty default; a hook is only called when
/// [`Feature::enabled`] is true.
pub trait Feature: Sync {
    /// Short name, also the `app.kubernetes.io/component` label of its objects.
    fn name(&self) -> &'static str;
    /// Whether the instance uses the feature.
    fn enabled(&self, m: &Model) -> bool;
    /// Add keys to `openclaw.json` (after the core enrichment; never overwrite a user value).
    fn enrich(&self, _m: &Model, _config: &mut Map<String, Value>, _warnings: &mut Vec<String>) {}
    /// Extra keys of `<name>-config` (part of the config hash).
    fn config_files(&self, _m: &Model) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Containers, volumes, env and mounts of the pod.
    fn pod(&self, _m: &Model, _parts: &mut PodParts, _warnings: &mut Vec<String>) {}
    /// Service ports (default port list only; custom `networking.service.ports` replace it).
    fn service_ports(&self, _m: &Model) -> Vec<ServicePort> {
        Vec::new()
    }
    /// NetworkPolicy ports.
    fn network(&self, _m: &Model, _net: &mut NetParts) {}
    /// Rules of the instance's Role (before `additionalRules`).
    fn role_rules(&self, _m: &Model) -> Vec<PolicyRule> {
        Vec::new()
    }
    /// Whole objects.
    fn objects(
        &self,
        _m: &Model,
        _out: &mut Vec<Desired>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        Ok(())
    }
}

/// Every feature. The order is Go's container order (init: tailscale-bin, pnpm, python,
/// skills, plugins, ollama, chromium; sidecars: tailscale, ollama, web-terminal,
/// otel-collector) and is fixed: streams replace stub bodies, never reorder.
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
