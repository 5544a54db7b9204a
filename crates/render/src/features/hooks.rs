//! The [`Feature`] trait and the parts its hooks fill: the one interface between the core
//! renderers and the optional features. Core renderers reach features only through the
//! registry functions of [`crate::features`], which call these hooks on every enabled feature.

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, ServicePort, Volume, VolumeMount};
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
    /// ([`crate::features::data_dirs`]), so neither the `init-config` command nor the config hash changes.
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
    /// Whole objects. `out` already holds the core objects (the Service among them), so a
    /// feature can check its references against them.
    fn objects(
        &self,
        _m: &Model,
        _out: &mut Vec<Desired>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        Ok(())
    }
    /// Host names that become default Control UI origins, as `(host, https)` (after the
    /// Ingress hosts).
    fn origin_hosts(&self, _m: &Model) -> Vec<(String, bool)> {
        Vec::new()
    }
    /// Service ports kept even in a custom `networking.service.ports` list (unless a port of
    /// that name or number is already there); the NetworkPolicy admits their targets in any
    /// case.
    fn required_service_ports(&self, _m: &Model) -> Vec<ServicePort> {
        Vec::new()
    }
    /// Warnings about the final Service ports (`custom`: from `networking.service.ports`).
    fn check_service_ports(
        &self,
        _m: &Model,
        _ports: &[ServicePort],
        _custom: bool,
        _warnings: &mut Vec<String>,
    ) {
    }
    /// Every replica gets its own data volume, so the shared PVC `<name>-data` is not
    /// rendered.
    fn per_replica_data(&self, _m: &Model) -> bool {
        false
    }
    /// A post-pass over the assembled pod (after every feature's [`Feature::pod`] and the
    /// spec's own containers and volumes).
    fn finish_pod(&self, _m: &Model, _pod: &mut PodSpec, _warnings: &mut Vec<String>) {}
    /// A post-pass over the assembled StatefulSet spec.
    fn finish_statefulset(&self, _m: &Model, _sts: &mut StatefulSetSpec) {}
}
