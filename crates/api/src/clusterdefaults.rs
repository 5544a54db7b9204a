//! `OpenClawClusterDefaults`: cluster-wide defaults, a singleton named `cluster`.

use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ImageSpec, RuntimeDepsSpec};
use crate::k8s_schema;

/// The only name of an `OpenClawClusterDefaults` the operator reads.
pub const CLUSTER_DEFAULTS_NAME: &str = "cluster";

/// Defaults merged into every OpenClawInstance (the instance's own values win).
// kube-derive takes repeated `printcolumn(...)` entries, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "openclaw.rocks",
    version = "v1alpha1",
    kind = "OpenClawClusterDefaults",
    plural = "openclawclusterdefaults",
    singular = "openclawclusterdefaults",
    shortname = "occd",
    category = "openclaw",
    status = "OpenClawClusterDefaultsStatus",
    derive = "PartialEq",
    derive = "Default",
    cel,
    doc = "Cluster-wide defaults for OpenClawInstances; the operator reads only the one named `cluster`.",
    validation = Rule::new("self.metadata.name == 'cluster'").message("OpenClawClusterDefaults is a singleton: metadata.name must be 'cluster'"),
    printcolumn(name = "Registry", type_ = "string", json_path = ".spec.registry"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct OpenClawClusterDefaultsSpec {
    /// Registry override for instances that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Image defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSpec>,
    /// Environment put before each instance's own (same names: the instance wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "k8s_schema::env_vars",
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"])
    )]
    pub env: Option<Vec<EnvVar>>,
    /// Runtime dependencies forced on for every instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_deps: Option<RuntimeDepsSpec>,
}

/// Status of the cluster defaults.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenClawClusterDefaultsStatus {
    /// Conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        schema_with = "k8s_schema::conditions",
        extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"])
    )]
    pub conditions: Option<Vec<Condition>>,
    /// Generation last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
