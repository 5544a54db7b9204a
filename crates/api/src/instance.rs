//! `OpenClawInstance`: one OpenClaw agent gateway and everything it needs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EnvFromSource, EnvVar, LocalObjectReference, Toleration,
    TopologySpreadConstraint, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicyEgressRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::*;
use crate::k8s_schema;

/// Names of the init containers the operator manages; user init containers may not use them.
pub const RESERVED_INIT_CONTAINER_NAMES: &[&str] = &[
    "init-config",
    "init-pnpm",
    "init-python",
    "init-uv",
    "init-pip",
    "init-skills",
    "init-plugins",
    "init-ollama",
    "init-plugin-runtime-deps",
    "init-tailscale-bin",
];

/// Desired state of an OpenClaw instance.
///
/// CEL rules here must stay within the API server's cost budget: the contract's strings carry no
/// `maxLength`, so per-character checks (regular expressions) on list items are too expensive
/// for the server and are left to the admission checks in [`crate::validation`].
// kube-derive takes repeated `printcolumn(...)` entries, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "openclaw.rocks",
    version = "v1alpha1",
    kind = "OpenClawInstance",
    plural = "openclawinstances",
    singular = "openclawinstance",
    shortname = "oci",
    shortname = "claw",
    category = "openclaw",
    namespaced,
    status = "OpenClawInstanceStatus",
    derive = "PartialEq",
    derive = "Default",
    cel,
    doc = "An OpenClaw AI-agent gateway managed by the operator.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(
        name = "Gateway",
        type_ = "string",
        json_path = ".status.gatewayEndpoint"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.initContainers) || self.initContainers.all(c, size(c.name) > 0 && !(c.name in ['init-config', 'init-pnpm', 'init-python', 'init-uv', 'init-pip', 'init-skills', 'init-plugins', 'init-ollama', 'init-plugin-runtime-deps', 'init-tailscale-bin']))")
        .message("spec.initContainers: names must not be empty and must not use a name reserved for the operator's init containers (init-config, init-pnpm, init-python, init-uv, init-pip, init-skills, init-plugins, init-ollama, init-plugin-runtime-deps, init-tailscale-bin)"),
    validation = Rule::new("!(has(self.suspended) && self.suspended && has(self.availability) && has(self.availability.autoScaling) && has(self.availability.autoScaling.enabled) && self.availability.autoScaling.enabled)")
        .message("spec.suspended and spec.availability.autoScaling.enabled are mutually exclusive")
)]
pub struct OpenClawInstanceSpec {
    /// Registry that replaces the registry part of every image the operator renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The OpenClaw image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSpec>,
    /// The `openclaw.json` source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigSpec>,
    /// Workspace seeding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceSpec>,
    /// Skills to install: ClawHub slugs, `npm:<package>` or `pack:owner/repo/path[@ref]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20), extend("x-kubernetes-list-type" = "set"))]
    #[x_kube(validation = Rule::new("self.all(s, size(s) > 0 && size(s) <= 128)")
        .message("spec.skills: each entry must be 1-128 characters"))]
    pub skills: Option<Vec<String>>,
    /// npm plugins to install (an optional `npm:` prefix is allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    #[x_kube(validation = Rule::new("self.all(s, size(s) > 0 && size(s) <= 128 && !s.startsWith('pack:'))")
        .message("spec.plugins: each entry must be 1-128 characters and not a pack: reference"))]
    pub plugins: Option<Vec<String>>,
    /// Environment sources of the main container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::env_from_sources")]
    pub env_from: Option<Vec<EnvFromSource>>,
    /// Environment of the main container, after the operator's own variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "k8s_schema::env_vars",
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub env: Option<Vec<EnvVar>>,
    /// Main container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    /// Security settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySpec>,
    /// Storage settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    /// Headless Chromium sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chromium: Option<ChromiumSpec>,
    /// Tailscale sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailscale: Option<TailscaleSpec>,
    /// Ollama sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ollama: Option<OllamaSpec>,
    /// Web terminal (ttyd) sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_terminal: Option<WebTerminalSpec>,
    /// Extra init containers, run after the operator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::containers", length(max = 10))]
    pub init_containers: Option<Vec<Container>>,
    /// Extra sidecar containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::containers")]
    pub sidecars: Option<Vec<Container>>,
    /// Volumes for the extra sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::volumes")]
    pub sidecar_volumes: Option<Vec<Volume>>,
    /// Extra pod volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::volumes", length(max = 10))]
    pub extra_volumes: Option<Vec<Volume>>,
    /// Extra mounts on the main container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::volume_mounts", length(max = 10))]
    pub extra_volume_mounts: Option<Vec<VolumeMount>>,
    /// Service, Ingress and HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<NetworkingSpec>,
    /// Main container probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbesSpec>,
    /// Metrics and logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observability: Option<ObservabilitySpec>,
    /// PodDisruptionBudget, autoscaling and scheduling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilitySpec>,
    /// Scale to zero and keep everything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub suspended: Option<bool>,
    /// Backups to S3-compatible storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSpec>,
    /// Remote path to restore the data volume from before the first start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
    /// Runtime dependencies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_deps: Option<RuntimeDepsSpec>,
    /// Gateway proxy and token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewaySpec>,
    /// Automatic image updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_update: Option<AutoUpdateSpec>,
    /// Allow the agent to request changes through OpenClawSelfConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_configure: Option<SelfConfigureSpec>,
    /// Extra pod annotations (the operator's own keys win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_annotations: Option<BTreeMap<String, String>>,
    /// Share one process namespace between the pod's containers (reaps zombie processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub share_process_namespace: Option<bool>,
    /// How skill-pack files are seeded on each start: `Replace` or `CreateOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Replace", "enum" = ["Replace", "CreateOnly"]))]
    pub skill_pack_update_policy: Option<String>,
}

/// Where `openclaw.json` comes from and how it is written to the data volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.format) && self.format == 'json5' && has(self.raw))")
        .message("spec.config: format json5 requires configMapRef; inline raw config must be JSON"),
    validation = Rule::new("!(has(self.format) && self.format == 'json5' && has(self.mergeMode) && self.mergeMode == 'merge')")
        .message("spec.config: format json5 is not compatible with mergeMode merge"),
    validation = Rule::new("!has(self.forcePaths) || size(self.forcePaths) == 0 || (has(self.mergeMode) && self.mergeMode == 'merge')")
        .message("spec.config.forcePaths is only valid when spec.config.mergeMode is merge")
)]
pub struct ConfigSpec {
    /// External `openclaw.json` in a ConfigMap; when set, `raw` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeySelector>,
    /// Inline `openclaw.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawConfig>,
    /// `overwrite` replaces the file on every start; `merge` deep-merges into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "overwrite", "enum" = ["overwrite", "merge"]))]
    pub merge_mode: Option<String>,
    /// `json` or `json5` (json5 needs `configMapRef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "json", "enum" = ["json", "json5"]))]
    pub format: Option<String>,
    /// Dot-separated paths that the spec owns entirely in merge mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20), extend("x-kubernetes-list-type" = "set"))]
    pub force_paths: Option<Vec<String>>,
}

/// A key in a ConfigMap of the same namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ConfigMapKeySelector {
    /// ConfigMap name.
    pub name: String,
    /// Key inside the ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "openclaw.json"))]
    pub key: Option<String>,
}

/// A ConfigMap of the same namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ConfigMapNameSelector {
    /// ConfigMap name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// Workspace files seeded into the agent's data volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// Every key of this ConfigMap becomes a workspace file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapNameSelector>,
    /// File path to content, written only when the file does not exist yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 50))]
    pub initial_files: Option<BTreeMap<String, String>>,
    /// Directories to create, relative to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub initial_directories: Option<Vec<String>>,
    /// Extra agent workspaces (`~/.openclaw/workspace-<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self.all(w, self.exists_one(x, x.name == w.name))")
        .message("spec.workspace.additionalWorkspaces: names must be unique"))]
    pub additional_workspaces: Option<Vec<AdditionalWorkspace>>,
    /// The operator-managed `BOOTSTRAP.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapSpec>,
}

/// An extra agent workspace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalWorkspace {
    /// Workspace name (lowercase letters, digits, single hyphens).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")
    )]
    pub name: String,
    /// Every key of this ConfigMap becomes a file of this workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapNameSelector>,
    /// File path to content, seeded once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 50))]
    pub initial_files: Option<BTreeMap<String, String>>,
    /// Directories to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub initial_directories: Option<Vec<String>>,
    /// Skills for this workspace only (same formats as `spec.skills`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20), extend("x-kubernetes-list-type" = "set"))]
    #[x_kube(validation = Rule::new("self.all(s, size(s) > 0 && size(s) <= 128)")
        .message("skills: each entry must be 1-128 characters"))]
    pub skills: Option<Vec<String>>,
}

/// The operator-managed `BOOTSTRAP.md`.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct BootstrapSpec {
    /// Inject `BOOTSTRAP.md` into the default workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
}

/// Pod and container security.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecuritySpec {
    /// Pod security context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_security_context: Option<PodSecurityContextSpec>,
    /// Main container security context (set fields override the hardened baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<ContainerSecurityContextSpec>,
    /// The instance's NetworkPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<NetworkPolicySpec>,
    /// ServiceAccount and RBAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac: Option<RbacSpec>,
    /// Custom CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundleSpec>,
}

/// Pod security context.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContextSpec {
    /// User ID (0 is rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 1000))]
    #[x_kube(validation = Rule::new("self != 0").message("spec.security.podSecurityContext.runAsUser: running as root (UID 0) is not allowed"))]
    pub run_as_user: Option<i64>,
    /// Group ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 1000))]
    pub run_as_group: Option<i64>,
    /// Volume group ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 1000))]
    pub fs_group: Option<i64>,
    /// `OnRootMismatch` or `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["OnRootMismatch", "Always"]))]
    pub fs_group_change_policy: Option<String>,
    /// Refuse to run as root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub run_as_non_root: Option<bool>,
}

/// Main container security context.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContextSpec {
    /// Allow privilege escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub allow_privilege_escalation: Option<bool>,
    /// Read-only root filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub read_only_root_filesystem: Option<bool>,
    /// Capabilities (replaces the default `drop: [ALL]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::capabilities")]
    pub capabilities: Option<Capabilities>,
    /// Refuse to run as root (defaults to the pod value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// User ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
}

/// The instance's NetworkPolicy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Create the NetworkPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Extra ingress source CIDRs.
    #[serde(
        default,
        rename = "allowedIngressCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_ingress_cidrs: Option<Vec<String>>,
    /// Extra ingress namespaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ingress_namespaces: Option<Vec<String>>,
    /// Extra egress destination CIDRs (all ports).
    #[serde(
        default,
        rename = "allowedEgressCIDRs",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_egress_cidrs: Option<Vec<String>>,
    /// Allow DNS (UDP and TCP 53).
    #[serde(default, rename = "allowDNS", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub allow_dns: Option<bool>,
    /// Extra egress rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::egress_rules")]
    pub additional_egress: Option<Vec<NetworkPolicyEgressRule>>,
}

/// ServiceAccount and RBAC.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RbacSpec {
    /// Create the ServiceAccount, Role and RoleBinding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub create_service_account: Option<bool>,
    /// ServiceAccount name (also the name of the created one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Annotations on the managed ServiceAccount (e.g. workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_annotations: Option<BTreeMap<String, String>>,
    /// Extra rules appended to the Role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_rules: Option<Vec<RbacRule>>,
}

/// One RBAC policy rule.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RbacRule {
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources.
    pub resources: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// Custom CA bundle, from exactly one of a ConfigMap or a Secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.configMapName) && size(self.configMapName) > 0) != (has(self.secretName) && size(self.secretName) > 0)")
        .message("spec.security.caBundle: set exactly one of configMapName and secretName")
)]
pub struct CaBundleSpec {
    /// ConfigMap holding the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
    /// Secret holding the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Key of the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ca-bundle.crt"))]
    pub key: Option<String>,
}

/// Storage settings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StorageSpec {
    /// The data volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<PersistenceSpec>,
}

/// The data volume.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(oldSelf.storageClass) || !has(self.storageClass) || self.storageClass == oldSelf.storageClass")
        .message("spec.storage.persistence.storageClass is immutable after creation")
)]
pub struct PersistenceSpec {
    /// Keep data on a PVC (otherwise an emptyDir).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// StorageClass of the PVC (immutable once set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// PVC size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "10Gi"))]
    pub size: Option<String>,
    /// PVC access modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = ["ReadWriteOnce"]))]
    pub access_modes: Option<Vec<String>>,
    /// Use this existing PVC instead of `<name>-data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_claim: Option<String>,
    /// Keep the managed PVC when the instance is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub orphan: Option<bool>,
}

/// Headless Chromium sidecar.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChromiumSpec {
    /// Run the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ChromiumImageSpec>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    /// Persistent browser profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<ChromiumPersistenceSpec>,
    /// Extra Chromium flags (merged with the defaults by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<String>>,
    /// Extra environment of the Chromium container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::env_vars")]
    pub extra_env: Option<Vec<EnvVar>>,
}

/// Persistent Chromium profile.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChromiumPersistenceSpec {
    /// Keep the profile on a PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// StorageClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "1Gi"))]
    pub size: Option<String>,
    /// Existing PVC to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_claim: Option<String>,
}

/// Tailscale sidecar.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TailscaleSpec {
    /// Run the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// `serve` (tailnet only) or `funnel` (public).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "serve", "enum" = ["serve", "funnel"]))]
    pub mode: Option<String>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<TailscaleImageSpec>,
    /// Secret holding the auth key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::local_object_reference")]
    pub auth_key_secret_ref: Option<LocalObjectReference>,
    /// Key of the auth key in that Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "authkey"))]
    pub auth_key_secret_key: Option<String>,
    /// Tailnet host name (defaults to the instance name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Let Tailscale identities log in to the gateway.
    #[serde(default, rename = "authSSO", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub auth_sso: Option<bool>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
}

/// Ollama sidecar.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OllamaSpec {
    /// Run the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<OllamaImageSpec>,
    /// Models to pull before start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub models: Option<Vec<String>>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    /// Model cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<OllamaStorageSpec>,
    /// Number of NVIDIA GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub gpu: Option<i32>,
}

/// Ollama model cache.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OllamaStorageSpec {
    /// emptyDir size limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "20Gi"))]
    pub size_limit: Option<String>,
    /// Existing PVC instead of the emptyDir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_claim: Option<String>,
}

/// Web terminal sidecar.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebTerminalSpec {
    /// Run the sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<WebTerminalImageSpec>,
    /// Resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourcesSpec>,
    /// Mount the data volume read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub read_only: Option<bool>,
    /// Basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<WebTerminalCredentialSpec>,
}

/// Basic-auth credentials of the web terminal.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebTerminalCredentialSpec {
    /// Secret with the keys `username` and `password`.
    #[schemars(schema_with = "k8s_schema::local_object_reference")]
    pub secret_ref: LocalObjectReference,
}

/// Service, Ingress and HTTPRoute.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkingSpec {
    /// The Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceSpec>,
    /// The Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// The Gateway API HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<HttpRouteSpec>,
}

/// The Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Service type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ClusterIP", "enum" = ["ClusterIP", "LoadBalancer", "NodePort"]))]
    pub type_: Option<String>,
    /// Extra annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Ports replacing the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub ports: Option<Vec<ServicePortSpec>>,
}

/// One Service port.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortSpec {
    /// Port name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Target port (defaults to `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<i32>,
    /// Protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "TCP", "enum" = ["TCP", "UDP", "SCTP"]))]
    pub protocol: Option<String>,
}

/// The Ingress.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Create the Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// IngressClass (nginx and Traefik get tailored annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Extra annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<IngressHost>>,
    /// TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<IngressTls>>,
    /// HTTPS redirect, HSTS, rate limiting, basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<IngressSecuritySpec>,
}

/// One Ingress host.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct IngressHost {
    /// Host name.
    pub host: String,
    /// Paths (default `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<IngressPath>>,
}

/// One Ingress path.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    /// Path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "/"))]
    pub path: Option<String>,
    /// Path type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Prefix", "enum" = ["Prefix", "Exact", "ImplementationSpecific"]))]
    pub path_type: Option<String>,
    /// Backend Service port (default 18789).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// Ingress TLS.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// Hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Certificate Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// Ingress security.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressSecuritySpec {
    /// Redirect HTTP to HTTPS.
    #[serde(
        default,
        rename = "forceHTTPS",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("default" = true))]
    pub force_https: Option<bool>,
    /// Send HSTS (nginx).
    #[serde(
        default,
        rename = "enableHSTS",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("default" = true))]
    pub enable_hsts: Option<bool>,
    /// Rate limiting (absent means none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limiting: Option<RateLimitingSpec>,
    /// Basic auth (absent means none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<IngressBasicAuthSpec>,
}

/// Ingress rate limiting.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitingSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 10))]
    pub requests_per_second: Option<i32>,
}

/// Ingress basic auth.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressBasicAuthSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Existing Secret with the htpasswd line under `auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_secret: Option<String>,
    /// User name of the generated credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("default" = "openclaw"))]
    pub username: Option<String>,
    /// Realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "OpenClaw"))]
    pub realm: Option<String>,
}

/// Gateway API HTTPRoute.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// Create the HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Parent Gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_refs: Option<Vec<HttpRouteParentRef>>,
    /// Host names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostnames: Option<Vec<String>>,
    /// Backend Service port (default 18789).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Annotations of the HTTPRoute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// A parent Gateway of the HTTPRoute.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteParentRef {
    /// Gateway name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Gateway namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// Main container probes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbesSpec {
    /// Liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<ProbeSpec>,
    /// Readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ProbeSpec>,
    /// Startup probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<ProbeSpec>,
    /// Opt-in disk guard on readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_readiness: Option<DiskReadinessSpec>,
}

/// One probe.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Initial delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    /// Period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// Failure threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
}

/// Readiness fails when the data directory is not writable or nearly full.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiskReadinessSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Directory to check (default `/home/openclaw/.openclaw`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Minimum free space (default `64Mi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free: Option<String>,
}

/// Metrics and logging.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ObservabilitySpec {
    /// Metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSpec>,
    /// Logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<LoggingSpec>,
}

/// Metrics.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSpec {
    /// OTel collector sidecar and metrics port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Metrics port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 9090))]
    pub port: Option<i32>,
    /// Prometheus Operator ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor: Option<ServiceMonitorSpec>,
    /// Prometheus Operator PrometheusRule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_rule: Option<PrometheusRuleSpec>,
    /// Grafana dashboards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_dashboard: Option<GrafanaDashboardSpec>,
}

/// ServiceMonitor.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ServiceMonitorSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Scrape interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "30s"))]
    pub interval: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// PrometheusRule.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct PrometheusRuleSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Base URL of the runbooks linked from alerts.
    #[serde(
        default,
        rename = "runbookBaseURL",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("default" = "https://paperclip.inc/docs/operators/openclaw/runbooks"))]
    pub runbook_base_url: Option<String>,
}

/// Grafana dashboards.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct GrafanaDashboardSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Grafana folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "OpenClaw"))]
    pub folder: Option<String>,
}

/// Logging (kept for compatibility; OpenClaw's own config controls logging).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct LoggingSpec {
    /// Level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "info", "enum" = ["debug", "info", "warn", "error"]))]
    pub level: Option<String>,
    /// Format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "json", "enum" = ["json", "text"]))]
    pub format: Option<String>,
}

/// PodDisruptionBudget, autoscaling and scheduling.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilitySpec {
    /// PodDisruptionBudget (absent means one is created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<PodDisruptionBudgetSpec>,
    /// HorizontalPodAutoscaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<AutoScalingSpec>,
    /// Node selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::tolerations")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::affinity")]
    pub affinity: Option<Affinity>,
    /// Topology spread constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::topology_spread_constraints")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// RuntimeClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
}

/// PodDisruptionBudget.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Max unavailable pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = 1))]
    pub max_unavailable: Option<i32>,
}

/// HorizontalPodAutoscaler.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingSpec {
    /// Enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Minimum replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 1))]
    pub min_replicas: Option<i32>,
    /// Maximum replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 5))]
    pub max_replicas: Option<i32>,
    /// Target CPU utilization in percent.
    #[serde(
        default,
        rename = "targetCPUUtilization",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(range(min = 1, max = 100), extend("default" = 80))]
    pub target_cpu_utilization: Option<i32>,
    /// Target memory utilization in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_utilization: Option<i32>,
}

/// Backups.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Cron schedule of periodic backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Successful jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 3))]
    pub history_limit: Option<i32>,
    /// Failed jobs kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0), extend("default" = 1))]
    pub failed_history_limit: Option<i32>,
    /// Pre-delete backup timeout (Go duration, 5m to 24h; default 30m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// ServiceAccount of backup and restore jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Days of daily snapshots kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 365), extend("default" = 7))]
    pub retention_days: Option<i32>,
}

/// Gateway proxy and token.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySpec {
    /// Run the gateway proxy sidecar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Existing Secret holding the gateway token under `token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_secret: Option<String>,
    /// Extra Control UI origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub control_ui_origins: Option<Vec<String>>,
}

/// Automatic image updates.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoUpdateSpec {
    /// Enabled (ignored when the image is pinned by digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// How often to check (Go duration, 1h to 168h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "24h"))]
    #[x_kube(validation = Rule::new("self == '' || (self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('1h') && duration(self) <= duration('168h'))")
        .message("spec.autoUpdate.checkInterval must be a Go duration between 1h and 168h"))]
    pub check_interval: Option<String>,
    /// Back up the data volume before updating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub backup_before_update: Option<bool>,
    /// Roll back when the new version fails its health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub rollback_on_failure: Option<bool>,
    /// Health-check budget after an update (Go duration, 2m to 30m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "10m"))]
    #[x_kube(validation = Rule::new("self == '' || (self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) >= duration('2m') && duration(self) <= duration('30m'))")
        .message("spec.autoUpdate.healthCheckTimeout must be a Go duration between 2m and 30m"))]
    pub health_check_timeout: Option<String>,
}

/// Self-configuration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SelfConfigureSpec {
    /// Accept OpenClawSelfConfig requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub enabled: Option<bool>,
    /// Actions allowed: `skills`, `config`, `workspaceFiles`, `envVars`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4), schema_with = "allowed_actions_schema")]
    pub allowed_actions: Option<Vec<String>>,
    /// Shortest time between two changes self-configuration makes to this instance (Go
    /// duration, 0s to 1h; default 30s). Requests that arrive in between wait and are applied
    /// together, so an agent in a loop rolls its pod at most once per interval. Not in the Go
    /// operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == '' || (self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$') && duration(self) <= duration('1h'))")
        .message("spec.selfConfigure.minApplyInterval must be a Go duration of at most 1h"))]
    pub min_apply_interval: Option<String>,
    /// Most requests waiting for this instance at a time (1 to 100; default 10); more are
    /// denied. Not in the Go operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_pending_requests: Option<i32>,
    /// Largest request accepted, in bytes of its JSON spec (1 KiB to 1 MiB; default 64 KiB).
    /// Not in the Go operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1024, max = 1048576))]
    pub max_request_bytes: Option<i64>,
}

fn allowed_actions_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "string", "enum": ["skills", "config", "workspaceFiles", "envVars"]},
    })
}

/// Observed state of an OpenClaw instance.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenClawInstanceStatus {
    /// Lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Provisioning", "Running", "Degraded", "Failed", "Terminating", "BackingUp", "Restoring", "Updating", "Suspended"]))]
    pub phase: Option<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::conditions")]
    pub conditions: Option<Vec<Condition>>,
    /// Generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `<service>.<namespace>.svc:18789`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_endpoint: Option<String>,
    /// `<service>.<namespace>.svc:18793`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canvas_endpoint: Option<String>,
    /// When the spec generation last changed and was reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile_time: Option<Time>,
    /// Names of the objects the operator manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_resources: Option<ManagedResources>,
    /// Start of the pre-delete backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_up_since: Option<Time>,
    /// Pre-delete backup Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_job_name: Option<String>,
    /// Restore Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_job_name: Option<String>,
    /// Remote path of the last backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_path: Option<String>,
    /// Time of the last successful backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<Time>,
    /// The `restoreFrom` path that was restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    /// The last `openclaw.rocks/backup-now` annotation value acted on (an on-demand backup
    /// runs once per distinct value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_request: Option<String>,
    /// Auto-update state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_update: Option<AutoUpdateStatus>,
}

/// Names of managed objects (empty means none).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ManagedResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<String>,
    #[serde(
        default,
        rename = "chromiumPVC",
        skip_serializing_if = "Option::is_none"
    )]
    pub chromium_pvc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_disruption_budget: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_binding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_token_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_dashboard_operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grafana_dashboard_instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_cron_job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tailscale_state_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<String>,
}

/// Auto-update state.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AutoUpdateStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["", "BackingUp", "ApplyingUpdate", "HealthCheck", "RollingBack"]))]
    pub update_phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_update_backup_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_count: Option<i32>,
    /// What started the update in progress: `AutoUpdate` (a newer version in the registry) or
    /// `ImageChange` (the image was changed in the spec; migrated, not rolled back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["AutoUpdate", "ImageChange"]))]
    pub update_trigger: Option<String>,
}
