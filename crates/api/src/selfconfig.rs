//! `OpenClawSelfConfig`: a change the agent asks for on its own instance.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::RawConfig;

/// A self-configuration request against an instance of the same namespace.
// kube-derive takes repeated `printcolumn(...)` entries, which clippy mistakes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "openclaw.rocks",
    version = "v1alpha1",
    kind = "OpenClawSelfConfig",
    plural = "openclawselfconfigs",
    singular = "openclawselfconfig",
    shortname = "ocsc",
    category = "openclaw",
    namespaced,
    status = "OpenClawSelfConfigStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "A change an agent requests on its own OpenClawInstance.",
    printcolumn(name = "Instance", type_ = "string", json_path = ".spec.instanceRef"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct OpenClawSelfConfigSpec {
    /// Target instance.
    #[schemars(length(min = 1))]
    pub instance_ref: String,
    /// Skills to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub add_skills: Option<Vec<String>>,
    /// Skills to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub remove_skills: Option<Vec<String>>,
    /// Deep-merged into `spec.config.raw` (the `gateway` key is protected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_patch: Option<RawConfig>,
    /// Workspace files to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxProperties" = 10))]
    pub add_workspace_files: Option<BTreeMap<String, String>>,
    /// Workspace files to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub remove_workspace_files: Option<Vec<String>>,
    /// Plain environment variables to add.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub add_env_vars: Option<Vec<SelfConfigEnvVar>>,
    /// Environment variables to remove.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub remove_env_vars: Option<Vec<String>>,
}

/// A plain environment variable.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct SelfConfigEnvVar {
    /// Name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Value.
    pub value: String,
}

/// Outcome of a self-configuration request.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenClawSelfConfigStatus {
    /// `Pending`, `Applied`, `Failed` or `Denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Pending", "Applied", "Failed", "Denied"]))]
    pub phase: Option<String>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When the request reached its final phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
}

/// Who created a request: the username the API server authenticated, written by the
/// operator's mutating webhook on create and kept unchanged on every update (never set by the
/// requester: whatever a client writes there is replaced).
pub const REQUESTED_BY_ANNOTATION: &str = "openclaw.rocks/requested-by";
/// The requester's groups (a JSON list), written with [`REQUESTED_BY_ANNOTATION`]: the
/// controller asks the API server whether that identity may change the target instance.
pub const REQUESTED_BY_GROUPS_ANNOTATION: &str = "openclaw.rocks/requested-by-groups";
