//! Types shared by more than one kind.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::LocalObjectReference;
use kube::KubeSchema;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::k8s_schema;

/// Default repository of the OpenClaw image.
pub const DEFAULT_IMAGE_REPOSITORY: &str = "ghcr.io/openclaw/openclaw";
/// Default tag of the OpenClaw image.
pub const DEFAULT_IMAGE_TAG: &str = "latest";
/// Default pull policy.
pub const DEFAULT_PULL_POLICY: &str = "IfNotPresent";

/// The main OpenClaw image (`spec.image`), also used by the cluster defaults.
///
/// A tag or a digest must be set: an explicit empty tag without a digest is rejected.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    cel,
    validation = Rule::new("(has(self.tag) && size(self.tag) > 0) || (has(self.digest) && size(self.digest) > 0)")
        .message("spec.image: one of tag or digest must be set (pinning to an empty tag is not supported, pick a specific upstream release tag or a digest)")
)]
pub struct ImageSpec {
    /// Image repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "ghcr.io/openclaw/openclaw"))]
    pub repository: Option<String>,
    /// Image tag; ignored when a digest is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "latest"))]
    pub tag: Option<String>,
    /// Image digest (`sha256:...`); pins the image and disables auto-update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Pull policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "IfNotPresent", "enum" = ["Always", "IfNotPresent", "Never"]))]
    pub pull_policy: Option<String>,
    /// Image pull secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "k8s_schema::local_object_references")]
    pub pull_secrets: Option<Vec<LocalObjectReference>>,
}

macro_rules! sidecar_image {
    ($(#[$doc:meta])* $name:ident, $repo:literal, $tag:literal) => {
        $(#[$doc])*
        #[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Image repository.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(extend("default" = $repo))]
            pub repository: Option<String>,
            /// Image tag; ignored when a digest is set.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(extend("default" = $tag))]
            pub tag: Option<String>,
            /// Image digest; overrides the tag.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub digest: Option<String>,
        }

        impl $name {
            /// Default repository.
            pub const DEFAULT_REPOSITORY: &'static str = $repo;
            /// Default tag.
            pub const DEFAULT_TAG: &'static str = $tag;
        }
    };
}

sidecar_image!(
    /// Image of the Chromium sidecar.
    ChromiumImageSpec, "docker.io/chromedp/headless-shell", "stable"
);
sidecar_image!(
    /// Image of the Ollama sidecar.
    OllamaImageSpec, "docker.io/ollama/ollama", "latest"
);
sidecar_image!(
    /// Image of the web terminal (ttyd) sidecar.
    WebTerminalImageSpec, "docker.io/tsl0922/ttyd", "latest"
);
sidecar_image!(
    /// Image of the Tailscale sidecar.
    TailscaleImageSpec, "ghcr.io/tailscale/tailscale", "latest"
);

/// CPU and memory as Kubernetes quantity strings.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ResourceList {
    /// CPU quantity, e.g. `500m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory quantity, e.g. `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Requests and limits of one container.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ResourcesSpec {
    /// Requested resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
    /// Resource limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
}

/// Runtime dependencies installed by init containers.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RuntimeDepsSpec {
    /// Install pnpm (through corepack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pnpm: Option<bool>,
    /// Install Python 3.12 and uv.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<bool>,
}

/// Free-form JSON object kept as written (an `openclaw.json` document or a patch of one).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(transparent)]
pub struct RawConfig(pub Map<String, Value>);

impl JsonSchema for RawConfig {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawConfig".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
        })
    }
}

/// String map (labels, annotations).
pub type StringMap = BTreeMap<String, String>;
